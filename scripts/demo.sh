#!/bin/sh
# demo.sh ABYSS - the main job end to end on built-in data.
set -eu
echo "demo: not built yet"

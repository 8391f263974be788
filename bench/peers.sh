#!/bin/sh
# peers.sh [THREADS] [REPEAT] - abyss bench nn beside the same model in
# PyTorch (Debian python3-torch, /usr/bin/python3) and ONNX Runtime (npm
# onnxruntime-node), one after the other in one run, same thread count.
# A peer that is not installed is skipped with a note. Install them with:
#   apt-get install python3-torch
#   ONNXRUNTIME_NODE_INSTALL=skip npm install --prefix "$ORT_DIR" onnxruntime-node
# ORT_DIR (default ~/.cache/abyss-peers) is where node looks for it.
# The test suite never runs this.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
threads=${1:-1}
repeat=${2:-5}
abyss=${ABYSS:-$root/build/abyss}
ort_dir=${ORT_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/abyss-peers}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== abyss"
"$abyss" bench nn --threads "$threads" --repeat "$repeat" || exit 1
echo "== PyTorch"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	/usr/bin/python3 "$here/peers_torch.py" --threads "$threads" \
		--repeat "$repeat" --onnx "$tmp/patchtsmixer.onnx"
else
	echo "  skipped: python3-torch is not installed"
fi
echo "== ONNX Runtime"
# the graph abyss itself exports (abyss model export) of the original
# checkpoint when the vectors are there, else torch.onnx's export above
vec=${ABYSS_VECTORS:-$root/../shared/vectors}
if [ -d "$vec/patchtsmixer/original" ] &&
	"$abyss" model export "$vec/patchtsmixer/original" \
		--onnx "$tmp/abyss.onnx" >/dev/null 2>&1; then
	set -- "abyss model export" "$tmp/abyss.onnx"
else
	set -- "torch.onnx" "$tmp/patchtsmixer.onnx"
fi
if [ ! -f "$2" ]; then
	echo "  skipped: no ONNX export (abyss model export or PyTorch needed)"
elif ! NODE_PATH="$ort_dir/node_modules" node -e 'require("onnxruntime-node")' 2>/dev/null; then
	echo "  skipped: onnxruntime-node is not installed under $ort_dir"
else
	echo "  model: $1"
	NODE_PATH="$ort_dir/node_modules" node "$here/peers_ort.js" \
		"$2" "$threads" "$repeat"
fi

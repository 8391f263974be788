#!/bin/sh
# lint.sh - cppcheck, clang-tidy and a banned-function grep (after curl's
# checksrc). Exits non-zero on any finding.
set -u
rc=0
files=$(git ls-files 'src/*.c' 'include/*.h' 2>/dev/null)
[ -z "$files" ] && exit 0
echo "lint: banned functions"
if grep -nE '\b(atoi|atol|sprintf|vsprintf|strcpy|strcat|gets|strtok)\s*\(' $files; then
	echo "lint: banned function used (see docs/style.md)"; rc=1
fi
echo "lint: cppcheck"
cppcheck -q --error-exitcode=1 --enable=warning,portability --inline-suppr \
	--std=c11 -Iinclude -Isrc -D_GNU_SOURCE $files || rc=1
echo "lint: clang-tidy"
for f in $(git ls-files 'src/*.c'); do
	clang-tidy -quiet "$f" -- -std=c11 -Iinclude -Isrc -I"${BUILD:-build}/gen" -DABYSS_WITH_ONNX -D_GNU_SOURCE \
		2>/dev/null | grep -E 'warning:|error:' && rc=1
done
[ $rc -eq 0 ] && echo "lint: clean"
exit $rc

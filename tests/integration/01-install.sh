#!/bin/sh
# 01-install.sh ABYSS - `make install` into a DESTDIR gives a working binary,
# man page, headers, static and shared library and pkg-config file; a program
# compiled against the installed files runs; `make uninstall` removes all.
set -eu
if [ "${BUILD:-build}" != build ]; then
	echo "skip: install is tested from the normal build, not $BUILD"
	exit 0
fi
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
make -s install DESTDIR="$dest" PREFIX=/opt/abyss >/dev/null
p=$dest/opt/abyss
for f in bin/abyss lib/libabyss.a lib/libabyss.so.0 lib/pkgconfig/abyss.pc \
	include/abyss/abyss.h share/man/man1/abyss.1; do
	[ -e "$p/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
grep -q '^prefix=/opt/abyss$' "$p/lib/pkgconfig/abyss.pc" || { echo "FAIL: pc prefix"; exit 1; }
grep -q '^Version: [0-9]' "$p/lib/pkgconfig/abyss.pc" || { echo "FAIL: pc version"; exit 1; }
"$p/bin/abyss" --version | grep -q '^abyss [0-9]' || { echo "FAIL: --version"; exit 1; }
MANWIDTH=80 man -l "$p/share/man/man1/abyss.1" 2>/dev/null | grep -q 'depth estimation' ||
	groff -man -Tutf8 "$p/share/man/man1/abyss.1" 2>/dev/null | grep -q 'depth estimation' ||
	{ echo "FAIL: man page does not render"; exit 1; }
cat >"$dest/t.c" <<'C'
#include <abyss/abyss.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
	struct abyss_hole h;
	abyss_hole_init(&h);
	if (abyss_hole_alloc(&h, 10, 1) != 0)
		return 1;
	abyss_hole_free(&h);
	printf("%s %s\n", abyss_version(), abyss_strerror(ABYSS_EPARSE));
	return strcmp(abyss_version(), ABYSS_VERSION) != 0;
}
C
flags=$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --define-variable=prefix="$p" \
	--static --cflags --libs abyss)
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "$dest/t.c" -o "$dest/t" $flags
out=$(LD_LIBRARY_PATH="$p/lib" "$dest/t")
echo "installed library says: $out"
make -s uninstall DESTDIR="$dest" PREFIX=/opt/abyss >/dev/null
left=$(find "$dest/opt" -type f | wc -l)
[ "$left" -eq 0 ] || { echo "FAIL: uninstall left $left files"; exit 1; }
echo "install/uninstall: ok"

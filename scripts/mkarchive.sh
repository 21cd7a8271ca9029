#!/usr/bin/env bash
# Packs a folder into the newc cpio archive keel mounts as its boot file tree
# (fs/bootfs.c): scripts/mkarchive.sh SRC_DIR OUT.cpio
# Names are relative ("etc/xen/auto/a.cfg"), in byte order, owned by root, with
# --reproducible's inode numbering when this cpio has it, so the same folder
# always gives the same bytes (mtimes aside).  Symlinks are stored as links.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 SRC_DIR OUT.cpio" >&2
	exit 2
fi
src=$1
out=$2
[ -d "$src" ] || { echo "$0: $src is not a directory" >&2; exit 1; }
command -v cpio >/dev/null || { echo "$0: cpio not installed (apt-get install cpio)" >&2; exit 1; }

repro=
# (help text read whole: with pipefail, grep -q closing the pipe early fails it)
if [[ $(cpio --help 2>/dev/null) == *--reproducible* ]]; then
	repro=--reproducible
fi

out_abs=$(realpath -m -- "$out")
tmp=$(mktemp "${out_abs}.XXXXXX")
trap 'rm -f "$tmp"' EXIT

# The output may sit inside src: leave it (and our temporary) out of the list.
(
	cd "$src"
	find . -mindepth 1 \( -path "./$(realpath -m --relative-to=. "$out_abs")" -o \
		-path "./$(realpath -m --relative-to=. "$tmp")" \) -prune -o -printf '%P\0' |
		LC_ALL=C sort -z |
		cpio --null --create --format=newc --owner=0:0 $repro --quiet
) > "$tmp"
mv -f "$tmp" "$out_abs"
trap - EXIT

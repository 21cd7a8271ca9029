#!/usr/bin/env bash
# Makes the disk `make run` gives keel (once; kept across runs): 1 GiB, an
# MBR with one partition holding an LVM2 volume group vg0 with a 256 MiB LV
# "demo" (the demo guest's xvda).  lvm2 runs through a loop device this
# script creates and detaches itself (no device-mapper needed).
#   scripts/mk-run-disk.sh OUT.img
set -euo pipefail
out=$1
[ -f "$out" ] && exit 0
mkdir -p "$(dirname "$out")"
tmp=$out.tmp
rm -f "$tmp"
truncate -s 1G "$tmp"
parted -s "$tmp" mklabel msdos mkpart primary 1MiB 100%
start=$(sfdisk -d "$tmp" | sed -n 's/.*img.tmp1 : start= *\([0-9]*\), size= *\([0-9]*\).*/\1/p')
size=$(sfdisk -d "$tmp" | sed -n 's/.*img.tmp1 : start= *\([0-9]*\), size= *\([0-9]*\).*/\2/p')
dev=$(losetup -f --show -o $((start * 512)) --sizelimit $((size * 512)) "$tmp")
trap 'losetup -d "$dev"' EXIT
export LVM_SUPPRESS_FD_WARNINGS=1
cfg=(--config 'global { activation=0 }')
pvcreate -q "${cfg[@]}" "$dev"
vgcreate -q "${cfg[@]}" vg0 "$dev"
lvcreate -q "${cfg[@]}" -an -Zn -L 256M -n demo vg0 2>/dev/null
mv "$tmp" "$out"
echo "mk-run-disk: $out: vg0 with LV demo (256 MiB)" >&2

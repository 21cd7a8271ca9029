#!/usr/bin/env bash
# Disk images for tests/unit/test_part.c and test_lvm.c, made by the real host
# tools (sgdisk, sfdisk, parted, lvm2), with what those tools print about them
# in *.expect files the C tests compare against.
#
#   mkimages.sh part DIR            GPT (512 and 4096-byte sectors) and MBR images
#   mkimages.sh lvm DIR             an LVM2 PV with VG "vg0" and LVs "a" (8M), "b" (12M);
#                                   and lvm2mda.img: the same with two metadata areas, LV "a"
#   mkimages.sh lvm-report IMG      vgck + lvs/vgs of IMG, machine-readable, on stdout
#   mkimages.sh lvm-create IMG ARGS host lvcreate ARGS on IMG (activation off)
#
# LVM work goes through a loop device this script creates and always detaches
# (trap); lvm only looks at that device (a devices filter) and never touches
# device-mapper (activation=0, -an -Zn).  Any missing tool or failure exits
# non-zero with a message: the tests fail loudly, they never skip.
set -euo pipefail
export LVM_SUPPRESS_FD_WARNINGS=1
for t in sgdisk sfdisk parted losetup lvm truncate; do
	command -v "$t" >/dev/null || { echo "mkimages: $t missing (run scripts/deps.sh)" >&2; exit 2; }
done

LOOP=
detach() { if [ -n "$LOOP" ]; then losetup -d "$LOOP" || true; LOOP=; fi; }
trap detach EXIT
attach() { # attach IMG [sector bytes]
	LOOP=$(losetup -f --show ${2:+-b "$2"} "$1") || { echo "mkimages: losetup failed" >&2; exit 2; }
	LVMCONF="global { activation=0 } devices { filter=[\"a|^${LOOP}\$|\",\"r|.*|\"] use_devicesfile=0 }"
}
# lvm warns on every call that activation is off; that one line is noise.
lvmc() { local cmd=$1; shift; lvm "$cmd" --config "$LVMCONF" "$@" 2> >(grep -v 'WARNING: Activation disabled' >&2); }

mk_part() {
	local d=$1
	mkdir -p "$d"
	# GPT: four partitions with a gap at 4 (Linux numbering keeps the gap).
	rm -f "$d/gpt.img"; truncate -s 64M "$d/gpt.img"
	sgdisk -n 1:2048:+8M -c 1:boot -t 1:ef00 -n 2:0:+16M -c 2:"data disk" \
		-n 3:0:+4M -t 3:8e00 -n 5:0:+1M -c 5:five "$d/gpt.img" >/dev/null
	sgdisk -p "$d/gpt.img" | awk '/^ +[0-9]+ /{n=""; for(i=7;i<=NF;i++) n=n (i>7?" ":"") $i; print $1, $2, $3, n}' \
		> "$d/gpt.expect"
	# The same on a 4096-byte sector disk (a loop device with -b 4096).
	rm -f "$d/gpt4k.img"; truncate -s 64M "$d/gpt4k.img"
	attach "$d/gpt4k.img" 4096
	sgdisk -n 1:256:+8M -c 1:alpha -n 2:0:+4M -c 2:beta "$LOOP" >/dev/null
	sgdisk -p "$LOOP" | awk '/^ +[0-9]+ /{n=""; for(i=7;i<=NF;i++) n=n (i>7?" ":"") $i; print $1, $2, $3, n}' \
		> "$d/gpt4k.expect"
	detach
	# MBR by sfdisk: two primaries, an extended with three logicals.
	rm -f "$d/mbr.img"; truncate -s 64M "$d/mbr.img"
	printf 'label: dos\nstart=2048, size=8M, type=83, bootable\nsize=8M, type=82\ntype=5\nsize=4M\nsize=4M\nsize=4M\n' |
		sfdisk -q "$d/mbr.img"
	sfdisk -d "$d/mbr.img" | sed -n 's/^[^ ]*img\([0-9]*\) : start= *\([0-9]*\), size= *\([0-9]*\), type=\([0-9a-f]*\).*/\1 \2 \3 \4/p' \
		> "$d/mbr.expect"
	# MBR by parted: primaries 1 and 3 around an extended (type 0x0f) at 2.
	rm -f "$d/mbr-parted.img"; truncate -s 64M "$d/mbr-parted.img"
	parted -s "$d/mbr-parted.img" mklabel msdos mkpart primary 1MiB 5MiB mkpart extended 5MiB 40MiB \
		mkpart logical 6MiB 10MiB mkpart logical 12MiB 20MiB mkpart primary 40MiB 50MiB
	sfdisk -d "$d/mbr-parted.img" | sed -n 's/^[^ ]*img\([0-9]*\) : start= *\([0-9]*\), size= *\([0-9]*\), type=\([0-9a-f]*\).*/\1 \2 \3 \4/p' \
		> "$d/mbr-parted.expect"
}

lvm_report() { # on the attached loop device: vgck, then lvs/vgs/pvs lines
	# Anything lvm2 says on stderr (but the activation notice) comes out
	# as an "err: " line, which the C tests treat as a failure.
	local e; e=$(mktemp)
	lvmc vgck vg0 2>>"$e" >>"$e" || echo "err: vgck exited with $?"
	lvmc lvs --noheadings --units s --nosuffix --separator , \
		-o lv_name,lv_size,seg_start_pe,seg_size_pe,seg_pe_ranges,lv_attr vg0 2>>"$e" | sed 's/^ */lv,/'
	lvmc vgs --noheadings --units s --nosuffix --separator , \
		-o vg_name,vg_size,vg_free,vg_extent_size,vg_extent_count,vg_free_count,lv_count,vg_seqno vg0 \
		2>>"$e" | sed 's/^ */vg,/'
	lvmc pvs --noheadings --units s --nosuffix --separator , \
		-o pv_uuid,pv_size,pe_start,pv_pe_count,dev_size "$LOOP" 2>>"$e" | sed 's/^ */pv,/'
	grep -v 'WARNING: Activation disabled' "$e" | sed 's/^ */err: /' || true
	rm -f "$e"
}

mk_lvm() {
	local d=$1
	mkdir -p "$d"
	rm -f "$d/lvm.img"; truncate -s 64M "$d/lvm.img"
	attach "$d/lvm.img"
	lvmc pvcreate -q "$LOOP" >/dev/null
	lvmc vgcreate -q vg0 "$LOOP" >/dev/null 2>&1
	lvmc lvcreate -q -an -Zn -L 8M -n a vg0 >/dev/null 2>&1
	lvmc lvcreate -q -an -Zn -L 12M -n b vg0 >/dev/null 2>&1
	lvm_report > "$d/lvm.expect"
	detach
	# A PV with two metadata areas (one at each end), as --pvmetadatacopies 2 makes.
	rm -f "$d/lvm2mda.img"; truncate -s 64M "$d/lvm2mda.img"
	attach "$d/lvm2mda.img"
	lvmc pvcreate -q --pvmetadatacopies 2 "$LOOP" >/dev/null
	lvmc vgcreate -q vg0 "$LOOP" >/dev/null 2>&1
	lvmc lvcreate -q -an -Zn -L 8M -n a vg0 >/dev/null 2>&1
	lvm_report > "$d/lvm2mda.expect"
	detach
	grep -q '^lv,a,' "$d/lvm.expect" || { echo "mkimages: lvm image has no LV a" >&2; cat "$d/lvm.expect" >&2; exit 1; }
}

case "${1:-}" in
part) mk_part "$2" ;;
lvm) mk_lvm "$2" ;;
lvm-report) attach "$2"; lvm_report ;;
lvm-create) img=$2; shift 2; attach "$img"; lvmc lvcreate -q -an -Zn "$@" >/dev/null ;;
*) echo "usage: $0 part|lvm DIR | lvm-report IMG | lvm-create IMG ARGS" >&2; exit 2 ;;
esac

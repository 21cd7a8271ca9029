#!/usr/bin/env bash
# Boots Xen + keel in QEMU (XEN=4.17|4.20, default the newest present) with the serial console on this terminal, with a
# virtio disk (build/run/disk.img: vg0/demo, kept across runs) and a Debian
# guest "demo" started at boot whose xvda is that LV.
# Type `help` at the keel# prompt; `poweroff` ends the run (QEMU exits).
# Ctrl-a three times switches the serial input between keel and Xen.
set -euo pipefail
cd "$(dirname "$0")/.."
disk=build/run/disk.img
scripts/mk-run-disk.sh "$disk"
stage=build/run/archive
rm -rf "$stage"
mkdir -p "$stage/boot/domu" "$stage/etc/xen/auto"
cp -a bootfs/. "$stage/"
if [ ! -f build/domu/initrd.cpio.gz ] || [ scripts/mk-domu.sh -nt build/domu/initrd.cpio.gz ]; then
	scripts/mk-domu.sh build/domu >/dev/null
fi
cp build/domu/vmlinuz build/domu/initrd.cpio.gz "$stage/boot/domu/"
cat > "$stage/etc/xen/auto/demo.cfg" <<'EOF'
# The demo guest of `make run`: Debian Linux with the busybox ramdisk, its
# xvda the LV vg0/demo on keel's virtio disk.  `console demo` to use it.
name = "demo"
memory = 128
kernel = "/boot/domu/vmlinuz"
ramdisk = "/boot/domu/initrd.cpio.gz"
cmdline = "console=hvc0 quiet"
disk = [ 'phy:/dev/vg0/demo,xvda,w' ]
EOF
scripts/mkarchive.sh "$stage" build/run/archive.cpio >/dev/null
if [ -z "${XEN:-}" ]; then # the newest present, as scripts/qemu.sh picks
	XEN=4.17
	[ -s "${KEEL_XEN420_CACHE:-$HOME/.cache/keel-xen420}/xen-4.20-amd64.gz" ] && XEN=4.20
fi
export XEN
echo "keel: starting Xen $XEN + keel in QEMU (TCG) with a disk and the guest 'demo';" \
	"type 'poweroff' to leave" >&2
export KEEL_ARCHIVE=build/run/archive.cpio
export QEMU_ARGS="${QEMU_ARGS:-} -drive file=$disk,if=none,id=vd0,format=raw -device virtio-blk-pci,drive=vd0"
exec scripts/qemu.sh

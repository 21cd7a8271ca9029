#!/usr/bin/env bash
# Boots Xen + keel in QEMU (XEN=4.17|4.20, default the newest present) with
# the serial console on this terminal, with a
# virtio disk (build/run/disk.img: vg0/demo, kept across runs), a virtio-net
# NIC on QEMU's user network (restrict=on: only the forwarded ports on
# 127.0.0.1 reach it), and a Debian guest "demo" started at boot whose xvda
# is that LV and whose vif is on xenbr0 (keel's switch, the NIC its uplink).
# The guest leases 10.0.2.15 from QEMU's DHCP; keel itself is 10.0.2.10.
# From the host: curl http://127.0.0.1:${KEEL_HTTP_PORT:-8080}/ (busybox
# httpd in the guest), or send bytes to 127.0.0.1:${KEEL_MD5_PORT:-8003}
# and half-close: the guest answers their md5.
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
# Debian's PV GRUB at its Debian path, for guests installed on their disk
# (kernel = "/usr/lib/grub-xen/grub-x86_64-xen.bin"; docs/storage.md).
if [ -f /usr/lib/grub-xen/grub-x86_64-xen.bin ]; then
	mkdir -p "$stage/usr/lib/grub-xen"
	cp /usr/lib/grub-xen/grub-x86_64-xen.bin "$stage/usr/lib/grub-xen/"
fi
cat > "$stage/etc/xen/auto/demo.cfg" <<'EOF'
# The demo guest of `make run`: Debian Linux with the busybox ramdisk, its
# xvda the LV vg0/demo on keel's virtio disk.  `console demo` to use it.
name = "demo"
memory = 128
kernel = "/boot/domu/vmlinuz"
ramdisk = "/boot/domu/initrd.cpio.gz"
cmdline = "console=hvc0 quiet keeltest=netext"
disk = [ 'phy:/dev/vg0/demo,xvda,w' ]
vif = [ 'mac=00:16:3e:00:00:10,bridge=xenbr0' ]
EOF
scripts/mkarchive.sh "$stage" build/run/archive.cpio >/dev/null
if [ -z "${XEN:-}" ]; then # the newest present, as scripts/qemu.sh picks
	XEN=4.17
	[ -s "${KEEL_XEN420_CACHE:-$HOME/.cache/keel-xen420}/xen-4.20-amd64.gz" ] && XEN=4.20
fi
export XEN
http=${KEEL_HTTP_PORT:-8080} md5=${KEEL_MD5_PORT:-8003}
echo "keel: starting Xen $XEN + keel in QEMU (TCG) with a disk, a NIC and the guest 'demo';" \
	"type 'poweroff' to leave.  From another terminal: curl http://127.0.0.1:$http/" >&2
export KEEL_ARCHIVE=build/run/archive.cpio
export QEMU_ARGS="${QEMU_ARGS:-} -drive file=$disk,if=none,id=vd0,format=raw -device virtio-blk-pci,drive=vd0 \
-netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$http-10.0.2.15:80,hostfwd=tcp:127.0.0.1:$md5-10.0.2.15:5003 \
-device virtio-net-pci,netdev=n0"
export KEEL_ARGS="${KEEL_ARGS:-} ip=10.0.2.10/24 gw=10.0.2.2"
exec scripts/qemu.sh

#!/usr/bin/env bash
# Packs the boot archive the integration tests use: bootfs/ plus the Debian
# domU payload (scripts/mk-domu.sh) under /boot/domu and the test configs
# (tests/integration/configs) under /etc/xen, configs/auto under /etc/xen/auto
# (started at boot, as xendomains does), and Debian's PV GRUB image (grub-xen-host)
# at its Debian path, /usr/lib/grub-xen/grub-x86_64-xen.bin.
#   scripts/mk-test-archive.sh OUT.cpio [--trixie] [--extra DIR]
#   --trixie     also trixie's 6.12 amd64 and cloud-amd64 kernels under
#                /boot/trixie (scripts/fetch-guest-kernels.sh; fails if they
#                cannot be fetched)
#   --extra DIR  DIR's tree copied over the archive's (benchmark payloads)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/test-archive.cpio}
shift || true
trixie=0
extra=
while [ $# -gt 0 ]; do
	case "$1" in
	--trixie) trixie=1 ;;
	--extra) extra=$2; shift ;;
	*) echo "mk-test-archive: unknown option $1" >&2; exit 1 ;;
	esac
	shift
done
stage=build/test-archive.$$
rm -rf "$stage"
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"
cp -a bootfs/. "$stage/"
if [ ! -f build/domu/initrd.cpio.gz ] || [ scripts/mk-domu.sh -nt build/domu/initrd.cpio.gz ] ||
	[ tests/integration/xshostile.c -nt build/domu/initrd.cpio.gz ] ||
	[ tests/integration/nethostile.c -nt build/domu/initrd.cpio.gz ] ||
	[ tests/integration/blkhostile.c -nt build/domu/initrd.cpio.gz ] ||
	[ tests/integration/guestxs.h -nt build/domu/initrd.cpio.gz ]; then
	scripts/mk-domu.sh build/domu >/dev/null
fi
mkdir -p "$stage/boot/domu" "$stage/etc/xen"
cp build/domu/vmlinuz build/domu/initrd.cpio.gz "$stage/boot/domu/"
pvgrub=/usr/lib/grub-xen/grub-x86_64-xen.bin
if [ -f "$pvgrub" ]; then
	mkdir -p "$stage/usr/lib/grub-xen"
	cp "$pvgrub" "$stage/usr/lib/grub-xen/"
else
	echo "mk-test-archive: $pvgrub missing (scripts/deps.sh installs grub-xen-host): no PV GRUB in the archive" >&2
fi
cp tests/integration/configs/*.cfg "$stage/etc/xen/"
mkdir -p "$stage/etc/xen/auto"
cp tests/integration/configs/auto/*.cfg "$stage/etc/xen/auto/"
if [ "$trixie" = 1 ]; then
	scripts/fetch-guest-kernels.sh build/guest-kernels
	mkdir -p "$stage/boot/trixie"
	cp build/guest-kernels/trixie-amd64.vmlinuz build/guest-kernels/trixie-cloud-amd64.vmlinuz \
		"$stage/boot/trixie/"
fi
[ -z "$extra" ] || cp -a "$extra/." "$stage/"
scripts/mkarchive.sh "$stage" "$out"

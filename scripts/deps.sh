#!/usr/bin/env bash
# Installs every Debian package keel's build, run and tests need (idempotent;
# apt-get runs only when something is missing).  Needs root or sudo.
set -euo pipefail
pkgs=(
	build-essential        # gcc, make, libc for host unit tests
	clang                  # libFuzzer targets (tests/fuzz)
	debootstrap            # benchmarks: builds the Linux dom0 peer rig (../shared/peer)
	python3                # integration test harness
	qemu-system-x86        # the machine
	xen-hypervisor-4.17-amd64  # Xen itself (/boot/xen-4.17-amd64.gz)
	libxen-dev             # Xen's public headers, the ABI keel implements
	linux-image-amd64      # the stock Debian kernel booted as a PV domU
	grub-xen-host          # PV GRUB: /usr/lib/grub-xen/grub-x86_64-xen.bin (with grub-xen-bin) boots a guest from its disk
	busybox-static         # the domU test ramdisk's userland
	xenstore-utils         # xenstore-read & co. run inside test domUs
	cpio gzip xz-utils     # boot archive and ramdisks
	gdisk fdisk parted lvm2 e2fsprogs  # tests: host-made disk images (GPT, MBR, LVM2, ext4)
	liblzma-dev zlib1g-dev libzstd-dev liblz4-dev  # guest kernel decompression
	dpkg-dev               # dpkg-source: unpacks lwIP's Debian source package (scripts/fetch-lwip.sh)
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Xen 4.20 (trixie's hypervisor and public headers) comes from its own
# private apt configuration, never the machine's sources.
fetch_xen420() { "$(dirname "$0")/fetch-xen420.sh" || echo "deps: Xen 4.20 not fetched: keel's 4.20 support cannot be built" >&2; }
if [ ${#missing[@]} -eq 0 ]; then fetch_xen420; exit 0; fi
echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fetch_xen420

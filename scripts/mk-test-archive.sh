#!/usr/bin/env bash
# Packs the boot archive the integration tests use: bootfs/ plus the Debian
# domU payload (scripts/mk-domu.sh) under /boot/domu and the test configs
# (tests/integration/configs) under /etc/xen, configs/auto under /etc/xen/auto
# (started at boot, as xendomains does).
#   scripts/mk-test-archive.sh OUT.cpio
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/test-archive.cpio}
stage=build/test-archive
rm -rf "$stage"
mkdir -p "$stage"
cp -a bootfs/. "$stage/"
if [ ! -f build/domu/initrd.cpio.gz ] || [ scripts/mk-domu.sh -nt build/domu/initrd.cpio.gz ] ||
	[ tests/integration/xshostile.c -nt build/domu/initrd.cpio.gz ]; then
	scripts/mk-domu.sh build/domu >/dev/null
fi
mkdir -p "$stage/boot/domu" "$stage/etc/xen"
cp build/domu/vmlinuz build/domu/initrd.cpio.gz "$stage/boot/domu/"
cp tests/integration/configs/*.cfg "$stage/etc/xen/"
mkdir -p "$stage/etc/xen/auto"
cp tests/integration/configs/auto/*.cfg "$stage/etc/xen/auto/"
scripts/mkarchive.sh "$stage" "$out"

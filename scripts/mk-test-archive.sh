#!/usr/bin/env bash
# Packs the boot archive the integration tests use: bootfs/ plus the Debian
# domU payload (scripts/mk-domu.sh) under /boot/domu and the test configs
# (tests/integration/configs) under /etc/xen.
#   scripts/mk-test-archive.sh OUT.cpio
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/test-archive.cpio}
stage=build/test-archive
rm -rf "$stage"
mkdir -p "$stage"
cp -a bootfs/. "$stage/"
if [ ! -f build/domu/initrd.cpio.gz ] || [ scripts/mk-domu.sh -nt build/domu/initrd.cpio.gz ]; then
	scripts/mk-domu.sh build/domu >/dev/null
fi
mkdir -p "$stage/boot/domu" "$stage/etc/xen"
cp build/domu/vmlinuz build/domu/initrd.cpio.gz "$stage/boot/domu/"
cp tests/integration/configs/*.cfg "$stage/etc/xen/"
scripts/mkarchive.sh "$stage" "$out"

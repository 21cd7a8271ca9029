#!/usr/bin/env bash
# Fetches Debian trixie's two 6.12 guest kernels (linux-image-amd64 and
# linux-image-cloud-amd64, both zstd bzImages) for the three-kernel test,
# with a PRIVATE apt configuration: its own sources.list, state and cache
# directories under CACHE (default build/guest-kernels); the machine's
# /etc/apt is never read for sources and never changed.  The packages are
# unpacked with dpkg-deb -x and only their vmlinuz kept:
#
#   scripts/fetch-guest-kernels.sh [CACHE]
#
#   CACHE/trixie-amd64.vmlinuz        linux-image-6.12.*-amd64
#   CACHE/trixie-cloud-amd64.vmlinuz  linux-image-6.12.*-cloud-amd64
#
# Exits 0 with both files present (already there: no network used), 2 if
# deb.debian.org cannot be reached (said clearly), 1 on any other error.
set -euo pipefail
. "$(dirname "$0")/private-apt.sh"

die() { echo "fetch-guest-kernels: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
cache=${1:-build/guest-kernels}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

if [ -s "$cache/trixie-amd64.vmlinuz" ] && [ -s "$cache/trixie-cloud-amd64.vmlinuz" ]; then
	exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
	command -v "$tool" >/dev/null || die "$tool missing"
done
[ -r "$keyring" ] || die "$keyring missing (apt-get install debian-archive-keyring)"

private_apt_reachable fetch-guest-kernels "trixie's kernels cannot be fetched"

apt_dir=$cache/apt
private_apt_setup fetch-guest-kernels "$apt_dir" \
	"deb [arch=amd64 signed-by=$keyring] $mirror trixie main"

# The metapackages name the current ABI's image package.
fetch_flavour() { # FLAVOUR OUTNAME
	local meta=linux-image-$1 pkg deb
	pkg=$(apt-cache "${apt_opts[@]}" depends "$meta" |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || die "cannot resolve $meta in trixie"
	(cd "$apt_dir/debs" && apt-get -qq "${apt_opts[@]}" download "$pkg") ||
		die "apt-get download $pkg failed"
	deb=$(ls "$apt_dir/debs/${pkg}"_*.deb | head -1)
	rm -rf "$apt_dir/x"
	mkdir -p "$apt_dir/x"
	dpkg-deb -x "$deb" "$apt_dir/x"
	local vmlinuz
	vmlinuz=$(ls "$apt_dir"/x/boot/vmlinuz-* | head -1)
	[ -s "$vmlinuz" ] || die "$deb has no /boot/vmlinuz-*"
	cp "$vmlinuz" "$cache/$2.tmp"
	mv -f "$cache/$2.tmp" "$cache/$2"
	rm -rf "$apt_dir/x" "$deb"
	echo "fetch-guest-kernels: $cache/$2 from $pkg" >&2
}
fetch_flavour amd64 trixie-amd64.vmlinuz
fetch_flavour cloud-amd64 trixie-cloud-amd64.vmlinuz

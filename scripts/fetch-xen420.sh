#!/usr/bin/env bash
# Fetches Debian trixie's Xen 4.20: the hypervisor image of
# xen-hypervisor-4.20-amd64 and the public headers of libxen-dev, with a
# PRIVATE apt configuration (its own sources.list, state and cache under
# CACHE; the machine's /etc/apt is never read for sources nor changed), the
# way scripts/fetch-guest-kernels.sh fetches trixie's kernels:
#
#   scripts/fetch-xen420.sh [CACHE]      (default: $KEEL_XEN420_CACHE or
#                                         ~/.cache/keel-xen420)
#
#   CACHE/xen-4.20-amd64.gz     the hypervisor (boot/xen-4.20-amd64.gz)
#   CACHE/include/xen/          Xen 4.20's public headers (usr/include/xen)
#   CACHE/VERSION               the Debian versions of both packages
#
# keel's xen/abi/v420.c is compiled against CACHE/include (Makefile), and
# scripts/qemu.sh boots CACHE/xen-4.20-amd64.gz for XEN=4.20.
# Exits 0 with everything present (already there: no network used), 2 if
# deb.debian.org cannot be reached (said clearly), 1 on any other error.
set -euo pipefail
. "$(dirname "$0")/private-apt.sh"

die() { echo "fetch-xen420: $*" >&2; exit 1; }

cache=${1:-${KEEL_XEN420_CACHE:-$HOME/.cache/keel-xen420}}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg

if [ -s "$cache/xen-4.20-amd64.gz" ] && [ -s "$cache/include/xen/domctl.h" ]; then
	exit 0
fi
for tool in apt-get apt-cache dpkg-deb; do
	command -v "$tool" >/dev/null || die "$tool missing"
done
[ -r "$keyring" ] || die "$keyring missing (apt-get install debian-archive-keyring)"

private_apt_reachable fetch-xen420 "trixie's Xen 4.20 cannot be fetched"

apt_dir=$cache/apt
private_apt_setup fetch-xen420 "$apt_dir" \
	"deb [arch=amd64 signed-by=$keyring] $mirror trixie main" \
	"deb [arch=amd64 signed-by=$keyring] $mirror trixie-updates main" \
	"deb [arch=amd64 signed-by=$keyring] http://security.debian.org/debian-security trixie-security main"

# Downloads package $1 and unpacks it into $apt_dir/x; prints its version.
unpack() {
	local pkg=$1 deb
	rm -f "$apt_dir"/debs/*.deb
	(cd "$apt_dir/debs" && apt-get -qq "${apt_opts[@]}" download "$pkg") ||
		die "apt-get download $pkg failed"
	deb=$(ls "$apt_dir/debs/${pkg}"_*.deb | head -1)
	rm -rf "$apt_dir/x"
	mkdir -p "$apt_dir/x"
	dpkg-deb -x "$deb" "$apt_dir/x"
	dpkg-deb -f "$deb" Version
	rm -f "$deb"
}

hv_ver=$(unpack xen-hypervisor-4.20-amd64)
[ -s "$apt_dir/x/boot/xen-4.20-amd64.gz" ] ||
	die "xen-hypervisor-4.20-amd64 has no /boot/xen-4.20-amd64.gz"
cp "$apt_dir/x/boot/xen-4.20-amd64.gz" "$cache/xen-4.20-amd64.gz.tmp"
mv -f "$cache/xen-4.20-amd64.gz.tmp" "$cache/xen-4.20-amd64.gz"
echo "fetch-xen420: $cache/xen-4.20-amd64.gz ($hv_ver)" >&2

dev_ver=$(unpack libxen-dev)
[ -s "$apt_dir/x/usr/include/xen/domctl.h" ] || die "libxen-dev has no usr/include/xen/domctl.h"
grep -q 'XEN_DOMCTL_INTERFACE_VERSION *0x0000001[7-9]' "$apt_dir/x/usr/include/xen/domctl.h" ||
	die "libxen-dev $dev_ver: domctl.h is not Xen 4.20's"
rm -rf "$cache/include.tmp"
mkdir -p "$cache/include.tmp"
cp -a "$apt_dir/x/usr/include/xen" "$cache/include.tmp/xen"
rm -rf "$cache/include"
mv "$cache/include.tmp" "$cache/include"
rm -rf "$apt_dir" # its package lists (~20 MB) are not needed again
printf 'xen-hypervisor-4.20-amd64 %s\nlibxen-dev %s\n' "$hv_ver" "$dev_ver" > "$cache/VERSION"
echo "fetch-xen420: $cache/include/xen ($dev_ver)" >&2

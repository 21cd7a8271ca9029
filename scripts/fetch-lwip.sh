#!/usr/bin/env bash
# Fetches Debian bookworm's lwIP source package (`lwip`, 2.1.3+dfsg1) and
# unpacks it, with a PRIVATE apt configuration: its own sources.list (one
# deb-src line), state and cache directories under CACHE (default
# build/lwip-src); the machine's /etc/apt is never read for sources and
# never changed.  keel's own fixes (net/lwip/patches/*.patch, each saying
# why) are applied after Debian's.  keel builds lwIP from that tree
# (mk/lwip.mk); no lwIP source is kept in keel's repository.
#
#   scripts/fetch-lwip.sh [CACHE]      prints nothing when already unpacked
#
#   CACHE/dl/                          the source package as downloaded (kept)
#   CACHE/tree/                        the unpacked, patched source (src/core ...)
#   CACHE/tree/.keel-version           package version and patch set, written last
#
# Exits 0 with the tree there (already there: no network used; a changed
# patch set re-unpacks from CACHE/dl), 2 if deb.debian.org cannot be
# reached (said clearly), 1 on any other error.
set -euo pipefail
. "$(dirname "$0")/private-apt.sh"

die() { echo "fetch-lwip: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
cache=${1:-build/lwip-src}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
suite=bookworm

patches=(net/lwip/patches/*.patch)
[ -e "${patches[0]}" ] || patches=()
patch_sum=$(cat /dev/null "${patches[@]}" | sha256sum | cut -c1-16)
if [ -s "$cache/tree/.keel-version" ] &&
	[ "$(sed -n 2p "$cache/tree/.keel-version")" = "patches $patch_sum" ]; then
	exit 0
fi

for tool in apt-get dpkg-source patch; do
	command -v "$tool" >/dev/null || die "$tool missing (scripts/deps.sh installs dpkg-dev)"
done
[ -r "$keyring" ] || die "$keyring missing (apt-get install debian-archive-keyring)"

dl=$cache/dl
if ! ls "$dl"/lwip_*.dsc >/dev/null 2>&1; then
	private_apt_reachable fetch-lwip "lwIP's source package cannot be fetched"

	apt_dir=$cache/apt
	private_apt_setup fetch-lwip "$apt_dir" \
		"deb-src [signed-by=$keyring] $mirror $suite main"

	rm -rf "$dl.tmp"
	mkdir -p "$dl.tmp"
	(cd "$dl.tmp" && apt-get -qq "${apt_opts[@]}" source --download-only lwip) ||
		die "apt-get source --download-only lwip failed"
	rm -rf "$dl"
	mv "$dl.tmp" "$dl"
fi
dsc=$(ls "$dl"/lwip_*.dsc 2>/dev/null | head -1)
[ -n "$dsc" ] || die "no lwip_*.dsc downloaded"
version=$(sed -n 's/^Version: //p' "$dsc" | head -1)

# apt checked the files against bookworm's signed Sources index; dpkg-source
# checks them against the .dsc (it cannot check the uploader's signature
# without debian-keyring, and says so: that note goes to the log) and
# applies Debian's patches.
rm -rf "$cache/tree" "$cache/tree.tmp"
dpkg-source -x "$dsc" "$cache/tree.tmp" > "$cache/dpkg-source.log" 2>&1 || {
	cat "$cache/dpkg-source.log" >&2
	die "dpkg-source -x $dsc failed"
}
for p in "${patches[@]}"; do
	patch -d "$cache/tree.tmp" -p1 --quiet --forward < "$p" ||
		die "$p does not apply to lwip $version"
done
for f in src/core/tcp.c src/core/ipv4/dhcp.c src/include/lwip/opt.h src/apps/lwiperf/lwiperf.c; do
	[ -f "$cache/tree.tmp/$f" ] || die "lwip $version has no $f"
done
mv "$cache/tree.tmp" "$cache/tree"
printf '%s\npatches %s\n' "$version" "$patch_sum" > "$cache/tree/.keel-version"
echo "fetch-lwip: lwip $version unpacked in $cache/tree (${#patches[@]} keel patch(es))" >&2

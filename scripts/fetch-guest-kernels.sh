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

if ! timeout 30 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
	echo "fetch-guest-kernels: deb.debian.org cannot be reached from this machine;" \
		"trixie's kernels cannot be fetched" >&2
	exit 2
fi

apt_dir=$cache/apt
mkdir -p "$apt_dir"/{etc/preferences.d,etc/apt.conf.d,state/lists/partial,cache/archives/partial,debs}
cat > "$apt_dir/etc/sources.list" <<EOF
deb [arch=amd64 signed-by=$keyring] $mirror trixie main
EOF
: > "$apt_dir/status"
# Every Dir:: apt would otherwise take from /etc/apt or /var is pointed here.
opts=(
	-o "Dir::Etc=$apt_dir/etc"
	-o "Dir::Etc::sourcelist=$apt_dir/etc/sources.list"
	-o "Dir::Etc::sourceparts=-"
	-o "Dir::Etc::preferencesparts=$apt_dir/etc/preferences.d"
	-o "Dir::Etc::parts=$apt_dir/etc/apt.conf.d"
	-o "Dir::State=$apt_dir/state"
	-o "Dir::State::status=$apt_dir/status"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Architecture=amd64"
	-o "APT::Architectures=amd64"
	-o "APT::Sandbox::User=root"
	-o "Acquire::Languages=none"
)
echo "fetch-guest-kernels: apt-get update (private config in $apt_dir)" >&2
apt-get -qq "${opts[@]}" update || {
	echo "fetch-guest-kernels: apt-get update of trixie from $mirror failed" \
		"(is deb.debian.org reachable?)" >&2
	exit 2
}

# The metapackages name the current ABI's image package.
fetch_flavour() { # FLAVOUR OUTNAME
	local meta=linux-image-$1 pkg deb
	pkg=$(apt-cache "${opts[@]}" depends "$meta" |
		awk '/Depends: linux-image-[0-9]/ { print $2; exit }')
	[ -n "$pkg" ] || die "cannot resolve $meta in trixie"
	(cd "$apt_dir/debs" && apt-get -qq "${opts[@]}" download "$pkg") ||
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

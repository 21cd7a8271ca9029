#!/usr/bin/env bash
# Fetches Debian bookworm's lwIP source package (`lwip`, 2.1.3+dfsg1) and
# unpacks it, with a PRIVATE apt configuration: its own sources.list (one
# deb-src line), state and cache directories under CACHE (default
# build/lwip-src); the machine's /etc/apt is never read for sources and
# never changed.  keel builds lwIP from that tree (mk/lwip.mk); no lwIP
# source is kept in keel's repository.
#
#   scripts/fetch-lwip.sh [CACHE]      prints nothing when already unpacked
#
#   CACHE/tree/                        the unpacked source (src/core, src/include ...)
#   CACHE/tree/.keel-version           the package version, written last
#
# Exits 0 with the tree there (already there: no network used), 2 if
# deb.debian.org cannot be reached (said clearly), 1 on any other error.
set -euo pipefail

die() { echo "fetch-lwip: $*" >&2; exit 1; }

cd "$(dirname "$0")/.."
cache=${1:-build/lwip-src}
mkdir -p "$cache"
cache=$(cd "$cache" && pwd)
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
suite=bookworm

[ -s "$cache/tree/.keel-version" ] && exit 0

for tool in apt-get dpkg-source; do
	command -v "$tool" >/dev/null || die "$tool missing (scripts/deps.sh installs dpkg-dev)"
done
[ -r "$keyring" ] || die "$keyring missing (apt-get install debian-archive-keyring)"

if ! timeout 30 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
	echo "fetch-lwip: deb.debian.org cannot be reached from this machine;" \
		"lwIP's source package cannot be fetched" >&2
	exit 2
fi

apt_dir=$cache/apt
mkdir -p "$apt_dir"/{etc/preferences.d,etc/apt.conf.d,state/lists/partial,cache/archives/partial}
cat > "$apt_dir/etc/sources.list" <<EOT
deb-src [signed-by=$keyring] $mirror $suite main
EOT
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
	-o "APT::Sandbox::User=root"
	-o "Acquire::Languages=none"
)
echo "fetch-lwip: apt-get update (private config in $apt_dir)" >&2
apt-get -qq "${opts[@]}" update || {
	echo "fetch-lwip: apt-get update of $suite sources from $mirror failed" \
		"(is deb.debian.org reachable?)" >&2
	exit 2
}

dl=$apt_dir/dl
rm -rf "$dl"
mkdir -p "$dl"
(cd "$dl" && apt-get -qq "${opts[@]}" source --download-only lwip) ||
	die "apt-get source --download-only lwip failed"
dsc=$(ls "$dl"/lwip_*.dsc 2>/dev/null | head -1)
[ -n "$dsc" ] || die "no lwip_*.dsc downloaded"
version=$(sed -n 's/^Version: //p' "$dsc" | head -1)

# dpkg-source checks the .dsc's signature and the files' checksums, then
# applies Debian's patches.
rm -rf "$cache/tree" "$cache/tree.tmp"
dpkg-source -q -x "$dsc" "$cache/tree.tmp" >/dev/null ||
	die "dpkg-source -x $dsc failed"
for f in src/core/tcp.c src/core/ipv4/dhcp.c src/include/lwip/opt.h src/apps/lwiperf/lwiperf.c; do
	[ -f "$cache/tree.tmp/$f" ] || die "lwip $version has no $f"
done
mv "$cache/tree.tmp" "$cache/tree"
echo "$version" > "$cache/tree/.keel-version"
rm -rf "$dl"
echo "fetch-lwip: lwip $version unpacked in $cache/tree" >&2

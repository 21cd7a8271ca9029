# Sourced by the fetch scripts: apt-get with a private configuration (its own
# sources list, state and cache under a folder of the caller's), so packages
# of another Debian release are fetched without touching /etc/apt or /var.
#   private_apt_reachable ME WHAT     exit 2, saying so, if deb.debian.org
#                                     cannot be reached (WHAT: what is lost)
#   private_apt_setup ME DIR LINE...  DIR/etc/sources.list = the LINEs, then
#                                     apt-get update; sets the array apt_opts
#                                     (exit 2 when the update fails)

private_apt_reachable() {
	if ! timeout 30 bash -c 'exec 3<>/dev/tcp/deb.debian.org/80' 2>/dev/null; then
		echo "$1: deb.debian.org cannot be reached from this machine; $2" >&2
		exit 2
	fi
}

private_apt_setup() {
	local me=$1 dir=$2
	shift 2
	mkdir -p "$dir"/{etc/preferences.d,etc/apt.conf.d,state/lists/partial,cache/archives/partial,debs}
	printf '%s\n' "$@" > "$dir/etc/sources.list"
	: > "$dir/status"
	# Every Dir:: apt would otherwise take from /etc/apt or /var is pointed here.
	apt_opts=(
		-o "Dir::Etc=$dir/etc"
		-o "Dir::Etc::sourcelist=$dir/etc/sources.list"
		-o "Dir::Etc::sourceparts=-"
		-o "Dir::Etc::preferencesparts=$dir/etc/preferences.d"
		-o "Dir::Etc::parts=$dir/etc/apt.conf.d"
		-o "Dir::State=$dir/state"
		-o "Dir::State::status=$dir/status"
		-o "Dir::Cache=$dir/cache"
		-o "APT::Architecture=amd64"
		-o "APT::Architectures=amd64"
		-o "APT::Sandbox::User=root"
		-o "Acquire::Languages=none"
	)
	echo "$me: apt-get update (private config in $dir)" >&2
	apt-get -qq "${apt_opts[@]}" update || {
		echo "$me: apt-get update failed (is deb.debian.org reachable?)" >&2
		exit 2
	}
}

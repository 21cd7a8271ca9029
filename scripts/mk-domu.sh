#!/usr/bin/env bash
# Builds the Linux PV domU that keel's integration tests boot, from Debian
# packages only (linux-image-amd64, busybox-static, xenstore-utils, cpio,
# gzip), with no network and no root needed:
#
#   scripts/mk-domu.sh OUTDIR
#
#   OUTDIR/vmlinuz         the newest /boot/vmlinuz-* (Debian's kernel boots as
#                          a Xen PV guest; hvc0 is its console)
#   OUTDIR/initrd.cpio.gz  a busybox ramdisk (newc cpio, gzip).  Its /init
#                          mounts proc, sys, devtmpfs, prints KEEL-DOMU-INIT on
#                          /dev/console, runs /tests/NAME.sh if the kernel
#                          command line says keeltest=NAME, then keeps a shell
#                          on the console for ever (PID 1 never exits).
#
# The ramdisk also holds xenstore-utils' tools with their shared libraries
# (they reach xenstore through /dev/xen/xenbus, which Debian's kernel builds
# in: CONFIG_XEN_XENBUS_FRONTEND=y, so no module is needed) and /sbin/poweroff,
# /sbin/reboot, /sbin/halt: Linux answers a toolstack's control/shutdown
# "poweroff" by running /sbin/poweroff (orderly_poweroff).
#
# Test scripts print one "KEEL-TEST <name> ok|fail <detail>" line per check
# and end with "KEEL-TEST-DONE"; the harness greps the guest console.
# Rebuilds OUTDIR's two files from scratch each run.
set -euo pipefail

die() { echo "mk-domu: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
out=$1
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in cpio gzip ldd; do
	command -v "$tool" >/dev/null || die "$tool missing (apt-get install cpio gzip libc-bin)"
done
busybox=/bin/busybox
[ -x "$busybox" ] || die "$busybox missing (apt-get install busybox-static)"
case "$(ldd "$busybox" 2>&1 || true)" in
*"not a dynamic"* | *"statically linked"*) ;;
*) die "$busybox is not static (apt-get install busybox-static)" ;;
esac
applets=$("$busybox" --list)
for a in setsid cttyhack timeout od dd; do
	case " $(echo $applets) " in *" $a "*) ;; *) die "busybox lacks $a" ;; esac
done
xenstore=/usr/bin/xenstore
[ -x "$xenstore" ] || die "$xenstore missing (apt-get install xenstore-utils)"

# The newest Debian kernel, by version order.
kernel=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$kernel" ] || die "no /boot/vmlinuz-* (apt-get install linux-image-amd64)"
[ -r "$kernel" ] || die "$kernel is not readable (run as root once, or chmod a+r it)"
kver=${kernel#/boot/vmlinuz-}
config=/boot/config-$kver
if [ -r "$config" ]; then
	for opt in CONFIG_XEN_PV CONFIG_HVC_XEN CONFIG_XEN_XENBUS_FRONTEND CONFIG_DEVTMPFS \
		CONFIG_BLK_DEV_INITRD CONFIG_RD_GZIP; do
		grep -qx "$opt=y" "$config" || die "$kver lacks $opt=y (see $config)"
	done
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/keel-domu.XXXXXX")
trap 'rm -rf "$root"' EXIT

# ---- the tree --------------------------------------------------------------
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,root,tests,etc}
chmod 1777 "$root/tmp"
cp "$busybox" "$root/bin/busybox"
chmod 755 "$root/bin/busybox"
# One link per applet at busybox's own path for it; poweroff/reboot/halt are
# scripts instead (below) so that they never wait for an init that is a shell.
"$busybox" --list-full | while read -r path; do
	case "$path" in
	sbin/poweroff | sbin/reboot | sbin/halt | bin/busybox) continue ;;
	esac
	mkdir -p "$root/$(dirname "$path")"
	ln -sf /bin/busybox "$root/$path"
done
for cmd in poweroff reboot halt; do
	case $cmd in
	reboot) act=reboot ;;
	*) act=poweroff ;;
	esac
	printf '#!/bin/busybox sh\n# Linux runs /sbin/poweroff on a Xen shutdown request; act at once.\nsync\nexec /bin/busybox %s -f\n' \
		"$act" > "$root/sbin/$cmd"
	chmod 755 "$root/sbin/$cmd"
done

# xenstore-utils: one multi-call binary that dispatches on its name.
cp "$xenstore" "$root/usr/bin/xenstore"
for tool in read write ls list rm watch exists chmod; do
	ln -sf xenstore "$root/usr/bin/xenstore-$tool"
done
# Its shared libraries (libxenstore, libxentoolcore, libc) and the dynamic
# loader, at the paths ldd names; the loader searches /lib/x86_64-linux-gnu
# by default, so no ld.so.cache is needed.
ldd "$xenstore" | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' |
while read -r lib; do
	[ -n "$lib" ] || continue
	mkdir -p "$root/$(dirname "$lib")"
	cp -L "$lib" "$root/$lib"
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || die "ldd did not name the dynamic loader"

# Debian builds the PV block and network frontends as modules: the guest
# loads them from its initramfs (by kernel version, so another guest kernel
# simply finds none of its own).
# xen-gntalloc and xen-evtchn give user space /dev/xen/gntalloc and
# /dev/xen/evtchn, which the hostile netfront and blkfront (below) play with.
for mod in drivers/block/xen-blkfront drivers/net/xen-netfront drivers/xen/xen-gntalloc \
	drivers/xen/xen-evtchn; do
	src=/lib/modules/$kver/kernel/$mod.ko
	[ -r "$src" ] || die "$src missing (linux-image-amd64's modules)"
	mkdir -p "$root/lib/modules/$kver"
	cp "$src" "$root/lib/modules/$kver/"
done

printf 'root:x:0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"

# ---- /init -----------------------------------------------------------------
cat > "$root/init" <<'EOF'
#!/bin/busybox sh
# PID 1 of keel's test domU.  It must never exit (the kernel would panic).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
# The ramdisk has no device nodes, so the kernel could not open a console
# for us: take /dev/console now that devtmpfs is there.  It is hvc0 under Xen
# (console=hvc0) and ttyS0 under plain QEMU (console=ttyS0).
exec </dev/console >/dev/console 2>&1
# keelnomod=a,b on the command line: modules not to load (a guest that
# plays netfront itself must not have xen-netfront take its vifs).
nomod=$(sed -n 's/.*keelnomod=\([^ ]*\).*/\1/p' /proc/cmdline)
for m in /lib/modules/$(uname -r)/*.ko; do
	case ",$nomod," in *,"$(basename "$m" .ko)",*) continue ;; esac
	[ -e "$m" ] && insmod "$m"
done
echo KEEL-DOMU-INIT
hostname keel-domu

test=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	keeltest=*) test=${arg#keeltest=} ;;
	esac
done
if [ -n "$test" ]; then
	if [ -f "/tests/$test.sh" ]; then
		sh "/tests/$test.sh"
	else
		echo "KEEL-TEST $test fail no /tests/$test.sh"
		echo KEEL-TEST-DONE
	fi
fi

# An interactive shell with the console as its controlling tty (cttyhack finds
# the real device behind /dev/console), started again whenever it exits.
while :; do
	setsid cttyhack sh -l
	sleep 1
done
EOF
chmod 755 "$root/init"

# ---- /tests/xs.sh ----------------------------------------------------------
# blk: the guest's side of the blkback test (tests/integration/test_blkback.py):
# what blkfront sees of /dev/xvda, a read of what the host put there, and a
# write the host then finds on the disk image.
cat > "$root/tests/blk.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
i=0
while [ ! -b /dev/xvda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
if [ -b /dev/xvda ]; then r blk-present ok; else r blk-present fail "no /dev/xvda"; fi
r blk-size ok "sectors=$(cat /sys/block/xvda/size) ro=$(cat /sys/block/xvda/ro)"
r blk-read ok "md5=$(dd if=/dev/xvda bs=4096 skip=256 count=64 2>/dev/null | md5sum | cut -d' ' -f1)"
if yes KEEL-GUEST-WROTE-THIS | head -c 262144 | dd of=/dev/xvda bs=4096 seek=512 conv=fsync 2>/dev/null; then
	r blk-write ok
else
	r blk-write fail "dd failed"
fi
echo 3 > /proc/sys/vm/drop_caches
r blk-readback ok "md5=$(dd if=/dev/xvda bs=4096 skip=512 count=64 2>/dev/null | md5sum | cut -d' ' -f1)"
if [ -b /dev/xvdb ]; then
	r blk-second ok "sectors=$(cat /sys/block/xvdb/size) ro=$(cat /sys/block/xvdb/ro)"
	if dd if=/dev/zero of=/dev/xvdb bs=4096 count=1 conv=fsync 2>/dev/null; then
		r blk-ro-refused fail "wrote a read-only disk"
	else
		r blk-ro-refused ok
	fi
	# Even with the guest's own read-only flag cleared, a direct write
	# (no page cache) must not reach the disk: the host checks its bytes.
	blockdev --setrw /dev/xvdb 2>/dev/null
	if dd if=/dev/zero of=/dev/xvdb bs=4096 seek=8 count=1 oflag=direct 2>/dev/null; then
		r blk-ro-direct fail "a direct write to the read-only disk succeeded"
	else
		r blk-ro-direct ok "ro=$(cat /sys/block/xvdb/ro)"
	fi
fi
. /tests/blklib.sh
# xvdd: devtype=cdrom (key=value form); xvda, a disk, for contrast.
wait_blk xvdd present 10
cd_report blk-cdrom xvdd
r blk-disk-cap ok "capability=$(/bin/cdcap /dev/xvda)"
echo KEEL-TEST-DONE
# Then: a pattern written while kt-blk2 writes its own (blkpat.sh), and
# the hot-plugged xvdc (blkhot.sh), both driven by test_blkback.py.
sh /tests/blkpat.sh kt-blk
sh /tests/blkhot.sh
EOF

# blkloop: disk I/O that never ends, for destroying a guest in the middle of it.
cat > "$root/tests/blkloop.sh" <<'EOF'
i=0
while [ ! -b /dev/xvda ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
echo KEEL-BLKLOOP-START
while :; do
	dd if=/dev/xvda of=/dev/null bs=65536 count=256 iflag=direct 2>/dev/null
	dd if=/dev/zero of=/dev/xvda bs=65536 seek=64 count=64 oflag=direct 2>/dev/null
done
EOF

# ---- ext4 on blkfront (tests/integration/test_blk_fs.py) -------------------
# Debian builds ext4 as a module: ext4, the modules modules.dep says it needs
# and crc32c (its checksums; modules.softdep's "pre: crypto-crc32c") go
# under fs/, where /init's loop does not look, and fs/order lists them
# dependencies first for the scripts below to insmod.  mke2fs (dynamic)
# comes with its libraries and mke2fs.conf (without it mke2fs would fall
# back to ext2-like defaults).
fsmods=$root/lib/modules/$kver/fs
mkdir -p "$fsmods"
dep=$(sed -n 's|^kernel/fs/ext4/ext4\.ko:||p' "/lib/modules/$kver/modules.dep")
[ -n "$(sed -n '\|^kernel/fs/ext4/ext4\.ko:|p' "/lib/modules/$kver/modules.dep")" ] ||
	die "ext4 is not a module of $kver (modules.dep)"
# modules.dep lists a module's dependencies with the deepest last: load
# them in reverse, then crc32c, then ext4 itself.
order=
for m in $dep; do order="$m $order"; done
for m in $order kernel/crypto/crc32c_generic.ko kernel/fs/ext4/ext4.ko; do
	src=/lib/modules/$kver/$m
	[ -r "$src" ] || die "$src missing (linux-image-amd64's modules)"
	cp "$src" "$fsmods/"
	basename "$m" .ko >> "$fsmods/order"
done
mke2fs=/sbin/mke2fs
[ -x "$mke2fs" ] || die "$mke2fs missing (apt-get install e2fsprogs)"
# busybox's mke2fs applet link is replaced (cp would write through it).
rm -f "$root/sbin/mke2fs" "$root/sbin/mkfs.ext4"
cp "$mke2fs" "$root/sbin/mke2fs"
ln -s mke2fs "$root/sbin/mkfs.ext4"
ldd "$mke2fs" | awk '/=>/ { print $3 } !/=>/ && $1 ~ /^\// { print $1 }' |
while read -r lib; do
	[ -n "$lib" ] || continue
	mkdir -p "$root/$(dirname "$lib")"
	cp -L "$lib" "$root/$lib"
done
cp /etc/mke2fs.conf "$root/etc/mke2fs.conf"

# fslib: waits for xvda, loads ext4.
cat > "$root/tests/fslib.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
i=0
while [ ! -b /dev/xvda ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
[ -b /dev/xvda ] || { r fs-xvda fail "no /dev/xvda"; echo KEEL-TEST-DONE; exit 1; }
mods=/lib/modules/$(uname -r)/fs
for m in $(cat $mods/order); do
	insmod $mods/$m.ko 2>/tmp/insmod.err || echo "insmod $m: $(cat /tmp/insmod.err)"
done
if grep -qw ext4 /proc/filesystems; then
	r fs-ext4 ok "modules: $(cat $mods/order | tr '\n' ' ')"
else
	r fs-ext4 fail "no ext4 in /proc/filesystems after insmod of $(cat $mods/order | tr '\n' ' ')"
	echo KEEL-TEST-DONE
	exit 1
fi
mkdir -p /mnt
EOF

# fsw: the first boot.  What blkfront made of keel's offer (queues, segment
# and discard limits, the persistent-grant node it wrote), then mkfs.ext4
# on xvda, a tree of random files (KEEL-FS-FILE md5 size path for each, and
# the list in /mnt/MANIFEST), a 12 MiB file written and deleted, and fstrim
# once the host says go (data/trim-go = 1 in the domain's xenstore home, so
# that the host reads keel's discard counters before), umount.  The test
# reads the console, then powers the guest off (`shutdown -w`).
cat > "$root/tests/fsw.sh" <<'EOF'
. /tests/fslib.sh || exit
q=/sys/block/xvda/queue
r fs-features ok "queues=$(ls /sys/block/xvda/mq | wc -l) max_segments=$(cat $q/max_segments) discard_granularity=$(cat $q/discard_granularity) discard_max_bytes=$(cat $q/discard_max_bytes) persistent=$(xenstore-read device/vbd/51712/feature-persistent 2>&1 | tr ' \n' '_ ')"
if mkfs.ext4 -q -F -b 4096 -L keelfs /dev/xvda > /tmp/mkfs.out 2>&1; then
	r fs-mkfs ok
else
	r fs-mkfs fail "$(tail -3 /tmp/mkfs.out | tr '\n' ' ')"
fi
if mount -t ext4 /dev/xvda /mnt 2>/tmp/mount.err; then
	r fs-mount ok
else
	r fs-mount fail "$(cat /tmp/mount.err)"
	echo KEEL-TEST-DONE
	exit
fi
cd /mnt
n=0
for d in etc etc/conf.d var var/log/old home/keel/data; do
	mkdir -p $d
	for i in 1 2 3 4 5 6; do
		n=$((n + 1))
		head -c $((n * n * 37 + n)) /dev/urandom > $d/small$i
	done
done
: > etc/empty
seq 1 20000 > var/log/seq.txt
head -c $((1536 << 10)) /dev/urandom > home/keel/data/big1
head -c $(((2 << 20) + 7)) /dev/urandom > var/big2
head -c $((3 << 20)) /dev/urandom > home/keel/big3
head -c $(((5 << 20) - 4095)) /dev/urandom > big4
find . -type f ! -path './lost+found/*' | sort > /tmp/files
: > /tmp/manifest
while read -r f; do
	s=$(md5sum "$f" | cut -d' ' -f1)
	echo "$s  $f" >> /tmp/manifest
	echo "KEEL-FS-FILE $s $(wc -c < "$f") $f"
done < /tmp/files
cp /tmp/manifest MANIFEST
r fs-written ok "files=$(wc -l < /tmp/manifest) used_kib=$(du -sk . | cut -f1)"
head -c $((12 << 20)) /dev/urandom > trimme
sync
rm trimme
sync
echo KEEL-FS-TRIM-READY
i=0
while [ "$(xenstore-read data/trim-go 2>/dev/null)" != 1 ] && [ $i -lt 900 ]; do
	sleep 0.2
	i=$((i + 1))
done
if out=$(fstrim -v /mnt 2>&1); then
	r fs-fstrim ok "$out"
else
	r fs-fstrim fail "$(echo "$out" | tr '\n' ' ')"
fi
cd /
if umount /mnt 2>/tmp/umount.err; then
	r fs-umount ok
else
	r fs-umount fail "$(cat /tmp/umount.err)"
fi
sync
echo KEEL-TEST-DONE
EOF

# fsr: the second boot on the same disk: mounts it read-only and checks
# every file against /mnt/MANIFEST (KEEL-TEST fsr-file ok|fail per file),
# and that nothing is missing or extra; the test then powers it off.
cat > "$root/tests/fsr.sh" <<'EOF'
. /tests/fslib.sh || exit
if mount -t ext4 -o ro /dev/xvda /mnt 2>/tmp/mount.err; then
	r fs-mount ok
else
	r fs-mount fail "$(cat /tmp/mount.err)"
	echo KEEL-TEST-DONE
	exit
fi
cd /mnt
if [ -f MANIFEST ]; then
	while read -r want f; do
		got=$(md5sum "$f" 2>/dev/null | cut -d' ' -f1)
		if [ "$got" = "$want" ]; then
			r fsr-file ok "$got $f"
		else
			r fsr-file fail "${got:-missing} $f (want $want)"
		fi
	done < MANIFEST
	want=$(wc -l < MANIFEST)
	have=$(find . -type f ! -path './lost+found/*' ! -name MANIFEST | wc -l)
	if [ "$want" = "$have" ]; then
		r fsr-count ok "files=$have"
	else
		r fsr-count fail "MANIFEST lists $want files, the tree has $have"
	fi
else
	r fsr-manifest fail "no MANIFEST: $(ls -a | tr '\n' ' ')"
fi
cd /
umount /mnt
echo KEEL-TEST-DONE
EOF

# net: the guest's side of the network tests (tests/integration/test_net.py).
# Kernel command line: keelip=ADDR/LEN (or dhcp) keelpeer=ADDR [keellines=N].
# Brings eth0 up, waits for the peer to answer ping, then each guest sends
# a known stream (seq output) to the other's port 5001 and prints the md5 of
# what it sent and of what it received, for the test to compare.
cat > "$root/tests/net.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
ip=$(arg keelip); peer=$(arg keelpeer); lines=$(arg keellines); lines=${lines:-200000}
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || { r net-link fail "no eth0"; echo KEEL-TEST-DONE; exit; }
ip link set lo up
ip link set eth0 up
if [ "$ip" = dhcp ]; then
	udhcpc -i eth0 -n -q -t 10 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1
else
	ip addr add "$ip" dev eth0
fi
r net-link ok "mac=$(cat /sys/class/net/eth0/address) addr=$(ip -4 -o addr show eth0 | sed -n 's/.*inet \([^ ]*\).*/\1/p')"
# keelip1=ADDR/LEN keelpolicy=send|sink: a second vif (rate=, ip=) for netpolicy.sh.
ip1=$(arg keelip1); pol=$(arg keelpolicy)
if [ -n "$ip1" ]; then
	i=0
	while [ ! -e /sys/class/net/eth1 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
	ip link set eth1 up
	ip addr add "$ip1" dev eth1
fi
[ "$pol" = sink ] && sh /tests/netpolicy.sh sink &
echo KEEL-NET-UP
[ -n "$peer" ] || { echo KEEL-TEST-DONE; exit; }
# The peer's listener must exist before anyone sends: listen first.
(sleep 120 | nc -l -p 5001 | md5sum | cut -d' ' -f1 > /tmp/rx.md5) &
i=0
while ! ping -c 1 -W 1 "$peer" >/dev/null 2>&1 && [ $i -lt 60 ]; do i=$((i + 1)); done
if ping -c 5 -i 0.2 "$peer" > /tmp/ping.out 2>&1; then
	r net-ping ok "$(tail -1 /tmp/ping.out)"
else
	r net-ping fail "$(tail -2 /tmp/ping.out | tr '\n' ' ')"
fi
sleep 2
r net-tx-md5 ok "$(seq 1 "$lines" | md5sum | cut -d' ' -f1)"
t0=$(cut -d' ' -f1 /proc/uptime)
if seq 1 "$lines" | nc "$peer" 5001; then
	t1=$(cut -d' ' -f1 /proc/uptime)
	r net-sent ok "bytes=$(seq 1 "$lines" | wc -c) t0=$t0 t1=$t1"
else
	r net-sent fail "nc to $peer failed"
fi
i=0
while [ ! -s /tmp/rx.md5 ] && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
r net-rx-md5 ok "$(cat /tmp/rx.md5)"
# The policy streams use eth0 too: count after them.
[ "$pol" = send ] && sh /tests/netpolicy.sh send
i=0
while [ "$pol" = sink ] && [ ! -e /tmp/policy.done ] && [ $i -lt 600 ]; do sleep 0.2; i=$((i + 1)); done
s=/sys/class/net/eth0/statistics
r net-counters ok "tx_packets=$(cat $s/tx_packets) rx_packets=$(cat $s/rx_packets) tx_bytes=$(cat $s/tx_bytes) rx_bytes=$(cat $s/rx_bytes)"
echo KEEL-TEST-DONE
# Then report each change of the interface list (network-attach/-detach).
prev=""
while :; do
	cur=$(ls /sys/class/net | tr '\n' ' ')
	[ "$cur" != "$prev" ] && echo "KEEL-NET-IFACES $cur"
	prev=$cur
	sleep 0.3
done
EOF
# netpolicy: rate= and anti-spoofing (test_net.py).  The sender's eth1 is a
# vif with ip=10.0.1.1, mac=00:16:3e:00:01:1a and rate=; the sink's eth1 is
# a plain vif on the same bridge (xenbr1).
#   sink  times two streams of 160000 bytes as they arrive (port 5002: sent
#         through the limited eth1; 5004: through eth0, no limit; from the
#         first byte to the end), then reports what reached port 5006
#         (only spoofed sources ever aim there) and its ARP entries, once
#         the sender's last word comes on 5007.
#   send  pings the sink from its own address, sends both streams, then
#         pings and connects from an address (10.0.1.99) and from a MAC
#         (00:16:3e:00:01:99) that are not its vif's, then from its own again.
cat > "$root/tests/netpolicy.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
up() { cut -d' ' -f1 /proc/uptime; }
n=160000
timed() {
	sleep 200 | nc -l -p "$1" | {
		dd bs=1 count=1 >/dev/null 2>&1
		t0=$(up); b=$(wc -c); t1=$(up)
		echo "KEEL-RATE port=$1 bytes=$b t0=$t0 t1=$t1"
	}
}
if [ "$1" = sink ]; then
	timed 5002 &
	timed 5004 &
	(sleep 200 | nc -l -p 5006 > /tmp/spoof.rx) &
	(sleep 200 | nc -l -p 5007 > /tmp/legit.rx) &
	i=0
	while [ ! -s /tmp/legit.rx ] && [ $i -lt 900 ]; do sleep 0.2; i=$((i + 1)); done
	sleep 1
	r pol-peer ok "legit=$(cat /tmp/legit.rx) spoofed_bytes=$(wc -c < /tmp/spoof.rx) neigh99=[$(ip neigh show 10.0.1.99)] neigh1=[$(ip neigh show 10.0.1.1)]"
	echo KEEL-POLICY-DONE
	touch /tmp/policy.done
	exit
fi
peer=$(arg keelpeer); peer1=$(arg keelpeer1)
i=0
while ! ping -c 1 -W 1 "$peer1" >/dev/null 2>&1 && [ $i -lt 30 ]; do i=$((i + 1)); done
if ping -c 3 -i 0.2 "$peer1" > /tmp/p1 2>&1; then
	r pol-ping ok "$(tail -1 /tmp/p1)"
else
	r pol-ping fail "$(tail -2 /tmp/p1 | tr '\n' ' ')"
fi
t0=$(up)
head -c $n /dev/zero | nc "$peer1" 5002
t1=$(up)
head -c $n /dev/zero | nc "$peer" 5004
r pol-streams ok "bytes=$n limited_t0=$t0 limited_t1=$t1 unlimited_t1=$(up)"
# ip=: an address the vif was not given.
ip addr add 10.0.1.99/24 dev eth1
if ping -c 2 -W 2 -I 10.0.1.99 "$peer1" > /tmp/p2 2>&1; then
	r pol-spoof-ip fail "answered from 10.0.1.99: $(tail -1 /tmp/p2)"
else
	r pol-spoof-ip ok "no answer from 10.0.1.99"
fi
ip route add "$peer1"/32 dev eth1 src 10.0.1.99
echo SPOOF-IP | nc -w 3 "$peer1" 5006 2>/dev/null
ip route del "$peer1"/32 dev eth1
ip addr del 10.0.1.99/24 dev eth1
# mac=: a MAC the vif was not given.
ip link set eth1 down
ip link set eth1 address 00:16:3e:00:01:99
ip link set eth1 up
if ping -c 2 -W 2 "$peer1" > /tmp/p3 2>&1; then
	r pol-spoof-mac fail "answered from 00:16:3e:00:01:99: $(tail -1 /tmp/p3)"
else
	r pol-spoof-mac ok "no answer from 00:16:3e:00:01:99"
fi
echo SPOOF-MAC | nc -w 3 "$peer1" 5006 2>/dev/null
ip link set eth1 down
ip link set eth1 address 00:16:3e:00:01:1a
ip link set eth1 up
i=0
while ! ping -c 1 -W 1 "$peer1" >/dev/null 2>&1 && [ $i -lt 10 ]; do i=$((i + 1)); done
if ping -c 2 -i 0.2 "$peer1" > /tmp/p4 2>&1; then
	r pol-restored ok "$(tail -1 /tmp/p4)"
else
	r pol-restored fail "$(tail -2 /tmp/p4 | tr '\n' ' ')"
fi
echo LEGIT | nc -w 5 "$peer1" 5007
echo KEEL-POLICY-DONE
EOF
cat > "$root/etc/udhcpc.script" <<'EOF'
#!/bin/sh
# udhcpc's hook: puts the lease on the interface.
case "$1" in
bound|renew)
	ip addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" dev "$interface"
	[ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
	;;
esac
exit 0
EOF
chmod 755 "$root/etc/udhcpc.script"

# netext: a guest on the wire through keel's NIC uplink
# (tests/integration/test_net_ext.py, and `make run`'s demo guest):
# DHCP from QEMU's user network, then TCP 5003 answers the md5 of whatever
# a client sends (until it half-closes), and busybox httpd serves port 80
# (with /big, 4 MiB of random bytes, and /big.md5).
cat > "$root/tests/netext.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.2; i=$((i + 1)); done
[ -e /sys/class/net/eth0 ] || { r net-dhcp fail "no eth0"; exit; }
ip link set lo up
ip link set eth0 up
t0=$(cut -d' ' -f1 /proc/uptime)
if udhcpc -i eth0 -n -q -t 20 -T 1 -s /etc/udhcpc.script >/dev/null 2>&1; then
	t1=$(cut -d' ' -f1 /proc/uptime)
	r net-dhcp ok "addr=$(ip -4 -o addr show eth0 | sed -n 's/.*inet \([^ ]*\).*/\1/p') t0=$t0 t1=$t1 route=$(ip route | sed -n 's/^default via \([^ ]*\).*/\1/p')"
else
	r net-dhcp fail "no lease"
fi
mkdir -p /www
echo "hello from $(hostname 2>/dev/null || echo the guest) behind keel's xenbr0" > /www/index.html
# A 4 MiB file and its md5 for a client to fetch: the guest -> wire path
# (netfront's GSO and checksum-blank frames through keel's switch and NIC).
dd if=/dev/urandom of=/www/big bs=65536 count=64 2>/dev/null
md5sum /www/big | cut -d' ' -f1 > /www/big.md5
httpd -h /www -p 80
(while :; do nc -l -p 5003 -e md5sum; done) &
echo KEEL-NETEXT-READY
EOF

cat > "$root/tests/xslib.sh" <<'EOF'
# Shared by the test scripts: raw xenstore requests from a domU.
# Sends one raw request on /dev/xen/xenbus (struct xsd_sockmsg, xs_wire.h:
# type, req_id, tx_id, len; all u32 little-endian; then the payload) and
# prints the reply as "OK <payload>" or "ERR <errno name>" -- the CLI tools
# only say "could not write", which cannot tell EACCES from ENOENT.
le32() {
	printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))"
	printf "\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"
}
xs_raw() { # TYPE PATH [VALUE]   (XS_READ 2, XS_WRITE 11)
	if [ $# -ge 3 ]; then
		len=$((${#2} + 1 + ${#3}))
	else
		len=$((${#2} + 1))
	fi
	{
		le32 "$1"; le32 7; le32 0; le32 "$len"
		printf '%s\000' "$2"
		[ $# -ge 3 ] && printf '%s' "$3"
	} > /tmp/xsreq
	[ -c /dev/xen/xenbus ] || { echo "ERR no-xenbus-device"; return; }
	exec 3<>/dev/xen/xenbus
	cat /tmp/xsreq >&3
	timeout 10 dd bs=65536 count=1 <&3 >/tmp/xsrep 2>/dev/null
	exec 3>&-
	type=$(od -An -tu4 -N4 /tmp/xsrep 2>/dev/null | tr -d ' ')
	payload=$(tail -c +17 /tmp/xsrep | tr -d '\000')
	case "$type" in
	16) echo "ERR $payload" ;;     # XS_ERROR
	"") echo "ERR no-reply" ;;
	*) echo "OK $payload" ;;
	esac
}

EOF

cat > "$root/tests/garbage.sh" <<'EOF'
#!/bin/sh
# A guest that sends xenstore garbage: each bad request must get an error
# reply (never silence, never a dead connection), and a good request after
# them must still work.
ok() { echo "KEEL-TEST $1 ok $2"; }
fail() { echo "KEEL-TEST $1 fail $2"; }
. /tests/xslib.sh
r=$(xs_raw 999 /local/domain/0/name)
case "$r" in ERR*) ok unknown-type "$r" ;; *) fail unknown-type "$r" ;; esac
long=/$(head -c 3500 /dev/zero | tr '\000' a)
r=$(xs_raw 2 "$long")
case "$r" in ERR*) ok overlong-path "$r" ;; *) fail overlong-path "$r" ;; esac
r=$(xs_raw 2 '/local/domain/bad*chars')
case "$r" in ERR*) ok bad-chars "$r" ;; *) fail bad-chars "$r" ;; esac
r=$(xs_raw 2 'data//double')
case "$r" in ERR*) ok double-slash "$r" ;; *) fail double-slash "$r" ;; esac
domid=$(xenstore-read domid 2>/dev/null)
r=$(xs_raw 2 "/local/domain/$domid/name")
case "$r" in "OK "?*) ok still-alive "$r" ;; *) fail still-alive "$r" ;; esac
echo KEEL-TEST-DONE
EOF

cat > "$root/tests/xs.sh" <<'EOF'
#!/bin/sh
# xenstore from a domU: its own home, another domain's keys, a watch.
# One "KEEL-TEST <name> ok|fail <detail>" line per check, then KEEL-TEST-DONE.
ok() { echo "KEEL-TEST $1 ok $2"; }
fail() { echo "KEEL-TEST $1 fail $2"; }
oneline() { tr '\n' ' ' | sed 's/ *$//'; }

. /tests/xslib.sh

if [ -c /dev/xen/xenbus ]; then
	ok xenbus-dev /dev/xen/xenbus
else
	fail xenbus-dev "no /dev/xen/xenbus"
fi

domid=$(xenstore-read domid 2>&1)
case "$domid" in
'' | *[!0-9]*) fail read-domid "$(echo "$domid" | oneline)"; domid= ;;
*) ok read-domid "$domid" ;;
esac
name=$(xenstore-read name 2>&1) && [ -n "$name" ] && ok read-name "$name" ||
	fail read-name "$(echo "$name" | oneline)"
home=/local/domain/${domid:-unknown}
if abs=$(xenstore-read "$home/name" 2>&1) && [ -n "$domid" ] && [ "$abs" = "$name" ]; then
	ok read-name-absolute "$home/name=$abs"
else
	fail read-name-absolute "$(echo "$abs" | oneline)"
fi

val="keel-$$-$(date +%s)"
if err=$(xenstore-write "$home/data/test" "$val" 2>&1); then
	got=$(xenstore-read "$home/data/test" 2>&1)
	[ "$got" = "$val" ] && ok write-read "$home/data/test=$got" ||
		fail write-read "wrote $val, read $(echo "$got" | oneline)"
else
	fail write-read "$(echo "$err" | oneline)"
fi
got=$(xenstore-read data/test 2>&1)
[ "$got" = "$val" ] && ok read-relative "data/test=$got" ||
	fail read-relative "$(echo "$got" | oneline)"

list=$(xenstore-list "$home" 2>&1)
echo "$list" | grep -qx data && echo "$list" | grep -qx name &&
	ok list-home "$(echo "$list" | oneline)" || fail list-home "$(echo "$list" | oneline)"
ls=$(xenstore-ls "$home/data" 2>&1)
echo "$ls" | grep -q "^test = \"$val\"" && ok ls-data "$(echo "$ls" | oneline)" ||
	fail ls-data "$(echo "$ls" | oneline)"

# Another domain's keys: dom0's are "n0", so both must be refused.
if out=$(xenstore-read /local/domain/0/name 2>&1); then
	fail other-read "read /local/domain/0/name=$out"
else
	r=$(xs_raw 2 /local/domain/0/name)
	[ "$r" = "ERR EACCES" ] && ok other-read "refused $r" || fail other-read "refused, $r"
fi
if out=$(xenstore-write /local/domain/0/name keel-was-here 2>&1); then
	fail other-write "write to /local/domain/0/name accepted"
else
	r=$(xs_raw 11 /local/domain/0/name keel-was-here)
	[ "$r" = "ERR EACCES" ] && ok other-write "refused $r" || fail other-write "refused, $r"
fi
r=$(xs_raw 11 /local/domain/0/keel-test x)
[ "$r" = "ERR EACCES" ] && ok other-create "refused $r" || fail other-create "$r"
r=$(xs_raw 2 "$home/data/test")
[ "$r" = "OK $val" ] && ok raw-read "$r" || fail raw-read "$r"

# A watch fires once when set, then on each change: wait for the first event
# before writing so the second can only be ours.
key=$home/data/watched
xenstore-write "$key" before >/dev/null 2>&1
rm -f /tmp/watch.out
xenstore-watch -n 2 "$key" > /tmp/watch.out 2>&1 &
wpid=$!
i=0
while [ "$i" -lt 50 ] && [ "$(grep -c . /tmp/watch.out)" -lt 1 ] && kill -0 "$wpid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
xenstore-write "$key" after >/dev/null 2>&1
i=0
while [ "$i" -lt 100 ] && [ "$(grep -c . /tmp/watch.out)" -lt 2 ] && kill -0 "$wpid" 2>/dev/null; do
	sleep 0.1; i=$((i + 1))
done
events=$(grep -c "^$key" /tmp/watch.out)
if [ "$events" -ge 2 ]; then
	ok watch "$events events on $key"
else
	fail watch "$events events in $((i / 10))s: $(oneline < /tmp/watch.out)"
fi
kill "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null

if err=$(xenstore-rm "$home/data/test" 2>&1); then
	r=$(xs_raw 2 "$home/data/test")
	[ "$r" = "ERR ENOENT" ] && ok rm "$home/data/test gone" || fail rm "then read: $r"
else
	fail rm "$(echo "$err" | oneline)"
fi
echo KEEL-TEST-DONE
EOF
chmod 755 "$root/tests/xs.sh" "$root/tests/garbage.sh" "$root/tests/xslib.sh"

# ---- more of the blkback test (tests/integration/test_blkback.py) -----------
# blklib.sh: helpers; cdcap: the CDROM_GET_CAPABILITY ioctl that udev's
# cdrom_id relies on (Linux 6.1's blkfront answers it from `info`'s
# VDISK_CDROM; its removable flag is VDISK_REMOVABLE); blk2.sh: the second
# guest (kt-blk2); blkpat.sh: a pattern written and read back over and over
# until the test says stop; blkhot.sh: the guest's view of block-attach,
# block-detach and attach again of xvdc.
command -v gcc >/dev/null || die "gcc missing (apt-get install gcc libc6-dev)"
cat > "$root/tmp/cdcap.c" <<'EOF'
/* Prints "cdrom" if the block device answers CDROM_GET_CAPABILITY, else the error. */
#include <errno.h>
#include <fcntl.h>
#include <linux/cdrom.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
int main(int argc, char **argv)
{
	int fd = argc == 2 ? open(argv[1], O_RDONLY | O_NONBLOCK) : -1;
	if (fd < 0) {
		printf("open-failed:%s\n", strerror(errno));
		return 1;
	}
	if (ioctl(fd, CDROM_GET_CAPABILITY, 0) < 0) {
		printf("%s\n", errno == EINVAL ? "EINVAL" : strerror(errno));
		return 1;
	}
	printf("cdrom\n");
	return 0;
}
EOF
gcc -static -O2 -o "$root/bin/cdcap" "$root/tmp/cdcap.c" || die "cannot build cdcap statically"
rm -f "$root/tmp/cdcap.c"
cat > "$root/tests/blklib.sh" <<'EOF'
r() { if [ "$2" = ok ]; then echo "KEEL-TEST $1 ok $3"; else echo "KEEL-TEST $1 fail $3"; fi; }
# wait_blk DEV present|absent SECONDS: 0 once /dev/DEV is (or is not) there.
wait_blk() {
	i=0
	while [ $i -lt $(($3 * 5)) ]; do
		if [ -b "/dev/$1" ]; then [ "$2" = present ] && return 0
		else [ "$2" = absent ] && return 0; fi
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
md5of() { # DEV SKIP_64K COUNT_64K
	dd if="/dev/$1" bs=65536 skip="$2" count="$3" iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1
}
# cd_report NAME DEV: what a user sees of a cdrom; fails only if it is missing.
cd_report() {
	if [ ! -b "/dev/$2" ]; then r "$1" fail "no /dev/$2"; return; fi
	if dd if=/dev/zero of="/dev/$2" bs=4096 count=1 conv=fsync 2>/dev/null; then w=accepted; else w=refused; fi
	r "$1" ok "removable=$(cat /sys/block/$2/removable) ro=$(cat /sys/block/$2/ro) capability=$(/bin/cdcap /dev/$2) write=$w sectors=$(cat /sys/block/$2/size) md5=$(md5of $2 0 1)"
}
EOF
cat > "$root/tests/blk2.sh" <<'EOF'
. /tests/blklib.sh
wait_blk xvda present 10
if [ -b /dev/xvda ]; then r blk2-present ok "sectors=$(cat /sys/block/xvda/size)"; else r blk2-present fail "no /dev/xvda"; fi
# xvdd: the positional 'phy:...,xvdd:cdrom,r' form.
wait_blk xvdd present 10
cd_report blk2-cdrom xvdd
sh /tests/blkpat.sh kt-blk2
echo KEEL-TEST-DONE
EOF
cat > "$root/tests/blkpat.sh" <<'EOF'
# blkpat.sh NAME: writes "KEEL-PATTERN NAME" lines over 1 MiB at 8 MiB of
# xvda and reads them back (direct I/O both ways), until the test writes
# data/blkpat-stop in our xenstore home (or for 300 s).
. /tests/blklib.sh
pat() { yes "KEEL-PATTERN $1" | head -c 1048576; }
want=$(pat "$1" | md5sum | cut -d' ' -f1)
n=0; bad=0; got=none
end=$(($(cut -d. -f1 /proc/uptime) + 300))
while [ "$(cut -d. -f1 /proc/uptime)" -lt $end ]; do
	pat "$1" | dd of=/dev/xvda bs=65536 seek=128 oflag=direct conv=fsync 2>/dev/null || bad=$((bad + 1))
	got=$(md5of xvda 128 16)
	[ "$got" = "$want" ] || { bad=$((bad + 1)); badmd5=$got; }
	n=$((n + 1))
	[ $n = 1 ] && echo KEEL-BLKPAT-WRITING
	xenstore-read data/blkpat-stop >/dev/null 2>&1 && { stop=asked; break; }
done
if [ $bad = 0 ]; then
	r blkpat-$1 ok "passes=$n stop=${stop:-timeout} md5=$got"
else
	r blkpat-$1 fail "passes=$n bad=$bad last-bad-md5=$badmd5 want=$want"
fi
echo KEEL-BLKPAT-DONE
EOF
cat > "$root/tests/blkhot.sh" <<'EOF'
# The guest's side of block-attach xvdc, block-detach xvdc, block-attach
# xvdc again: each step is reported as the guest sees it, and the test
# waits for each report before its next step.
. /tests/blklib.sh
hot() { yes KEEL-HOTPLUG-WROTE-THIS | head -c 262144; }
if wait_blk xvdc present 120; then
	r hot-attached ok "sectors=$(cat /sys/block/xvdc/size) ro=$(cat /sys/block/xvdc/ro) head-md5=$(md5of xvdc 0 1)"
	if hot | dd of=/dev/xvdc bs=65536 seek=16 oflag=direct conv=fsync 2>/dev/null; then
		r hot-rw ok "md5=$(md5of xvdc 16 4)"
	else
		r hot-rw fail "dd to /dev/xvdc failed"
	fi
else
	r hot-attached fail "no /dev/xvdc in 120 s: $(ls /sys/block | tr '\n' ' ')"
fi
echo KEEL-HOT-WRITTEN
if wait_blk xvdc absent 120 && [ ! -e /sys/block/xvdc ]; then
	r hot-gone ok "$(ls /sys/block | tr '\n' ' ')"
else
	r hot-gone fail "xvdc still here after 120 s"
fi
echo KEEL-HOT-GONE
if wait_blk xvdc present 120; then
	r hot-again ok "sectors=$(cat /sys/block/xvdc/size) md5=$(md5of xvdc 16 4)"
else
	r hot-again fail "no /dev/xvdc in 120 s: $(ls /sys/block | tr '\n' ' ')"
fi
echo KEEL-HOT-DONE
EOF
chmod 755 "$root/tests/blklib.sh" "$root/tests/blk2.sh" "$root/tests/blkpat.sh" "$root/tests/blkhot.sh"

# ---- xenstore hostile guest (tests/integration/test_xenstore_hostile.py) ----
# A small static C client that speaks the raw wire protocol on
# /dev/xen/xenbus (tests/integration/xshostile.c), and one script per mode.
src=$(dirname "$0")/../tests/integration/xshostile.c
command -v gcc >/dev/null || die "gcc missing (apt-get install gcc libc6-dev)"
gcc -static -O2 -o "$root/bin/xshostile" "$src" || die "cannot build $src statically"
for mode in "txflood txflood 30000 2048" "xsspin spin" "watchflood watchflood 16" "xsrtt rtt 2000" "xsrttlong rtt 8000"; do
	set -- $mode
	name=$1
	shift
	printf '#!/bin/sh\nexec /bin/xshostile %s\n' "$*" > "$root/tests/$name.sh"
	chmod 755 "$root/tests/$name.sh"
done

# ---- hostile netfront (tests/integration/test_net_hostile.py) --------------
# tests/integration/nethostile.c: netfront played by hand through gntalloc,
# evtchn and xenbus, run in a guest booted with keelnomod=xen-netfront.
src=$(dirname "$0")/../tests/integration/nethostile.c
gcc -static -O2 -o "$root/bin/nethostile" "$src" || die "cannot build $src statically"
printf '#!/bin/sh\nexec /bin/nethostile all\n' > "$root/tests/nethostile.sh"
chmod 755 "$root/tests/nethostile.sh"

# ---- hostile blkfront (tests/integration/test_blk_hostile.py) --------------
# tests/integration/blkhostile.c: blkfront played by hand (keelnomod=
# xen-blkfront), its warm-up flood, and the good guest's checksum loop.
src=$(dirname "$0")/../tests/integration/blkhostile.c
gcc -static -O2 -o "$root/bin/blkhostile" "$src" || die "cannot build $src statically"
printf '#!/bin/sh\nexec /bin/blkhostile all\n' > "$root/tests/blkhostile.sh"
printf '#!/bin/sh\nexec /bin/blkhostile warm\n' > "$root/tests/blkhostilewarm.sh"
printf '#!/bin/sh\nexec /bin/blkhostile good /dev/xvda\n' > "$root/tests/blkgood.sh"
chmod 755 "$root/tests/blkhostile.sh" "$root/tests/blkhostilewarm.sh" "$root/tests/blkgood.sh"

# ---- pack ------------------------------------------------------------------
# Fixed times and root ownership (-R 0:0 works without root) make the archive
# reproducible.
find "$root" -exec touch -h -d @0 {} +
tmp_initrd=$(mktemp "$out/.initrd.XXXXXX")
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort |
	cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9 -n > "$tmp_initrd"
chmod 644 "$tmp_initrd"
mv -f "$tmp_initrd" "$out/initrd.cpio.gz"
cp -f "$kernel" "$out/vmlinuz.tmp"
chmod 644 "$out/vmlinuz.tmp"
mv -f "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "mk-domu: $out/vmlinuz ($kver), $out/initrd.cpio.gz ($(stat -c %s "$out/initrd.cpio.gz") bytes)"

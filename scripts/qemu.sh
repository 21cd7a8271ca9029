#!/usr/bin/env bash
# Boots Xen 4.17 or 4.20 with keel as dom0 in QEMU (TCG, qemu64), serial on stdio.
#   scripts/qemu.sh [-- extra qemu args]
# Environment:
#   XEN           4.17 or 4.20                   (default: the newest present)
#   KEEL_ARGS     keel's command line            (default: empty)
#   XEN_ARGS      extra Xen command line         (default: empty)
#   DOM0_MEM      dom0 memory                    (default: 256M; "none": no dom0_mem,
#                 Xen gives dom0 nearly all memory and keel gives back the rest)
#   QEMU_MEM      machine memory in MiB          (default: 1024)
#   KEEL_ARCHIVE  boot archive (cpio)            (default: bootfs/ packed)
#   KEEL_IMAGE    the keel kernel                (default: build/keel)
#   QEMU_TIMEOUT  seconds before QEMU is killed  (default: none)
#   QEMU_ARGS     extra QEMU arguments, space-separated (disks, NICs, -machine)
# Run by `make run` (interactive) and by the integration tests (piped).
set -euo pipefail
cd "$(dirname "$0")/.."
# The hypervisor: XEN=4.17 (bookworm's, /boot, scripts/deps.sh) or XEN=4.20
# (trixie's, scripts/fetch-xen420.sh); default the newest one present.
xen420_gz=${KEEL_XEN420_CACHE:-$HOME/.cache/keel-xen420}/xen-4.20-amd64.gz
if [ -z "${XEN:-}" ]; then
	XEN=4.17
	[ -s "$xen420_gz" ] && XEN=4.20
fi
case "$XEN" in
4.17) src=/boot/xen-4.17-amd64.gz; how="run scripts/deps.sh";;
4.20) src=$xen420_gz; how="run scripts/fetch-xen420.sh";;
*) echo "error: XEN=$XEN: keel boots Xen 4.17 or 4.20" >&2; exit 1;;
esac
xen=build/xen-$XEN.elf
if [ ! -f "$xen" ] || [ "$src" -nt "$xen" ]; then
	[ -s "$src" ] || { echo "error: $src missing: $how" >&2; exit 1; }
	mkdir -p build
	gunzip -c "$src" > "$xen.tmp" && mv "$xen.tmp" "$xen"
fi
# The boot archive: bootfs/ packed afresh unless one is given.
archive=${KEEL_ARCHIVE:-}
if [ -z "$archive" ]; then
	archive=build/boot.cpio
	scripts/mkarchive.sh bootfs "$archive" >/dev/null
fi
# Xen: serial console, dom0 sized small, keel gets its input (fact 21).
dom0_mem="dom0_mem=${DOM0_MEM:-256M},max:${DOM0_MEM:-256M}"
[ "${DOM0_MEM:-}" = none ] && dom0_mem=
xen_cmd="console=com1 com1=115200,8n1 $dom0_mem dom0_max_vcpus=1 loglvl=all guest_loglvl=all ${XEN_ARGS:-}"
# QEMU splits -initrd at commas: keel's arguments must not contain any.
case "${KEEL_ARGS:-}" in *,*) echo "error: KEEL_ARGS must not contain commas" >&2; exit 1;; esac
extra=()
[ -n "${QEMU_ARGS:-}" ] && read -r -a extra <<< "$QEMU_ARGS"
[ "${1:-}" = "--" ] && { shift; extra+=("$@"); }
# No network option given: no NIC at all.  QEMU's default NIC would be on
# user networking without restrict=on, a path out of the machine.
case " ${extra[*]:-} " in *" -netdev "*|*" -nic "*|*" -net "*) ;; *) extra+=(-nic none);; esac
cmd=(qemu-system-x86_64 -accel tcg -cpu qemu64 -m "${QEMU_MEM:-1024}" -smp 1
	-no-reboot -display none -monitor none
	-chardev stdio,id=ser0,signal=off -serial chardev:ser0
	-kernel "$xen" -append "$xen_cmd"
	-initrd "${KEEL_IMAGE:-build/keel} ${KEEL_ARGS:-},$archive" "${extra[@]}")
if [ -n "${QEMU_TIMEOUT:-}" ]; then
	exec timeout --foreground -k 5 "$QEMU_TIMEOUT" "${cmd[@]}"
fi
exec "${cmd[@]}"

#!/usr/bin/env bash
# Boots Xen + keel in QEMU with the serial console on this terminal.
# Type `help` at the keel# prompt; `poweroff` ends the run (QEMU exits).
# Ctrl-a three times switches the serial input between keel and Xen.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "keel: starting Xen 4.17 + keel in QEMU (TCG); type 'poweroff' to leave" >&2
exec scripts/qemu.sh

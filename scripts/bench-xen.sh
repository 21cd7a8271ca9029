#!/usr/bin/env bash
# Boot and `create` figures on Xen 4.17 and Xen 4.20 side by side: runs
# tests/integration/test_xen420.py once per hypervisor (each boots keel once
# and prints "FIGURE xen-X.Y name value" lines) and tabulates them.
#   scripts/bench-xen.sh        (QEMU runs one at a time, under the lock)
set -euo pipefail
cd "$(dirname "$0")/.."
out=build/bench-xen
mkdir -p "$out"
for x in 4.17 4.20; do
	flock /tmp/keel-qemu.lock timeout 900 python3 tests/integration/test_xen420.py --xen "$x" \
		> "$out/$x.log" 2>&1 || echo "bench-xen: the run on Xen $x had failures ($out/$x.log)" >&2
done
python3 - "$out" <<'PY'
import re, sys
names = {"boot_to_prompt_s": "QEMU start to keel's prompt (s)",
         "keel_boot_ms": "dom0 entry to prompt, keel's clock (ms)",
         "create_61_first_ms": "`create` Linux 6.1 guest, kernel not yet decompressed (ms)",
         "create_61_cached_ms": "`create` Linux 6.1 guest, kernel cached, median of 5 (ms)",
         "create_61_to_init_s": "`create` returned to the 6.1 guest's init marker (s)",
         "create_612_first_ms": "`create` Linux 6.12 guest (zstd), first (ms)"}
fig = {}
for x in ("4.17", "4.20"):
    for line in open("%s/%s.log" % (sys.argv[1], x)):
        m = re.match(r"FIGURE xen-(\S+) (\S+) (\S+)", line)
        if m:
            fig[(m.group(2), m.group(1))] = m.group(3)
print("| figure | Xen 4.17 | Xen 4.20 |\n|---|---|---|")
for k, label in names.items():
    print("| %s | %s | %s |" % (label, fig.get((k, "4.17"), "-"), fig.get((k, "4.20"), "-")))
PY

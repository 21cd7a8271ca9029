#!/usr/bin/env python3
"""
Boot figures for keel as dom0 (issue 2): prints, never asserts.

For each of N boots (default 5): host wall time from QEMU start to keel's
prompt, keel's own entry-to-prompt time (its clock), dom0 memory keel uses
after boot, and the image size.  With --peer, also runs the Linux dom0
reference rig (../shared/peer/run-peer.sh, must be built) once, in the same
run, and prints ratios against its dom0_boot_s and dom0_mem_used_kB.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import ROOT, Machine  # noqa: E402


def keel_boot(i):
    with Machine("bench-boot-%d" % i, timeout=180) as m:
        t0 = m.start_time
        m.expect(r"booted in ([\d.]+) ms", 120)
        m.boot(60)
        wall = time.monotonic() - t0
        entry_ms = float(re.search(r"booted in ([\d.]+) ms", m.buf).group(1))
        mem = m.command("mem")
        used_kib = int(re.search(r"used pages\s*:\s*\d+ \((\d+) KiB\)", mem).group(1))
        m.send("poweroff\r")
        m.wait_exit(60)
        return wall, entry_ms, used_kib


def peer_run():
    peer = os.path.join(ROOT, "..", "shared", "peer", "run-peer.sh")
    if not os.path.exists(peer):
        print("peer: %s not found" % peer)
        return None
    out = subprocess.run([peer], capture_output=True, text=True, timeout=900).stdout
    return dict(re.findall(r"RESULT (\w+)=(\S+)", out))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--peer", action="store_true", help="also run the Linux dom0 reference")
    args = ap.parse_args()
    runs = [keel_boot(i) for i in range(args.n)]
    wall = statistics.median(r[0] for r in runs)
    entry = statistics.median(r[1] for r in runs)
    used = statistics.median(r[2] for r in runs)
    size = os.path.getsize(os.path.join(ROOT, "build", "keel"))
    text = subprocess.run(["size", os.path.join(ROOT, "build", "keel")],
                          capture_output=True, text=True).stdout.splitlines()[-1].split()
    print("keel_boots                 %d" % args.n)
    print("keel_qemu_to_prompt_s      %.2f (median; min %.2f max %.2f)" %
          (wall, min(r[0] for r in runs), max(r[0] for r in runs)))
    print("keel_entry_to_prompt_ms    %.3f (median; min %.3f max %.3f)" %
          (entry, min(r[1] for r in runs), max(r[1] for r in runs)))
    print("keel_dom0_used_kB          %d" % used)
    print("keel_image_file_bytes      %d" % size)
    print("keel_image_text_data_bss   %s %s %s" % tuple(text[:3]))
    if args.peer:
        p = peer_run()
        if p and "dom0_boot_s" in p:
            pb, pm = float(p["dom0_boot_s"]), float(p["dom0_mem_used_kB"])
            print("peer_dom0_boot_s           %.2f" % pb)
            print("peer_dom0_mem_used_kB      %d" % pm)
            print("ratio_boot_peer_over_keel  %.1f" % (pb / wall))
            print("ratio_mem_peer_over_keel   %.1f" % (pm / used))
        else:
            print("peer: no figures (is it built? ../shared/peer/build-peer.sh)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""
Boot figures for keel as dom0 (issue 2): prints, never asserts.

For each of N boots (default 5): host wall time from QEMU start to keel's
prompt, keel's own entry-to-prompt time (its clock), dom0 memory keel uses
after boot, and the image size.  With --peer, also runs the Linux dom0
reference rig (../shared/peer/run-peer.sh, must be built) once, in the same
run, and prints ratios against its dom0_boot_s and dom0_mem_used_kB.

With --disks (issue 7's figures), boots alternate between no disk and two
fresh 1 GiB sparse disks (NVMe and virtio-blk): the prompt time of each,
when the probe thread finished (scan, drivers, partitions and LVM; it runs
beside the prompt), keel's memory with both disks up, and `blk-bench -w`
on each disk (sequential 1 MiB and random 4 KiB, QD1 and QD32) once.
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


SCRATCH = os.path.join(ROOT, "build", "bench-boot")


def disk_args():
    """Two fresh 1 GiB sparse images: NVMe and virtio-blk, as test_nvme gives them."""
    os.makedirs(SCRATCH, exist_ok=True)
    args = []
    for name, dev in (("nvme", "nvme,serial=benchboot"), ("virtio", "virtio-blk-pci")):
        img = os.path.join(SCRATCH, name + ".img")
        with open(img, "wb") as f:
            f.truncate(1 << 30)
        args.append("-drive file=%s,if=none,id=%s,format=raw,cache=unsafe,aio=threads "
                    "-device %s,drive=%s" % (img, name, dev, name))
    return " ".join(args)


def keel_boot(i, disks=False, bench=False):
    env = {"QEMU_ARGS": disk_args()} if disks else None
    with Machine("bench-boot-%d%s" % (i, "-disks" if disks else ""), timeout=600,
                 env=env) as m:
        t0 = m.start_time
        m.expect(r"booted in ([\d.]+) ms", 120)
        m.boot(60)
        wall = time.monotonic() - t0
        entry_ms = float(re.search(r"booted in ([\d.]+) ms", m.buf).group(1))
        m.command("lsblk")  # waits for the probe thread
        probe = re.search(r"pci: (\d+) functions scanned, drivers probed, ([\d.]+) ms", m.buf)
        probe_ms = float(probe.group(2)) if probe else float("nan")
        mem = m.command("mem")
        used_kib = int(re.search(r"used pages\s*:\s*\d+ \((\d+) KiB\)", mem).group(1))
        out = ""
        if bench:
            for dev in ("nvme0n1", "vda"):
                out += m.command("blk-bench %s -w -t 3" % dev, timeout=300)
        m.send("poweroff\r")
        m.wait_exit(120)
        return wall, entry_ms, used_kib, probe_ms, out


def disks_main(n):
    plain, disks = [], []
    for i in range(n):
        plain.append(keel_boot(i))
        disks.append(keel_boot(i, disks=True, bench=(i == 0)))
    med = statistics.median
    print("boots                            %d without disks, %d with NVMe + virtio-blk "
          "(alternating)" % (n, n))
    for label, k in (("entry_to_prompt_ms", 1), ("qemu_to_prompt_s", 0),
                     ("probe_done_ms_after_entry", 3), ("dom0_used_kB", 2)):
        a, b = med(r[k] for r in plain), med(r[k] for r in disks)
        print("%-32s %10.3f %10.3f   (no disks, disks; medians)" % (label, a, b))
    print("prompt delay from the disks      %.3f ms (median with - median without)" %
          (med(r[1] for r in disks) - med(r[1] for r in plain)))
    print("memory for both disks            %d KiB" %
          (med(r[2] for r in disks) - med(r[2] for r in plain)))
    print("\nblk-bench (first boot with disks, 3 s per test):")
    for line in disks[0][4].splitlines():
        if re.search(r"QD|blk-bench:", line):
            print("  " + line.strip())


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
    ap.add_argument("--disks", action="store_true", help="issue 7: boot with and without disks")
    args = ap.parse_args()
    if args.disks:
        disks_main(args.n)
        return
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

#!/usr/bin/env python3
"""
Worst xenstore round trip a running guest sees while dom0 creates another
guest (issue 6, item 2): prints, never asserts.  Target: under 50 ms.

A latency guest (ktlat: Debian 6.1, 128 MiB) runs scripts/bench-xs-latency-
guest.c, which sends xenstore READs back to back on /dev/xen/xenbus and prints
the slowest round trip of every 250 ms window ("XSLAT seq=N ... max_us=W").
With it running, the bench times, each time reading the windows that cover
the command:
  idle        nothing (the baseline)
  first       `create kt1.cfg` whose kernel was never decompressed (xz,
              Debian's 6.1 bzImage: the first-create decompression)
  cached      `create kt1.cfg` again (kernel cached), N times
  big         `create` of a 1 GiB guest (ktbig, kernel cached)
  destroy     `destroy` of the 1 GiB guest
The windows run until about 0.8 s after the command returns, so they also
hold the new guest's first moments of boot, which compete for the one CPU.
Long Xen calls (destroydomain, populate_physmap) are preemptible: `stats`
counts how often an event switched dom0 out of one (printed at the end).
keel's log lines "N ms without yielding, the last piece from the slice point
at A to B" (addr2line -e build/keel A B) name its own stretches over 20 ms,
and `threads` (printed at the end) each thread's longest run and the last
runs over 20 ms: a worst round trip much longer than any of them is time
dom0 did not have the CPU (Xen ran the guests, or the host ran something
else).
Boots with autostart=0 so that nothing decompresses /boot/domu/vmlinuz
before "first"; ktlat boots its own copy of the kernel (/boot/lat/vmlinuz).
QEMU gets 2 GiB for the 1 GiB guest.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import ROOT, Machine  # noqa: E402

WORK = os.path.join(ROOT, "build", "bench-xs")
ARCHIVE = os.path.join(WORK, "archive.cpio")

LAT_CFG = """name = "ktlat"
memory = 128
kernel = "/boot/lat/vmlinuz"
ramdisk = "/boot/lat/initrd.cpio.gz"
cmdline = "console=hvc0 quiet keeltest=xslat"
on_crash = "preserve"
"""
BIG_CFG = """name = "ktbig"
memory = 1024
kernel = "/boot/domu/vmlinuz"
ramdisk = "/boot/domu/initrd.cpio.gz"
cmdline = "console=hvc0 quiet"
"""


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def build_archive():
    """The test archive plus ktlat's kernel copy, its ramdisk (the test ramdisk
    with the probe appended as a second cpio) and the two configs."""
    extra = os.path.join(WORK, "extra")
    payload = os.path.join(WORK, "payload")
    shutil.rmtree(extra, ignore_errors=True)
    shutil.rmtree(payload, ignore_errors=True)
    os.makedirs(os.path.join(extra, "boot", "lat"))
    os.makedirs(os.path.join(extra, "etc", "xen"))
    os.makedirs(os.path.join(payload, "usr", "bin"))
    os.makedirs(os.path.join(payload, "tests"))
    sh("gcc", "-O2", "-static", "-o", os.path.join(payload, "usr", "bin", "xslat"),
       os.path.join(ROOT, "scripts", "bench-xs-latency-guest.c"))
    with open(os.path.join(payload, "tests", "xslat.sh"), "w") as f:
        f.write("#!/bin/sh\n/usr/bin/xslat &\n")
    os.chmod(os.path.join(payload, "tests", "xslat.sh"), 0o755)
    # Make sure build/domu exists (mk-test-archive builds it), then append.
    sh(os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE, stdout=subprocess.DEVNULL)
    cpio = subprocess.run("cd %s && find . -mindepth 1 | LC_ALL=C sort | "
                          "cpio -o -H newc -R 0:0 --quiet | gzip -n" % payload,
                          shell=True, check=True, stdout=subprocess.PIPE).stdout
    with open(os.path.join(ROOT, "build", "domu", "initrd.cpio.gz"), "rb") as f:
        base = f.read()
    with open(os.path.join(extra, "boot", "lat", "initrd.cpio.gz"), "wb") as f:
        f.write(base + cpio)   # Linux unpacks concatenated initramfs archives
    shutil.copy(os.path.join(ROOT, "build", "domu", "vmlinuz"),
                os.path.join(extra, "boot", "lat", "vmlinuz"))
    with open(os.path.join(extra, "etc", "xen", "ktlat.cfg"), "w") as f:
        f.write(LAT_CFG)
    with open(os.path.join(extra, "etc", "xen", "ktbig.cfg"), "w") as f:
        f.write(BIG_CFG)
    sh(os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE, "--extra", extra,
       stdout=subprocess.DEVNULL)


def windows(m):
    """{seq: (n, max_us)} of the XSLAT lines in ktlat's recent console log."""
    out = m.command("console-log ktlat 6000", timeout=60)
    return {int(s): (int(n), int(w)) for s, n, w in
            re.findall(r"XSLAT seq=(\d+) n=(\d+) max_us=(\d+)", out)}


def last_seq(m):
    w = windows(m)
    return max(w) if w else -1


def measure(m, label, cmd, timeout=300):
    """Runs cmd at the prompt; returns (worst round trip ms, requests served,
    command ms) over the windows that cover it."""
    before = last_seq(m)
    t0 = time.monotonic()
    out = m.command(cmd, timeout=timeout)
    elapsed = (time.monotonic() - t0) * 1000
    tm = re.search(r"^time: ([\d.]+) ms", out, re.M)
    # Let the window in which the command ended be printed.
    time.sleep(0.8)
    w = {s: v for s, v in windows(m).items() if s > before}
    if not w:
        return None, 0, float(tm.group(1)) if tm else elapsed
    worst = max(v[1] for v in w.values()) / 1000.0
    served = sum(v[0] for v in w.values())
    return worst, served, float(tm.group(1)) if tm else elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3, help="cached creates")
    ap.add_argument("--no-big", action="store_true", help="skip the 1 GiB guest")
    args = ap.parse_args()
    build_archive()
    rows = []
    with Machine("bench-xs-latency", keel_args="autostart=0", timeout=1800,
                 env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_MEM": "2048"}) as m:
        m.boot(120)
        m.command("create ktlat.cfg", timeout=300)
        m.command("console-wait ktlat XSLAT 300", timeout=330)
        time.sleep(2)
        before = last_seq(m)
        time.sleep(3)
        w = {s: v for s, v in windows(m).items() if s > before}
        rows.append(("idle (3 s)", max(v[1] for v in w.values()) / 1000.0,
                     sum(v[0] for v in w.values()), 3000.0))
        rows.append(("create kt1, first (xz decompression)",) +
                    measure(m, "first", "time create kt1.cfg"))
        m.command("destroy kt1", timeout=120)
        for i in range(args.n):
            rows.append(("create kt1, kernel cached #%d" % (i + 1),) +
                        measure(m, "cached", "time create kt1.cfg"))
            m.command("destroy kt1", timeout=120)
        if not args.no_big:
            rows.append(("create ktbig (1 GiB), kernel cached",) +
                        measure(m, "big", "time create ktbig.cfg"))
            rows.append(("destroy ktbig (1 GiB)",) +
                        measure(m, "destroy", "time destroy ktbig"))
        log = m.command("dmesg", timeout=120)
        threads = m.command("threads", timeout=60)
        stats = m.command("stats", timeout=60)
        m.send("poweroff\r")
        try:
            m.wait_exit(120)
        except Exception:
            pass
    print("%-40s %12s %10s %12s" % ("during", "worst_rtt_ms", "requests", "command_ms"))
    for label, worst, served, cmd_ms in rows:
        print("%-40s %12s %10d %12.1f" % (label, "-" if worst is None else "%.1f" % worst,
                                          served, cmd_ms))
    for line in re.findall(r"^.*(?:kept for the next create|started \(|without yielding).*$",
                           log, re.M):
        print("keel: " + line.strip())
    print(threads.strip())
    pre = re.search(r"^preemptions\s*:\s*(\d+)", stats, re.M)
    if pre:
        print("preemptible Xen calls preempted (whole run): %s" % pre.group(1))
    creates = [r for r in rows[1:] if r[0].startswith("create") and r[1] is not None]
    print("worst_xenstore_rtt_during_create_ms: %.1f (target < 50)" %
          max(r[1] for r in creates))
    print("worst_xenstore_rtt_during_cached_creates_ms: %.1f" %
          max(r[1] for r in creates if "first" not in r[0]))


if __name__ == "__main__":
    main()

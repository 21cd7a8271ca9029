#!/usr/bin/env python3
"""
Domain figures for keel as a Xen host (issue 3): prints, never asserts.

Boots Xen + keel with the test archive once, then N times (default 5):
`create kt1.cfg` (Debian 6.1 kernel, 128 MiB, busybox ramdisk), time to the
guest's first console byte and to its init marker, and `destroy`; Xen's free
memory before and after; in-process xenstore operation rates.  With --peer,
runs the Linux dom0 + xl reference (../shared/peer/run-peer.sh, must be
built) in the same run and prints ratios against its xl_create_ms,
domu_boot_ms and xl_destroy_ms.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import ROOT, Machine  # noqa: E402

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")


def num(pattern, text):
    m = re.search(pattern, text, re.M)
    if not m:
        raise RuntimeError("no /%s/ in:\n%s" % (pattern, text))
    return float(m.group(1))


def keel_runs(n):
    rows = []
    with Machine("bench-domains", timeout=1800, env={"KEEL_ARCHIVE": ARCHIVE}) as m:
        m.boot(120)
        # The test archive autostarts one guest: let it boot (it decompresses
        # the kernel, timed in keel's log), then remove it so it does not
        # compete with the measured creates.
        # xendomains yields while it decompresses: wait until ktauto exists.
        for _ in range(120):
            if re.search(r"^ktauto\s", m.command("list"), re.M):
                break
            m.command("sleep 2000")
        m.command("console-wait ktauto KEEL-DOMU-INIT 180", timeout=240)
        m.command("destroy ktauto")
        m.command("sleep 2000")
        decompress_ms = num(r"bzImage kernel, \d+ -> \d+ bytes in ([\d.]+) ms", m.buf)
        free0 = num(r"^xen_free_pages\s*:\s*(\d+)", m.command("info"))
        for i in range(n):
            out = m.command("time create kt1.cfg", timeout=180)
            create_ms = num(r"^time: ([\d.]+) ms", out)
            out = m.command("console-wait kt1 KEEL-DOMU-INIT 180", timeout=240)
            init_ms = num(r"\(([\d.]+) ms after its create began\)", out)
            t = m.command("domain-times kt1")
            first_ms = num(r"create_to_first_console_byte_us: (\d+)", t) / 1000
            unpause_ms = num(r"create_to_unpause_us: (\d+)", t) / 1000
            destroy_ms = num(r"^time: ([\d.]+) ms", m.command("time destroy kt1", timeout=120))
            rows.append(dict(create_ms=create_ms, unpause_ms=unpause_ms, first_byte_ms=first_ms,
                             init_ms=init_ms, destroy_ms=destroy_ms))
        # A guest without "quiet" prints from early boot: its first byte.
        verbose_first = []
        for i in range(3):
            m.command("create ktv.cfg", timeout=180)
            m.command("console-wait ktv KEEL-DOMU-INIT 180", timeout=240)
            t = m.command("domain-times ktv")
            verbose_first.append(num(r"create_to_first_console_byte_us: (\d+)", t) / 1000)
            m.command("destroy ktv")
        m.command("sleep 2000")
        free1 = num(r"^xen_free_pages\s*:\s*(\d+)", m.command("info"))
        xs = m.command("xs-bench 20000", timeout=300)
        m.send("poweroff\r")
        m.wait_exit(60)
    return rows, free0, free1, xs, decompress_ms, statistics.median(verbose_first)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--peer", action="store_true")
    args = ap.parse_args()
    subprocess.run([os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE], check=True,
                   stdout=subprocess.DEVNULL)
    rows, free0, free1, xs, decompress_ms, verbose_first_ms = keel_runs(args.n)
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    print("keel_creates                       %d (Debian 6.1 kernel, 128 MiB, busybox ramdisk)" % args.n)
    print("keel_kernel_xz_decompress_ms       %.1f (once per kernel file, then cached)" % decompress_ms)
    print("keel_create_ms_median              %.1f (kernel cached; create returns after unpause)" % med["create_ms"])
    print("keel_create_to_unpause_ms_median   %.1f" % med["unpause_ms"])
    print("keel_create_to_first_byte_ms       %.1f (median of 3; guest without quiet)" % verbose_first_ms)
    print("keel_create_to_init_marker_ms      %.1f (median)" % med["init_ms"])
    print("keel_destroy_ms_median             %.1f" % med["destroy_ms"])
    print("xen_free_pages_before_after        %d %d (%s)" % (free0, free1, "equal" if free0 == free1 else "DIFFERENT"))
    for line in xs.splitlines():
        if "ops_per_s" in line:
            print(re.sub(r"\s*:\s*", "  ", line.strip()))
    if args.peer:
        peer = os.path.join(ROOT, "..", "shared", "peer", "run-peer.sh")
        out = subprocess.run([peer], capture_output=True, text=True, timeout=1200).stdout
        p = dict(re.findall(r"RESULT (\w+)=(\S+)", out))
        if "xl_create_ms" not in p:
            print("peer: no figures (../shared/peer/build-peer.sh first)")
            return
        pc, pb, pd = float(p["xl_create_ms"]), float(p["domu_boot_ms"]), float(p["xl_destroy_ms"])
        print("peer_xl_create_ms                  %.1f" % pc)
        print("peer_domu_boot_ms                  %.1f (xl create to the guest's init marker)" % pb)
        print("peer_xl_destroy_ms                 %.1f" % pd)
        print("ratio_create_peer_over_keel        %.1f" % (pc / med["create_ms"]))
        print("ratio_to_init_peer_over_keel       %.1f" % (pb / med["init_ms"]))
        print("ratio_destroy_peer_over_keel       %.1f" % (pd / med["destroy_ms"]))
        for k in ("dom0_boot_s", "dom0_mem_used_kB"):
            if k in p:
                print("peer_%-30s %s" % (k, p[k]))


if __name__ == "__main__":
    main()

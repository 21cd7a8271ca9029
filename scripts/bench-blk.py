#!/usr/bin/env python3
"""
Disk figures for keel's blkback (issue 8), beside Linux's blkback in the same
run: prints, never asserts.

1. Boots Xen + keel (scripts/qemu.sh) with a fresh 1 GiB sparse raw disk on
   virtio-blk (the peer's exact drive options) and a boot archive holding the
   peer rig's domU payload ($PEER_WORK/build/domu: vmlinuz, initrd.cpio.gz)
   and an xl config equivalent to its domu.cfg in disk mode (256 MiB, 1 vCPU,
   its cmdline plus the `disk` line of its `modes` file, the QEMU disk whole
   as xvda, no NIC).  Creates the guest, waits for `RIGMARK domu-done` on its
   console and collects its RESULT lines, plus blkback-stats and dom0's memory
   before and after the vbd connected.
2. Then (never at the same time) runs the peer: PEER_DISK=virtio
   ../shared/peer/run-peer.sh, and collects its RESULT lines.
3. Prints one table: each disk figure for keel, for the peer, keel/peer,
   and keel's raw-device limit on the same disk (`blk-bench DEV -w -t 5`,
   QD1 like the guest, run after the vbd is detached) with the guest's
   fraction of it, when keel has that command.

Each QEMU run holds /tmp/keel-qemu.lock (flock) and has a hard timeout.
--nvme does the same with an NVMe disk when keel has an NVMe driver.
--no-peer / --no-keel run one side only (figures, no ratios).

    scripts/bench-blk.py [-n RUNS] [--nvme | --nvme-only] [--no-peer] [--no-keel]

-n RUNS alternates keel and peer runs and prints medians (TCG noise is large).
--xen-args ARGS adds ARGS to Xen's command line on both sides (keel through
XEN_ARGS, the peer through RIG_XEN_EXTRA), e.g. sched_ratelimit_us=0.

After the table: where a guest's 4 KiB request spends its time in keel
(blkback-stats' latency lines: checks and grant maps, the device, completion
to response, event to thread) and on the guest's side (our response notify
to its next request's event, at queue depth 1), beside the raw device's
time per request.
"""
import argparse
import fcntl
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import ROOT, Machine  # noqa: E402

PEER = os.path.join(ROOT, "..", "shared", "peer")
if not os.path.isdir(PEER):
    PEER = "/work/shared/peer"
PEER_WORK = os.environ.get("PEER_WORK", os.path.expanduser("~/.cache/keel-peer"))
DOMU = os.path.join(PEER_WORK, "build", "domu")
SCRATCH = os.path.join(ROOT, "build", "bench-blk")
ARCHIVE = os.path.join(SCRATCH, "archive.cpio")
LOCK = "/tmp/keel-qemu.lock"
XEN_ARGS = ""  # --xen-args
# The peer's machine: 1280 MiB, 1 vCPU (run-peer.sh RIG_MEM / RIG_SMP defaults).
QEMU_MEM = os.environ.get("RIG_MEM", "1280")
DRIVE = "file=%s,if=none,id=peerdisk,format=raw,cache=unsafe,aio=threads"
DEVICE = {"virtio": "virtio-blk-pci,drive=peerdisk,addr=0x8",
          "nvme": "nvme,serial=peerdisk0,drive=peerdisk,addr=0x8"}
KEEL_DEV = {"virtio": "/dev/vda", "nvme": "/dev/nvme0n1"}
# (RESULT name, label, higher is better)
FIGURES = [
    ("blk_write_MBps", "seq write 1 MiB O_DIRECT, MB/s", True),
    ("blk_read_MBps", "seq read 1 MiB O_DIRECT, MB/s", True),
    ("blk_randread_iops", "4 KiB random read QD1, IOPS", True),
    ("blk_randwrite_iops", "4 KiB random write QD1, IOPS", True),
    ("blk_attach_ms", "blkfront attach, ms", False),
    ("blk_size_MiB", "disk size seen by guest, MiB", None),
    ("blk_verify", "4 MiB pattern read back", None),
]


def log(msg):
    print("[bench-blk] " + msg, file=sys.stderr, flush=True)


class qemu_lock:
    """Holds /tmp/keel-qemu.lock (the same lock `flock` takes) for one QEMU run."""

    def __enter__(self):
        self.f = open(LOCK, "a")
        t0 = time.monotonic()
        fcntl.flock(self.f, fcntl.LOCK_EX)
        waited = time.monotonic() - t0
        if waited > 1:
            log("waited %.0f s for %s" % (waited, LOCK))
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()
        return False


def results(text):
    return dict(re.findall(r"^RESULT (\w+)=(\S+)", text.replace("\r", ""), re.M))


def domu_payload():
    for f in ("vmlinuz", "initrd.cpio.gz", "cmdline", "modes", "domu.cfg"):
        if not os.path.isfile(os.path.join(DOMU, f)):
            sys.exit("bench-blk: %s/%s missing: build the peer first (%s/build-peer.sh)" %
                     (DOMU, f, PEER))
    cmdline = open(os.path.join(DOMU, "cmdline")).read().strip()
    mode = None
    for line in open(os.path.join(DOMU, "modes")):
        if line.split(None, 1)[:1] == ["disk"]:
            mode = line.split(None, 1)[1].strip()
    if mode is None:
        sys.exit("bench-blk: no 'disk' line in %s/modes" % DOMU)
    cfg = open(os.path.join(DOMU, "domu.cfg")).read()
    mem = re.search(r"^memory\s*=\s*(\d+)", cfg, re.M)
    vcpus = re.search(r"^vcpus\s*=\s*(\d+)", cfg, re.M)
    return cmdline + " " + mode, int(mem.group(1)), int(vcpus.group(1))


def make_archive(disk):
    """bootfs/ + the peer's domU kernel and ramdisk + bench-blk.cfg."""
    cmdline, mem, vcpus = domu_payload()
    if '"' in cmdline:
        sys.exit("bench-blk: the domU cmdline holds a double quote: %s" % cmdline)
    stage = os.path.join(SCRATCH, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "bootfs"), stage, symlinks=True)
    os.makedirs(os.path.join(stage, "boot", "rig"), exist_ok=True)
    for f in ("vmlinuz", "initrd.cpio.gz"):
        shutil.copy(os.path.join(DOMU, f), os.path.join(stage, "boot", "rig", f))
    # Nothing autostarts: the measured guest is the only one.
    auto = os.path.join(stage, "etc", "xen", "auto")
    for f in os.listdir(auto) if os.path.isdir(auto) else []:
        os.unlink(os.path.join(auto, f))
    with open(os.path.join(stage, "etc", "xen", "bench-blk.cfg"), "w") as f:
        f.write('# The peer rig\'s domU (its domu.cfg) in disk mode, served by keel\n'
                '# (scripts/bench-blk.py).  No vif: rig.tests=blk runs only the disk group.\n'
                'name = "rigdomu"\n'
                'type = "pv"\n'
                'kernel = "/boot/rig/vmlinuz"\n'
                'ramdisk = "/boot/rig/initrd.cpio.gz"\n'
                'cmdline = "%s"\n'
                'memory = %d\n'
                'vcpus = %d\n'
                "disk = [ 'phy:%s,xvda,w' ]\n"
                'on_poweroff = "destroy"\n'
                'on_reboot = "destroy"\n'
                'on_crash = "destroy"\n' % (cmdline, mem, vcpus, KEEL_DEV[disk]))
    subprocess.run([os.path.join(ROOT, "scripts", "mkarchive.sh"), stage, ARCHIVE], check=True)
    return cmdline, mem


def kv_int(text, key):
    m = re.search(r"^%s\s*:\s*(\d+)" % key, text, re.M)
    return int(m.group(1)) if m else None


def used_kib(text):
    m = re.search(r"^used pages\s*:\s*\d+ \((\d+) KiB\)", text, re.M)
    return int(m.group(1)) if m else None


RAW = {("sequential write 1 MiB", "MB/s"): "blk_write_MBps",
       ("sequential read 1 MiB", "MB/s"): "blk_read_MBps",
       ("random read 4 KiB", "IOPS"): "blk_randread_iops",
       ("random write 4 KiB", "IOPS"): "blk_randwrite_iops"}


def raw_figures(text):
    """blk-bench's QD1 lines as raw_<guest figure> (the guest runs QD1 too)."""
    out = {}
    for what, mbs, iops in re.findall(r"^(\w+ \w+ \d+ \w+)\s+QD1\s*:\s*([\d.]+) MB/s\s+(\d+) IOPS",
                                      text, re.M):
        for unit, val in (("MB/s", mbs), ("IOPS", iops)):
            if (what, unit) in RAW:
                out["raw_" + RAW[(what, unit)]] = val
    return out


def load():
    return " ".join(open("/proc/loadavg").read().split()[:3])


# The guest's lines that end the phases before and after its QD1 random
# read and write loops (rigtool, 5 s each).
PHASE_MARKS = (("blk_read_MBps=", None), ("blk_randread_iops=", "randread"),
               ("blk_randwrite_iops=", "randwrite"))


def cpu_snapshot(m, mark):
    """keel's clock when the guest printed mark, and each domain's CPU time."""
    w = m.command("console-wait rigdomu %s 600" % mark, timeout=630)
    t = re.search(r"\(([\d.]+) ms after its create began\)", w)
    lst = m.command("list --cpu-ns")
    cpu = {}
    for name, domid, ns in re.findall(r"^(\S+)\s+(\d+)\s+\d+\s+\d+\s+\S+\s+[\d.]+ (\d+)\s*$",
                                      lst, re.M):
        cpu["dom0" if domid == "0" else name] = int(ns) / 1e6
    if not t or "dom0" not in cpu or "rigdomu" not in cpu:
        return None
    return float(t.group(1)), cpu


def cpu_split(m, extra):
    """
    Where the one emulated CPU's time goes during the guest's QD1 random
    phases: dom0's and the guest's CPU time (Xen's per-domain cpu_time, which
    includes the hypercalls each made) and the rest (Xen idle: nobody had
    work, e.g. the device was busy).  Stored as cpu_<phase>_{wall,dom0,guest}_ms.
    """
    prev = None
    for mark, phase in PHASE_MARKS:
        snap = cpu_snapshot(m, mark)
        if snap and prev and phase:
            extra["cpu_%s_wall_ms" % phase] = "%.1f" % (snap[0] - prev[0])
            extra["cpu_%s_dom0_ms" % phase] = "%.1f" % (snap[1]["dom0"] - prev[1]["dom0"])
            extra["cpu_%s_guest_ms" % phase] = "%.1f" % (snap[1]["rigdomu"] -
                                                         prev[1]["rigdomu"])
        prev = snap


def keel_run(disk, i=0, pre_cmd=None):
    """One keel boot; returns (RESULT dict, extra dict, notes list).
    pre_cmd: a keel command run before the guest is created."""
    cmdline, mem = make_archive(disk)
    img = os.path.join(SCRATCH, "disk.%d.img" % os.getpid())
    extra, notes = {}, []
    env = {"KEEL_ARCHIVE": ARCHIVE, "QEMU_MEM": QEMU_MEM,
           "QEMU_ARGS": "-drive %s -device %s" % (DRIVE % img, DEVICE[disk])}
    if XEN_ARGS:
        env["XEN_ARGS"] = XEN_ARGS
    with qemu_lock():
        if os.path.exists(img):
            os.unlink(img)
        with open(img, "wb") as f:
            f.truncate(1 << 30)
        try:
            with Machine("bench-blk-%s-%d" % (disk, i + 1), timeout=900, env=env) as m:
                t0 = time.monotonic()
                m.boot(300)
                extra["keel_boot_s"] = "%.1f" % (time.monotonic() - t0)
                # Disks may be probed after the prompt (NVMe is): wait for the
                # block layer's line, and for the console to settle.
                dev = KEEL_DEV[disk][5:]
                while ("blk: %s: " % dev) not in m.buf and time.monotonic() - t0 < 180:
                    time.sleep(0.5)
                time.sleep(2)
                help_text = m.command("help")
                lsblk = m.command("lsblk -b")
                if not re.search(r"^%s\s" % dev, lsblk, re.M):
                    notes.append("keel has no %s (lsblk):\n%s" % (dev, lsblk))
                    return {}, extra, notes
                if pre_cmd:  # its answer goes into the notes: a refused command shows
                    notes.append("%s: %s" % (pre_cmd, m.command(pre_cmd).strip()))
                info0 = m.command("info")
                extra["keel_mem_before"] = m.command("mem")
                out = m.command("time create bench-blk.cfg", timeout=300)
                t = re.search(r"^time: ([\d.]+) ms", out, re.M)
                if t:
                    extra["xl_create_ms"] = t.group(1)
                if "rigdomu" not in m.command("list"):
                    notes.append("create failed:\n" + out)
                    return {}, extra, notes
                w = m.command("console-wait rigdomu domu-init 300", timeout=330)
                b = re.search(r"\(([\d.]+) ms after its create began\)", w)
                if b:
                    extra["domu_boot_ms"] = b.group(1)
                cpu_split(m, extra)
                w = m.command("console-wait rigdomu domu-done 600", timeout=630)
                stats = m.command("blkback-stats")
                info1 = m.command("info")
                memtext = m.command("mem")
                console = m.command("console-log rigdomu", timeout=60)
                if "found" not in w:
                    notes.append("no RIGMARK domu-done; guest console tail:\n" + console[-2500:])
                for e in re.findall(r"RIGMARK domu-error.*", console):
                    notes.append("guest: " + e.strip())
                for line in stats.strip().splitlines():
                    k, _, v = line.partition(":")
                    extra["blkback_" + k.strip().replace(" ", "_")] = v.strip()
                extra["keel_info_before"] = info0
                extra["keel_info_after"] = info1
                extra["keel_mem_after"] = memtext
                # dom0 memory of one connected vbd: used pages with it, then
                # after block-detach (the guest idles: blkfront lets it go).
                det = m.command("block-detach rigdomu xvda", timeout=60)
                time.sleep(2)
                extra["keel_mem_detached"] = m.command("mem")
                if "block-detach:" in det:
                    notes.append("block-detach: " + det.strip())
                # keel's own limit on the same disk, no guest (it is detached:
                # the writes only destroy the guest's scratch data).
                if "blk-bench" in help_text:
                    extra["blk_bench"] = m.command("blk-bench %s -w -t 5" % dev, timeout=600)
                m.command("destroy rigdomu", timeout=120)
                m.send("poweroff\r")
                try:
                    m.wait_exit(120)
                except Exception as e:  # a figure run: note it, keep the figures
                    notes.append("poweroff: %s" % e)
                extra["serial_log"] = m.log_path
                res = results(console)
                res.update(raw_figures(extra.get("blk_bench", "")))
                res["_stats"] = stats
                res.update({k: v for k, v in extra.items() if k.startswith("cpu_")})
                return res, extra, notes
        finally:
            if os.path.exists(img):
                os.unlink(img)


def peer_run(disk):
    logp = os.path.join(SCRATCH, "peer-%s.%d.log" % (disk, os.getpid()))
    if os.path.exists(logp):
        os.unlink(logp)
    env = dict(os.environ, PEER_DISK=disk, RIG_LOG=logp)
    if XEN_ARGS:
        env["RIG_XEN_EXTRA"] = (env.get("RIG_XEN_EXTRA", "") + " " + XEN_ARGS).strip()
    with qemu_lock():
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(PEER, "run-peer.sh")], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=1500)
    notes = []
    if r.returncode:
        notes.append("run-peer.sh exit %d: %s" % (r.returncode, r.stderr.strip()[-1500:]))
    if os.path.exists(logp):
        text = open(logp, errors="replace").read()
        if re.search(r"nvme.*timeout", text):
            notes.append("peer serial log shows an NVMe timeout (README: drop such runs)")
    return results(r.stdout), {"wall_s": "%.0f" % (time.monotonic() - t0), "serial_log": logp}, notes


def fnum(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def median(runs, key):
    """Median of the runs' numeric figures, or the value they agree on."""
    vals = [r[key] for r in runs if key in r]
    nums = [fnum(v) for v in vals if fnum(v) is not None]
    if nums and len(nums) == len(vals):
        return "%g" % statistics.median(nums)
    return "/".join(sorted(set(vals))) or None


def latency(keels):
    """Medians of blkback-stats' latency figures over the keel runs."""
    rows = {}
    for r in keels:
        for cls, body in re.findall(r"^latency (<= 4 KiB|> 4 KiB)\s*: (.*)$", r.get("_stats", ""),
                                    re.M):
            for k, v in re.findall(r"([a-z+ ]+?) (\d+)(?:;|,|$| \()", body):
                rows.setdefault((cls, k.strip()), []).append(int(v))
        w = re.search(r"^event to thread\s*: (\d+) us", r.get("_stats", ""), re.M)
        if w:
            rows.setdefault(("all", "event to thread"), []).append(int(w.group(1)))
        h = re.search(r"^notify to idle\s*: (\d+) us", r.get("_stats", ""), re.M)
        if h:
            rows.setdefault(("all", "notify to idle"), []).append(int(h.group(1)))
    return {k: statistics.median(v) for k, v in rows.items()}


def latency_table(keels):
    lat = latency(keels)
    if not lat:
        return
    print("\nwhere a guest request's time goes in keel (blkback-stats, mean us per request, "
          "median over runs):")
    for cls in ("<= 4 KiB", "> 4 KiB"):
        parts = ["%s %g" % (k, lat[(cls, k)]) for k in
                 ("checks+map", "device", "completion to response", "guest side")
                 if (cls, k) in lat]
        if parts:
            print("  %-9s %s" % (cls + ":", ", ".join(parts)))
    if ("all", "event to thread") in lat:
        print("  event to thread (guest notify until the vbd thread reads the ring): %g" %
              lat[("all", "event to thread")])
    if ("all", "notify to idle") in lat:
        print("  notify to idle (dom0 keeps the CPU after answering; inside the guest side): %g" %
              lat[("all", "notify to idle")])
    raw = median(keels, "raw_blk_randread_iops")
    iops = median(keels, "blk_randread_iops")
    if fnum(raw) and fnum(iops):
        print("  4 KiB random read QD1: the guest sees %.0f us per request, the raw device "
              "(blk-bench from keel) %.0f us" % (1e6 / fnum(iops), 1e6 / fnum(raw)))


def cpu_table(keels, peers):
    """
    Per QD1 request: the guest's CPU, dom0's CPU and the idle rest, from the
    cpu_split snapshots; and the ceiling no dom0 can pass on this rig: a
    dom0 that costs nothing beside a device that answers at once still
    leaves the guest's own CPU time per request.
    """
    lines = []
    for phase, key in (("randread", "blk_randread_iops"), ("randwrite", "blk_randwrite_iops")):
        per = {"guest": [], "dom0": [], "idle": [], "total": []}
        for r in keels:
            iops, wall = fnum(r.get(key)), fnum(r.get("cpu_%s_wall_ms" % phase))
            dom0, guest = fnum(r.get("cpu_%s_dom0_ms" % phase)), fnum(r.get("cpu_%s_guest_ms" % phase))
            if not (iops and wall and dom0 is not None and guest is not None):
                continue
            n = iops * wall / 1000.0  # requests in the window
            per["guest"].append(guest * 1000 / n)
            per["dom0"].append(dom0 * 1000 / n)
            per["idle"].append((wall - guest - dom0) * 1000 / n)
            per["total"].append(wall * 1000 / n)
        if not per["total"]:
            continue
        med = {k: statistics.median(v) for k, v in per.items()}
        line = ("  4 KiB random %s: %.0f us per request = guest CPU %.0f + dom0 CPU %.0f + idle %.0f"
                % (phase[4:], med["total"], med["guest"], med["dom0"], med["idle"]))
        lin = fnum(median(peers, key))
        ceiling = 1e6 / med["guest"]
        line += ("\n    ceiling (dom0 free, device instant): %.0f IOPS" % ceiling)
        if lin:
            line += ", %.2fx Linux's %.0f" % (ceiling / lin, lin)
        lines.append(line)
    if lines:
        print("\nthe one emulated CPU's time in keel's QD1 phases (Xen's per-domain CPU time, "
              "medians over runs):")
        print("\n".join(lines))


def table(disk, keels, peers, names=("keel", "linux")):
    print("\n== %s disk: 1 GiB raw, %s, cache=unsafe,aio=threads; guest = peer domU payload "
          "(rig.mb=256, QD1 random for 5 s); median of %d %s and %d %s runs ==" %
          (disk, DEVICE[disk].split(",")[0], len(keels), names[0], len(peers), names[1]))
    print("%-32s %10s %10s %10s %10s %9s   %s" % ("figure", names[0][:10], names[1][:10],
                                                    "%s/%s" % (names[0][:4], names[1][:5]),
                                                    "keel raw", "guest/raw",
                                                    "each run: keel | linux"))
    for key, label, up in FIGURES + [("xl_create_ms", "xl create, ms", False),
                                     ("domu_boot_ms", "create to domU init, ms", False)]:
        k, p = median(keels, key), median(peers, key)
        ratio = ""
        if fnum(k) and fnum(p) and up is not None:
            ratio = "%.2f" % (fnum(k) / fnum(p))
        raw, of_raw = median(keels, "raw_" + key), ""
        if fnum(k) and fnum(raw):
            of_raw = "%.0f%%" % (100 * fnum(k) / fnum(raw))
        each = "%s | %s" % (" ".join(r.get(key, "-") for r in keels),
                            " ".join(r.get(key, "-") for r in peers))
        print("%-32s %10s %10s %10s %10s %9s   %s" % (label, k or "-", p or "-", ratio,
                                                       raw or "", of_raw,
                                                       each if len(keels) + len(peers) > 2
                                                       else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nvme", action="store_true", help="also the NVMe disk")
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-keel", action="store_true")
    ap.add_argument("--nvme-only", action="store_true", help="only the NVMe disk")
    ap.add_argument("-n", type=int, default=1, help="runs of each, alternating (medians)")
    ap.add_argument("--xen-args", default="", help="extra Xen command line, both sides")
    ap.add_argument("--ab", metavar="CMD", help="each run also boots keel with keel command CMD "
                    "run before the guest (e.g. 'blkback-poll 100') and compares the two")
    args = ap.parse_args()
    global XEN_ARGS
    XEN_ARGS = args.xen_args
    os.makedirs(SCRATCH, exist_ok=True)
    if not os.path.isfile(os.path.join(ROOT, "build", "keel")):
        sys.exit("bench-blk: build/keel missing: run make first")
    disks = [] if args.nvme_only else ["virtio"]
    if args.nvme or args.nvme_only:
        if subprocess.run(["git", "log", "main", "-i", "--grep=nvme", "--oneline",
                           "--", "drivers"], cwd=ROOT, capture_output=True, text=True).stdout \
                and os.path.exists(os.path.join(ROOT, "drivers", "nvme")):
            disks.append("nvme")
        else:
            log("--nvme: keel has no NVMe driver on this branch (drivers/nvme): skipped")
    if XEN_ARGS:
        log("Xen command line on both sides gets: " + XEN_ARGS)
    print("bench-blk  %s  load average %s  (%s)" % (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), load(),
        " ".join(["scripts/bench-blk.py"] + sys.argv[1:])))
    all_notes = []
    for disk in disks:
        keels, peers, kx, px, abs_ = [], [], {}, {}, []
        for i in range(args.n):
            if args.ab and not args.no_keel:
                log("keel with '%s', %s disk, run %d/%d (load %s)" % (args.ab, disk, i + 1, args.n,
                                                                     load()))
                ab, _, notes = keel_run(disk, i, pre_cmd=args.ab)
                if ab:
                    abs_.append(ab)
                    log("keel+: " + " ".join("%s=%s" % kv for kv in sorted(ab.items())
                                             if kv[0][0] != "_"))
                all_notes += ["keel '%s' %s run %d: %s" % (args.ab, disk, i + 1, n) for n in notes]
            if not args.no_keel:
                log("keel, %s disk, run %d/%d (load %s)" % (disk, i + 1, args.n, load()))
                keel, kx, notes = keel_run(disk, i)
                if keel:
                    keel.update({k: v for k, v in kx.items()
                                 if k in ("xl_create_ms", "domu_boot_ms")})
                    keels.append(keel)
                    log("keel: " + " ".join("%s=%s" % kv for kv in sorted(keel.items()) if kv[0][0] != "_"))
                all_notes += ["keel %s run %d: %s" % (disk, i + 1, n) for n in notes]
            if not args.no_peer:
                log("linux peer, %s disk, run %d/%d (load %s)" % (disk, i + 1, args.n, load()))
                peer, px, notes = peer_run(disk)
                if peer:
                    peers.append(peer)
                    log("linux: " + " ".join("%s=%s" % kv for kv in sorted(peer.items())
                                             if kv[0].startswith(("blk_", "xl_", "domu_b"))))
                all_notes += ["peer %s run %d: %s" % (disk, i + 1, n) for n in notes]
        table(disk, keels, peers)
        latency_table(keels)
        cpu_table(keels, peers)
        if abs_:
            print("\n-- keel with '%s' (B) against keel without (A) --" % args.ab)
            table(disk, abs_, keels, names=("B", "A"))
            latency_table(abs_)
            cpu_table(abs_, peers)
        peer = peers[-1] if peers else {}
        if kx:
            print("last keel run: blkback-stats " + ", ".join(
                "%s=%s" % (k[8:], v) for k, v in kx.items() if k.startswith("blkback_")))
            d0 = kv_int(kx.get("keel_info_before", ""), "xen_free_pages")
            d1 = kv_int(kx.get("keel_info_after", ""), "xen_free_pages")
            if d0 is not None and d1 is not None:
                print("xen free pages before create / with the guest running: %d / %d" % (d0, d1))
            u0 = used_kib(kx.get("keel_mem_before", ""))
            u1 = used_kib(kx.get("keel_mem_after", ""))
            if u0 is not None and u1 is not None:
                print("keel dom0 used KiB before create / guest with its vbd connected: %d / %d "
                      "(+%d: the guest's console, its vbd and the cached decompressed kernel)" % (u0, u1, u1 - u0))
            u2 = used_kib(kx.get("keel_mem_detached", ""))
            if u1 is not None and u2 is not None:
                print("keel dom0 memory per connected vbd: %d KiB (used pages with the vbd "
                      "connected minus after block-detach)" % (u1 - u2))
            g = re.search(r"grants mapped\s*:.*", kx.get("keel_mem_after", ""))
            if g:
                print("keel " + g.group(0).strip())
            if "blk_bench" not in kx:
                print("keel has no blk-bench command on this branch: raw-device limit not "
                      "measured")
            else:
                print("keel blk-bench %s (raw device, no guest; last run):\n%s" %
                      (KEEL_DEV[disk], kx["blk_bench"].rstrip()))
            print("keel boot %s s; serial log %s" % (kx.get("keel_boot_s", "?"),
                                                     kx.get("serial_log", "?")))
        if px:
            print("last peer run %s s wall; serial log %s" % (px["wall_s"], px["serial_log"]))
            for k in ("dom0_mem_used_kB", "dom0_boot_s", "total_run_s"):
                if k in peer:
                    print("peer %s=%s" % (k, peer[k]))
    for n in all_notes:
        print("note: " + n)
    print("load average at the end: %s" % load())
    print("(TCG, one emulated CPU for Xen, dom0 and the guest: one run is noisy, compare "
          "medians of several)")


if __name__ == "__main__":
    main()

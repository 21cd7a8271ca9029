#!/usr/bin/env python3
"""
Network figures for keel's switch and netback (issue 9), beside Linux's
bridge + netback in the same run: prints, never asserts.

1. Boots Xen + keel (scripts/qemu.sh, the peer's 1280 MiB) with a boot
   archive holding the peer rig's domU payload ($PEER_WORK/build/domu) and
   two xl configs equivalent to its pair mode: `rigsrv` (its cmdline plus the
   `server` line of its `modes` file, MAC 00:16:3e:00:00:03) and `rigdomu`
   (plus the `pair` line, MAC :02), both with one vif on xenbr0, no disk.
   Creates the server, waits for `RIGMARK domu-server-ready`, creates the
   client, waits for `RIGMARK domu-done` and collects its RESULT lines, plus
   netback-stats (counters and each vif's latency breakdown: once after the
   pings, once at the end), `threads`, the switch's counters, dom0's memory,
   Xen's runstate of every domain over the TCP part (CPU seconds; idle is the
   rest of the wall time) and the client guest's own TCP/eth0 counters.
2. Then (never at the same time) runs the peer: PEER_NET=pair
   ../shared/peer/run-peer.sh, and collects its RESULT lines.
3. Prints one table: each figure for keel, for the peer, and keel/peer.

Each QEMU run holds /tmp/keel-qemu.lock (flock) and has a hard timeout: run
this script as it is, not under flock(1), which would hold the lock it waits
for.  KEEL_IMAGE=path runs another keel binary (A/B comparisons).

    scripts/bench-net.py [-n RUNS] [--no-peer] [--no-keel] [--xen-args ARGS]

--xen-args ARGS adds ARGS to Xen's command line on both sides (keel through
XEN_ARGS, the peer through RIG_XEN_EXTRA), e.g. sched_ratelimit_us=0.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
from harness import ROOT, Machine  # noqa: E402

import importlib.util  # noqa: E402
_spec = importlib.util.spec_from_file_location("bench_blk", os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "bench-blk.py"))
bb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bb)

SCRATCH = os.path.join(ROOT, "build", "bench-net")
ARCHIVE = os.path.join(SCRATCH, "archive.cpio")
FIGURES = [
    ("net_pair_ping_ms", "ping RTT guest->guest, ms (avg of 20)", False),
    ("net_pair_first_ping_ms", "first ping answered, ms", False),
    ("net_pair_tx_MBps", "TCP guest->guest, MB/s", True),
    ("net_pair_rx_MBps", "TCP guest<-guest, MB/s", True),
    ("xl_create_ms", "create (client), ms", False),
]


def log(msg):
    print("[bench-net] " + msg, file=sys.stderr, flush=True)


def mode_line(name):
    for line in open(os.path.join(bb.DOMU, "modes")):
        if line.split(None, 1)[:1] == [name]:
            return line.split(None, 1)[1].strip()
    sys.exit("bench-net: no '%s' line in %s/modes" % (name, bb.DOMU))


def make_archive():
    cmdline, mem, vcpus = bb.domu_payload()
    # domu_payload() appends the disk line: take the bare cmdline again.
    cmdline = open(os.path.join(bb.DOMU, "cmdline")).read().strip()
    stage = os.path.join(SCRATCH, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "bootfs"), stage, symlinks=True)
    os.makedirs(os.path.join(stage, "boot", "rig"), exist_ok=True)
    for f in ("vmlinuz", "initrd.cpio.gz"):
        shutil.copy(os.path.join(bb.DOMU, f), os.path.join(stage, "boot", "rig", f))
    auto = os.path.join(stage, "etc", "xen", "auto")
    for f in os.listdir(auto) if os.path.isdir(auto) else []:
        os.unlink(os.path.join(auto, f))
    for name, cfgname, mode, mac in (("rigsrv", "bench-net-srv", "server", "03"),
                                     ("rigdomu", "bench-net-cli", "pair", "02")):
        with open(os.path.join(stage, "etc", "xen", cfgname + ".cfg"), "w") as f:
            f.write('# The peer rig\'s domU in %s mode on keel\'s xenbr0 (scripts/bench-net.py).\n'
                    'name = "%s"\ntype = "pv"\nkernel = "/boot/rig/vmlinuz"\n'
                    'ramdisk = "/boot/rig/initrd.cpio.gz"\ncmdline = "%s %s"\nmemory = %d\n'
                    'vcpus = %d\nvif = [ \'mac=00:16:3e:00:00:%s,bridge=xenbr0\' ]\n'
                    'on_poweroff = "destroy"\non_reboot = "destroy"\non_crash = "destroy"\n' %
                    (mode, name, cmdline, mode_line(mode), mem, vcpus, mac))
    subprocess.run([os.path.join(ROOT, "scripts", "mkarchive.sh"), stage, ARCHIVE], check=True,
                   stdout=subprocess.DEVNULL)


def dom_cpu_s(m):
    """Each domain's running time (s) from Xen's runstate: the `list` Time
    column."""
    out = m.command("list")
    return {r.group(1): float(r.group(2)) for r in
            re.finditer(r"^(\S+)\s+\d+\s+\d+\s+\d+\s+\S+\s+([\d.]+)", out, re.M)}


def dom0_cpu_ns(m):
    """dom0's running time (s) from Xen's runstate."""
    return dom_cpu_s(m).get("Domain-0")


XEN_ARGS = ""  # --xen-args


def keel_run(i=0):
    make_archive()
    extra, notes = {}, []
    with bb.qemu_lock():
        env = {"KEEL_ARCHIVE": ARCHIVE, "QEMU_MEM": bb.QEMU_MEM}
        if XEN_ARGS:
            env["XEN_ARGS"] = XEN_ARGS
        with Machine("bench-net-%d" % (i + 1), timeout=900, env=env) as m:
            m.boot(300)
            extra["mem_before"] = m.command("mem")
            out = m.command("create bench-net-srv.cfg", timeout=300)
            if "rigsrv" not in m.command("list"):
                notes.append("create rigsrv failed:\n" + out)
                return {}, extra, notes
            w = m.command("console-wait rigsrv domu-server-ready 300", timeout=330)
            if "found" not in w:
                notes.append("server never ready:\n" + m.command("console-log rigsrv")[-2000:])
                return {}, extra, notes
            cpu0 = dom0_cpu_ns(m)
            m.command("threads reset")
            out = m.command("time create bench-net-cli.cfg", timeout=300)
            t = re.search(r"^time: ([\d.]+) ms", out, re.M)
            if t:
                extra["xl_create_ms"] = t.group(1)
            t0 = time.monotonic()
            # The TCP part starts once the ping figure is printed.
            m.command("console-wait rigdomu net_pair_ping_ms 600", timeout=630)
            t_tcp, doms0 = time.monotonic(), dom_cpu_s(m)
            extra["stats_ping"] = m.command("netback-stats")
            w = m.command("console-wait rigdomu domu-done 600", timeout=630)
            wall = time.monotonic() - t0
            cpu1 = dom0_cpu_ns(m)
            doms1 = dom_cpu_s(m)
            extra["tcp_wall_s"] = time.monotonic() - t_tcp
            extra["doms"] = {k: doms1[k] - doms0.get(k, 0) for k in doms1}
            extra["stats"] = m.command("netback-stats")
            extra["threads"] = m.command("threads")
            extra["showmacs"] = m.command("brctl showmacs xenbr0")
            extra["mem_after"] = m.command("mem")
            console = m.command("console-log rigdomu 65536", timeout=60)
            if "found" not in w:
                notes.append("no RIGMARK domu-done; guest console tail:\n" + console[-2500:])
            for e in re.findall(r"RIGMARK domu-error.*", console):
                notes.append("guest: " + e.strip())
            extra["diag"] = "\n".join(re.findall(r"RIGDIAG domu-(?:snmp|eth0).*", console))
            if cpu0 is not None and cpu1 is not None:
                extra["dom0_cpu_s"] = "%.2f" % (cpu1 - cpu0)
                extra["wall_s"] = "%.1f" % wall
            # dom0 memory of one connected vif: used pages with it, then
            # after network-detach (the guest idles; netfront lets it go).
            det = m.command("network-detach rigdomu 0", timeout=60)
            time.sleep(2)
            extra["mem_detached"] = m.command("mem")
            if det.strip():
                notes.append("network-detach: " + det.strip())
            m.command("destroy rigdomu", timeout=120)
            m.command("destroy rigsrv", timeout=120)
            extra["serial_log"] = m.log_path
            res = bb.results(console)
            res.update({k: extra[k] for k in ("xl_create_ms",) if k in extra})
            return res, extra, notes


def peer_run():
    logp = os.path.join(SCRATCH, "peer-pair.%d.log" % os.getpid())
    env = dict(os.environ, PEER_NET="pair", RIG_LOG=logp)
    if XEN_ARGS:
        env["RIG_XEN_EXTRA"] = (env.get("RIG_XEN_EXTRA", "") + " " + XEN_ARGS).strip()
    with bb.qemu_lock():
        t0 = time.monotonic()
        r = subprocess.run([os.path.join(bb.PEER, "run-peer.sh")], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=1500)
    notes = []
    if r.returncode:
        notes.append("run-peer.sh exit %d: %s" % (r.returncode, r.stderr.strip()[-1500:]))
    diag = ""
    try:
        diag = "\n".join(re.findall(r"RIGDIAG domu-(?:snmp|eth0).*", open(logp, errors="replace").read()))
    except OSError:
        pass
    return bb.results(r.stdout), {"diag": diag, "wall_s": "%.0f" % (time.monotonic() - t0),
                                  "serial_log": logp}, notes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--no-keel", action="store_true")
    ap.add_argument("-n", type=int, default=1, help="runs of each, alternating (medians)")
    ap.add_argument("--xen-args", default="", help="extra Xen command line, both sides")
    args = ap.parse_args()
    global XEN_ARGS
    XEN_ARGS = args.xen_args
    os.makedirs(SCRATCH, exist_ok=True)
    print("bench-net  %s  load average %s%s" % (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), bb.load(),
        "  Xen command line + " + XEN_ARGS if XEN_ARGS else ""))
    keels, peers, kx, px, notes_all = [], [], {}, {}, []
    for i in range(args.n):
        if not args.no_keel:
            log("keel run %d/%d (load %s)" % (i + 1, args.n, bb.load()))
            k, kx, notes = keel_run(i)
            if k:
                keels.append(k)
                log("keel: " + " ".join("%s=%s" % kv for kv in sorted(k.items())
                                        if kv[0].startswith(("net_", "xl_"))))
            notes_all += ["keel run %d: %s" % (i + 1, n) for n in notes]
        if not args.no_peer:
            log("linux peer run %d/%d (load %s)" % (i + 1, args.n, bb.load()))
            p, px, notes = peer_run()
            if p:
                peers.append(p)
                log("linux: " + " ".join("%s=%s" % kv for kv in sorted(p.items())
                                         if kv[0].startswith(("net_", "xl_"))))
            notes_all += ["peer run %d: %s" % (i + 1, n) for n in notes]
    print("\n== two guests on one bridge (peer rig pair mode: 8 MiB each way, busybox nc); "
          "median of %d keel and %d linux runs ==" % (len(keels), len(peers)))
    print("%-40s %10s %10s %10s" % ("figure", "keel", "linux", "keel/linux"))
    for key, label, up in FIGURES:
        k, p = bb.median(keels, key), bb.median(peers, key)
        ratio = ""
        if bb.fnum(k) and bb.fnum(p) and up is not None:
            ratio = "%.2f" % ((bb.fnum(k) / bb.fnum(p)) if up else (bb.fnum(p) / bb.fnum(k)))
        print("%-40s %10s %10s %10s" % (label, k or "-", p or "-", ratio))
    print("(keel/linux: above 1 is keel better, for times too)")
    if kx:
        if "dom0_cpu_s" in kx:
            mb = 2 * 8 * 1.048576          # the pair mode moves 8 MiB each way
            print("keel dom0 CPU during the client's run: %s s of %s s wall (%.0f ms per MB "
                  "moved: 2 x 8 MiB)" % (kx["dom0_cpu_s"], kx["wall_s"],
                                         1000 * float(kx["dom0_cpu_s"]) / mb))
        if kx.get("doms"):
            busy = sum(kx["doms"].values())
            print("keel: CPU seconds of each domain during the TCP transfers (Xen runstate), "
                  "%.1f s wall: " % kx["tcp_wall_s"] +
                  ", ".join("%s %.1f" % kv for kv in sorted(kx["doms"].items())) +
                  "; CPU idle %.1f s" % (kx["tcp_wall_s"] - busy))
        print("keel netback-stats after the pings, before TCP:\n" +
              kx.get("stats_ping", "").rstrip())
        print("keel netback-stats after the run:\n" + kx.get("stats", "").rstrip())
        print("keel threads over the client's run:\n" + kx.get("threads", "").rstrip())
        print("keel switch:\n" + kx.get("showmacs", "").rstrip()[-400:])
        if kx.get("diag"):
            print("keel client guest's TCP/eth0 counters:\n" + kx["diag"])
        u0, u1 = bb.used_kib(kx.get("mem_before", "")), bb.used_kib(kx.get("mem_after", ""))
        if u0 is not None and u1 is not None:
            print("keel dom0 used KiB before the guests / with both vifs connected: %d / %d" %
                  (u0, u1))
        u2 = bb.used_kib(kx.get("mem_detached", ""))
        if u1 is not None and u2 is not None:
            print("keel dom0 memory per connected vif: %d KiB (used with the client's vif "
                  "connected minus after network-detach)" % (u1 - u2))
        print("keel serial log " + kx.get("serial_log", "?"))
    if px.get("diag"):
        print("linux client guest's TCP/eth0 counters:\n" + px["diag"])
    for n in notes_all:
        print("note: " + n)
    print("load average at the end: %s" % bb.load())


if __name__ == "__main__":
    main()

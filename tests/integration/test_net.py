#!/usr/bin/env python3
"""
keel networks its guests (issue 9): two stock Debian guests, each with a
netfront vif on keel's xenbr0, ping each other and swap a known TCP stream
(md5 of what one sent equals md5 of what the other received, both ways);
the guests' own interface counters agree with keel's port counters;
network-list shows both vifs connected; network-attach and network-detach
make an interface appear in and leave the running guest; destroying a
guest mid-transfer leaves no grant mapped and Xen's free memory as before.
"""
import os
import re
import subprocess
import sys
import time

from harness import (ROOT, Machine, TestFailure, grants_mapped, run_shared_checks,
                     settled_free)

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
GUESTS = ("kt-neta", "kt-netb")
MID_GUESTS = ("kt-neta", "kt-netc")


def results(m, name):
    out = m.command("console-wait %s KEEL-TEST-DONE 200" % name, timeout=240)
    log = m.command("console-log %s 65536" % name)
    if "found" not in out:
        raise TestFailure("%s never finished its network test:\n%s" % (name, log[-2500:]))
    return {c: (s == "ok", d) for c, s, d in re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)}


def main():
    state = {}

    def boot():
        m = Machine("net", keel_args="autostart=0", timeout=900, env={"KEEL_ARCHIVE": ARCHIVE})
        state["m"] = m
        m.boot(120)
        out = m.command("brctl show")
        if "xenbr0" not in out:
            raise TestFailure("no xenbr0 at boot:\n" + out)

    def two_guests_talk():
        m = state["m"]
        for g in GUESTS:
            out = m.command("create %s.cfg" % g, timeout=300)
            if re.search(r"cannot|error|fail", out, re.I):
                raise TestFailure("create %s: %s" % (g, out))
        res = {g: results(m, g) for g in GUESTS}
        state["res"] = res
        bad = ["%s %s: %s" % (g, c, d) for g in GUESTS for c, (ok, d) in res[g].items() if not ok]
        if bad:
            raise TestFailure("guest checks failed:\n" + "\n".join(bad))
        a, b = res["kt-neta"], res["kt-netb"]
        for g in GUESTS:
            for c in ("net-link", "net-ping", "net-sent", "net-rx-md5"):
                if c not in res[g]:
                    raise TestFailure("%s did not report %s" % (g, c))
        if a["net-tx-md5"][1] != b["net-rx-md5"][1]:
            raise TestFailure("a->b stream differs: sent %s, received %s" %
                              (a["net-tx-md5"][1], b["net-rx-md5"][1]))
        if b["net-tx-md5"][1] != a["net-rx-md5"][1]:
            raise TestFailure("b->a stream differs: sent %s, received %s" %
                              (b["net-tx-md5"][1], a["net-rx-md5"][1]))
        for g in GUESTS:
            print("  %s: %s; %s" % (g, res[g]["net-ping"][1], res[g]["net-sent"][1]))
        # kt-netb has two vCPUs: its netfront uses two queues.
        if not re.search(r"netback: vif\d+\.0 connected on xenbr0: 2 queues", m.buf):
            raise TestFailure("no vif connected with two queues (kt-netb has 2 vCPUs)")

    def counters_agree():
        m = state["m"]
        out = m.command("netback-stats")
        keel = {}
        for line in out.splitlines():
            f = line.split()
            if len(f) >= 12 and re.match(r"vif\d+\.\d+$", f[0]):
                keel[f[0]] = {"tx_pkts": int(f[2]), "tx_bytes": int(f[3]), "rx_pkts": int(f[4]),
                              "rx_bytes": int(f[5]), "tx_gso": int(f[9]), "rx_gso": int(f[10])}
        ids = {g: int(m.command("domid " + g).strip().splitlines()[-1]) for g in GUESTS}
        # GSO frames cross whole: what one guest sent as GSO frames the
        # other received as GSO frames (never cut on the way).
        pa, pb = "vif%d.0" % ids["kt-neta"], "vif%d.0" % ids["kt-netb"]
        if pa in keel and pb in keel:
            ta, tb = keel[pa]["tx_gso"], keel[pb]["tx_gso"]
            print("  GSO frames: %s sent %d, %s received %d; %s sent %d, %s received %d" %
                  (pa, ta, pb, keel[pb]["rx_gso"], pb, tb, pa, keel[pa]["rx_gso"]))
            if ta + tb == 0:
                raise TestFailure("no GSO frame was sent:\n" + out)
            if keel[pb]["rx_gso"] != ta or keel[pa]["rx_gso"] != tb:
                raise TestFailure("GSO frames were not passed whole:\n" + out)
        for g in GUESTS:
            port = "vif%d.0" % ids[g]
            if port not in keel:
                raise TestFailure("netback-stats has no %s:\n%s" % (port, out))
            guest = dict(kv.split("=") for kv in state["res"][g]["net-counters"][1].split())
            # The guest counted first, keel after: keel may have seen a few
            # more frames (neighbour discovery) but never fewer.
            gt, kt = int(guest["tx_packets"]), keel[port]["tx_pkts"]
            if not gt <= kt <= gt + 20:
                raise TestFailure("%s sent %d frames, keel took %d from %s" % (g, gt, kt, port))
            gr, kr = int(guest["rx_packets"]), keel[port]["rx_pkts"]
            if not gr <= kr <= gr + 20:
                raise TestFailure("%s received %d frames, keel gave %d on %s" % (g, gr, kr, port))
            print("  %s: guest tx %d rx %d, keel %s tx %d rx %d" % (g, gt, gr, port, kt, kr))

    def network_list():
        m = state["m"]
        for g, mac in (("kt-neta", "00:16:3e:00:00:0a"), ("kt-netb", "00:16:3e:00:00:0b")):
            out = m.command("network-list " + g)
            # A multi-queue vif has its rings under queue-N/: xl shows -1.
            row = re.search(r"^0\s+0\s+%s\s+0\s+4\s+-?\d+\s+-?\d+/-?\d+\s+/local/domain/0/backend/vif/"
                            % mac, out, re.M)
            if not row:
                raise TestFailure("network-list %s:\n%s" % (g, out))

    def attach_detach():
        m = state["m"]
        out = m.command("network-attach kt-neta mac=00:16:3e:00:01:0a,bridge=xenbr0")
        if re.search(r"error|cannot|usage", out, re.I):
            raise TestFailure("network-attach: " + out)
        out = m.command("console-wait kt-neta 'KEEL-NET-IFACES eth0 eth1 lo' 60", timeout=90)
        if "found" not in out:
            raise TestFailure("eth1 never appeared in the guest:\n" +
                              m.command("console-log kt-neta 2000"))
        if "00:16:3e:00:01:0a" not in m.command("network-list kt-neta"):
            raise TestFailure("network-list lacks the new vif")
        out = m.command("network-detach kt-neta 1", timeout=30)
        if out.strip():
            raise TestFailure("network-detach: " + out)
        out = m.command("console-wait kt-neta 'KEEL-NET-IFACES eth0 lo' 60", timeout=90)
        if "found" not in out:
            raise TestFailure("eth1 never left the guest:\n" +
                              m.command("console-log kt-neta 2000"))
        if "00:16:3e:00:01:0a" in m.command("network-list kt-neta"):
            raise TestFailure("network-list still shows the detached vif")

    def destroy_leaves_nothing():
        m = state["m"]
        for g in GUESTS:
            out = m.command("destroy " + g, timeout=60)
            if re.search(r"error|cannot", out, re.I):
                raise TestFailure("destroy %s: %s" % (g, out))
        if "vif" in m.command("brctl show").split("interfaces", 1)[-1]:
            raise TestFailure("a vif port is left on the bridge:\n" + m.command("brctl show"))
        left = grants_mapped(m)
        if left:
            raise TestFailure("%d grant pages still mapped" % left)

    def destroy_mid_transfer():
        # The baseline is taken after one create/destroy round: Xen keeps a
        # page or so it allocated for dom0 on the way (event-channel
        # buckets).  One-vCPU guests: cycles of a two-vCPU guest, even with
        # no vif, sometimes leave Xen's free count a page lower (Xen's own
        # heap), which would make this check flaky without saying anything
        # about netback.
        m = state["m"]
        free0 = settled_free(m, None)
        for g in MID_GUESTS:
            out = m.command("create %s.cfg" % g, timeout=300)
            if re.search(r"cannot|error|fail", out, re.I):
                raise TestFailure("create %s: %s" % (g, out))
        for g in MID_GUESTS:
            out = m.command("console-wait %s net-tx-md5 200" % g, timeout=240)
            if "found" not in out:
                raise TestFailure("%s never started sending:\n%s" %
                                  (g, m.command("console-log %s 2000" % g)))
        time.sleep(1)
        stats = m.command("netback-stats")
        for g in MID_GUESTS:
            m.command("destroy " + g, timeout=60)
        left = grants_mapped(m)
        if left:
            raise TestFailure("%d grant pages still mapped" % left)
        free1 = settled_free(m, free0)
        if free1 != free0:
            raise TestFailure("Xen free pages %d before, %d after" % (free0, free1))
        print("  destroyed while sending (netback-stats then:\n%s\n  ); Xen free pages %d "
              "before and after" % (stats.strip(), free1))

    checks = [
        ("boot: xenbr0 exists", boot),
        ("two Debian guests on xenbr0 ping each other and swap a TCP stream intact both ways",
         two_guests_talk),
        ("the guests' counters agree with keel's port counters; GSO frames cross whole",
         counters_agree),
        ("network-list shows both vifs connected, in xl's format", network_list),
        ("network-attach / network-detach: the interface comes and goes in the guest",
         attach_detach),
        ("destroy leaves no port on the bridge and no grant mapped", destroy_leaves_nothing),
        ("guests destroyed in the middle of a transfer: no grant mapped, Xen's free memory "
         "as before", destroy_mid_transfer),
    ]
    return 1 if run_shared_checks(checks, state) else 0


if __name__ == "__main__":
    subprocess.run([os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE],
                   check=True, stdout=subprocess.DEVNULL)
    sys.exit(main())

#!/usr/bin/env python3
"""
Hostile netfront (issue 9, "Checked by"): one keel boot, two stock Debian
guests (kt-nethostile-a/-b, their own xen-netfront) swapping a known TCP
stream both ways, while a third guest (kt-nethostile, booted without
xen-netfront) runs tests/integration/nethostile.c, which plays netfront by
hand through gntalloc, evtchn and xenbus on a fresh vif per mode:

  oversized     dropped: first size under its fragments' sum, a 10-byte frame
  crosspage     fatal: offset + size past the page
  toomanyfrags  dropped at 20 data slots, fatal at 24
  endless       fatal: a more_data chain that never ends
  badgref       dropped: refs taken back, granted to another domain, huge;
                a bad ref in a later slot behind a good header: every slot
                of the frame answered ERROR (as Linux does), none OKAY;
                a burst good/bad/good answered OKAY/ERROR/OKAY
  badextra      dropped: an extra type twice; fatal: an unknown type
  extrachain    fatal: extra-info slots that all say FLAG_MORE
  runahead      fatal: req_prod 5000 ahead of the ring
  badring       fatal at connect: an event channel that does not exist (the
                rings dom0 mapped first are unmapped at once)
  norx          a vif that posts no rx buffers, flooded from a second vif;
                then rx buffers with bad refs, then good ones
  rxrunahead    fatal: that vif's rx req_prod 5000 ahead of the ring

Checked: keel's prompt keeps answering; a fatal mode leaves its vif in
Closing (network-list) with the reason in the backend's `error` node; a
dropped mode is answered with errors and counted (netback-stats tx-err);
the flooded vif's frames are dropped and counted (rx-drop) after a bounded
backlog and keel's heap stays within a bound (FIGURE lines); the two good
guests' streams arrive intact; destroying the hostile guest mid-flood and
then the others leaves no port, no grant mapped and Xen's free memory as
after a warm-up round (the two good guests with six vifs, destroyed, before
the baseline: Xen keeps the event-channel buckets dom0's ports grew into).
"""
import os
import re
import sys
import time

from harness import (Machine, ROOT, TestFailure, grants_mapped, heap_kib, make_test_archive,
                     run_shared_checks, settled_free)

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
HOSTILE = "kt-nethostile"
PAIR = ("kt-nethostile-a", "kt-nethostile-b")
# netback's rx backlog bound per queue (backends/net/vif.h): VIF_RXQ_FRAMES
# frames of at most VIF_RXQ_BYTES in all.
RXQ_FRAMES = 256
RXQ_KIB = 1024

# mode, the reason keel must give in `error` (None: the vif must live),
# packets at least that keel must count as tx errors
MODES = [
    ("oversized", None, 2),
    ("crosspage", "slot data past its page", 0),
    ("toomanyfrags", "slot count past the fatal limit", 1),
    ("endless", "slot count past the fatal limit", 0),
    # 4 bad single refs, 3 frames with a bad ref behind a good header, the
    # burst's bad one
    ("badgref", None, 8),
    ("badextra", "invalid extra info type", 1),
    ("extrachain", "extra info chain too long", 0),
    ("runahead", "impossible tx ring indices", 0),
    ("badring", "cannot map the rings or bind the event channels", 0),
]


def figure(name, value):
    print("FIGURE %s %s" % (name, value), flush=True)


def wait_console(m, name, text, secs=120):
    out = m.command("console-wait %s '%s' %d" % (name, text, secs), timeout=secs + 30)
    if "found" not in out:
        raise TestFailure("%s never printed %r: %s\n--- console:\n%s" %
                          (name, text, out, m.command("console-log %s 4000" % name)[-4000:]))


def guest_line(m, name, mode):
    """The KEEL-TEST line of one mode: (ok, detail)."""
    wait_console(m, name, "KEEL-TEST %s " % mode, 120)
    log = m.command("console-log %s 65536" % name)
    found = re.findall(r"KEEL-TEST %s (ok|fail) ?(.*)" % re.escape(mode), log)
    if not found:
        raise TestFailure("no result line for %s in:\n%s" % (mode, log[-3000:]))
    return found[-1][0] == "ok", found[-1][1].strip()


def stats(m):
    out = m.command("netback-stats")
    res = {}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 9 and re.match(r"vif\d+\.\d+$", f[0]):
            res[f[0]] = {"tx_pkts": int(f[2]), "rx_pkts": int(f[4]), "tx_err": int(f[6]),
                         "rx_drop": int(f[7]), "queued": int(f[8])}
    return res


def vif_state(m, dom, mac):
    """(devid, backend state) of dom's vif with this MAC, or None."""
    out = m.command("network-list " + dom)
    row = re.search(r"^(\d+)\s+0\s+%s\s+\d+\s+(-?\d+)\s" % re.escape(mac), out, re.M)
    return (int(row.group(1)), int(row.group(2))) if row else None


def prompt_seconds(m):
    t0 = time.monotonic()
    out = m.command("uptime", timeout=30)
    if not out.strip():
        raise TestFailure("uptime printed nothing")
    return time.monotonic() - t0


def attach(m, mac):
    out = m.command("network-attach %s mac=%s,bridge=xenbr0" % (HOSTILE, mac), timeout=30)
    if re.search(r"error|cannot|usage|network-attach:", out, re.I):
        raise TestFailure("network-attach: " + out)
    st = vif_state(m, HOSTILE, mac)
    if not st:
        raise TestFailure("network-list lacks %s after attach:\n%s" %
                          (mac, m.command("network-list " + HOSTILE)))
    return st[0]


def detach(m, devid):
    out = m.command("network-detach %s %d" % (HOSTILE, devid), timeout=40)
    if out.strip():
        raise TestFailure("network-detach %d: %s" % (devid, out))


def main():
    state = {"worst_prompt": 0.0}

    def prompt(m):
        s = prompt_seconds(m)
        state["worst_prompt"] = max(state["worst_prompt"], s)
        if s > 10:
            raise TestFailure("keel's prompt took %.1f s to answer" % s)

    def create(m, g):
        out = m.command("create %s.cfg" % g, timeout=300)
        if re.search(r"cannot|error|fail", out, re.I):
            raise TestFailure("create %s: %s" % (g, out))

    def boot():
        m = Machine("net-hostile", keel_args="autostart=0", timeout=1500,
                    env={"KEEL_ARCHIVE": ARCHIVE})
        state["m"] = m
        m.boot(120)
        # Xen gives dom0 event-channel buckets (and maptrack frames) as its
        # port numbers and mappings reach new highs, and keeps them: a first
        # round reaches the run's high-water mark (2 guests, 6 vifs ~ the 3
        # guests and 4 vifs of norx) before the baseline is taken.
        for g in PAIR:
            create(m, g)
        for g in PAIR:
            wait_console(m, g, "KEEL-NET-UP", 180)
        macs = []
        for i, g in enumerate(PAIR):
            for j in (1, 2):
                mac = "00:16:3e:00:0c:%02x" % (i * 2 + j)
                out = m.command("network-attach %s mac=%s,bridge=xenbr0" % (g, mac), timeout=30)
                if re.search(r"error|cannot|usage|network-attach:", out, re.I):
                    raise TestFailure("network-attach: " + out)
                macs.append((g, mac))
        for _ in range(60):
            if all((vif_state(m, g, mac) or (0, 0))[1] == 4 for g, mac in macs):
                break
            time.sleep(1)
        else:
            raise TestFailure("extra vifs never connected:\n" +
                              "\n".join(m.command("network-list " + g) for g in PAIR))
        for g in PAIR:
            m.command("destroy " + g, timeout=60)
        if grants_mapped(m):
            raise TestFailure("grants left mapped after the warm-up round")
        state["free0"] = settled_free(m, None)
        figure("xen_free_pages_after_warmup", state["free0"])
        out = m.command("create %s.cfg" % HOSTILE, timeout=300)
        if re.search(r"cannot|error|fail", out, re.I):
            raise TestFailure("create %s: %s" % (HOSTILE, out))
        wait_console(m, HOSTILE, "KEEL-NETHOSTILE-WAIT oversized", 180)
        state["domid"] = int(m.command("domid " + HOSTILE).strip().splitlines()[-1])
        ok, detail = guest_line(m, HOSTILE, "nethostile-setup")
        print("  " + detail)
        if not ok:
            raise TestFailure("nethostile-setup: " + detail)

    def pair_up():
        m = state["m"]
        for g in PAIR:
            create(m, g)
        for g in PAIR:
            wait_console(m, g, "KEEL-NET-UP", 180)
        state["pair_ids"] = {g: int(m.command("domid " + g).strip().splitlines()[-1])
                             for g in PAIR}
        state["grants_pair"] = grants_mapped(m)
        state["heap_base"] = heap_kib(m)
        figure("grants_mapped_two_guests", state["grants_pair"])
        figure("heap_kib_three_guests", state["heap_base"])

    def make_mode(mode, reason, min_err):
        def run():
            m = state["m"]
            dom = state["domid"]
            wait_console(m, HOSTILE, "KEEL-NETHOSTILE-WAIT %s 1" % mode, 120)
            mac = "00:16:3e:00:0a:%02x" % (MODES.index((mode, reason, min_err)) + 1)
            devid = attach(m, mac)
            port = "vif%d.%d" % (dom, devid)
            ok, detail = guest_line(m, HOSTILE, mode)
            print("  %s: %s" % (mode, detail))
            prompt(m)
            st = vif_state(m, HOSTILE, mac)
            err = m.command("xenstore-read /local/domain/0/backend/vif/%d/%d/error" %
                            (dom, devid)).strip()
            s = stats(m).get(port)
            if s is None:
                raise TestFailure("netback-stats has no %s" % port)
            print("  dom0: %s backend state %s, error node %r, tx-err %d" %
                  (port, st[1] if st else "?", err, s["tx_err"]))
            if not ok:
                raise TestFailure("%s (guest side): %s" % (mode, detail))
            if reason:
                if not st or st[1] != 5:
                    raise TestFailure("%s: vif not in Closing (5): %s" % (mode, st))
                if reason not in err:
                    raise TestFailure("%s: error node %r, expected %r" % (mode, err, reason))
            else:
                if not st or st[1] != 4:
                    raise TestFailure("%s: vif not Connected (4) after dropped packets: %s" %
                                      (mode, st))
                if "couldn't read" not in err:
                    raise TestFailure("%s: an error node on a live vif: %r" % (mode, err))
            # A vif keeps its two rings mapped until the frontend closes;
            # one that never connected keeps none.
            held = grants_mapped(m) - state["grants_pair"]
            if held != (0 if mode == "badring" else 2):
                raise TestFailure("%s: %d grants mapped for the vif before detach" % (mode, held))
            if s["tx_err"] < min_err:
                raise TestFailure("%s: keel counted %d tx errors, expected at least %d" %
                                  (mode, s["tx_err"], min_err))
            detach(m, devid)
            wait_console(m, HOSTILE, "KEEL-NETHOSTILE-CLOSED vif %d" % devid, 60)
            if vif_state(m, HOSTILE, mac):
                raise TestFailure("%s: vif still listed after detach" % mode)
            left = grants_mapped(m)
            if left != state["grants_pair"]:
                raise TestFailure("%s: %d grants mapped after detach, %d before the mode" %
                                  (mode, left, state["grants_pair"]))
        return run

    def norx():
        m = state["m"]
        dom = state["domid"]
        wait_console(m, HOSTILE, "KEEL-NETHOSTILE-WAIT norx 2", 120)
        # Flood while the good guests' streams flow: each starts sending
        # right after it prints the md5 of what it will send.
        for g in PAIR:
            wait_console(m, g, "net-tx-md5", 180)
        heap0 = heap_kib(m)
        sink = attach(m, "00:16:3e:00:0b:01")
        state["sink"] = sink
        wait_console(m, HOSTILE, "KEEL-NETHOSTILE-CONNECTED vif %d " % sink, 60)
        src = attach(m, "00:16:3e:00:0b:02")
        wait_console(m, HOSTILE, "KEEL-NETHOSTILE-FLOODING", 60)
        sink_port = "vif%d.%d" % (dom, sink)
        pair_ports = ["vif%d.0" % state["pair_ids"][g] for g in PAIR]
        peak, worst_q = 0, 0
        s0 = stats(m)
        t0 = time.monotonic()
        for _ in range(5):
            peak = max(peak, heap_kib(m) - heap0)
            s = stats(m)
            worst_q = max(worst_q, s.get(sink_port, {}).get("queued", 0))
            prompt(m)
            time.sleep(1)
        # The good guests' streams go on during the flood: their frames
        # are forwarded in the same seconds (unless both were already over).
        s1 = stats(m)
        secs = time.monotonic() - t0
        moved = sum(s1[p]["tx_pkts"] - s0[p]["tx_pkts"] for p in pair_ports)
        figure("pair_frames_per_s_during_flood", "%.0f" % (moved / secs))
        sending = [g for g in PAIR if "net-sent" not in m.command("console-log %s 65536" % g)]
        print("  still sending after the flood's sampling: %s" % (", ".join(sending) or "none"))
        if sending and moved == 0:
            raise TestFailure("the good guests' transfer stalled during the flood")
        ok, detail = guest_line(m, HOSTILE, "norx")
        peak = max(peak, heap_kib(m) - heap0)
        print("  norx: " + detail)
        s = stats(m)
        print("  dom0: " + ", ".join("%s tx %d rx %d tx-err %d rx-drop %d queued %d" %
                                     (p, v["tx_pkts"], v["rx_pkts"], v["tx_err"], v["rx_drop"],
                                      v["queued"]) for p, v in sorted(s.items())))
        sk = s.get(sink_port)
        figure("norx_heap_kib_growth_peak", peak)
        figure("norx_sink_queued_worst", worst_q)
        figure("norx_sink_rx_drop", sk["rx_drop"] if sk else "?")
        sent = re.search(r"(\d+) frames of", detail)
        figure("norx_frames_flooded", sent.group(1) if sent else "?")
        if not ok:
            raise TestFailure("norx (guest side): " + detail)
        if not sk:
            raise TestFailure("netback-stats has no %s" % sink_port)
        if sk["rx_drop"] < 1 or (sent and sk["rx_drop"] < int(sent.group(1)) - 2 * RXQ_FRAMES):
            raise TestFailure("the flooded vif's drops were not counted: %s" % sk)
        if worst_q > RXQ_FRAMES:
            raise TestFailure("%d frames queued for one vif (bound %d)" % (worst_q, RXQ_FRAMES))
        # The flood is for the sink's MAC, which the bridge has learnt: only
        # the sink's backlog may fill (RXQ_KIB at most); 512 KiB more for
        # everything else keel does meanwhile (the good guests' traffic).
        bound = RXQ_KIB + 512
        figure("norx_heap_kib_bound", bound)
        if peak > bound:
            raise TestFailure("keel's heap grew %d KiB under the flood (bound %d)" % (peak, bound))
        state["src"] = src
        state["sink"] = sink

    def rxrunahead():
        m = state["m"]
        ok, detail = guest_line(m, HOSTILE, "rxrunahead")
        print("  rxrunahead: " + detail)
        prompt(m)
        st = vif_state(m, HOSTILE, "00:16:3e:00:0b:01")
        err = m.command("xenstore-read /local/domain/0/backend/vif/%d/%d/error" %
                        (state["domid"], state["sink"])).strip()
        print("  dom0: sink backend state %s, error node %r" % (st[1] if st else "?", err))
        if not ok:
            raise TestFailure("rxrunahead (guest side): " + detail)
        if not st or st[1] != 5 or "impossible rx ring indices" not in err:
            raise TestFailure("rxrunahead: state %s error %r" % (st, err))

    def pair_intact():
        m = state["m"]
        res = {}
        for g in PAIR:
            wait_console(m, g, "KEEL-TEST-DONE", 300)
            log = m.command("console-log %s 65536" % g)
            res[g] = {c: (s == "ok", d) for c, s, d in
                      re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)}
        bad = ["%s %s: %s" % (g, c, d) for g in PAIR for c, (ok, d) in res[g].items() if not ok]
        if bad:
            raise TestFailure("good guests' checks failed:\n" + "\n".join(bad))
        a, b = res[PAIR[0]], res[PAIR[1]]
        for g in PAIR:
            for c in ("net-ping", "net-sent", "net-tx-md5", "net-rx-md5"):
                if c not in res[g]:
                    raise TestFailure("%s did not report %s" % (g, c))
        if a["net-tx-md5"][1] != b["net-rx-md5"][1] or b["net-tx-md5"][1] != a["net-rx-md5"][1]:
            raise TestFailure("a stream differs: a sent %s got %s, b sent %s got %s" %
                              (a["net-tx-md5"][1], a["net-rx-md5"][1], b["net-tx-md5"][1],
                               b["net-rx-md5"][1]))
        for g in PAIR:
            sent = res[g]["net-sent"][1]
            t = re.search(r"bytes=(\d+) t0=([\d.]+) t1=([\d.]+)", sent)
            print("  %s: %s; %s" % (g, res[g]["net-ping"][1], sent))
            if t and float(t.group(3)) > float(t.group(2)):
                figure("pair_%s_tx_kib_per_s" % g[-1],
                       "%.0f" % (int(t.group(1)) / 1024 / (float(t.group(3)) - float(t.group(2)))))

    def destroy_all():
        m = state["m"]
        m.command("xenstore-write /local/domain/%d/data/nethostile-flood 1" % state["domid"])
        wait_console(m, HOSTILE, "KEEL-NETHOSTILE-FLOODING again", 60)
        time.sleep(2)
        prompt(m)
        figure("netback_stats_before_destroy", " | ".join(
            "%s tx %d rx-drop %d queued %d" % (p, v["tx_pkts"], v["rx_drop"], v["queued"])
            for p, v in sorted(stats(m).items())))
        out = m.command("destroy " + HOSTILE, timeout=60)
        if re.search(r"error|cannot", out, re.I):
            raise TestFailure("destroy %s mid-flood: %s" % (HOSTILE, out))
        left = grants_mapped(m)
        if left != state["grants_pair"]:
            raise TestFailure("%d grants mapped after destroying the hostile guest, %d before" %
                              (left, state["grants_pair"]))
        heap_after = heap_kib(m)
        figure("heap_kib_after_hostile_destroyed_vs_base", heap_after - state["heap_base"])
        if heap_after - state["heap_base"] > 256:
            raise TestFailure("heap %d KiB after the hostile guest went, %d KiB before its modes"
                              % (heap_after, state["heap_base"]))
        for g in PAIR:
            m.command("destroy " + g, timeout=60)
        if "vif" in m.command("brctl show").split("interfaces", 1)[-1]:
            raise TestFailure("a vif port is left on the bridge:\n" + m.command("brctl show"))
        left = grants_mapped(m)
        if left:
            raise TestFailure("%d grant pages still mapped" % left)
        free1 = settled_free(m, state["free0"])
        figure("xen_free_pages_warmup_vs_end", "%d %d" % (state["free0"], free1))
        if free1 != state["free0"]:
            raise TestFailure("Xen free pages %d after the warm-up, %d at the end" %
                              (state["free0"], free1))
        figure("prompt_seconds_worst", "%.2f" % state["worst_prompt"])

    checks = [("boot; the hostile guest runs without netfront", boot),
              ("two good guests up on xenbr0", pair_up)]
    for mode, reason, min_err in MODES:
        checks.append(("%s: %s" % (mode, "fatal, vif Closing with error" if reason else
                                    "dropped and answered with errors"),
                       make_mode(mode, reason, min_err)))
    checks += [("norx: a vif without rx buffers is flooded; drops counted, heap bounded", norx),
               ("rxrunahead: rx req_prod past the ring is fatal", rxrunahead),
               ("the good guests' streams arrive intact both ways", pair_intact),
               ("destroy mid-flood: no grant mapped, heap and Xen's free memory back",
                destroy_all)]
    return 1 if run_shared_checks(checks, state) else 0


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(main())

#!/usr/bin/env python3
"""
xenstored bounded per guest (issue 6): hostile Linux guests running
tests/integration/xshostile.c (in the test ramdisk as /bin/xshostile) against
keel's xenstored.

  txflood     one transaction with 30000 WRITEs of an empty value to a 2 KiB
              path: refused early with ENOSPC, dom0's heap grows by less than
              the guest's quota, all of it comes back on destroy
  big_after   after that guest is gone, a 256 MiB guest is created and boots
  spin        a guest refilling its ring for ever: `list` keeps answering
  watchflood  a guest writing a node it watches 16 times, never reading:
              dom0's heap stays bounded and another guest's watch still works

A well-behaved guest (xshostile rtt) reports its xenstore round trips alone,
during the spin and during the watch flood (figures only), and during the
create of another guest (rtt_during_create: figures, and a failure over
RTT_CREATE_FAIL_MS) and during the destroy of a 1 GiB guest
(rtt_during_big_destroy: a failure over RTT_DESTROY_FAIL_MS).

Figures (heap growth, `list` latency) are printed as "FIGURE name value".
"""
import os
import re
import sys
import time

from harness import Machine, ROOT, TestFailure, heap_kib, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
MARKER = "KEEL-DOMU-INIT"
KIB = 1024
# What one guest may make dom0 keep for one transaction plus its queued
# output (xenstored's tx_bytes and output_bytes quotas).
TX_QUOTA_KIB = 512
OUTPUT_QUOTA_KIB = 256
# A guest's xenstore round trip during a create: target 50 ms; a noisy
# shared machine adds tens of ms, so the check fails only well above it.
RTT_CREATE_FAIL_MS = 500
# During the destroy of a 1 GiB guest: Xen frees its memory inside one
# destroydomain call of about 300 ms under TCG, which held every guest's
# request that long (311-331 ms) until the call was made preemptible; now
# 10-40 ms.  The bound leaves a loaded machine several times that.
RTT_DESTROY_FAIL_MS = 250


def wait_console(m, name, text, secs=180):
    out = m.command("console-wait %s %s %d" % (name, text, secs), timeout=secs + 30)
    if "found" not in out:
        raise TestFailure("%s never printed %s: %s\n--- console:\n%s" %
                          (name, text, out, m.command("console-log %s" % name)[-3000:]))


def guest_tests(m, name, secs=240):
    wait_console(m, name, "KEEL-TEST-DONE", secs)
    log = m.command("console-log %s" % name)
    res = {c: (s == "ok", d) for c, s, d in
           re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)}
    if not res:
        raise TestFailure("no KEEL-TEST lines in:\n" + log[-2000:])
    return res


def listed(m):
    out = m.command("list")
    return {g[0]: int(g[1]) for g in re.findall(r"^(\S+)\s+(\d+)\s+\d+\s+\d+\s", out, re.M)}


def create(m, cfg, timeout=180):
    out = m.command("create %s" % cfg, timeout=timeout)
    if re.search(r"error|fail", out, re.I):
        raise TestFailure("create %s: %s" % (cfg, out))
    return out


def destroy(m, name):
    m.command("destroy %s" % name, timeout=120)
    if name in listed(m):
        raise TestFailure("%s still listed after destroy" % name)


def stats(m):
    return dict(re.findall(r"^(\w+)\s*:\s*(\d+)", m.command("xenstored-stats"), re.M))


def figure(name, value):
    print("FIGURE %s %s" % (name, value), flush=True)


def rtt_figures(m, label):
    """Runs the round-trip guest to its end; prints its figures."""
    create(m, "kt-xsrtt.cfg")
    try:
        res = guest_tests(m, "kt-xsrtt")
    finally:
        destroy(m, "kt-xsrtt")
    ok, detail = res.get("rtt", (False, "no result"))
    if not ok:
        raise TestFailure("rtt guest (%s): %s" % (label, detail))
    for k, v in re.findall(r"(median_us|worst_us)=(\d+)", detail):
        figure("xenstore_rtt_%s_%s" % (k, label), v)


def hostile_checks():
    state = {}

    def boot():
        # 2 GiB: room for the 1 GiB guest of rtt_during_big_destroy.
        state["m"] = Machine("xenstore-hostile", timeout=1800,
                             env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_MEM": "2048"}).__enter__()
        state["m"].boot(120)
        m = state["m"]
        # A normal guest first: warms the kernel cache and measures what a
        # guest costs dom0's heap without any hostility.
        before = heap_kib(m)
        create(m, "kt1.cfg")
        wait_console(m, "kt1", MARKER)
        with_guest = heap_kib(m)
        destroy(m, "kt1")
        state["base"] = heap_kib(m)
        state["guest_cost"] = with_guest - state["base"]
        figure("heap_kib_after_boot", before)
        figure("heap_kib_one_normal_guest", state["guest_cost"])
        rtt_figures(m, "idle")

    def txflood():
        m = state["m"]
        create(m, "kt-txflood.cfg")
        try:
            res = guest_tests(m, "kt-txflood")
            growth = heap_kib(m) - state["base"] - state["guest_cost"]
            figure("heap_kib_growth_txflood", growth)
        finally:
            destroy(m, "kt-txflood")
        left = heap_kib(m) - state["base"]
        figure("heap_kib_left_after_destroy", left)
        ok, detail = res.get("txflood", (False, "no result"))
        if not ok:
            raise TestFailure("txflood: " + detail)
        found = re.search(r"refused write=(\d+) error=(\S+)", detail)
        if not found or found.group(2) != "ENOSPC":
            raise TestFailure("expected ENOSPC: " + detail)
        figure("txflood_refused_at_write", found.group(1))
        if int(found.group(1)) > 3000:
            raise TestFailure("refused only at write %s of 30000" % found.group(1))
        if growth >= TX_QUOTA_KIB + OUTPUT_QUOTA_KIB:
            raise TestFailure("dom0 heap grew %d KiB for one transaction (quota %d KiB)" %
                              (growth, TX_QUOTA_KIB + OUTPUT_QUOTA_KIB))
        if left > 256:
            raise TestFailure("%d KiB of heap not given back after destroy" % left)

    def big_after():
        m = state["m"]
        out = m.command("create kt256.cfg", timeout=180)
        if re.search(r"error|fail|no dom0 memory", out, re.I):
            raise TestFailure("256 MiB guest after the flood: " + out.strip())
        wait_console(m, "kt256", MARKER)
        destroy(m, "kt256")

    def spin():
        m = state["m"]
        create(m, "kt-xsspin.cfg")
        guest_tests(m, "kt-xsspin")
        worst = 0.0
        for _ in range(5):
            t0 = time.monotonic()
            out = m.command("list", timeout=20)
            worst = max(worst, time.monotonic() - t0)
            if "kt-xsspin" not in out:
                raise TestFailure("list without the spinning guest: " + out)
            time.sleep(1)
        figure("list_seconds_worst_while_spinning", "%.2f" % worst)
        rtt_figures(m, "spin")
        st = stats(m)
        for k in ("ring_request_bytes", "passes_over_budget", "passes_blocked"):
            figure(k + "_after_spin", st.get(k))
        destroy(m, "kt-xsspin")
        if worst > 5:
            raise TestFailure("`list` took %.1f s while a guest spun" % worst)

    def watchflood():
        m = state["m"]
        create(m, "kt-watchflood.cfg")
        guest_tests(m, "kt-watchflood")
        peak = 0
        for _ in range(4):
            peak = max(peak, heap_kib(m) - state["base"] - state["guest_cost"])
            time.sleep(2)
        # Another guest's watches must survive the flood.
        create(m, "kt-xs.cfg")
        res = guest_tests(m, "kt-xs")
        peak = max(peak, heap_kib(m) - state["base"] - 2 * state["guest_cost"])
        figure("heap_kib_growth_watchflood_peak", peak)
        rtt_figures(m, "watchflood")
        st = stats(m)
        for k in ("watch_events_dropped", "ring_resets"):
            figure(k + "_after_watchflood", st.get(k))
        bad = {k: d for k, (ok, d) in res.items() if not ok}
        if bad or "watch" not in res:
            raise TestFailure("the other guest's checks during the flood: %s" % (bad or res))
        if peak >= 2 * (TX_QUOTA_KIB + OUTPUT_QUOTA_KIB):
            raise TestFailure("dom0 heap grew %d KiB under a watch flood" % peak)
        destroy(m, "kt-watchflood")
        destroy(m, "kt-xs")

    def rtt_during_create():
        """A running guest's worst xenstore round trip while dom0 creates
        another guest (kernel already decompressed), and the longest stretch
        any dom0 thread kept the CPU meanwhile (keel's own share of it).
        Target under 50 ms; fails over RTT_CREATE_FAIL_MS (before threads
        ran with events unmasked and populate was batched, it was 0.5-2 s)."""
        m = state["m"]
        create(m, "kt-xsrttlong.cfg")
        try:
            wait_console(m, "kt-xsrttlong", "KEEL-RTT-START")
            m.command("threads reset")
            create(m, "kt1.cfg")
            runs = m.command("threads")
            res = guest_tests(m, "kt-xsrttlong")
        finally:
            destroy(m, "kt-xsrttlong")
        destroy(m, "kt1")
        judge_rtt(res, runs, "create", RTT_CREATE_FAIL_MS)

    def judge_rtt(res, runs, during, fail_ms):
        """The rtt guest's verdict, its figures and dom0's longest thread
        run during `during`; fails above fail_ms."""
        ok, detail = res.get("rtt", (False, "no result"))
        if not ok:
            raise TestFailure("rtt guest: " + detail)
        for k, v in re.findall(r"(median_us|worst_us)=(\d+)", detail):
            figure("xenstore_rtt_%s_during_%s" % (k, during), v)
        longest = [float(ms) for name, ms in
                   re.findall(r"^(\S+)\s+\d+\s+[\d.]+\s+([\d.]+)\s", runs, re.M)
                   if name != "idle"]
        if longest:
            figure("dom0_longest_run_us_during_%s" % during, int(max(longest) * 1000))
        worst = int(re.search(r"worst_us=(\d+)", detail).group(1))
        if worst > fail_ms * 1000:
            raise TestFailure("a guest's xenstore request waited %d ms during %s; dom0's "
                              "threads:\n%s" % (worst // 1000, during.replace("_", " "), runs))

    def rtt_during_big_destroy():
        """A running guest's worst xenstore round trip while dom0 destroys a
        1 GiB guest (booted first, so only the destroy overlaps the round
        trips), and the longest run of any dom0 thread meanwhile."""
        m = state["m"]
        create(m, "kt-big.cfg", timeout=300)
        try:
            wait_console(m, "kt-big", MARKER, 300)
            create(m, "kt-xsrttlong.cfg")
            try:
                wait_console(m, "kt-xsrttlong", "KEEL-RTT-START")
                m.command("threads reset")
                t0 = time.monotonic()
                destroy(m, "kt-big")
                figure("destroy_1gib_ms", int((time.monotonic() - t0) * 1000))
                runs = m.command("threads")
                res = guest_tests(m, "kt-xsrttlong")
            finally:
                destroy(m, "kt-xsrttlong")
        finally:
            if "kt-big" in listed(m):
                destroy(m, "kt-big")
        judge_rtt(res, runs, "1gib_destroy", RTT_DESTROY_FAIL_MS)

    checks = [("boot", boot), ("txflood", txflood), ("big_after", big_after),
              ("spin", spin), ("watchflood", watchflood),
              ("rtt_during_create", rtt_during_create),
              ("rtt_during_big_destroy", rtt_during_big_destroy)]
    return run_shared_checks(checks, state)


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(1 if hostile_checks() else 0)

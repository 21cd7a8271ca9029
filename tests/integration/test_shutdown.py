#!/usr/bin/env python3
"""
Host shutdown as xendomains does it (issue 6, item 5): `poweroff` with two
Debian guests running asks each to shut down through control/shutdown,
waits, and only then takes the machine down.  Each guest's own console must
show Linux's clean stop ("reboot: Power down", or "reboot: System halted",
which is what a Xen PV domU without a power-off handler prints when asked to
power off; Xen still gets SHUTDOWN_poweroff) before QEMU exits: keel
prints the end of every guest's console log as it reports the guest gone, so
the guests' words reach the serial log, and the test checks they come before
Xen's "Entering ACPI S5 state".
"""
import os
import re
import sys

from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
MARKER = "KEEL-DOMU-INIT"


def shutdown_checks():
    state = {}

    def boot():
        state["m"] = Machine("shutdown", keel_args="autostart=0", timeout=900,
                             env={"KEEL_ARCHIVE": ARCHIVE}).__enter__()
        state["m"].boot(120)

    def two_guests():
        m = state["m"]
        for name in ("kt1", "kt2"):
            out = m.command("create %s.cfg" % name, timeout=300)
            if "cannot" in out:
                raise TestFailure("create %s: %s" % (name, out))
        for name in ("kt1", "kt2"):
            out = m.command("console-wait %s %s 300" % (name, MARKER), timeout=330)
            if "found" not in out:
                raise TestFailure("%s did not boot: %s" % (name, out))
        state["ids"] = {}
        for name in ("kt1", "kt2"):
            state["ids"][name] = int(re.search(r"^(\d+)$", m.command("domid " + name),
                                               re.M).group(1))

    def poweroff_shuts_guests_down():
        m = state["m"]
        start = len(m.buf)
        m.send("poweroff\r")
        m.expect(r"Entering ACPI S5 state", 240)
        m.wait_exit(60)
        log = m.buf[start:]
        s5 = log.index("Entering ACPI S5 state")
        for name, domid in state["ids"].items():
            asked = "xendomains: asked domain %d '%s' to shut down" % (domid, name)
            if asked not in log:
                raise TestFailure("keel did not ask %s to shut down:\n%s" % (name, log[-3000:]))
            gone = re.search(r"xendomains: domain %d '%s' shut down \(poweroff\); its console "
                             r"ends:\n((?:  %s\| .*\n)+)" % (domid, name, name), log)
            if not gone:
                raise TestFailure("%s not reported shut down cleanly:\n%s" % (name, log[-3000:]))
            if not re.search(r"reboot: (Power down|System halted)", gone.group(1)):
                raise TestFailure("%s's console does not end with Linux's power-off:\n%s" %
                                  (name, gone.group(1)))
            if gone.start() > s5 or log.index(asked) > gone.start():
                raise TestFailure("%s: shutdown out of order" % name)
        if not re.search(r"xendomains: 2 domains shut down, 0 destroyed", log[:s5]):
            raise TestFailure("no summary before S5:\n" + log[-3000:])
        if log.index("keel: powering off") < log.index("xendomains: 2 domains shut down"):
            raise TestFailure("the machine went down before the guests were gone")

    checks = [("boot with the test archive, no autostart", boot),
              ("two Debian guests boot", two_guests),
              ("poweroff: both guests shut down cleanly, then the machine",
               poweroff_shuts_guests_down)]
    return run_shared_checks(checks, state)


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(1 if shutdown_checks() else 0)

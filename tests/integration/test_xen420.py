#!/usr/bin/env python3
"""
One keel binary on Xen 4.20, Debian trixie's hypervisor (issue 10): keel
asks Xen its version at boot and speaks its domctl/sysctl interface (0x17,
Xen 4.17's is 0x15; xen/abi/).  One boot serves every check: `info` names
the real version, bookworm's Linux 6.1 (xz) and trixie's 6.12 (zstd) guests
boot to their init, a guest uses xenstore from inside, the console, pause,
reboot and shutdown work, create/destroy cycles leak nothing, and poweroff;
a second boot plays a Xen keel does not speak (test hook test=xenabi-none):
named at boot, domain commands refuse with the reason; then host reboot.

  tests/integration/test_xen420.py [--xen 4.17]

runs the same checks on Xen 4.17 (for the figures side by side; the suite
runs it on 4.20 only).  Figures are printed as "FIGURE xen-X.Y name value":
wall time from QEMU's start to keel's prompt, keel's own boot time, and
`create` times (6.1 with and without its kernel decompressed, 6.12).
Needs deb.debian.org the first time (Xen 4.20, trixie's kernel); if the
machine cannot reach it the test says so and fails.
"""
import os
import re
import shutil
import subprocess
import sys
import time

from harness import ROOT, Machine, TestFailure, run_shared_checks

WORK = os.path.join(ROOT, "build", "test-xen420")
ARCHIVE = os.path.join(WORK, "archive.cpio")
MARKER = "KEEL-DOMU-INIT"
DOMCTL = {"4.17": "0x15", "4.20": "0x17"}
CFG_612 = """# trixie's Linux 6.12 (zstd bzImage) with the busybox test ramdisk.
name = "kt612"
memory = 128
kernel = "/boot/trixie/trixie-amd64.vmlinuz"
ramdisk = "/boot/domu/initrd.cpio.gz"
cmdline = "console=hvc0 quiet"
"""


def fetch(script, what):
    r = subprocess.run([os.path.join(ROOT, "scripts", script)], stderr=subprocess.PIPE, text=True)
    if r.returncode == 2:
        raise SystemExit("FAIL %s: deb.debian.org cannot be reached from this machine:\n%s"
                         % (what, r.stderr))
    if r.returncode:
        raise SystemExit("FAIL %s: %s failed:\n%s" % (what, script, r.stderr))


def build_archive():
    fetch("fetch-xen420.sh", "Xen 4.20")
    extra = os.path.join(WORK, "extra")
    shutil.rmtree(extra, ignore_errors=True)
    os.makedirs(os.path.join(extra, "etc", "xen"))
    with open(os.path.join(extra, "etc", "xen", "kt612.cfg"), "w") as f:
        f.write(CFG_612)
    subprocess.run([os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE, "--trixie",
                    "--extra", extra], check=True, stdout=subprocess.DEVNULL)


def field(text, key):
    m = re.search(r"^%s\s*:\s*(.*)$" % re.escape(key), text, re.M)
    if not m:
        raise TestFailure("no '%s' line in:\n%s" % (key, text))
    return m.group(1).strip()


def listed(m):
    out = m.command("list")
    return {g[0]: (int(g[1]), g[2]) for g in
            re.findall(r"^(\S+)\s+(\d+)\s+\d+\s+\d+\s+(\S+)\s", out, re.M)}


def wait_console(m, name, text, secs=180):
    out = m.command("console-wait %s %s %d" % (name, text, secs), timeout=secs + 30)
    if "found" not in out:
        raise TestFailure("%s never printed %s: %s\n--- console:\n%s" %
                          (name, text, out, m.command("console-log %s" % name)[-3000:]))


def timed_create(m, cfg):
    """`time create CFG`: returns keel's milliseconds; fails on any error."""
    out = m.command("time create %s" % cfg, timeout=600)
    t = re.search(r"^time: ([\d.]+) ms$", out, re.M)
    if not t or re.search(r"failed|cannot|error|refused", out):
        raise TestFailure("create %s said:\n%s" % (cfg, out))
    return float(t.group(1))


def free_pages(m):
    return int(field(m.command("info"), "xen_free_pages"))


def checks(xen):
    state = {}
    tag = "xen-" + xen

    def figure(name, value):
        print("FIGURE %s %s %s" % (tag, name, value), flush=True)

    def boot():
        t0 = time.monotonic()
        state["m"] = Machine("xen%s" % xen.replace(".", ""), keel_args="autostart=0",
                             timeout=900, env={"KEEL_ARCHIVE": ARCHIVE, "XEN": xen}).__enter__()
        m = state["m"]
        m.expect(r"Xen version %s" % re.escape(xen), 120)
        # Named at boot: the version and the interface keel chose.
        m.expect(r"xen: Xen %s\S*: domctl interface %s, sysctl 0x15 \(keel's Xen %s layouts\)"
                 % (re.escape(xen), DOMCTL[xen], re.escape(xen)), 120)
        b = m.expect(r"keel 0\.1 - a Xen dom0 kernel \(\d+ MiB, booted in ([\d.]+) ms\)", 120)
        m.boot(60)
        figure("boot_to_prompt_s", "%.1f" % (time.monotonic() - t0))
        figure("keel_boot_ms", b.group(1))

    def info():
        out = state["m"].command("info")
        ver = field(out, "xen_version")
        if not ver.startswith(xen + "."):
            raise TestFailure("xen_version %r on Xen %s" % (ver, xen))
        iface = field(out, "xen_interface")
        if not iface.startswith("domctl %s sysctl 0x15" % DOMCTL[xen]):
            raise TestFailure("xen_interface %r on Xen %s" % (iface, xen))
        if int(field(out, "xen_major")) != int(xen.split(".")[0]) or \
                int(field(out, "xen_minor")) != int(xen.split(".")[1]):
            raise TestFailure("xen_major/minor disagree with %s:\n%s" % (xen, out))
        if field(out, "nr_cpus") != "1" or int(field(out, "total_memory")) < 900:
            raise TestFailure("physinfo (sysctl) reads wrong:\n" + out)

    def guest_61():
        m = state["m"]
        figure("create_61_first_ms", timed_create(m, "kt1.cfg"))
        t0 = time.monotonic()
        wait_console(m, "kt1", MARKER)
        figure("create_61_to_init_s", "%.1f" % (time.monotonic() - t0))
        if "kt1" not in listed(m):
            raise TestFailure("list does not show kt1")

    def console():
        m = state["m"]
        m.send("console kt1\r")
        m.expect(r"console kt1\n", 10)
        time.sleep(1)
        m.send("echo ATTACHED-$((6*7))\r")
        m.expect(r"ATTACHED-42", 30)
        m.send("\x1d")
        m.expect(r"keel# ", 10)

    def pause():
        m = state["m"]
        m.command("pause kt1")
        if listed(m)["kt1"][1][2] != "p":
            raise TestFailure("pause not shown in list:\n" + m.command("list"))
        m.command("unpause kt1")
        if listed(m)["kt1"][1][2] != "-":
            raise TestFailure("still paused after unpause:\n" + m.command("list"))
        if not re.search(r"^kt1\s+\d+\s+0\s+\S+\s+-?[rb-]", m.command("vcpu-list kt1"), re.M):
            raise TestFailure("vcpu-list: " + m.command("vcpu-list kt1"))

    def xenstore_from_guest():
        m = state["m"]
        m.command("create kt-xs.cfg", timeout=120)
        wait_console(m, "kt-xs", "KEEL-TEST-DONE", 180)
        log = m.command("console-log kt-xs")
        res = {c: s == "ok" for c, s in re.findall(r"KEEL-TEST (\S+) (ok|fail)", log)}
        want = ["xenbus-dev", "read-domid", "read-name", "write-read", "list-home", "watch"]
        bad = [c for c in want if not res.get(c)]
        if bad:
            raise TestFailure("guest xenstore checks failed: %s\n%s" % (bad, log[-2000:]))
        m.command("destroy kt-xs", timeout=60)

    def guest_612():
        m = state["m"]
        figure("create_612_first_ms", timed_create(m, "kt612.cfg"))
        wait_console(m, "kt612", MARKER, 300)
        m.command("destroy kt612", timeout=60)
        if "kt612" in listed(m):
            raise TestFailure("kt612 still listed after destroy")

    def reboot_shutdown():
        m = state["m"]
        old = listed(m)["kt1"][0]
        m.command("reboot kt1")
        deadline = time.monotonic() + 150
        while listed(m).get("kt1", (old,))[0] == old:
            if time.monotonic() > deadline:
                raise TestFailure("kt1 did not come back with a new domid")
            time.sleep(2)
        wait_console(m, "kt1", MARKER)
        domid = listed(m)["kt1"][0]
        out = m.command("shutdown -w kt1", timeout=150)
        if ("Domain %d has been shut down, reason code 0" % domid) not in out:
            raise TestFailure("shutdown -w said: " + out)
        if "kt1" in listed(m):
            raise TestFailure("kt1 still listed after shutdown")

    def no_leak():
        m = state["m"]
        time.sleep(2)
        before = free_pages(m)
        times = []
        for _ in range(5):
            times.append(timed_create(m, "kt1.cfg"))
            m.command("destroy kt1", timeout=60)
        for _ in range(10):
            after = free_pages(m)
            if after == before:
                break
            time.sleep(1)
        if after != before:
            raise TestFailure("Xen free pages %d before, %d after 5 cycles" % (before, after))
        figure("create_61_cached_ms", "%.1f" % (sorted(times)[len(times) // 2]))

    def poweroff():
        m = state["m"]
        m.send("poweroff\r")
        m.expect(r"Entering ACPI S5 state", 60)
        m.wait_exit(60)

    return run_shared_checks([
        ("boot keel on Xen %s: version and interface named at boot" % xen, boot),
        ("info: xen_version %s.x, xen_interface domctl %s, physinfo read" % (xen, DOMCTL[xen]),
         info),
        ("Linux 6.1 (xz) guest boots to its init", guest_61),
        ("console: attach, type to the guest, Ctrl-] detaches", console),
        ("pause/unpause and vcpu-list", pause),
        ("xenstore from inside a guest (xenstore-utils)", xenstore_from_guest),
        ("Linux 6.12 (zstd) guest boots to its init, destroy", guest_612),
        ("reboot (new domid) and shutdown -w", reboot_shutdown),
        ("5 create/destroy cycles: Xen free memory unchanged", no_leak),
        ("poweroff", poweroff),
    ], state)


def refusal_checks(xen):
    """A Xen keel does not speak, played by the test hook test=xenabi-none:
    named at boot, `info` still answers, domain commands say why they refuse."""
    state = {}
    why = r"Xen %s\S* speaks none of the domctl/sysctl interfaces keel knows \(.*\): " \
        r"domain operations are refused \(test=xenabi-none\)" % re.escape(xen)

    def boot():
        state["m"] = Machine("xen%s-unknown" % xen.replace(".", ""),
                             keel_args="autostart=0 test=xenabi-none", timeout=300,
                             env={"KEEL_ARCHIVE": ARCHIVE, "XEN": xen}).__enter__()
        state["m"].expect(r"xen: " + why, 120)
        state["m"].boot(120)

    def refused():
        m = state["m"]
        out = m.command("info")
        if not field(out, "xen_version").startswith(xen + ".") or \
                "none keel speaks" not in field(out, "xen_interface"):
            raise TestFailure("info on an unknown interface:\n" + out)
        for cmd in ("create kt1.cfg", "list", "destroy 1", "pause 1"):
            out = m.command(cmd, timeout=60)
            if not re.search(r"^\S+: " + why + "$", out, re.M):
                raise TestFailure("%s on an unknown interface said:\n%s" % (cmd, out))
            if re.search(r"-\d+\b", out):
                raise TestFailure("%s gave a bare errno:\n%s" % (cmd, out))

    def reboot():
        m = state["m"]
        m.send("reboot\r")
        m.expect(r"Hardware Dom0 shutdown: rebooting machine", 30)
        m.wait_exit(60)

    return run_shared_checks([
        ("Xen %s as an unknown release (test hook): named at boot" % xen, boot),
        ("info answers; create, list, destroy, pause refuse with the reason", refused),
        ("host reboot", reboot),
    ], state)


if __name__ == "__main__":
    xen = "4.20"
    if len(sys.argv) == 3 and sys.argv[1] == "--xen" and sys.argv[2] in DOMCTL:
        xen = sys.argv[2]
    elif len(sys.argv) != 1:
        raise SystemExit("usage: test_xen420.py [--xen 4.17|4.20]")
    build_archive()
    failed = checks(xen)
    failed += refusal_checks(xen)
    sys.exit(1 if failed else 0)

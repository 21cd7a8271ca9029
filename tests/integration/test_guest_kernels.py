#!/usr/bin/env python3
"""
Three different guest kernels on a 256 MiB dom0 (issue 6, item 3):
bookworm's 6.1 (xz bzImage, the test payload's) and trixie's 6.12 `amd64`
and `cloud-amd64` (zstd bzImages, fetched by scripts/fetch-guest-kernels.sh
from Debian's archive with a private apt configuration), created one after
another, then again in reverse order: every one boots to its init.  This is
what the decompressed-kernel cache must allow: it is bounded, counted in
`mem`, dropped when dom0 memory runs short, and zstd kernels decode into
their output (no 128 MiB window beside it).

Needs deb.debian.org the first time (the kernels are cached in
build/guest-kernels); if the machine cannot reach it, the test says so and
fails.
"""
import os
import re
import shutil
import subprocess
import sys

from harness import ROOT, Machine, TestFailure, run_shared_checks

WORK = os.path.join(ROOT, "build", "test-guest-kernels")
ARCHIVE = os.path.join(WORK, "archive.cpio")
MARKER = "KEEL-DOMU-INIT"

KERNELS = [  # (guest name, kernel path in the archive)
    ("kt-bookworm", "/boot/domu/vmlinuz"),
    ("kt-trixie", "/boot/trixie/trixie-amd64.vmlinuz"),
    ("kt-cloud", "/boot/trixie/trixie-cloud-amd64.vmlinuz"),
]
CFG = """name = "%s"
memory = 128
kernel = "%s"
ramdisk = "/boot/domu/initrd.cpio.gz"
cmdline = "console=hvc0 quiet"
"""


def build_archive():
    fetch = subprocess.run([os.path.join(ROOT, "scripts", "fetch-guest-kernels.sh")],
                           stderr=subprocess.PIPE, text=True)
    if fetch.returncode == 2:
        raise SystemExit("FAIL trixie kernels: deb.debian.org cannot be reached from this "
                         "machine, so trixie's kernels cannot be fetched:\n" + fetch.stderr)
    if fetch.returncode:
        raise SystemExit("FAIL trixie kernels: fetch-guest-kernels.sh failed:\n" + fetch.stderr)
    extra = os.path.join(WORK, "extra")
    shutil.rmtree(extra, ignore_errors=True)
    os.makedirs(os.path.join(extra, "etc", "xen"))
    for name, kernel in KERNELS:
        with open(os.path.join(extra, "etc", "xen", name + ".cfg"), "w") as f:
            f.write(CFG % (name, kernel))
    subprocess.run([os.path.join(ROOT, "scripts", "mk-test-archive.sh"), ARCHIVE, "--trixie",
                    "--extra", extra], check=True, stdout=subprocess.DEVNULL)


def kernel_checks():
    state = {}

    def boot():
        state["m"] = Machine("guest-kernels", keel_args="autostart=0", timeout=1800,
                             env={"KEEL_ARCHIVE": ARCHIVE, "DOM0_MEM": "256M"}).__enter__()
        state["m"].boot(120)

    def boots(name):
        m = state["m"]
        out = m.command("time create %s.cfg" % name, timeout=600)
        if "cannot" in out or "not a loadable" in out or "invalid" in out:
            raise TestFailure("create %s: %s\n--- dmesg tail:\n%s" %
                              (name, out, m.command("dmesg")[-2500:]))
        out = m.command("console-wait %s %s 300" % (name, MARKER), timeout=330)
        if "found" not in out:
            raise TestFailure("%s never reached init: %s\n--- console:\n%s" %
                              (name, out, m.command("console-log %s 3000" % name)[-3000:]))
        m.command("destroy " + name, timeout=120)

    def cache_bounded():
        m = state["m"]
        out = m.command("mem")
        kc = re.search(r"kernel cache : (\d+) KiB in (\d+) decompressed kernels \(bound (\d+) KiB",
                       out)
        if not kc:
            raise TestFailure("mem does not count the kernel cache:\n" + out)
        if int(kc.group(1)) > int(kc.group(3)):
            raise TestFailure("kernel cache over its bound: " + kc.group(0))

    def forward():
        for name, _ in KERNELS:
            boots(name)
            cache_bounded()

    def reverse():
        for name, _ in reversed(KERNELS):
            boots(name)
            cache_bounded()

    def each_decompressed():
        # Each guest ran its own kernel: keel's log (on the serial line)
        # names each decompression.
        log = state["m"].buf
        formats = re.findall(r"toolstack: (\S+): bzImage kernel, \d+ -> \d+ bytes", log)
        for _, kernel in KERNELS:
            if kernel + ":" not in [f + ":" for f in formats]:
                raise TestFailure("%s never decompressed:\n%s" % (kernel, "\n".join(formats)))

    def poweroff():
        m = state["m"]
        m.send("poweroff\r")
        m.expect(r"Entering ACPI S5 state", 120)
        m.wait_exit(60)

    checks = [("boot keel on a 256 MiB dom0 with three guest kernels", boot),
              ("6.1 (xz), 6.12 amd64 and cloud-amd64 (zstd) boot one after another",
               forward),
              ("and again in reverse order", reverse),
              ("each kernel was decompressed by keel", each_decompressed),
              ("poweroff", poweroff)]
    return run_shared_checks(checks, state)


if __name__ == "__main__":
    build_archive()
    sys.exit(1 if kernel_checks() else 0)

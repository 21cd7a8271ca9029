#!/usr/bin/env python3
"""
keel's NVMe driver (issue 7): a QEMU NVMe controller with two namespaces
(64 MiB of 512-byte blocks, 32 MiB of 4096-byte blocks) on images made on
the host.  Bytes the host wrote are read back by keel (CRC-32), bytes keel
writes are on the images after keel powers off, a segment list that breaks
the PRP rules is split correctly, and an injected command timeout resets
the controller (retried once, then failed with -ETIMEDOUT) while keel and
later I/O go on.  Three boots: i440fx with MSI-X, i440fx with INTx
(`pci_nomsi`), q35 with MSI-X.
"""
import os
import re
import struct
import sys
import zlib

from harness import ROOT, Machine, TestFailure, run_tests

SCRATCH = os.path.join(ROOT, "build", "test-nvme")
MASK = (1 << 64) - 1
HOST_OFF, HOST_LEN, HOST_SEED = 3 << 20, 192 << 10, 4242


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & MASK
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & MASK
    return x ^ (x >> 31)


def pattern(off, length, seed):
    """What keel's blk-write puts at byte off: word p/8 = splitmix64(seed + p/8)."""
    return b"".join(struct.pack("<Q", splitmix64(seed + off // 8 + i)) for i in range(length // 8))


def make_images():
    os.makedirs(SCRATCH, exist_ok=True)
    a, b = os.path.join(SCRATCH, "ns1.img"), os.path.join(SCRATCH, "ns2.img")
    for path, mib in ((a, 64), (b, 32)):
        with open(path, "wb") as f:
            f.truncate(mib << 20)
    with open(a, "r+b") as f:
        f.seek(HOST_OFF)
        f.write(pattern(HOST_OFF, HOST_LEN, HOST_SEED))
    return a, b


def read_image(path, off, length):
    with open(path, "rb") as f:
        f.seek(off)
        return f.read(length)


def qemu_args(a, b, machine="pc"):
    return ("-machine %s"
            " -drive file=%s,if=none,id=ns1,format=raw"
            " -drive file=%s,if=none,id=ns2,format=raw"
            " -device nvme,id=nvc0,serial=keel0"
            " -device nvme-ns,drive=ns1,bus=nvc0,nsid=1"
            " -device nvme-ns,drive=ns2,bus=nvc0,nsid=2,logical_block_size=4096,"
            "physical_block_size=4096" % (machine, a, b))


def expect_in(out, rx, what):
    m = re.search(rx, out, re.M)
    if not m:
        raise TestFailure("%s: /%s/ not in output:\n%s" % (what, rx, out))
    return m


def host_crc_read(m, dev="nvme0n1"):
    """keel reads the host's pattern: same CRC-32 as Python's zlib."""
    want = zlib.crc32(read_image(IMAGES[0], HOST_OFF, HOST_LEN))
    out = m.command("blk-read %s %d %d" % (dev, HOST_OFF, HOST_LEN), timeout=120)
    expect_in(out, r"crc32 %08x$" % want, "blk-read of the host's bytes")


def irq_counts(m):
    out = m.command("nvme list")
    g = expect_in(out, r"^nvme0 \S+ QEMU NVMe Ctrl sn keel0 fw \S+: live, (\S+) (\d) vector\(s\) "
                       r"\((\d+), (\d+) interrupts\)", "nvme list")
    return g.group(1), int(g.group(2)), int(g.group(3)), int(g.group(4))


IMAGES = None


def boot(m):
    """Boots and waits for the probe thread to register both namespaces,
    so that its messages do not land in the middle of a typed command."""
    m.boot()
    done = r"blk: nvme0n2: 65536 sectors"
    if not re.search(done, m.buf):
        m.expect(done, timeout=120)


def main_machine():
    a, b = IMAGES
    with Machine("nvme-msix", timeout=900, env={"QEMU_ARGS": qemu_args(a, b)}) as m:
        boot(m)
        out = m.command("lsblk -b")
        expect_in(out, r"^nvme0n1\s+259:0\s+0\s+67108864\s+0 disk", "lsblk nvme0n1")
        expect_in(out, r"^nvme0n2\s+259:1\s+0\s+33554432\s+0 disk", "lsblk nvme0n2")
        out = m.command("nvme list")
        expect_in(out, r"nvme0n2 nsid 2: 65536 sectors, 4096-byte blocks", "second namespace")
        mode, nvec, _, _ = irq_counts(m)
        if mode != "MSI-X" or nvec != 2:
            raise TestFailure("expected MSI-X with 2 vectors, got %s %d" % (mode, nvec))
        host_crc_read(m)
        _, _, _, io_irqs = irq_counts(m)
        if io_irqs == 0:
            raise TestFailure("no interrupt on the I/O vector after a read")

        # keel writes both namespaces; the host checks after poweroff.
        out = m.command("blk-write nvme0n1 4096 65536 7", timeout=120)
        expect_in(out, r"crc32 %08x, flushed" % zlib.crc32(pattern(4096, 65536, 7)), "write ns1")
        out = m.command("blk-write nvme0n2 8192 1048576 9", timeout=120)
        expect_in(out, r"crc32 %08x, flushed" % zlib.crc32(pattern(8192, 1048576, 9)),
                  "write ns2")
        out = m.command("blk-read nvme0n2 8192 1048576", timeout=120)
        expect_in(out, r"crc32 %08x$" % zlib.crc32(pattern(8192, 1048576, 9)), "read ns2")
        out = m.command("blk-read nvme0n2 512 4096", timeout=60)
        expect_in(out, r"I/O error -22", "unaligned read on a 4096-byte namespace refused")

        # A request whose segments break the PRP rules: split, right bytes.
        out = m.command("nvme prp-test nvme0n1 %d" % (8 << 20), timeout=120)
        g = expect_in(out, r"16384 bytes in 8 segments as (\d+) commands: write and read ok",
                      "prp-test")
        if int(g.group(1)) != 5:
            raise TestFailure("the broken list took %s commands, expected 5" % g.group(1))

        # Timeouts: a lost completion resets the controller and the command
        # is retried; lost twice, it fails with -ETIMEDOUT; keel goes on.
        m.command("nvme timeout 5")
        m.command("nvme inject-timeout nvme0 1")
        start = m.pos
        host_crc_read(m)
        log = m.output_since(start)
        expect_in(log, r"nvme0: command \d+ timed out, controller reset", "reset message")
        expect_in(log, r"nvme0: reset done: 0 command\(s\) failed with -ETIMEDOUT, 1 retried",
                  "retry after reset")
        m.command("nvme inject-timeout nvme0 2")
        out = m.command("blk-read nvme0n1 %d 4096" % HOST_OFF, timeout=120)
        expect_in(out, r"I/O error -110", "second timeout fails the read")
        done = r"reset done: 1 command\(s\) failed with -ETIMEDOUT, 0 retried"
        if not re.search(done, out):
            m.expect(done, timeout=60)
        host_crc_read(m)
        mode, _, _, _ = irq_counts(m)
        out = m.command("nvme list")
        expect_in(out, r": live, MSI-X .* (\d+) polled, 3 reset\(s\), 1 timed out", "counters")

        m.send("poweroff\r")
        # The driver's shutdown: caches flushed, CC.SHN, CSTS.SHST complete.
        m.expect(r"nvme0: caches flushed, shut down", timeout=120)
        m.expect(r"Entering ACPI S5|powering off", timeout=120)
        m.wait_exit(120)
    if read_image(a, 4096, 65536) != pattern(4096, 65536, 7):
        raise TestFailure("nvme0n1: the image does not hold what keel wrote")
    if read_image(b, 8192, 1048576) != pattern(8192, 1048576, 9):
        raise TestFailure("nvme0n2: the image does not hold what keel wrote")
    if read_image(a, 8 << 20, 16384) == bytes(16384):
        raise TestFailure("prp-test's write is not on the image")


def intx_machine():
    a, b = IMAGES
    with Machine("nvme-intx", keel_args="pci_nomsi", timeout=600,
                 env={"QEMU_ARGS": qemu_args(a, b)}) as m:
        boot(m)
        host_crc_read(m)
        mode, nvec, admin, _ = irq_counts(m)
        if mode != "INTx" or nvec != 1 or admin == 0:
            raise TestFailure("expected INTx with interrupts, got %s %d (%d)" % (mode, nvec, admin))
        out = m.command("nvme list")
        expect_in(out, r" 0 polled,", "every completion came by interrupt")


def q35_machine():
    a, b = IMAGES
    with Machine("nvme-q35", timeout=600, env={"QEMU_ARGS": qemu_args(a, b, "q35")}) as m:
        boot(m)
        out = m.command("lspci")
        expect_in(out, r"Non-Volatile memory controller \[0108\]: .*\[1b36:0010\].*driver: nvme",
                  "lspci on q35")
        host_crc_read(m)
        mode, nvec, _, io_irqs = irq_counts(m)
        if mode != "MSI-X" or nvec != 2 or io_irqs == 0:
            raise TestFailure("expected MSI-X interrupts on q35, got %s %d %d" %
                              (mode, nvec, io_irqs))


if __name__ == "__main__":
    IMAGES = make_images()
    tests = [("msix: names, sizes, bytes both ways, PRP split, timeout reset", main_machine),
             ("intx: pci_nomsi", intx_machine),
             ("q35: MSI-X", q35_machine)]
    only = sys.argv[1:]
    if only:
        tests = [t for t in tests if any(o in t[0] for o in only)]
    sys.exit(1 if run_tests(tests) else 0)

#!/usr/bin/env python3
"""
keel drives the host's disks (issue 7): PCI enumeration, MSI-X / INTx
through Xen, DMA, the virtio-blk driver and the block layer.  Disk images
are made on the host; bytes written by the host are read back by keel
(CRC-32) and bytes keel writes are found on the image after keel powers off.
Three short boots: i440fx with MSI-X, q35 with MSI-X (ECAM), i440fx with
INTx (`pci_nomsi`).
"""
import os
import re
import struct
import sys
import zlib

from harness import ROOT, Machine, TestFailure, run_tests

SCRATCH = os.path.join(ROOT, "build", "test-disks")
MASK = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & MASK
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & MASK
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & MASK
    return x ^ (x >> 31)


def pattern(off, length, seed):
    """What keel's blk-write puts at byte off: word p/8 = splitmix64(seed + p/8)."""
    return b"".join(struct.pack("<Q", splitmix64(seed + off // 8 + i)) for i in range(length // 8))


def make_image(path, mib):
    os.makedirs(SCRATCH, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(mib << 20)


def virtio_args(img, machine="pc"):
    return ("-machine %s -drive file=%s,if=none,id=vd0,format=raw,cache=writeback "
            "-device virtio-blk-pci,drive=vd0" % (machine, img))


def host_bytes(img, off, length):
    with open(img, "rb") as f:
        f.seek(off)
        return f.read(length)


def put_host_bytes(img, off, data):
    with open(img, "r+b") as f:
        f.seek(off)
        f.write(data)


def check_lspci(m, bdf_re, mode):
    out = m.command("lspci")
    if not re.search(r"^%s SCSI storage controller \[0100\]: Red Hat, Inc\. \[1af4:1001\]"
                     r"\s+driver: virtio-blk$" % bdf_re, out, re.M):
        raise TestFailure("lspci does not show the bound virtio-blk device:\n" + out)
    log = m.buf
    if not re.search(r"virtio-blk: 0000:%s: vda, queue \d+, %s" % (bdf_re, mode), log):
        raise TestFailure("virtio-blk did not come up with %s" % mode)


def check_lsblk(m, mib):
    out = m.command("lsblk -b")
    want = mib << 20
    if not re.search(r"^vda\s+254:0\s+0\s+%d\s+0 disk" % want, out, re.M):
        raise TestFailure("lsblk -b does not show vda of %d bytes:\n%s" % (want, out))


def check_host_to_keel(m, img, off, length):
    data = os.urandom(length)
    put_host_bytes(img, off, data)
    return data


def run_machine(name, machine, keel_args, bdf_re, mode):
    img = os.path.join(SCRATCH, name + ".img")
    mib = 64
    make_image(img, mib)
    # Bytes the host put there before boot, at an odd 512-byte offset
    # spanning several pages.
    host_off, host_len = 3 * 512 + (1 << 20), 3 * 4096 + 1024
    data = os.urandom(host_len)
    put_host_bytes(img, host_off, data)
    keel_off, keel_len, seed = 8 << 20, 200 * 1024, 0x5eed0000 + len(name)

    with Machine("disks-" + name, keel_args=keel_args, timeout=180,
                 env={"QEMU_ARGS": virtio_args(img, machine)}) as m:
        m.boot()
        check_lspci(m, bdf_re, mode)
        check_lsblk(m, mib)
        out = m.command("blk-read vda %d %d" % (host_off, host_len))
        got = re.search(r"crc32 ([0-9a-f]{8})", out)
        if not got or int(got.group(1), 16) != zlib.crc32(data):
            raise TestFailure("blk-read of host bytes: %s (host crc32 %08x)" %
                              (out.strip(), zlib.crc32(data)))
        out = m.command("blk-write vda %d %d %d" % (keel_off, keel_len, seed))
        if "flushed" not in out:
            raise TestFailure("blk-write: " + out)
        # Bad input is refused with a message, keel goes on.
        for bad, why in (("blk-read vda 100 512", "multiples of 512"),
                         ("blk-read vda %d 1024" % ((mib << 20) - 512), "past the end"),
                         ("blk-read nosuch 0 512", "no such block device")):
            if why not in m.command(bad):
                raise TestFailure("%s: no '%s' error" % (bad, why))
        m.send("poweroff\r")
        m.wait_exit(60)
    got = host_bytes(img, keel_off, keel_len)
    if got != pattern(keel_off, keel_len, seed):
        raise TestFailure("bytes keel wrote are not on the image after poweroff")
    os.unlink(img)


def main():
    tests = [
        ("virtio-blk on i440fx, MSI-X: host bytes read, keel bytes on the image",
         lambda: run_machine("pc-msix", "pc", "", r"00:04\.0", "MSI-X")),
        ("virtio-blk on q35 (ECAM), MSI-X",
         lambda: run_machine("q35-msix", "q35", "", r"00:0[0-9a-f]\.0", "MSI-X")),
        ("virtio-blk on i440fx with pci_nomsi: INTx",
         lambda: run_machine("pc-intx", "pc", "pci_nomsi", r"00:04\.0", "INTx")),
    ]
    return 1 if run_tests(tests) else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""
keel drives the host's disks (issue 7): PCI enumeration, MSI-X / INTx
through Xen, DMA, the virtio-blk driver and the block layer.  Disk images
are made on the host; bytes written by the host are read back by keel
(CRC-32) and bytes keel writes are found on the image after keel powers off.
Three short boots: i440fx with MSI-X, q35 with MSI-X (ECAM), i440fx with
INTx (`pci_nomsi`).
"""
import json
import os
import re
import struct
import subprocess
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


def virtio_args(imgs, machine="pc"):
    args = "-machine %s" % machine
    for i, img in enumerate(imgs):
        args += (" -drive file=%s,if=none,id=vd%d,format=raw,cache=writeback"
                 " -device virtio-blk-pci,drive=vd%d" % (img, i, i))
    return args


def sh(*cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode:
        raise TestFailure("%s failed: %s" % (" ".join(cmd), r.stdout))
    return r.stdout


def host_partitions(img):
    """{number: (start_sector, sectors)} as sfdisk reads the image."""
    table = json.loads(sh("sfdisk", "-J", img))["partitiontable"]
    parts = {}
    for p in table["partitions"]:
        num = int(re.search(r"(\d+)$", p["node"]).group(1))
        parts[num] = (p["start"], p["size"])
    return table["label"], parts


def mbr_with_logicals(img):
    sh("parted", "-s", img, "mklabel", "msdos", "mkpart", "primary", "ext4", "1MiB", "9MiB",
       "mkpart", "extended", "9MiB", "60MiB", "mkpart", "logical", "10MiB", "20MiB",
       "mkpart", "logical", "21MiB", "30MiB", "mkpart", "logical", "31MiB", "59MiB")


def gpt_three(img):
    sh("sgdisk", "-n", "1:2048:+8M", "-c", "1:boot", "-n", "2:0:+20M", "-c", "2:guest-root",
       "-n", "3:0:0", "-c", "3:rest", img)


def gpt_corrupt(img):
    """A GPT whose primary and backup headers both fail their CRC."""
    gpt_three(img)
    size = os.path.getsize(img)
    for lba in (1, size // 512 - 1):
        with open(img, "r+b") as f:
            f.seek(lba * 512 + 16)          # HeaderCRC32
            crc = f.read(4)
            f.seek(lba * 512 + 16)
            f.write(bytes(b ^ 0xff for b in crc))


def mbr_loop(img):
    """An extended partition whose first EBR links back to itself."""
    sh("parted", "-s", img, "mklabel", "msdos", "mkpart", "extended", "1MiB", "40MiB",
       "mkpart", "logical", "2MiB", "10MiB", "mkpart", "logical", "11MiB", "20MiB")
    with open(img, "r+b") as f:
        f.seek(446)
        ext_start = struct.unpack("<I", f.read(16)[8:12])[0]
        # The EBR's second entry (the link) points at the extended start itself.
        f.seek(ext_start * 512 + 446 + 16 + 8)
        f.write(struct.pack("<I", 0))


def check_partitions(m, disk, img):
    label, parts = host_partitions(img)
    out = m.command("lsblk -b")
    for num, (start, size) in parts.items():
        want = 1024 if (label == "dos" and num <= 4 and is_extended(img, num)) else size * 512
        if not re.search(r"^\S*%s%d\s+\d+:\d+\s+0\s+%d\s+0 part" % (disk, num, want),
                         out, re.M):
            raise TestFailure("lsblk -b lacks %s%d of %d bytes (host: %s):\n%s" %
                              (disk, num, want, parts, out))
    keel_parts = re.findall(r"^\S*?(%s\d+)\s" % disk, out, re.M)
    if len(keel_parts) != len(parts):
        raise TestFailure("keel shows %s, the host %s" % (keel_parts, sorted(parts)))


def is_extended(img, num):
    with open(img, "rb") as f:
        f.seek(446 + 16 * (num - 1) + 4)
        return f.read(1)[0] in (0x05, 0x0f, 0x85)


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


def run_machine(name, machine, keel_args, bdf_re, mode, layout, extra=None):
    """Boots with vda laid out by `layout` (and extra disks vdb.. each as
    (setup, check)), checks lspci/lsblk/partitions and the bytes both ways."""
    img = os.path.join(SCRATCH, name + ".img")
    mib = 64
    make_image(img, mib)
    layout(img)
    extra = extra or []
    extra_imgs = []
    for i, (setup, _) in enumerate(extra):
        e = os.path.join(SCRATCH, "%s-%d.img" % (name, i))
        make_image(e, 64)
        setup(e)
        extra_imgs.append(e)
    # Bytes the host put there before boot, at an odd 512-byte offset
    # spanning several pages (inside a partition: raw access does not care).
    host_off, host_len = 3 * 512 + (12 << 20), 3 * 4096 + 1024
    data = os.urandom(host_len)
    put_host_bytes(img, host_off, data)
    keel_off, keel_len, seed = 40 << 20, 200 * 1024, 0x5eed0000 + len(name)

    with Machine("disks-" + name, keel_args=keel_args, timeout=180,
                 env={"QEMU_ARGS": virtio_args([img] + extra_imgs, machine)}) as m:
        m.boot()
        check_lspci(m, bdf_re, mode)
        check_lsblk(m, mib)
        check_partitions(m, "vda", img)
        for i, (_, check) in enumerate(extra):
            check(m, "vd" + chr(ord("b") + i), extra_imgs[i])
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
        start = len(m.buf)
        m.send("poweroff\r")
        m.wait_exit(60)
        if not re.search(r"virtio-blk: vda: cache flushed \(0\), device stopped",
                         m.output_since(start)):
            raise TestFailure("poweroff did not flush vda and stop it")
    got = host_bytes(img, keel_off, keel_len)
    if got != pattern(keel_off, keel_len, seed):
        raise TestFailure("bytes keel wrote are not on the image after poweroff")
    for f in [img] + extra_imgs:
        os.unlink(f)


def refused_gpt(m, disk, img):
    if not re.search(r"blk: %s: partition table refused: .*CRC" % disk, m.buf):
        raise TestFailure("no refusal naming %s and the bad CRC" % disk)
    if re.search(r"^\S*%s\d" % disk, m.command("lsblk"), re.M):
        raise TestFailure("partitions of a refused GPT are offered")


def looped_mbr(m, disk, img):
    if not re.search(r"blk: %s: .*(loop|again|twice)" % disk, m.buf, re.I):
        raise TestFailure("no warning about the extended-partition loop on " + disk)
    out = m.command("lsblk")
    if not re.search(r"%s5\s" % disk, out):
        raise TestFailure("the logical partition before the loop is not offered:\n" + out)


def big_discard():
    """A discard longer than the virtio disk takes in one command (QEMU's
    max-discard-sectors: 2 GiB) is cut by keel into runs: the whole range
    is punched out of the image, bytes past the first run included."""
    img = os.path.join(SCRATCH, "discard.img")
    make_image(img, 5 << 10)
    marks = [(1 << 20) + 4096, (3 << 30) + 8192, (5 << 30) - (1 << 20)]
    for off in marks:
        put_host_bytes(img, off, os.urandom(65536))
    # A second disk that takes only 4 KiB per discard command.
    tiny = os.path.join(SCRATCH, "discard-tiny.img")
    make_image(tiny, 1 << 10)
    tiny_marks = [4096 * 5, (32 << 20) + 4096 * 3, (64 << 20) - 4096]
    for off in tiny_marks:
        put_host_bytes(tiny, off, os.urandom(4096))
    after = os.urandom(4096)
    put_host_bytes(tiny, 64 << 20, after)
    args = ("-drive file=%s,if=none,id=vd0,format=raw,cache=writeback,discard=unmap "
            "-device virtio-blk-pci,drive=vd0 "
            "-drive file=%s,if=none,id=vd1,format=raw,cache=writeback,discard=unmap "
            "-device virtio-blk-pci,drive=vd1,max-discard-sectors=8,discard_granularity=4096"
            % (img, tiny))
    with Machine("disks-discard", timeout=240, env={"QEMU_ARGS": args}) as m:
        m.boot()
        out = m.command("blk-discard vda 0 %d" % (5 << 30), timeout=120)
        if "discarded" not in out:
            raise TestFailure("blk-discard of 5 GiB: " + out)
        if "past the end" not in m.command("blk-discard vda 0 %d" % ((5 << 30) + 512)):
            raise TestFailure("a discard past the end was not refused")
        # 64 MiB in 4 KiB commands: 16384 of them, all done.
        out = m.command("blk-discard vdb 0 %d" % (64 << 20), timeout=120)
        if "discarded" not in out:
            raise TestFailure("blk-discard of 64 MiB in 4 KiB commands: " + out)
        # The whole 1 GiB would take 262144 commands: refused with a reason.
        out = m.command("blk-discard vdb 0 %d" % (1 << 30), timeout=60)
        if "error -7" not in out:
            raise TestFailure("a discard needing 262144 commands was not refused: " + out)
        if not re.search(r"blk: vdb: a discard of 2097152 sectors needs 262144 commands of at "
                         r"most 8; refused \(at most 65536\)", m.buf):
            raise TestFailure("no log line names the disk and the reason: " + out)
        out = m.command("blk-read vdb %d 4096" % (64 << 20))
        if "crc32 %08x" % zlib.crc32(after) not in out:
            raise TestFailure("the 4 KiB after the discarded 64 MiB (crc32 %08x), read after "
                              "the refused discard: %s" % (zlib.crc32(after), out))
        m.send("poweroff\r")
        m.wait_exit(60)
    for off in marks:
        if host_bytes(img, off, 65536) != bytes(65536):
            raise TestFailure("bytes at %d survived the discard" % off)
    for off in tiny_marks:
        if host_bytes(tiny, off, 4096) != bytes(4096):
            raise TestFailure("bytes at %d of the 4 KiB-discard disk survived" % off)
    if host_bytes(tiny, 64 << 20, 4096) != after:
        raise TestFailure("the 4 KiB past the 64 MiB discarded changed")
    used = os.stat(img).st_blocks * 512
    os.unlink(img)
    os.unlink(tiny)
    if used > (1 << 20):
        raise TestFailure("the image still holds %d bytes after the discard" % used)


def main():
    tests = [
        ("virtio-blk on i440fx, MSI-X, MBR with logical partitions as sfdisk sees them; "
         "host bytes read, keel bytes on the image",
         lambda: run_machine("pc-msix", "pc", "", r"00:03\.0", "MSI-X", mbr_with_logicals)),
        ("virtio-blk on q35 (ECAM), MSI-X, GPT; a GPT with both headers corrupt is refused",
         lambda: run_machine("q35-msix", "q35", "", r"00:0[0-9a-f]\.0", "MSI-X", gpt_three,
                             [(gpt_corrupt, refused_gpt)])),
        ("virtio-blk on i440fx with pci_nomsi: INTx; an MBR extended loop is cut",
         lambda: run_machine("pc-intx", "pc", "pci_nomsi", r"00:03\.0", "INTx",
                             mbr_with_logicals, [(mbr_loop, looped_mbr)])),
        ("a 5 GiB discard on a virtio disk taking 2 GiB per command: cut, all of it done; "
         "64 MiB on a disk taking 4 KiB per command done, 1 GiB there refused (262144 "
         "commands)",
         big_discard),
    ]
    return 1 if run_tests(tests) else 0


if __name__ == "__main__":
    sys.exit(main())

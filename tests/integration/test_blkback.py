#!/usr/bin/env python3
"""
keel serves virtual disks (issues 7 and 8): an NVMe disk image made on the
host with sgdisk (GPT) and Linux's lvm2 (through a loop device this test
creates and detaches) holds a partition and a volume group; keel reads the partitions
and LVs as the host tools do, changes the VG with lvcreate/lvextend/lvremove
(the host's lvm2 then reads the result), and serves an LV and a partition to
a Debian guest through blkback: the guest reads what the host wrote and its
writes are on the image after keel powers off.  The guest cannot change its
read-only partition (the host finds the partition's bytes unchanged), sees a
devtype=cdrom disk as a CD-ROM, writes its LV while a second guest writes
another LV of the same disk (each reads back and the host finds only its own
pattern), and sees a hot-plugged disk come, go and come back.
"""
import hashlib
import os
import re
import sys
import time

import hostdisk
from hostdisk import lvm, part_loop, partition, sh
from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
SCRATCH = os.path.join(ROOT, "build", "test-blkback")
IMG = os.path.join(SCRATCH, "disk.img")
HOST_DATA = b"HOST-WROTE-THIS!" * (256 * 1024 // 16)
GUEST_DATA = (b"KEEL-GUEST-WROTE-THIS\n" * 20000)[:262144]
# nvme0n1p1 (1 MiB..17 MiB of the image), served read-only (xvdb) and as a cdrom.
PART1_OFF, PART1_BYTES = 1 << 20, 16 << 20
PART1_DATA = b"".join(b"READ-ONLY-PART1 %07d\n" % i for i in range(PART1_BYTES // 24))
PART1_DATA += b"\n" * (PART1_BYTES - len(PART1_DATA))
# What blkpat.sh writes over 1 MiB at 8 MiB of each guest's xvda.
PAT_OFF = 8 << 20


def pattern(name):
    line = b"KEEL-PATTERN %s\n" % name.encode()
    return (line * ((1 << 20) // len(line) + 1))[:1 << 20]


def md5(data):
    return hashlib.md5(data).hexdigest()


def splitmix_pattern(seed, length):
    """What keel's blk-write DEV 0 LENGTH SEED writes: 64-bit word k is
    splitmix64(seed + k), little-endian."""
    out = bytearray()
    m = (1 << 64) - 1
    for k in range(length // 8):
        x = (seed + k + 0x9e3779b97f4a7c15) & m
        x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & m
        x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & m
        out += (x ^ (x >> 31)).to_bytes(8, "little")
    return bytes(out)


HOT_DATA = (b"KEEL-HOTPLUG-WROTE-THIS\n" * 11000)[:262144]


def pv_loop():
    """A loop device over partition 2, the PV."""
    return part_loop(IMG, 2)


def part1():
    return partition(IMG, 1)


def part2():
    return partition(IMG, 2)


NVME_ARGS = ("-drive file=%s,if=none,id=nv0,format=raw,cache=writeback "
             "-device nvme,serial=keelblk,drive=nv0" % IMG)


def lv_offset(dev, lv):
    """Byte offset of an LV's first extent in the image."""
    return lv_byte(dev, lv, 0)


def lv_byte(dev, lv, off):
    """Image offset of byte off of vg0/lv."""
    return hostdisk.lv_byte(dev, part2()[0], "vg0", lv, off)


def make_disk():
    os.makedirs(SCRATCH, exist_ok=True)
    with open(IMG, "wb") as f:
        f.truncate(128 << 20)
    sh("sgdisk", "-n", "1:1MiB:+16MiB", "-c", "1:spare-part", "-n", "2:0:+110MiB",
       "-t", "2:8e00", "-c", "2:lvm", IMG)
    with pv_loop() as dev:
        lvm("pvcreate", "-q", dev)
        lvm("vgcreate", "-q", "vg0", dev)
        lvm("lvcreate", "-q", "-an", "-Zn", "-L", "24M", "-n", "guest", "vg0")
        lvm("lvcreate", "-q", "-an", "-Zn", "-L", "8M", "-n", "spare", "vg0")
        off = lv_offset(dev, "guest") + (1 << 20)
        lvs = lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size",
                  "vg0")
    with open(IMG, "r+b") as f:
        f.seek(off)
        f.write(HOST_DATA)
        f.seek(PART1_OFF)
        f.write(PART1_DATA)
    if part1() != (PART1_OFF, PART1_BYTES):
        raise TestFailure("partition 1 is at %s, not where PART1_DATA went" % (part1(),))
    return {n: int(s) for n, s in re.findall(r"(\S+)\s+(\d+)", lvs)}


def poll_counts(m):
    """blkback-stats' poll counters (answered, not answered, slept) and requests."""
    out = m.command("blkback-stats")
    p = re.search(r"^polls\s*: (\d+) answered in the window, (\d+) not, (\d+) passes slept", out,
                  re.M)
    r = re.search(r"^requests\s*:\s*(\d+)", out, re.M)
    if not p or not r:
        raise TestFailure("blkback-stats has no polls or requests line:\n" + out)
    return tuple(int(x) for x in p.groups()), int(r.group(1)), out


def free_pages(m):
    return int(re.search(r"^xen_free_pages\s*:\s*(\d+)", m.command("info"), re.M).group(1))


def guest_results(m, name, marker="KEEL-TEST-DONE", secs=150):
    out = m.command("console-wait %s %s %d" % (name, marker, secs), timeout=secs + 50)
    log = m.command("console-log %s" % name)
    if "found" not in out:
        raise TestFailure("guest %s never printed %s:\n%s" % (name, marker, log[-2000:]))
    return {c: (s == "ok", d.strip()) for c, s, d in
            re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)}, log


def want_results(res, log, checks):
    """checks: name -> None (ok is enough) or regexes its detail must match."""
    for name, detail in checks.items():
        ok, got = res.get(name, (False, "missing"))
        if not ok or any(not re.search(d, got) for d in (detail or [])):
            raise TestFailure("guest %s: %s (want ok, %s)\n%s" % (name, got, detail, log[-1500:]))


# What a Linux 6.1 guest shows for a cdrom on an LV or partition as Linux
# blkback serves it: info = VDISK_CDROM|VDISK_READONLY, so read-only and
# CDROM_GET_CAPABILITY answers (udev's cdrom_id asks that first); not
# removable (blkfront sets that only from VDISK_REMOVABLE, which blkback
# sets only for removable media underneath; it never reads `removable`).
CDROM_SEEN = [r"\bremovable=0\b", r"\bro=1\b", r"\bcapability=cdrom\b", r"\bwrite=refused\b",
              r"\bsectors=%d\b" % (PART1_BYTES // 512), r"\bmd5=%s\b" % md5(PART1_DATA[:65536])]


def cdrom_nodes(m, name, devid):
    """keel's nodes for a cdrom vbd against what libxl and Linux blkback write."""
    domid = m.command("domid %s" % name).strip().splitlines()[-1].strip()
    be = "/local/domain/0/backend/vbd/%s/%d" % (domid, devid)
    want = {be + "/device-type": "cdrom", be + "/removable": "1", be + "/mode": "r",
            be + "/info": "5",
            "/local/domain/%s/device/vbd/%d/device-type" % (domid, devid): "cdrom",
            "/libxl/%s/device/vbd/%d/device-type" % (domid, devid): "cdrom",
            "/libxl/%s/device/vbd/%d/removable" % (domid, devid): "1"}
    for path, val in want.items():
        got = m.command("xenstore-read " + path).strip()
        if got != val:
            raise TestFailure("%s = %r, want %r (as libxl and Linux blkback)" % (path, got, val))


def main():
    state = {}
    host_lvs = {}

    def boot():
        host_lvs.update(make_disk())
        m = Machine("blkback", timeout=900, env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": NVME_ARGS})
        state["m"] = m
        m.boot()

    def volumes_as_host_sees_them():
        m = state["m"]
        out = m.command("lsblk -b")
        for lv, size in host_lvs.items():
            if not re.search(r"vg0-%s\s+253:\d+\s+0\s+%d\s+0 lvm" % (lv, size), out):
                raise TestFailure("lsblk -b lacks vg0-%s of %d bytes:\n%s" % (lv, size, out))
        if not re.search(r"nvme0n1p2\s+259:\d+ .* part LVM2 PV of vg0", out):
            raise TestFailure("nvme0n1p2 not shown as vg0's PV:\n" + out)
        if not re.search(r"^\s+/dev/nvme0n1p2\s+vg0\s+lvm2", m.command("pvs"), re.M):
            raise TestFailure("pvs does not list /dev/nvme0n1p2 in vg0")
        if not re.search(r"^\s+vg0\s+1\s+2\s+0\s+wz--n-", m.command("vgs"), re.M):
            raise TestFailure("vgs does not show vg0 with 1 PV and 2 LVs")

    def lv_commands_and_errors():
        m = state["m"]
        for cmd, want in (("lvcreate -L 8M -n guest vg0", 'already exists in volume group "vg0"'),
                          ("lvcreate -L 900M -n huge vg0", "insufficient free space"),
                          ("lvcreate -L 12x -n bad vg0", "Invalid argument for --size"),
                          ("lvcreate -L 8M -n x nosuchvg", "not found"),
                          ("lvremove vg0/nosuch", "")):
            out = m.command(cmd)
            if want and want not in out:
                raise TestFailure("%s: expected '%s', got: %s" % (cmd, want, out))
        out = m.command("lvcreate -L 12M -n made-by-keel vg0")
        if 'Logical volume "made-by-keel" created' not in out:
            raise TestFailure(out)
        if "successfully resized" not in m.command("lvextend -L 16M vg0/spare"):
            raise TestFailure("lvextend failed")
        out = m.command("lsblk -b")
        if not re.search(r"vg0-made--by--keel\s+253:\d+\s+0\s+%d " % (12 << 20), out):
            raise TestFailure("the new LV is not a block device:\n" + out)
        out = m.command("blk-write /dev/vg0/made-by-keel 0 65536 77")
        if "flushed" not in out:
            raise TestFailure(out)

    def guest_uses_lv_and_partition():
        m = state["m"]
        out = m.command("create kt-blk.cfg", timeout=180)
        if "started" not in m.command("list") and "kt-blk" not in m.command("list"):
            raise TestFailure("kt-blk not created: " + out)
        if not re.search(r"kt-blk\.cfg:\d+: disk '/dev/nvme0n1p1' \(xvdb\): "
                         r"script=/etc/xen/scripts/block ignored", out):
            raise TestFailure("create did not say script= is ignored:\n" + out)
        res, log = guest_results(m, "kt-blk")
        want_results(res, log, {
            "blk-present": None,
            "blk-size": ["sectors=%d ro=0" % (24 << 11)],
            "blk-read": ["md5=" + md5(HOST_DATA[:65536 * 4])],
            "blk-write": None,
            "blk-readback": ["md5=" + md5(GUEST_DATA)],
            "blk-second": ["sectors=%d ro=1" % (16 << 11)],
            "blk-ro-refused": None,
            "blk-ro-direct": None,
            "blk-cdrom": CDROM_SEEN,
            "blk-disk-cap": ["capability=EINVAL"],
        })
        cdrom_nodes(m, "kt-blk", 51760)
        # kt-blk has two vCPUs: blkfront asks for two queues (multi-queue).
        if not re.search(r"blkback: vbd \d+/51712 \(xvda\) connected: vg0/guest, 2 queues, "
                         r"\d+-page ring, persistent grants", m.buf):
            raise TestFailure("xvda did not connect with two queues and persistent grants")
        st = re.search(r"persistent\s*: (\d+) grant uses without a map, (\d+) grants mapped",
                       m.command("blkback-stats"))
        if not st or int(st.group(1)) == 0 or int(st.group(2)) == 0:
            raise TestFailure("persistent grants were never reused")
        out = m.command("block-list kt-blk")
        # Two queues: the rings are under queue-N/, so xl (and keel) show -1.
        if not re.search(r"^51712\s+0\s+\d+\s+4\s+-?\d+\s+-?\d+\s+/local/domain/0/backend/vbd/\d+/51712",
                         out, re.M):
            raise TestFailure("block-list does not show xvda connected:\n" + out)

    def two_guests_two_lvs():
        m = state["m"]
        out = m.command("lvcreate -L 16M -n guest2 vg0")
        if 'Logical volume "guest2" created' not in out:
            raise TestFailure(out)
        out = m.command("create kt-blk2.cfg", timeout=180)
        if "kt-blk2" not in m.command("list"):
            raise TestFailure("kt-blk2 not created: " + out)
        # kt-blk has been writing since its KEEL-TEST-DONE; once kt-blk2
        # writes too, let both go on a while, then stop both.
        for name in ("kt-blk2", "kt-blk"):
            w = m.command("console-wait %s KEEL-BLKPAT-WRITING 150" % name, timeout=200)
            if "found" not in w:
                raise TestFailure("%s is not writing its pattern:\n%s" %
                                  (name, m.command("console-log %s 2000" % name)))
        time.sleep(5)
        for name in ("kt-blk", "kt-blk2"):
            domid = m.command("domid %s" % name).strip().splitlines()[-1].strip()
            m.command("xenstore-write /local/domain/%s/data/blkpat-stop 1" % domid)
        for name in ("kt-blk", "kt-blk2"):
            res, log = guest_results(m, name, "KEEL-BLKPAT-DONE", 60)
            # Each wrote from before the other began until the stop: at once.
            want_results(res, log, {"blkpat-" + name: [r"passes=([2-9]|\d\d+) stop=asked ",
                                                      "md5=" + md5(pattern(name))]})
        res, log = guest_results(m, "kt-blk2")
        want_results(res, log, {"blk2-present": ["sectors=%d" % (16 << 11)],
                                "blk2-cdrom": CDROM_SEEN})
        cdrom_nodes(m, "kt-blk2", 51760)
        m.command("destroy kt-blk2", timeout=60)

    def polling_counted_and_turned_off():
        m = state["m"]
        polls, _, out = poll_counts(m)
        # The guests' 4 KiB reads and writes on an NVMe LV: the device
        # answers inside the window, so some polls got their completion.
        if polls[0] == 0:
            raise TestFailure("no poll answered in the window after the guests' I/O:\n" + out)
        out = m.command("blkback-poll 5000")
        if "not a number of microseconds (0-1000)" not in out:
            raise TestFailure("blkback-poll 5000 accepted:\n" + out)
        if not re.search(r"blkback-poll: 150 us", m.command("blkback-poll")):
            raise TestFailure("the refused value changed the window")
        if not re.search(r"blkback-poll: 0 us", m.command("blkback-poll 0")):
            raise TestFailure("blkback-poll 0 not taken")
        # Checked after the hot-plug's I/O (the next check): no poll then.
        state["polls_off"] = poll_counts(m)[:2]

    def hotplug_seen_by_guest():
        m = state["m"]
        # Hot-plug: a third disk comes, the guest's blkfront connects it.
        out = m.command("block-attach kt-blk format=raw,vdev=xvdc,access=w,target=/dev/vg0/made-by-keel")
        if "block-attach:" in out:
            raise TestFailure(out)
        # keel logs the connection (wait for it: the log line would otherwise
        # interleave with the next command's echo).
        m.expect(r"blkback: vbd \d+/51744 \(xvdc\) connected: vg0/made-by-keel", 60)
        if not re.search(r"^51744\s+0\s+\d+\s+4\s", m.command("block-list kt-blk"), re.M):
            raise TestFailure("xvdc not connected:\n" + m.command("block-list kt-blk"))
        # The same LV writable to a second domain is refused, as xl refuses it.
        out = m.command("block-attach 0 format=raw,vdev=xvdd,access=w,target=/dev/vg0/made-by-keel")
        if "attached writable to another domain" not in out:
            raise TestFailure("a second writable attach was not refused: " + out)
        out = m.command("lsblk")
        if "vbd" not in out:
            raise TestFailure("lsblk does not show the LV in use:\n" + out)
        if "in use" not in m.command("lvremove vg0/guest"):
            raise TestFailure("an LV served to a guest could be removed")
        # The guest finds xvdc, and on it what keel's blk-write put there;
        # it writes and reads back.
        res, log = guest_results(m, "kt-blk", "KEEL-HOT-WRITTEN", 120)
        want_results(res, log, {
            "hot-attached": ["sectors=%d " % (12 << 11), "ro=0",
                             "head-md5=" + md5(splitmix_pattern(77, 65536))],
            "hot-rw": ["md5=" + md5(HOT_DATA)]})
        # Detached: it goes away in the guest.
        out = m.command("block-detach kt-blk xvdc", timeout=60)
        if "block-detach:" in out:
            raise TestFailure(out)
        if re.search(r"^51744\s", m.command("block-list kt-blk"), re.M):
            raise TestFailure("xvdc still listed after block-detach")
        res, log = guest_results(m, "kt-blk", "KEEL-HOT-GONE", 120)
        want_results(res, log, {"hot-gone": None})
        # Attached again: back, with what the guest wrote before.
        out = m.command("block-attach kt-blk format=raw,vdev=xvdc,access=w,target=/dev/vg0/made-by-keel")
        if "block-attach:" in out:
            raise TestFailure(out)
        m.expect(r"blkback: vbd \d+/51744 \(xvdc\) connected: vg0/made-by-keel", 60)
        res, log = guest_results(m, "kt-blk", "KEEL-HOT-DONE", 120)
        want_results(res, log, {"hot-again": ["sectors=%d " % (12 << 11), "md5=" + md5(HOT_DATA)]})
        if "polls_off" in state:
            polls, reqs, out = poll_counts(m)
            polls0, reqs0 = state.pop("polls_off")
            if reqs <= reqs0 or polls != polls0:
                raise TestFailure("with blkback-poll 0 the hot-plugged disk's I/O (%d requests) "
                                  "still polled (%s before, %s after):\n%s" %
                                  (reqs - reqs0, polls0, polls, out))
            m.command("blkback-poll 150")

    def detach_and_destroy_leave_nothing():
        m = state["m"]
        out = m.command("block-detach kt-blk xvdb", timeout=60)
        if "block-detach:" in out:
            raise TestFailure(out)
        if re.search(r"^51728\s", m.command("block-list kt-blk"), re.M):
            raise TestFailure("xvdb still listed after block-detach")
        m.command("destroy kt-blk", timeout=60)
        out = m.command("blkback-stats")
        if not re.search(r"vbds\s*:\s*0", out):
            raise TestFailure("vbds left after destroy:\n" + out)
        mem = m.command("mem")
        g = re.search(r"grants mapped\s*:\s*(\d+) now \((\d+) maps", mem)
        if not g or int(g.group(1)) != 0 or int(g.group(2)) == 0:
            raise TestFailure("grants still mapped after destroy (or none ever):\n" + mem)
        # Destroyed in the middle of I/O: the device finishes with every
        # page before its grant goes, and nothing stays behind.  (The first
        # guest's cycle grew dom0's grant maptrack once: compare with after.)
        free_before = free_pages(m)
        out = m.command("create kt-blkloop.cfg", timeout=180)
        w = m.command("console-wait kt-blkloop KEEL-BLKLOOP-START 120", timeout=150)
        if "found" not in w:
            raise TestFailure("the I/O guest did not start:\n" + out + w)
        time.sleep(3)
        before = m.command("blkback-stats")
        m.command("destroy kt-blkloop", timeout=60)
        out = m.command("blkback-stats")
        reqs = [int(x) for x in re.findall(r"^requests\s*:\s*(\d+)", before + out, re.M)]
        if len(reqs) != 2 or reqs[1] <= reqs[0]:
            raise TestFailure("the guest was not doing I/O when destroyed:\n%s%s" % (before, out))
        if not re.search(r"vbds\s*:\s*0", out):
            raise TestFailure("vbds left after a destroy mid-I/O:\n" + out)
        mem = m.command("mem")
        g = re.search(r"grants mapped\s*:\s*(\d+) now", mem)
        if not g or int(g.group(1)) != 0:
            raise TestFailure("grants still mapped after a destroy mid-I/O:\n" + mem)
        for _ in range(20):
            free_after = free_pages(m)
            if free_after == free_before:
                break
            time.sleep(0.5)
        if free_after != free_before:
            raise TestFailure("Xen free pages %d before the I/O guest, %d after it is gone" %
                              (free_before, free_after))
        if "Logical volume \"spare\" successfully removed" not in m.command("lvremove vg0/spare"):
            raise TestFailure("lvremove of a free LV failed")

    def bad_specs_refused():
        m = state["m"]
        out = m.command("create kt-blk-bad.cfg", timeout=120)
        if not re.search(r"kt-blk-bad\.cfg:8: .*(raw|format)", out):
            raise TestFailure("no error naming the file and line for a qcow2 disk:\n" + out)
        if "kt-blk-bad" in m.command("list"):
            raise TestFailure("a domain with a refused disk was created")

    def host_reads_keels_work():
        m = state["m"]
        m.send("poweroff\r")
        m.wait_exit(120)
        with pv_loop() as dev:
            out = lvm("vgck", "vg0")
            if out.strip():
                raise TestFailure("vgck complains: " + out)
            lvs = lvm("lvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "lv_name,lv_size",
                      "vg0")
            got = {n: int(s) for n, s in re.findall(r"(\S+)\s+(\d+)", lvs)}
            want = {"guest": 24 << 20, "made-by-keel": 12 << 20, "guest2": 16 << 20}
            if got != want:
                raise TestFailure("host lvs: %s, want %s" % (got, want))
            guest_off = lv_offset(dev, "guest") + 2 * (1 << 20)
            # The 1 MiB regions do not cross an extent (4 MiB): one offset each.
            at = {"kt-blk": lv_byte(dev, "guest", PAT_OFF),
                  "kt-blk2": lv_byte(dev, "guest2", PAT_OFF),
                  "made-by-keel": lv_byte(dev, "made-by-keel", 1 << 20)}
        with open(IMG, "rb") as f:
            f.seek(guest_off)
            if f.read(len(GUEST_DATA)) != GUEST_DATA:
                raise TestFailure("the guest's write is not on the image")
            f.seek(PART1_OFF)
            got = f.read(PART1_BYTES)
            if got != PART1_DATA:
                at = next(i for i in range(PART1_BYTES) if got[i] != PART1_DATA[i])
                raise TestFailure("the read-only partition changed: md5 %s, was %s; first "
                                  "difference at byte %d: %r" % (md5(got), md5(PART1_DATA), at,
                                                                 got[at:at + 32]))
            for name in ("kt-blk", "kt-blk2"):
                f.seek(at[name])
                got = f.read(1 << 20)
                if got != pattern(name):
                    raise TestFailure("%s's LV at +8 MiB holds md5 %s (%r...), not its pattern %s"
                                      % (name, md5(got), got[:40], md5(pattern(name))))
            f.seek(at["made-by-keel"])
            got = f.read(len(HOT_DATA))
            if got != HOT_DATA:
                raise TestFailure("xvdc's write is not on made-by-keel: %r..." % got[:40])

    def host_lv_seen_next_boot():
        with pv_loop():
            lvm("lvcreate", "-q", "-an", "-Zn", "-L", "4M", "-n", "hostmade", "vg0")
        with Machine("blkback-2", timeout=300, env={"QEMU_ARGS": NVME_ARGS}) as m:
            m.boot()
            out = m.command("lvs --units s")
            for lv, sectors in (("guest", 24 << 11), ("made-by-keel", 12 << 11),
                                ("hostmade", 4 << 11)):
                if not re.search(r"^\s+%s\s+vg0\s+-wi-a-----\s+%ds" % (lv, sectors), out, re.M):
                    raise TestFailure("lvs on the next boot lacks %s:\n%s" % (lv, out))

    checks = [
        ("boot with a host-made NVMe disk: GPT, LVM2 VG with two LVs", boot),
        ("lsblk/pvs/vgs show the volumes and sizes the host's lvm2 made", volumes_as_host_sees_them),
        ("lvcreate/lvextend from keel; taken name, no space, bad size refused as lvm2 does",
         lv_commands_and_errors),
        ("blkback: a Debian guest reads host bytes from an LV, writes, sees a read-only partition "
         "it cannot write and a devtype=cdrom disk as a CD-ROM", guest_uses_lv_and_partition),
        ("two guests write two LVs of one disk at once: each reads back only its own pattern",
         two_guests_two_lvs),
        ("blkback polls the NVMe disk for the guests' requests; blkback-poll refuses a bad "
         "window and 0 turns polling off (checked over the next check's I/O)",
         polling_counted_and_turned_off),
        ("block-attach hot-plugs a disk the guest uses, a second writable user is refused; "
         "block-detach removes it in the guest; attached again it is back with its data",
         hotplug_seen_by_guest),
        ("block-detach, destroy, and destroy in the middle of I/O leave no vbd, no grant "
         "mapped, no page lost", detach_and_destroy_leave_nothing),
        ("a qcow2 disk spec is refused naming the file and line", bad_specs_refused),
        ("after poweroff the host's vgck/lvs read keel's changes and the guests' bytes; the "
         "read-only partition is unchanged", host_reads_keels_work),
        ("an LV the host's lvm2 made meanwhile is seen by keel on the next boot",
         host_lv_seen_next_boot),
    ]
    failed = run_shared_checks(checks, state)
    if not failed and os.path.exists(IMG):
        os.unlink(IMG)
    return 1 if failed else 0


if __name__ == "__main__":
    # This file runs first in the suite: it builds the archive it boots with
    # (a fresh checkout has none).
    make_test_archive(ARCHIVE)
    sys.exit(main())

#!/usr/bin/env python3
"""
A filesystem through keel's blkback (issue 8), one keel boot: Debian guests
run mkfs.ext4 on their xvda, write a tree of random files (printing each
file's md5), delete a big file and fstrim; a second boot of a guest on the
same disk checks every file; after keel powers off, the host's e2fsck -fn
finds each filesystem clean and debugfs reads the guest's bytes back.  Two
disks at once: an LV of a volume group on an NVMe disk (GPT and lvm2 made on
the host through a loop device this test creates and detaches) and a whole
virtio-blk disk.  Also checked: keel's discard counters (blkback's and the
disk's) grow by what fstrim trimmed, and what blkfront made of keel's offer
as the guest's sysfs shows it: queues, segments per request, discard limits,
persistent grants.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

from hostdisk import loop, lv_byte, lvm, part_loop, partition, sh
from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
SCRATCH = os.path.join(ROOT, "build", "test-blk-fs")
NV_IMG = os.path.join(SCRATCH, "nvme.img")
VD_IMG = os.path.join(SCRATCH, "virtio.img")
VG = "vgfs"          # not vg0: never confused with another test's images
LV_BYTES = 64 << 20
VD_BYTES = 64 << 20
TRIMMED_FILE = 12 << 20  # the guest writes and deletes this much before fstrim
# The virtio disk reports a 64 KiB discard granularity (QEMU's
# discard_granularity, in virtio's discard_sector_alignment), the NVMe one
# its 512-byte LBA: each guest must see its own disk's.
QEMU_ARGS = ("-drive file=%s,if=none,id=nv0,format=raw,cache=writeback,discard=unmap "
             "-device nvme,serial=keelfs,drive=nv0 "
             "-drive file=%s,if=none,id=vd0,format=raw,cache=writeback,discard=unmap "
             "-device virtio-blk-pci,drive=vd0,discard_granularity=65536" % (NV_IMG, VD_IMG))
# Linux 6.1 blkfront (xen-blkfront.c): max_indirect_segments module
# parameter, default 32; BLKIF_MAX_SEGMENTS_PER_REQUEST without indirect.
BLKFRONT_MAX_INDIRECT = 32
BLKIF_MAX_SEGMENTS = 11

# The two disks: guest names (write boot, check boot), keel's disk, vbd target.
DISKS = {
    "nvme": {"w": "kt-fsnv", "r": "kt-fsnv2", "disk": "nvme0n1", "target": VG + "/fs"},
    "virtio": {"w": "kt-fsvd", "r": "kt-fsvd2", "disk": "vda", "target": "vda"},
}


def lv_offset(dev, lv):
    """Byte offset of an LV in the image (dev: the PV's loop device)."""
    return lv_byte(dev, partition(NV_IMG, 1)[0], VG, lv, 0, only=True)


def make_disks():
    shutil.rmtree(SCRATCH, ignore_errors=True)
    os.makedirs(SCRATCH)
    with open(NV_IMG, "wb") as f:
        f.truncate(128 << 20)
    with open(VD_IMG, "wb") as f:
        f.truncate(VD_BYTES)
    sh("sgdisk", "-n", "1:1MiB:+120MiB", "-t", "1:8e00", "-c", "1:lvm", NV_IMG)
    with part_loop(NV_IMG, 1) as dev:
        lvm("pvcreate", "-q", dev, dev=dev)
        lvm("vgcreate", "-q", VG, dev, dev=dev)
        # A first LV so that the filesystem's does not start at the PV's
        # first extent: keel must translate.
        lvm("lvcreate", "-q", "-an", "-Zn", "-L", "8M", "-n", "pad", VG, dev=dev)
        lvm("lvcreate", "-q", "-an", "-Zn", "-L", "%dM" % (LV_BYTES >> 20), "-n", "fs", VG,
            dev=dev)


def checks_of(log):
    """KEEL-TEST lines: [(name, ok, detail)] in order."""
    return [(n, s == "ok", d) for n, s, d in re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)]


def require_ok(log, names, guest):
    got = {}
    for n, ok, d in checks_of(log):
        if n in names:
            got[n] = (ok, d)
    for n in names:
        ok, d = got.get(n, (False, "missing"))
        if not ok:
            raise TestFailure("%s: %s: %s\n%s" % (guest, n, d, log[-2500:]))
    return {n: d for n, (ok, d) in got.items()}


def blk_counters(m):
    """blkback-stats: blkback's discards and each disk's discard figures."""
    out = m.command("blkback-stats")
    bb = re.search(r"^discards\s*: (\d+) done, (\d+) sectors", out, re.M)
    if not bb:
        raise TestFailure("blkback-stats shows no discards line:\n" + out)
    disks = {d: (int(n), int(done), int(s)) for d, n, done, s in re.findall(
        r"^disk (\S+)\s*: .*?(\d+) discards \((\d+) done, (\d+) sectors\)", out, re.M)}
    return (int(bb.group(1)), int(bb.group(2))), disks, out


def wait_console(m, guest, text, secs):
    out = m.command("console-wait %s %s %d" % (guest, text, secs), timeout=secs + 30)
    if "found" not in out:
        raise TestFailure("%s never printed %s:\n%s" % (guest, text,
                                                         m.command("console-log %s" % guest)[-3000:]))


def running(m, guest):
    return re.search(r"^%s\s" % re.escape(guest), m.command("list"), re.M) is not None


def power_off_guest(m, guest):
    out = m.command("shutdown -w %s" % guest, timeout=150)
    if re.search(r"Timed out|cannot", out) or running(m, guest):
        raise TestFailure("%s did not power off: %s" % (guest, out))


def main():
    state = {"files": {}, "logs": {}, "dom": {}}

    def written(d):
        """The first guest on disk d, if it wrote its tree."""
        if d["w"] not in state["dom"] or d["w"] not in state["logs"]:
            raise TestFailure("%s did not write its tree (see the check above)" % d["w"])
        return d["w"], state["dom"][d["w"]]

    def boot():
        make_disks()
        m = Machine("blk-fs", timeout=600, env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": QEMU_ARGS})
        state["m"] = m
        m.boot()
        out = m.command("lsblk -b")
        for want in (r"vgfs-fs\s+253:\d+\s+0\s+%d\s+0 lvm" % LV_BYTES,
                     r"^vda\s+254:0\s+0\s+%d\s+0 disk" % VD_BYTES):
            if not re.search(want, out, re.M):
                raise TestFailure("lsblk -b lacks /%s/:\n%s" % (want, out))

    def guests_write_trees():
        m = state["m"]
        for d in DISKS.values():
            out = m.command("create %s.cfg" % d["w"], timeout=180)
            dom = re.search(r"^\s*(\d+)\s*$", m.command("domid %s" % d["w"]), re.M)
            if not dom:
                raise TestFailure("%s not created: %s" % (d["w"], out))
            state["dom"][d["w"]] = int(dom.group(1))
        # Both guests stop before fstrim until the host says go.
        for d in DISKS.values():
            wait_console(m, d["w"], "KEEL-FS-TRIM-READY", 400)
        for name, d in DISKS.items():
            log = m.command("console-log %s" % d["w"])
            state["logs"][d["w"]] = log
            require_ok(log, ("fs-ext4", "fs-features", "fs-mkfs", "fs-mount", "fs-written"),
                       d["w"])
            files = {}
            for md5, size, path in re.findall(r"^KEEL-FS-FILE ([0-9a-f]{32}) (\d+) (\S+)$", log,
                                              re.M):
                files[path] = (md5, int(size))
            big = [p for p, (_, s) in files.items() if s > 1 << 20]
            if len(files) < 30 or len(big) < 3:
                raise TestFailure("%s wrote %d files, %d over 1 MiB:\n%s" %
                                  (d["w"], len(files), len(big), log[-2500:]))
            state["files"][name] = files

    def features_as_the_guest_sees_them():
        m = state["m"]
        for d in DISKS.values():
            guest, dom = written(d)
            be = "/local/domain/0/backend/vbd/%d/51712/" % dom
            fe = "/local/domain/%d/device/vbd/51712/" % dom

            def node(path):
                v = m.command("xenstore-read %s" % path).strip()
                if not re.fullmatch(r"\d+", v):
                    raise TestFailure("xenstore-read %s: %s" % (path, v))
                return int(v)
            feat = dict(re.findall(r"(\w+)=(\S*)",
                                   require_ok(state["logs"][guest], ("fs-features",),
                                              guest)["fs-features"]))
            seen = "%s sees %s" % (guest, feat)
            max_queues, nr_queues = node(be + "multi-queue-max-queues"), \
                node(fe + "multi-queue-num-queues")
            # vcpus = 2: blkfront asks min(vcpus, backend's maximum) queues.
            if nr_queues != min(2, max_queues) or feat.get("queues") != str(nr_queues):
                raise TestFailure("%s: hardware queues %s, frontend asked %d, keel offers %d" %
                                  (seen, feat.get("queues"), nr_queues, max_queues))
            indirect = node(be + "feature-max-indirect-segments")
            want = min(indirect, BLKFRONT_MAX_INDIRECT)
            if want <= BLKIF_MAX_SEGMENTS:
                want = BLKIF_MAX_SEGMENTS
            if feat.get("max_segments") != str(want):
                raise TestFailure("%s: max_segments %s, want %d (keel offers %d indirect "
                                  "segments, blkfront takes at most %d)" %
                                  (seen, feat.get("max_segments"), want, indirect,
                                   BLKFRONT_MAX_INDIRECT))
            gran = node(be + "discard-granularity")
            if node(be + "feature-discard") != 1 or feat.get("discard_granularity") != str(gran):
                raise TestFailure("%s: discard_granularity %s, keel's node %d" %
                                  (seen, feat.get("discard_granularity"), gran))
            if not 0 < int(feat.get("discard_max_bytes") or 0) <= node(be + "sectors") * 512:
                raise TestFailure("%s: discard_max_bytes %s" % (seen, feat.get("discard_max_bytes")))
            if node(be + "feature-persistent") != 1 or feat.get("persistent") != "1":
                raise TestFailure("%s: frontend feature-persistent %s, keel's %d" %
                                  (seen, feat.get("persistent"), node(be + "feature-persistent")))
            if not re.search(r"blkback: vbd %d/51712 \(xvda\) connected: %s, %d queues, .*"
                             r"persistent grants" % (dom, re.escape(d["target"]), nr_queues),
                             m.buf):
                raise TestFailure("keel did not log %s's xvda connected with %d queues and "
                                  "persistent grants" % (guest, nr_queues))
            print("  %s: %s queues (keel offers %d), max_segments %s (keel offers %d indirect), "
                  "discard_granularity %s (keel's node %d), discard_max_bytes %s, "
                  "feature-persistent front %s back 1" %
                  (guest, feat["queues"], max_queues, feat["max_segments"], indirect,
                   feat["discard_granularity"], gran, feat["discard_max_bytes"],
                   feat["persistent"]), flush=True)

    def each_disk(guest_key, fn):
        """Runs fn(name, d) for each disk, then powers that guest off
        whatever fn found, so that one disk's failure leaves the other's
        checks (and the next boots) their own verdict."""
        m = state["m"]
        errors = []
        for name, d in DISKS.items():
            try:
                fn(name, d)
            except TestFailure as e:
                errors.append(str(e))
            finally:
                if running(m, d[guest_key]):
                    try:
                        power_off_guest(m, d[guest_key])
                    except TestFailure as e:
                        errors.append(str(e))
        if errors:
            raise TestFailure("\n".join(errors))

    def fstrim_one(name, d):
        m = state["m"]
        guest, dom = written(d)
        (bb0, bbs0), disks0, out0 = blk_counters(m)
        if d["disk"] not in disks0:
            raise TestFailure("blkback-stats has no line for %s:\n%s" % (d["disk"], out0))
        m.command("xenstore-write /local/domain/%d/data/trim-go 1" % dom)
        wait_console(m, guest, "KEEL-TEST-DONE", 300)
        (bb1, bbs1), disks1, out1 = blk_counters(m)
        log = m.command("console-log %s" % guest)
        state["logs"][guest] = log
        det = require_ok(log, ("fs-fstrim", "fs-umount"), guest)
        t = re.search(r"(\d+) bytes", det["fs-fstrim"])
        trimmed = int(t.group(1)) if t else 0
        n0, done0, s0 = disks0[d["disk"]]
        n1, done1, s1 = disks1[d["disk"]]
        figures = ("%s: fstrim says %d bytes; blkback discards %d -> %d (%d -> %d sectors); "
                   "%s discards %d -> %d sent, %d -> %d done (%d -> %d sectors)" %
                   (guest, trimmed, bb0, bb1, bbs0, bbs1, d["disk"], n0, n1, done0, done1,
                    s0, s1))
        print("  " + figures, flush=True)
        if trimmed < TRIMMED_FILE:
            raise TestFailure("fstrim trimmed less than the deleted file: " + figures)
        if bb1 <= bb0 or done1 <= done0 or n1 - n0 != done1 - done0:
            raise TestFailure("discards did not go through: " + figures)
        # Nothing else discards meanwhile (the other guest waits): the
        # guest's trim, blkback's answers and the disk's completions are
        # the same sectors.
        if (bbs1 - bbs0) * 512 != trimmed or s1 - s0 != bbs1 - bbs0:
            raise TestFailure("discarded sectors differ: " + figures)

    def fstrim_discards_reach_the_disk():
        each_disk("w", fstrim_one)

    def second_boot_checks_every_file():
        m = state["m"]
        for d in DISKS.values():
            written(d)
            if running(m, d["w"]):
                raise TestFailure("%s still running" % d["w"])
        for d in DISKS.values():
            out = m.command("create %s.cfg" % d["r"], timeout=180)
            if not running(m, d["r"]):
                raise TestFailure("%s not created: %s" % (d["r"], out))
        each_disk("r", read_back_one)

    def read_back_one(name, d):
        m = state["m"]
        wait_console(m, d["r"], "KEEL-TEST-DONE", 300)
        log = m.command("console-log %s" % d["r"])
        seen = {}
        for n, ok, det in checks_of(log):
            if n == "fsr-file":
                parts = det.split()
                if not ok or len(parts) < 2:
                    raise TestFailure("%s: fsr-file fail %s" % (d["r"], det))
                seen[parts[1]] = parts[0]
        require_ok(log, ("fs-ext4", "fs-mount", "fsr-count"), d["r"])
        want = {p: md5 for p, (md5, _) in state["files"][name].items()}
        if seen != want:
            diff = sorted(set(seen.items()) ^ set(want.items()))
            raise TestFailure("%s read back differs from what %s wrote: %s" %
                              (d["r"], d["w"], diff[:10]))
        print("  %s: %d files read back, md5s as written" % (d["r"], len(seen)), flush=True)

    def host_reads_the_filesystems():
        m = state["m"]
        m.send("poweroff\r")
        m.wait_exit(120)
        with part_loop(NV_IMG, 1) as dev:
            off = lv_offset(dev, "fs")
        with loop(NV_IMG, off, LV_BYTES) as dev:
            host_check("nvme", dev)
        host_check("virtio", VD_IMG)

    def host_check(name, dev):
        r = subprocess.run(["e2fsck", "-fn", dev], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode:
            raise TestFailure("e2fsck -fn of the %s filesystem: exit %d\n%s" %
                              (name, r.returncode, r.stdout))
        files = state["files"][name]
        out = os.path.join(SCRATCH, "dump-" + name)
        os.makedirs(out, exist_ok=True)
        paths = sorted(files)
        cmds = os.path.join(SCRATCH, "debugfs-" + name)
        with open(cmds, "w") as f:
            for i, p in enumerate(paths):
                f.write("dump %s %s/%d\n" % (p[1:], out, i))
        sh("debugfs", "-f", cmds, dev)
        bad = []
        for i, p in enumerate(paths):
            try:
                with open(os.path.join(out, str(i)), "rb") as f:
                    data = f.read()
            except OSError as e:
                bad.append("%s: %s" % (p, e))
                continue
            md5, size = files[p]
            if hashlib.md5(data).hexdigest() != md5 or len(data) != size:
                bad.append("%s: %d bytes md5 %s, the guest wrote %d bytes md5 %s" %
                           (p, len(data), hashlib.md5(data).hexdigest(), size, md5))
        if bad:
            raise TestFailure("debugfs on the host reads the %s filesystem differently:\n%s" %
                              (name, "\n".join(bad[:10])))
        print("  %s: e2fsck -fn clean; debugfs dumps %d files byte-identical (%d over 1 MiB)" %
              (name, len(paths), sum(1 for _, s in files.values() if s > 1 << 20)), flush=True)

    checks = [
        ("boot with an NVMe disk (GPT, lvm2 VG, an LV at an offset) and a virtio-blk disk",
         boot),
        ("two Debian guests at once: mkfs.ext4 on xvda (an LV, a whole virtio disk) and a "
         "tree of random files", guests_write_trees),
        ("the guests' sysfs: queues, max_segments, discard limits, persistent grants as keel "
         "offered them", features_as_the_guest_sees_them),
        ("fstrim in each guest: blkback and the disk count the discards it sent",
         fstrim_discards_reach_the_disk),
        ("a second boot on each disk reads every file back with the md5 written",
         second_boot_checks_every_file),
        ("after keel's poweroff the host's e2fsck -fn is clean and debugfs reads the guests' "
         "bytes", host_reads_the_filesystems),
    ]
    t0 = time.monotonic()
    failed = run_shared_checks(checks, state)
    print("test_blk_fs: %.0f s" % (time.monotonic() - t0), flush=True)
    if not failed:
        shutil.rmtree(SCRATCH, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(main())

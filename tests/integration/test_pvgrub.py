#!/usr/bin/env python3
"""
A guest installed on its own disk boots as xl users boot one (issue 8):
the host makes an ext4 file system with `mkfs.ext4 -d` from a folder holding
/boot/vmlinuz, /boot/initrd.img (the Debian domU of scripts/mk-domu.sh) and
/boot/grub/grub.cfg, and writes it into an LV of an NVMe disk image (GPT +
lvm2 through a loop device this test creates and detaches).  keel boots
with that disk; a guest whose kernel is Debian's PV GRUB
(/usr/lib/grub-xen/grub-x86_64-xen.bin) reads grub.cfg from xvda through
keel's blkback and boots the Linux found there: its init marker, its
command line from grub.cfg, GRUB's blkfront closing and Linux's connecting
xvda again are checked.  The guest (a script added to the initrd on its
disk) then rewrites grub.cfg in place on xvda, as a kernel upgrade would;
a reboot builds a new domain whose GRUB must read the new grub.cfg, and the
host finds the bytes on its image.  `bootloader = "pygrub"` is refused,
naming the file, the line and PV GRUB.
"""
import os
import re
import shutil
import sys
import tempfile
import time

from hostdisk import lv_byte, lvm, part_loop, partition, sh
from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
SCRATCH = os.path.join(ROOT, "build", "test-pvgrub")
IMG = os.path.join(SCRATCH, "disk.img")
DOMU = os.path.join(ROOT, "build", "domu")
LV_MIB = 40
# On the guest's kernel command line, from grub.cfg only: seen in the
# kernel's own "Kernel command line:" the guest prints.
CMDLINE_MARK = "keelpvgrub=from-grub-cfg"
# GRUB echoes this line of grub.cfg; the guest overwrites GEN-1 with GEN-2
# in place on xvda (at keelpvgrub_off, the byte offset the host patches in
# once mkfs has placed the file) and the reboot's GRUB must echo GEN-2.
CFG_ECHO = "KEEL-PVGRUB-CFG"
OFF_PLACEHOLDER = "keelpvgrub_off=000000000000"
GRUB_CFG = """set timeout=0
set default=0
menuentry 'keel test guest' {
	echo '%s GEN-1'
	linux /boot/vmlinuz console=hvc0 loglevel=6 %s keeltest=pvgrub %s
	initrd /boot/initrd.img
}
""" % (CFG_ECHO, CMDLINE_MARK, OFF_PLACEHOLDER)
# The guest's side, added to the initrd on its disk: what grub.cfg says on
# xvda now, and on the first boot its update of it (as a guest's kernel
# upgrade rewrites grub.cfg).
GUEST_SCRIPT = """r() { echo "KEEL-TEST $1 $2 $3"; }
off=$(sed -n 's/.*keelpvgrub_off=0*\\([0-9][0-9]*\\).*/\\1/p' /proc/cmdline)
i=0
while [ ! -b /dev/xvda ] && [ $i -lt 100 ]; do sleep 0.2; i=$((i + 1)); done
gen=$(dd if=/dev/xvda bs=1 skip=$off count=5 2>/dev/null)
r pvgrub-disk-says ok "gen=$gen off=$off"
if [ "$gen" = GEN-1 ]; then
	if printf GEN-2 | dd of=/dev/xvda bs=1 seek=$off conv=notrunc,fsync 2>/dev/null; then
		r pvgrub-update ok "GEN-2 written"
	else
		r pvgrub-update fail "dd failed"
	fi
fi
echo KEEL-TEST-DONE
"""


def newc(entries):
    """A newc cpio archive of (name, mode, data) entries."""
    out = b""
    for i, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0, b"")]):
        nm = name.encode() + b"\0"
        hdr = "070701" + "".join("%08x" % v for v in (
            i + 1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(nm), 0))
        out += hdr.encode() + nm
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return out


def pv_loop():
    """A loop device over partition 2, the PV."""
    return part_loop(IMG, 2)


def lv_offset(dev, lv):
    """Byte offset of an LV in the image; it must be one run of extents
    (the file system image is written there whole)."""
    pv = partition(IMG, 2)[0]
    first = lv_byte(dev, pv, "vg0", lv, 0)
    last = lv_byte(dev, pv, "vg0", lv, (LV_MIB << 20) - 1)
    if last - first != (LV_MIB << 20) - 1:
        raise TestFailure("vg0/%s is not one run of extents" % lv)
    return first


def make_root_fs(path):
    """The guest's root file system, as an installer leaves /boot; returns
    the byte offset in it of grub.cfg's GEN-1."""
    tree = tempfile.mkdtemp(dir=SCRATCH)
    try:
        os.makedirs(os.path.join(tree, "boot", "grub"))
        shutil.copy(os.path.join(DOMU, "vmlinuz"), os.path.join(tree, "boot", "vmlinuz"))
        with open(os.path.join(DOMU, "initrd.cpio.gz"), "rb") as f:
            initrd = f.read()
        # Linux unpacks archives one after the other, each 4-byte aligned.
        initrd += b"\0" * (-len(initrd) % 4)
        initrd += newc([("tests/pvgrub.sh", 0o100755, GUEST_SCRIPT.encode())])
        with open(os.path.join(tree, "boot", "initrd.img"), "wb") as f:
            f.write(initrd)
        with open(os.path.join(tree, "boot", "grub", "grub.cfg"), "w") as f:
            f.write(GRUB_CFG)
        with open(path, "wb") as f:
            f.truncate(LV_MIB << 20)
        sh("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", "keelroot", "-d", tree, path)
    finally:
        shutil.rmtree(tree)
    with open(path, "r+b") as f:
        fs = f.read()
        marks = (OFF_PLACEHOLDER, CFG_ECHO + " GEN-1")
        places = [fs.find(x.encode()) for x in marks]
        counts = [fs.count(x.encode()) for x in marks]
        if counts != [1, 1]:
            raise TestFailure("grub.cfg's markers found %s times in the ext4 image" % counts)
        gen_off = places[1] + len(CFG_ECHO) + 1
        f.seek(places[0])
        f.write(("keelpvgrub_off=%012d" % gen_off).encode())
    return gen_off


def make_disk():
    os.makedirs(SCRATCH, exist_ok=True)
    fs = os.path.join(SCRATCH, "root.ext4")
    gen_off = make_root_fs(fs)
    with open(IMG, "wb") as f:
        f.truncate(96 << 20)
    sh("sgdisk", "-n", "1:1MiB:+8MiB", "-c", "1:spare", "-n", "2:0:+80MiB",
       "-t", "2:8e00", "-c", "2:lvm", IMG)
    with pv_loop() as dev:
        lvm("pvcreate", "-q", dev)
        lvm("vgcreate", "-q", "vg0", dev)
        lvm("lvcreate", "-q", "-an", "-Zn", "-L", "%dM" % LV_MIB, "-n", "root", "vg0")
        off = lv_offset(dev, "root")
    with open(fs, "rb") as src, open(IMG, "r+b") as dst:
        dst.seek(off)
        dst.write(src.read())
    os.unlink(fs)
    return off + gen_off


def domid_of(m):
    """kt-pvgrub's domid in `list`, or None."""
    found = re.search(r"^kt-pvgrub\s+(\d+)\s", m.command("list"), re.M)
    return int(found.group(1)) if found else None


NVME_ARGS = ("-drive file=%s,if=none,id=nv0,format=raw,cache=writeback "
             "-device nvme,serial=keelpvgrub,drive=nv0" % IMG)


def main():
    state = {}

    def boot():
        state["gen_at"] = make_disk()
        m = Machine("pvgrub", timeout=600, env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": NVME_ARGS})
        state["m"] = m
        m.boot()
        out = m.command("lvs --units s")
        if not re.search(r"^\s+root\s+vg0\s+\S+\s+%ds" % (LV_MIB << 11), out, re.M):
            raise TestFailure("keel does not see vg0/root of %d MiB:\n%s" % (LV_MIB, out))

    def pygrub_refused():
        m = state["m"]
        out = m.command("create kt-pygrub.cfg", timeout=60)
        want = (r"kt-pygrub\.cfg:5: parameter `bootloader' is not supported by keel: to boot "
                r"from the guest's disk use kernel = \"/usr/lib/grub-xen/grub-x86_64-xen\.bin\" "
                r"\(PV GRUB\)")
        if not re.search(want, out):
            raise TestFailure("pygrub not refused naming the file, line and PV GRUB:\n" + out)
        if "kt-pygrub" in m.command("list"):
            raise TestFailure("a domain was created from a pygrub config")

    def guest_boot(gen):
        """Waits for the guest's init and test; checks GRUB read grub.cfg
        generation gen from the disk and the kernel got its command line;
        returns the guest's KEEL-TEST results."""
        m = state["m"]
        w = m.command("console-wait kt-pvgrub KEEL-DOMU-INIT 120", timeout=150)
        log = m.command("console-log kt-pvgrub 65536")
        if "found" not in w:
            raise TestFailure("the guest's init never ran (%s); its console:\n%s" %
                              (w.strip(), log[-3000:]))
        if "%s GEN-%d" % (CFG_ECHO, gen) not in log:
            raise TestFailure("GRUB did not echo '%s GEN-%d' from the disk's grub.cfg:\n%s" %
                              (CFG_ECHO, gen, log[-3000:]))
        kcl = re.search(r"Kernel command line: (.*)", log)
        if not kcl or CMDLINE_MARK not in kcl.group(1):
            raise TestFailure("the kernel's command line is not grub.cfg's (%s):\n%s" %
                              (kcl.group(0) if kcl else "no 'Kernel command line'", log[-3000:]))
        w = m.command("console-wait kt-pvgrub KEEL-TEST-DONE 60", timeout=90)
        log = m.command("console-log kt-pvgrub 65536")
        if "found" not in w:
            raise TestFailure("the guest's disk check never finished:\n" + log[-3000:])
        return {c: (ok == "ok", d) for c, ok, d in
                re.findall(r"KEEL-TEST (\S+) (ok|fail) ?(.*)", log)}, log

    def pvgrub_boots_guest_from_disk():
        m = state["m"]
        out = m.command("create kt-pvgrub.cfg", timeout=120)
        if "kt-pvgrub" not in m.command("list"):
            raise TestFailure("kt-pvgrub not created:\n" + out)
        res, log = guest_boot(1)
        for name, want in (("pvgrub-disk-says", "gen=GEN-1"), ("pvgrub-update", "GEN-2 written")):
            ok, got = res.get(name, (False, "missing"))
            if not ok or want not in got:
                raise TestFailure("guest %s: %s (want %s)\n%s" % (name, got, want, log[-2000:]))

    def linux_blkfront_connects_after_grub():
        m = state["m"]
        # GRUB's blkfront (one queue, a 1-page ring, no persistent grants)
        # closes before it starts Linux; Linux's (a queue per vCPU: two,
        # persistent grants) connects the same vbd again.
        conns = re.findall(r"blkback: vbd (\d+)/51712 \(xvda\) connected: vg0/root, (.*)", m.buf)
        kinds = ["grub" if how == "1 queue, 1-page ring" else
                 "linux" if how.startswith("2 queues") and how.endswith("persistent grants")
                 else how for _, how in conns]
        if kinds != ["grub", "linux"] or conns[0][0] != conns[1][0]:
            raise TestFailure("xvda connections %s, want GRUB's then Linux's on one domain:\n%s" %
                              (conns, "\n".join(l for l in m.buf.splitlines() if "blkback" in l)))
        out = m.command("block-list kt-pvgrub")
        # Two queues: the rings are under queue-N/, so xl (and keel) show -1.
        if not re.search(r"^51712\s+0\s+\d+\s+4\s+-1\s+-1\s", out, re.M):
            raise TestFailure("xvda is not connected (state 4) with queues for Linux:\n" + out)

    def reboot_goes_through_grub_again():
        m = state["m"]
        old = domid_of(m)
        start = len(m.buf)
        m.command("reboot kt-pvgrub")
        deadline = time.monotonic() + 90
        new = old
        while new in (old, None) and time.monotonic() < deadline:
            time.sleep(2)
            new = domid_of(m)
        if new in (old, None):
            raise TestFailure("kt-pvgrub did not come back with a new domid (was %s):\n%s" %
                              (old, m.command("list")))
        res, log = guest_boot(2)
        ok, got = res.get("pvgrub-disk-says", (False, "missing"))
        if not ok or "gen=GEN-2" not in got or "pvgrub-update" in res:
            raise TestFailure("after reboot the guest's disk says %s (want gen=GEN-2, no update):"
                              "\n%s" % (got, log[-2000:]))
        conns = re.findall(r"blkback: vbd %d/51712 \(xvda\) connected: vg0/root" % new,
                           m.buf[start:])
        if len(conns) != 2:
            raise TestFailure("domain %d's xvda connected %d time(s), want GRUB's and Linux's" %
                              (new, len(conns)))

    def update_on_host_image():
        state["m"].kill()
        with open(IMG, "rb") as f:
            f.seek(state["gen_at"])
            got = f.read(5)
        if got != b"GEN-2":
            raise TestFailure("the host's image holds %r where the guest wrote GEN-2" % got)

    def destroy_leaves_nothing():
        m = state["m"]
        m.command("destroy kt-pvgrub", timeout=60)
        out = m.command("blkback-stats")
        if not re.search(r"vbds\s*:\s*0", out):
            raise TestFailure("vbds left after destroy:\n" + out)
        g = re.search(r"grants mapped\s*:\s*(\d+) now", m.command("mem"))
        if not g or int(g.group(1)) != 0:
            raise TestFailure("grants still mapped after destroy:\n" + m.command("mem"))

    checks = [
        ("boot with a host-made NVMe disk: ext4 root (mkfs.ext4 -d) on LV vg0/root", boot),
        ("bootloader = \"pygrub\" refused naming the file, line and PV GRUB", pygrub_refused),
        ("PV GRUB as kernel reads grub.cfg from xvda and boots its Linux (init marker, "
         "command line); the guest rewrites grub.cfg in place", pvgrub_boots_guest_from_disk),
        ("GRUB's blkfront closes, Linux's connects xvda again", linux_blkfront_connects_after_grub),
        ("reboot (on_reboot=restart): a new domain's PV GRUB reads the grub.cfg the guest "
         "rewrote", reboot_goes_through_grub_again),
        ("destroy leaves no vbd and no grant mapped", destroy_leaves_nothing),
        ("the guest's grub.cfg update is on the host's disk image", update_on_host_image),
    ]
    failed = run_shared_checks(checks, state)
    if not failed and os.path.exists(IMG):
        os.unlink(IMG)
    return 1 if failed else 0


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(main())

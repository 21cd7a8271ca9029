"""
Host-side disk tools for the in-QEMU tests: partition tables as sfdisk reads
them, loop devices the test creates and detaches itself, and lvm2 without
device-mapper (these machines have none): nothing is activated, an LV is
reached through its byte range in the image, as its metadata gives it.
"""
import contextlib
import os
import re
import subprocess

from harness import TestFailure

LVM_ENV = dict(os.environ, LVM_SUPPRESS_FD_WARNINGS="1")
NOACT = ["--config", "global { activation=0 }"]


def sh(*cmd, env=None):
    """Runs a host tool; its stdout (warnings on stderr are not output)."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode:
        raise TestFailure("%s failed (%d): %s%s" % (" ".join(cmd), r.returncode, r.stdout,
                                                    r.stderr))
    return r.stdout


def partition(img, n):
    """(start, size) in bytes of partition n of img, as sfdisk reads it."""
    out = sh("sfdisk", "-d", img)
    m = re.search(r"\S+%d : start=\s*(\d+), size=\s*(\d+)" % n, out)
    if not m:
        raise TestFailure("sfdisk finds no partition %d in %s:\n%s" % (n, img, out))
    return int(m.group(1)) * 512, int(m.group(2)) * 512


@contextlib.contextmanager
def loop(img, offset, size):
    """A loop device over img's bytes [offset, offset+size), detached after."""
    dev = sh("losetup", "-f", "--show", "-o", str(offset), "--sizelimit", str(size), img).strip()
    try:
        yield dev
    finally:
        subprocess.run(["losetup", "-d", dev])


def part_loop(img, n):
    """A loop device over partition n (no partition nodes here)."""
    return loop(img, *partition(img, n))


def lvm(*args, dev=None):
    """An lvm2 command, never activating; with dev it sees only that device."""
    only = ["--devices", dev] if dev else []
    return sh(*([args[0]] + only + NOACT + list(args[1:])), env=LVM_ENV)


def lv_byte(dev, pv_start, vg, lv, off=0, only=False):
    """Image offset of byte off of vg/lv whose PV is the loop device dev at
    image offset pv_start, through the LV's segments in order."""
    d = dev if only else None
    pe_start = int(lvm("pvs", "--noheadings", "--units", "b", "--nosuffix", "-o", "pe_start",
                       dev, dev=d).split()[0])
    ext = int(lvm("vgs", "--noheadings", "--units", "b", "--nosuffix", "-o", "vg_extent_size",
                  vg, dev=d).split()[0])
    le = off // ext
    for first, last in re.findall(r":(\d+)-(\d+)", lvm("lvs", "--noheadings", "-o",
                                                      "seg_pe_ranges", vg + "/" + lv, dev=d)):
        n = int(last) - int(first) + 1
        if le < n:
            return pv_start + pe_start + (int(first) + le) * ext + off % ext
        le -= n
    raise TestFailure("byte %d is past the end of %s/%s" % (off, vg, lv))

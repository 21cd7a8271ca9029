#!/usr/bin/env python3
"""
The xenstore tree of a guest with a disk and a vif, as an administrator's
tools see it (issue 8 item 5, issue 9): keel's tree is compared node by node
with the one libxl + Linux blkback/netback leave for the same guest
(shared/reference/xenstore-libxl-pv-guest.txt, read with `xenstore-ls -fp`
on a Linux dom0): the same nodes, the same permissions, the same values where
they do not depend on the machine (ring references, event channels, sizes,
device paths do).  Differences keel chose are listed in KNOWN with the
reason; any other difference fails.  Then block-detach, network-detach and
destroy must each remove their nodes.
"""
import os
import re
import sys
import time

from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
SCRATCH = os.path.join(ROOT, "build", "test-xstree")
IMG = os.path.join(SCRATCH, "disk.img")
REFERENCE = os.path.join(ROOT, "..", "shared", "reference", "xenstore-libxl-pv-guest.txt")
REF_DOMID = 1

# Subtrees of one guest, as in the reference (domid 1).
SUBTREES = ("/libxl/1", "/local/domain/1", "/local/domain/0/backend/vbd/1",
            "/local/domain/0/backend/vif/1", "/local/domain/0/backend/console/1")

# Values that depend on the machine, the run or the guest's size: only the
# node and its permissions are compared.
RUN_VALUES = re.compile(r"(ring-ref|event-channel[^/]*|/port|/params|physical-device(-path)?|"
                        r"/sectors|/name|memory/static-max|memory/target|/tty|"
                        r"vbd/51712/backend-id|/console/backend-id|discard-granularity|"
                        r"^/local/domain/1/vm)$")

# Differences keel chose, each with its reason (path -> (reference, keel)).
KNOWN = {
    # keel serves up to 4 queues per vbd and per vif (issue 8/9); Linux's
    # blkback/netback on the 1-vCPU rig dom0 offered 1.
    "/local/domain/0/backend/vbd/1/51712/multi-queue-max-queues": "4",
    "/local/domain/0/backend/vif/1/0/multi-queue-max-queues": "4",
    # keel does not offer the netif control ring or XDP headroom (Linux
    # netfront runs without both; docs/network.md).
    "/local/domain/0/backend/vif/1/0/feature-ctrl-ring": None,
    "/local/domain/0/backend/vif/1/0/feature-xdp-headroom": None,
    "/local/domain/1/device/vif/0/xdp-headroom": None,  # netfront's answer to it
    # No multicast filter per vif: the switch floods multicast to every port.
    "/local/domain/0/backend/vif/1/0/feature-multicast-control": None,
    "/local/domain/0/backend/vif/1/0/feature-dynamic-multicast-control": None,
    # keel runs no hotplug scripts (a script= given is reported ignored), so
    # it names none; the device is ready as written (hotplug-status).
    "/libxl/1/device/vbd/51712/script": None,
    "/local/domain/0/backend/vbd/1/51712/script": None,
    "/libxl/1/device/vif/0/script": None,
    "/local/domain/0/backend/vif/1/0/script": None,
    "/libxl/1/device/vif/0/hotplug-status": None,
    # Guest consoles are in keel's own log (`console NAME`), not on a pty.
    "/local/domain/1/console/tty": None,
}


def parse_ls(text, domid):
    """{path: (value, perms)} from `xenstore-ls -fp` output, domid -> 1."""
    tree = {}
    for line in text.splitlines():
        m = re.match(r'^(/\S*) = "(.*)"   \((.*)\)\s*$', line)
        if not m:
            continue
        path, value, perms = m.groups()
        if domid != REF_DOMID:
            path = re.sub(r"(?<=/)%d(?=/|$)" % domid, str(REF_DOMID), path)
            value = re.sub(r"(?<=/)%d(?=/|$)" % domid, str(REF_DOMID), value)
            if path.endswith(("/frontend-id", "/domid")) and value == str(domid):
                value = str(REF_DOMID)
            perms = re.sub(r"(?<=[nrwb])%d\b" % domid, str(REF_DOMID), perms)
        tree[path] = (value, perms)
    return tree


def in_subtrees(path):
    return any(path == s or path.startswith(s + "/") for s in SUBTREES)


def compare(ref, keel):
    """The differences that are not in KNOWN, one line each."""
    diffs = []
    for path in sorted(set(ref) | set(keel)):
        if not in_subtrees(path):
            continue
        r, k = ref.get(path), keel.get(path)
        if path in KNOWN:
            want = KNOWN[path]
            if (want is None and k is not None) or (want is not None and (k is None or k[0] != want)):
                diffs.append("%s: keel %s, expected keel's choice %r" % (path, k, want))
            continue
        if r is None:
            diffs.append("%s: only keel has it %s" % (path, k))
        elif k is None:
            diffs.append("%s: keel lacks it (reference %s)" % (path, r))
        elif r[1] != k[1]:
            diffs.append("%s: permissions %s, reference %s" % (path, k[1], r[1]))
        elif r[0] != k[0] and not RUN_VALUES.search(path):
            diffs.append("%s: value %r, reference %r" % (path, k[0], r[0]))
    return diffs


def wait_connected(m, devs):
    """Waits until each backend/TYPE/DOMID/DEV reads state 4 (Connected)."""
    for dev in devs:
        for _ in range(60):
            st = m.command("xenstore-read /local/domain/0/backend/%s/state" % dev).strip()
            if st.endswith("4"):
                break
            time.sleep(1)
        else:
            raise TestFailure("backend %s never connected (state %s)" % (dev, st))


def main():
    state = {}
    os.makedirs(SCRATCH, exist_ok=True)
    with open(IMG, "wb") as f:
        f.truncate(64 << 20)
    qemu = ("-drive file=%s,if=none,id=nv0,format=raw,cache=unsafe "
            "-device nvme,serial=xstree,drive=nv0" % IMG)
    with open(REFERENCE) as f:
        ref = parse_ls(f.read(), REF_DOMID)

    def boot():
        m = Machine("xstree", timeout=600, env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": qemu})
        state["m"] = m
        m.boot()
        out = m.command("create kt-tree.cfg", timeout=180)
        lst = m.command("domid kt-tree")
        if not re.match(r"^\s*\d+\s*$", lst.strip().splitlines()[-1]):
            raise TestFailure("kt-tree not created:\n" + out + lst)
        state["domid"] = int(lst.strip().splitlines()[-1])
        w = m.command("console-wait kt-tree KEEL-DOMU-INIT 120", timeout=150)
        if "found" not in w:
            raise TestFailure("the guest did not reach its init:\n" + m.command("console-log kt-tree"))
        dom = state["domid"]
        wait_connected(m, ("vbd/%d/51712" % dom, "vif/%d/0" % dom))

    def tree_matches_reference():
        m, dom = state["m"], state["domid"]
        keel = parse_ls(m.command("xenstore-ls /", timeout=120), dom)
        diffs = compare(ref, keel)
        if diffs:
            raise TestFailure("%d differences from the libxl + Linux tree:\n  %s" %
                              (len(diffs), "\n  ".join(diffs)))

    def detach_removes_nodes():
        m, dom = state["m"], state["domid"]
        for cmd, paths in (("block-detach kt-tree xvda",
                            ("/libxl/%d/device/vbd/51712" % dom,
                             "/local/domain/0/backend/vbd/%d/51712" % dom,
                             "/local/domain/%d/device/vbd/51712" % dom)),
                           ("network-detach kt-tree 0",
                            ("/libxl/%d/device/vif/0" % dom,
                             "/local/domain/0/backend/vif/%d/0" % dom,
                             "/local/domain/%d/device/vif/0" % dom))):
            out = m.command(cmd, timeout=60)
            if re.search(r"^\S+-detach:", out, re.M):
                raise TestFailure("%s: %s" % (cmd, out))
            left = m.command("xenstore-ls /", timeout=120)
            for p in paths:
                if re.search(r"^%s( |/)" % re.escape(p), left, re.M):
                    raise TestFailure("%s left %s behind" % (cmd, p))

    def destroy_removes_domain():
        m, dom = state["m"], state["domid"]
        # Devices again, connected, so that destroy has them to take down.
        for cmd in ("block-attach kt-tree phy:/dev/nvme0n1,xvda,w",
                    "network-attach kt-tree bridge=xenbr0"):
            out = m.command(cmd, timeout=60)
            if re.search(r"^\S+-attach:", out, re.M):
                raise TestFailure("%s: %s" % (cmd, out))
        wait_connected(m, ("vbd/%d/51712" % dom, "vif/%d/0" % dom))
        m.command("destroy kt-tree", timeout=60)
        left = m.command("xenstore-ls /", timeout=120)
        for p in ("/libxl/%d" % dom, "/local/domain/%d" % dom,
                  "/local/domain/0/backend/vbd/%d" % dom, "/local/domain/0/backend/vif/%d" % dom,
                  "/local/domain/0/backend/console/%d" % dom):
            if re.search(r"^%s( |/)" % re.escape(p), left, re.M):
                raise TestFailure("destroy left %s behind:\n%s" % (p, left))

    checks = [
        ("boot; a guest with a disk and a vif connects both", boot),
        ("its xenstore tree matches libxl + Linux blkback/netback's, node by node",
         tree_matches_reference),
        ("block-detach and network-detach remove their nodes", detach_removes_nodes),
        ("destroy removes every node of the domain", destroy_removes_domain),
    ]
    failed = run_shared_checks(checks, state)
    if not failed:
        os.unlink(IMG)
    return 1 if failed else 0


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    sys.exit(main())

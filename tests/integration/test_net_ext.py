#!/usr/bin/env python3
"""
A guest on the wire through keel (issue 9, "External path"): QEMU's user
network (restrict=on: nothing leaves QEMU but one forwarded port on
127.0.0.1) on a virtio-net NIC, then on an e1000, each driven by keel and
joined to xenbr0 as its uplink.  A stock Debian guest with a netfront vif on
xenbr0 gets its lease from QEMU's DHCP through keel's switch and NIC driver;
the test pushes a known 4 MiB stream from the host through the forwarded
port into the guest and gets its md5 back; keel's NIC counters and the
bridge's learnt MACs show the path.  One machine per NIC model.
"""
import hashlib
import os
import random
import re
import socket
import sys
import time

from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
GUEST_MAC = "00:16:3e:00:00:2e"
GATEWAY_MAC = "52:55:0a:00:02:02"   # QEMU slirp's router


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def push(port, data, timeout=120):
    """Sends data to 127.0.0.1:port, half-closes, returns the reply."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.settimeout(60)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while True:
                x = s.recv(4096)
                if not x:
                    break
                reply += x
            s.close()
            if reply:
                return reply
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise TestFailure("no answer through 127.0.0.1:%d" % port)
        time.sleep(1)


def http_get(port, path):
    """The body of GET path from 127.0.0.1:port (the guest's busybox httpd)."""
    reply = push(port, b"GET %s HTTP/1.0\r\nHost: guest\r\n\r\n" % path.encode())
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep or b" 200 " not in head.split(b"\r\n")[0]:
        raise TestFailure("GET %s: %r" % (path, head[:200]))
    return body


def model_checks(model, second_nic=False):
    state = {}
    port = free_port()
    port1 = free_port()
    http = free_port()
    qemu = ("-netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:%d-10.0.2.15:5003,"
            "hostfwd=tcp:127.0.0.1:%d-10.0.2.15:80 "
            "-device %s,netdev=n0,mac=52:54:00:12:34:56" % (port, http, model))
    keel_args = "autostart=0 ip=10.0.2.10/24 gw=10.0.2.2"
    if second_nic:
        qemu += (" -netdev user,id=n1,restrict=on,net=10.0.3.0/24,"
                 "hostfwd=tcp:127.0.0.1:%d-10.0.3.15:5003 "
                 "-device e1000,netdev=n1,mac=52:54:00:12:34:57" % port1)
        keel_args += " uplinks=eth0:xenbr0+eth1:xenbr1"

    def boot():
        # keel takes a static address so that the guest's lease is .15.
        m = Machine("net-ext-" + model, keel_args=keel_args,
                    timeout=900, env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": qemu})
        state["m"] = m
        m.boot(120)
        t0 = time.monotonic()
        while "eth0 is xenbr0's uplink" not in m.buf and time.monotonic() - t0 < 60:
            time.sleep(0.5)
        if "eth0 is xenbr0's uplink" not in m.buf:
            raise TestFailure("no NIC joined xenbr0:\n" + m.command("nic"))

    def lease(name, want):
        m = state["m"]
        out = m.command("create %s.cfg" % name, timeout=300)
        if re.search(r"cannot|error|fail", out, re.I):
            raise TestFailure("create: " + out)
        out = m.command("console-wait %s KEEL-NETEXT-READY 200" % name, timeout=240)
        log = m.command("console-log %s 8000" % name)
        d = re.search(r"KEEL-TEST net-dhcp (ok|fail) ?(.*)", log)
        if "found" not in out or not d or d.group(1) != "ok":
            raise TestFailure("the guest got no lease:\n" + log[-2500:])
        # restrict=on: QEMU's DHCP names no router, only the address.
        if "addr=%s/24" % want not in d.group(2):
            raise TestFailure("unexpected lease: " + d.group(2))
        print("  " + d.group(2))

    def lease_through_keel():
        lease("kt-netext", "10.0.2.15")

    def stream_from_host(fwd=port, size=4 << 20):
        data = random.Random(9).randbytes(size)
        t0 = time.monotonic()
        reply = push(fwd, data)
        secs = time.monotonic() - t0
        want = hashlib.md5(data).hexdigest()
        if not reply.decode(errors="replace").startswith(want):
            raise TestFailure("md5 from the guest %r, sent %s" % (reply[:60], want))
        print("  %d KiB host -> guest through keel: md5 equal, %.1f s (%.2f MB/s)" %
              (size >> 10, secs, len(data) / secs / 1e6))

    def stream_to_host():
        """4 MiB from the guest to the host: netfront sends GSO and
        checksum-blank frames; keel's switch hands them to the NIC whole
        (e1000: TSO and checksum contexts) or cuts and sums them first
        (virtio-net here: QEMU's user network offers no offload).  QEMU's
        TCP stack drops a segment with a bad checksum, so the md5 only
        matches if every frame left keel valid."""
        m = state["m"]
        before = m.command("brctl showmacs xenbr0")
        t0 = time.monotonic()
        data = http_get(http, "/big")
        secs = time.monotonic() - t0
        want = http_get(http, "/big.md5").decode().strip()
        got = hashlib.md5(data).hexdigest()
        if len(data) != 4 << 20 or got != want:
            raise TestFailure("from the guest: %d bytes, md5 %s; the guest's md5 %s" %
                              (len(data), got, want))
        after = m.command("brctl showmacs xenbr0")
        sw = re.search(r"software checksums (\d+), GSO frames cut (\d+) into (\d+)", after)
        sw0 = re.search(r"software checksums (\d+), GSO frames cut (\d+) into (\d+)", before)
        nic = m.command("nic")
        tx = re.search(r"tx (\d+) frames (\d+) bytes", nic)
        print("  4 MiB guest -> host through keel: md5 equal, %.1f s (%.2f MB/s); switch: "
              "software checksums +%s, GSO frames cut +%s; %s" %
              (secs, len(data) / secs / 1e6,
               int(sw.group(1)) - int(sw0.group(1)) if sw and sw0 else "?",
               int(sw.group(2)) - int(sw0.group(2)) if sw and sw0 else "?",
               tx.group(0) if tx else "no tx counter"))

    def counters_and_macs():
        m = state["m"]
        nic = m.command("nic")
        macs = m.command("brctl showmacs xenbr0")
        if GUEST_MAC not in macs or GATEWAY_MAC not in macs:
            raise TestFailure("the bridge did not learn the guest and the gateway:\n" + macs)
        rows = {l.split()[1]: l.split()[0] for l in macs.splitlines()
                if re.match(r"^\S+\s+[0-9a-f:]{17}\s", l)}
        if not rows.get(GATEWAY_MAC, "").startswith("eth") or \
                not rows.get(GUEST_MAC, "").startswith("vif"):
            raise TestFailure("MACs learnt on the wrong ports:\n" + macs)
        print("  " + "\n  ".join(nic.strip().splitlines()[:8]))

    def second_uplink():
        m = state["m"]
        if "eth1 is xenbr1's uplink" not in m.buf:
            raise TestFailure("eth1 did not join xenbr1:\n" + m.command("nic"))
        lease("kt-netext1", "10.0.3.15")
        stream_from_host(port1, 1 << 20)
        br = m.command("brctl show")
        rows = [l.split() for l in br.splitlines()]
        # xenbr1's interfaces: its own row and the continuation rows after it.
        ports1, cur = [], None
        for r in rows:
            if r and r[0].startswith("xenbr"):
                cur = r[0]
                r = r[2:]
            if cur == "xenbr1":
                ports1 += r
        if "eth1" not in ports1 or "eth0" in ports1 or not any(p.startswith("vif") for p in ports1):
            raise TestFailure("xenbr1 is not eth1 + the guest's vif:\n" + br)
        macs = m.command("brctl showmacs xenbr0")
        if "00:16:3e:00:00:2f" in macs:
            raise TestFailure("xenbr1's guest was learnt on xenbr0:\n" + macs)
        m.command("destroy kt-netext1", timeout=60)

    def destroy():
        m = state["m"]
        m.command("destroy kt-netext", timeout=60)
        if "vif" in m.command("brctl show").split("interfaces", 1)[-1]:
            raise TestFailure("a vif port is left on the bridge")

    return run_shared_checks([
        ("%s: boot, the NIC is xenbr0's uplink" % model, boot),
        ("%s: a Debian guest leases 10.0.2.15 from QEMU's DHCP through keel" % model,
         lease_through_keel),
        ("%s: a 4 MiB stream from the host reaches the guest intact (md5 back)" % model,
         stream_from_host),
        ("%s: 4 MiB from the guest reaches the host intact through the NIC (GSO and "
         "checksum offload resolved by keel or the NIC)" % model, stream_to_host),
        ("%s: the bridge learnt the guest's and the gateway's MACs on the right ports" % model,
         counters_and_macs),
    ] + ([("%s: uplinks=: eth1 is xenbr1's uplink, a guest on xenbr1 leases from and is "
           "reached through the second NIC" % model, second_uplink)] if second_nic else []) + [
        ("%s: destroy leaves no port" % model, destroy),
    ], state)


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    failed = 0
    failed += model_checks("virtio-net-pci", second_nic=True)
    failed += model_checks("e1000")
    sys.exit(1 if failed else 0)

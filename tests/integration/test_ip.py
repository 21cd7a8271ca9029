#!/usr/bin/env python3
"""
keel's own IP address (issue 9 part 5): lwIP on xenbr0.

Three boots, all networks QEMU user-mode with restrict=on (nothing leaves
QEMU; the only forwarded port is on 127.0.0.1) or keel's own switch:
  * DHCP: a virtio-net NIC on `-netdev user,restrict=on` with a hostfwd of a
    free 127.0.0.1 port to keel's 5001; keel's lease is 10.0.2.15/24
    (`ip addr`, dynamic), `ip route` has its subnet (QEMU's DHCP names no
    router under restrict=on, so no default route), `ping -c 3 10.0.2.2` is
    answered, and a known byte stream the test sends through
    the forwarded port is counted to the byte by `net-bench`.  A malformed
    boot option (dns=) is reported by name and ignored.
  * static: `ip=10.0.2.20/24 gw=10.0.2.2` on the same kind of network, NIC e1000:
    `ip addr` and `ip route` show it (static, default via 10.0.2.2), the
    gateway answers ping, and ping without -c stops at ^C with its summary.
  * none: `ip=none` leaves keel without an interface; the commands say so.
  * guest: keel at ip=10.0.0.100/24 and a Debian guest (netfront on
    xenbr0, 10.0.0.1): keel pings the guest, the guest pings keel, and the
    guest's stream (seq 1 200000 | nc, 1288895 bytes) reaches net-bench whole.
"""
import os
import re
import socket
import sys
import time

from harness import Machine, ROOT, TestFailure, make_test_archive, run_tests

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
STREAM_BYTES = 4 << 20
GUEST_STREAM_BYTES = len("".join("%d\n" % i for i in range(1, 200001)))


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def user_net(hostfwd_port=None, model="virtio-net-pci"):
    netdev = "user,id=n0,restrict=on"
    if hostfwd_port:
        netdev += ",hostfwd=tcp:127.0.0.1:%d-10.0.2.15:5001" % hostfwd_port
    return "-netdev %s -device %s,netdev=n0" % (netdev, model)


def expect_in(out, rx, what):
    m = re.search(rx, out, re.M)
    if not m:
        raise TestFailure("%s: /%s/ not in output:\n%s" % (what, rx, out))
    return m


def stream(n):
    """The known stream: its first 4 bytes (iperf's flags word) are zero, so
    lwiperf never takes it for a request to connect back."""
    block = bytes(range(256)) * 256
    data = b"\0" * 24 + (block * (n // len(block) + 1))
    return data[:n]


def ping_ok(m, host, count):
    out = m.command("ping -c %d %s" % (count, host), timeout=60)
    replies = re.findall(r"^64 bytes from %s: icmp_seq=(\d+) ttl=(\d+) time=([\d.]+) ms$"
                         % re.escape(host), out, re.M)
    summary = expect_in(out, r"^(\d+) packets transmitted, (\d+) received, (\d+)% packet loss",
                        "ping %s summary" % host)
    if int(summary.group(1)) != count or int(summary.group(2)) != count or len(replies) != count:
        raise TestFailure("ping -c %d %s: not every echo answered:\n%s" % (count, host, out))
    rtts = [float(r[2]) for r in replies]
    print("  ping %s: rtt %s ms" % (host, " ".join("%.3f" % r for r in rtts)), flush=True)
    return rtts


def need_nic(m, model="virtio-net"):
    """The NIC is probed after the prompt: wait for its registration."""
    try:
        m.expect(r"net: eth0: %s" % model, 120)
    except TestFailure:
        raise TestFailure("no NIC registered (no 'net: eth0: %s' line): is the %s driver in "
                          "this build?\nlspci:\n%s" % (model, model, m.command("lspci")))


def bench_result(m, want_bytes, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        out = m.command("net-bench")
        rx = (r"^net-bench: (\S+):\d+ -> port 5001: (\d+) bytes in ([\d.]+) s, "
              r"([\d.]+) Mbit/s \((.*)\)$")
        found = re.findall(rx, out, re.M)
        if found:
            peer, got, secs, mbit, how = found[-1]
            if int(got) != want_bytes or how != "done":
                raise TestFailure("net-bench counted %s bytes (%s), sent %d:\n%s"
                                  % (got, how, want_bytes, out))
            return peer, float(secs), float(mbit)
        if time.monotonic() > deadline:
            raise TestFailure("net-bench reported no finished transfer:\n" + out)
        time.sleep(2)


def test_dhcp():
    port = free_port()
    with Machine("ip-dhcp", keel_args="autostart=0 ip=10.0.2.300/24 dns=10.0.2.x", timeout=600,
                 env={"QEMU_ARGS": user_net(port)}) as m:
        m.boot(180)
        need_nic(m)
        # QEMU's DHCP server names no router (nor DNS) when restrict=on:
        # the lease has no gateway, as a Linux client would see it.
        lease = m.expect(r"net: xenbr0: 10\.0\.2\.15/24 by DHCP from 10\.0\.2\.2, gateway "
                         r"none, lease (\d+) s, ([\d.]+) s after keel started", 120)
        print("  DHCP lease %s s, bound %s s after keel started" % lease.groups(), flush=True)
        log = m.output_since(0)
        expect_in(log, r"keel: boot command line: option 'dns': '10\.0\.2\.x' is not an IPv4 "
                  r"address; ignored", "the malformed dns= option is reported")
        expect_in(log, r"keel: boot command line: option 'ip': '10\.0\.2\.300/24' is not "
                  r"ADDR/LEN .*; using DHCP", "the malformed ip= option is reported")

        out = m.command("ip addr")
        expect_in(out, r"^\s+inet 10\.0\.2\.15/24 brd 10\.0\.2\.255 scope global dynamic xenbr0$",
                  "ip addr shows the lease")
        expect_in(out, r"^\s+valid_lft \d+sec", "ip addr shows the lease's lifetime")
        out = m.command("ip route")
        if "default" in out:
            raise TestFailure("a default route without a router in the lease:\n" + out)
        expect_in(out, r"^10\.0\.2\.0/24 dev xenbr0 proto kernel scope link src 10\.0\.2\.15$",
                  "ip route: the subnet")
        ping_ok(m, "10.0.2.2", 3)

        out = m.command("net-bench start")
        expect_in(out, r"listening on TCP port 5001", "net-bench start")
        data = stream(STREAM_BYTES)
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            s.settimeout(120)
            while s.recv(4096):
                pass
        host_secs = time.monotonic() - t0
        peer, secs, mbit = bench_result(m, len(data))
        print("  net-bench: %d bytes from %s in %.3f s (keel), %.2f Mbit/s; host side %.2f s"
              % (len(data), peer, secs, mbit, host_secs), flush=True)
        out = m.command("ip stats")
        expect_in(out, r"^keel0 \(xenbr0\): rx \d+ frames", "ip stats")


def test_static():
    # On an e1000 (the DHCP boot has virtio-net): keel's address works over both drivers.
    with Machine("ip-static", keel_args="autostart=0 ip=10.0.2.20/24 gw=10.0.2.2", timeout=400,
                 env={"QEMU_ARGS": user_net(model="e1000")}) as m:
        m.boot(180)
        need_nic(m, "e1000")
        m.expect(r"net: keel0 on xenbr0, MAC 52:54:00:[0-9a-f:]+ \(eth0\): 10\.0\.2\.20/24 "
                 r"static, gateway 10\.0\.2\.2", 120)
        out = m.command("ip addr")
        expect_in(out, r"^\s+inet 10\.0\.2\.20/24 brd 10\.0\.2\.255 scope global xenbr0$",
                  "ip addr shows the static address")
        expect_in(out, r"valid_lft forever", "a static address does not expire")
        if "dynamic" in out:
            raise TestFailure("a static address shown as dynamic:\n" + out)
        out = m.command("ip route")
        expect_in(out, r"^default via 10\.0\.2\.2 dev xenbr0 proto static src 10\.0\.2\.20$",
                  "ip route: static default route")
        ping_ok(m, "10.0.2.2", 2)
        # Without -c, ping goes on until ^C, then prints its summary.
        m.send("ping 10.0.2.2\r")
        m.expect(r"icmp_seq=2 ttl=\d+ time=", 30)
        m.send("\x03")
        m.expect(r"--- 10\.0\.2\.2 ping statistics ---\n(\d+) packets transmitted, \d+ "
                 r"received", 30)
        m.expect(re.escape("keel# "), 30)


def test_none():
    """ip=none: no interface, and the commands say why.  The same boot has a
    bad uplinks= option (a NIC named twice): it is reported by name and no
    NIC joins a bridge."""
    with Machine("ip-none", keel_args="autostart=0 ip=none uplinks=eth0:xenbr0+eth0:xenbr1",
                 timeout=300, env={"QEMU_ARGS": user_net()}) as m:
        m.boot(180)
        t0 = time.monotonic()   # the NIC is probed after the prompt
        while "eth0 joins" not in m.buf and time.monotonic() - t0 < 60:
            time.sleep(0.5)
        expect_in(m.output_since(0), r"keel: boot command line: option 'uplinks': "
                  r"'eth0:xenbr0\+eth0:xenbr1': a NIC is named twice; no NIC joins a bridge",
                  "the bad uplinks= option is reported")
        expect_in(m.output_since(0), r"net: eth0 joins no bridge \(uplinks= does not name it\)",
                  "the NIC left off the bridges says so")
        expect_in(m.output_since(0), r"net: keel has no address of its own \(ip=none\)",
                  "the boot log says keel has no address")
        out = m.command("ip addr")
        expect_in(out, r"^ip: keel has no address of its own \(booted with ip=none\)$",
                  "ip addr with ip=none")
        out = m.command("ping -c 1 10.0.2.2")
        expect_in(out, r"^ping: keel has no address of its own", "ping with ip=none")
        out = m.command("brctl show")
        if "keel0" in out or "eth0" in out or "xenbr1" in out:
            raise TestFailure("keel0 or eth0 joined a bridge:\n" + out)


def test_guest():
    # The uplink is given explicitly: without a -netdev QEMU would add its
    # default NIC on user networking without restrict=on.
    with Machine("ip-guest", keel_args="autostart=0 ip=10.0.0.100/24", timeout=900,
                 env={"KEEL_ARCHIVE": ARCHIVE, "QEMU_ARGS": user_net()}) as m:
        m.boot(180)
        m.expect(r"net: keel0 on xenbr0, MAC [0-9a-f:]+ \([^)]*\): 10\.0\.0\.100/24 static", 120)
        out = m.command("net-bench start")
        expect_in(out, r"listening on TCP port 5001", "net-bench start")
        out = m.command("create kt-ip.cfg", timeout=300)
        if re.search(r"cannot|error|fail", out, re.I):
            raise TestFailure("create kt-ip: " + out)
        out = m.command("console-wait kt-ip KEEL-NET-UP 200", timeout=240)
        if "found" not in out:
            raise TestFailure("the guest's network never came up:\n"
                              + m.command("console-log kt-ip 4000"))
        ping_ok(m, "10.0.0.1", 3)
        out = m.command("console-wait kt-ip 'KEEL-TEST net-sent' 200", timeout=240)
        log = m.command("console-log kt-ip 8000")
        expect_in(log, r"KEEL-TEST net-ping ok", "the guest pings keel")
        expect_in(log, r"KEEL-TEST net-sent ok bytes=%d" % GUEST_STREAM_BYTES,
                  "the guest sent its stream to keel")
        peer, secs, mbit = bench_result(m, GUEST_STREAM_BYTES)
        if peer != "10.0.0.1":
            raise TestFailure("net-bench's transfer came from %s, not the guest" % peer)
        print("  guest -> keel: %d bytes in %.3f s, %.2f Mbit/s"
              % (GUEST_STREAM_BYTES, secs, mbit), flush=True)


def main():
    make_test_archive(ARCHIVE)
    tests = [
        ("ip_dhcp_ping_bench", test_dhcp),
        ("ip_static", test_static),
        ("ip_none", test_none),
        ("ip_guest_ping_bench", test_guest),
    ]
    only = sys.argv[1:]  # by hand: test_ip.py ip_static
    failed = run_tests([t for t in tests if not only or t[0] in only])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

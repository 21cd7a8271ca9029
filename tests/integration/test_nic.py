#!/usr/bin/env python3
"""
keel's NIC drivers (issue 9, part 1): virtio-net and e1000 on QEMU's
user-mode network (`-netdev user,restrict=on`: nothing leaves QEMU).  For
each model: `nic` shows the MAC QEMU was given, link up and the interrupt
mode; `arping` gets the answer of QEMU's gateway 10.0.2.2 (MAC
52:55:0a:00:02:02) through the NIC API; a burst of 200 requests moves the
transmit counter by exactly 200 frames and the receive counter by at least
200; a frame spread over several receive buffers (virtio-net's
MRG_RXBUF, e1000's descriptor chain) arrives intact; the link follows QEMU's `set_link` (QMP) both ways; poweroff resets
the devices.  Boots: virtio-net on i440fx (MSI-X), e1000 (INTx: QEMU's
82540EM has no MSI), both at once (eth0 and eth1), virtio-net on q35
(MSI-X) and with `pci_nomsi` (INTx), and one without a NIC for the boot
time figure.
"""
import json
import os
import re
import socket
import sys
import time

from harness import ROOT, Machine, TestFailure, run_tests

GATEWAY_MAC = "52:55:0a:00:02:02"
MAC_VIRTIO = "52:54:00:12:34:56"
MAC_E1000 = "52:54:00:12:34:57"
SCRATCH = os.path.join(ROOT, "build", "test-nic")
FIGURES = {}


def netdev(n, model, mac, qmp_id=None):
    return ("-netdev user,id=n%d,restrict=on -device %s,netdev=n%d,id=nic%d,mac=%s" %
            (n, model, n, n, mac))


def expect_in(out, rx, what):
    m = re.search(rx, out, re.M)
    if not m:
        raise TestFailure("%s: /%s/ not in output:\n%s" % (what, rx, out))
    return m


class Qmp:
    """QEMU's machine protocol on a Unix socket, for set_link."""

    def __init__(self, path):
        self.path = path
        self.sock = None

    def connect(self, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.path)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TestFailure("no QMP socket at %s" % self.path)
                time.sleep(0.5)
        self.sock = s
        self.f = s.makefile("rw")
        self.f.readline()  # greeting
        self.call("qmp_capabilities")

    def call(self, cmd, **args):
        self.f.write(json.dumps({"execute": cmd, "arguments": args}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                if "error" in r:
                    raise TestFailure("QMP %s: %s" % (cmd, r["error"]))
                return r["return"]

    def close(self):
        if self.sock:
            self.sock.close()


def qmp_args(name):
    os.makedirs(SCRATCH, exist_ok=True)
    path = os.path.join(SCRATCH, name + ".qmp")
    if os.path.exists(path):
        os.unlink(path)
    return path, " -qmp unix:%s,server=on,wait=off" % path


def boot(m, nics):
    """Boots, records the time to the prompt, and waits for each NIC's
    driver line (drivers probe after the prompt)."""
    t0 = time.monotonic()
    m.boot()
    prompt_s = time.monotonic() - t0
    for i in range(nics):
        rx = r"net: eth%d: \S+, MAC" % i
        if not re.search(rx, m.buf):
            m.expect(rx, timeout=120)
    return prompt_s


def nic_info(m, name):
    out = m.command("nic")
    g = expect_in(out, r"^%s: (\S+) at (\S+), MAC (\S+), link (\w+)[^,]*, mtu \d+, (\S+) "
                       r"\((\d+) vectors?\)\n  features:([^;]*); device: (.*)\n"
                       r"  rx (\d+) frames (\d+) bytes, (\d+) errors, (\d+) dropped\n"
                       r"  tx (\d+) frames (\d+) bytes, (\d+) errors, (\d+) busy\n"
                       r"  (\d+) interrupts" % name, "nic " + name)
    keys = ("model", "bdf", "mac", "link", "irq", "nvec", "features", "device", "rx_frames",
            "rx_bytes", "rx_errors", "rx_dropped", "tx_frames", "tx_bytes", "tx_errors",
            "tx_busy", "irqs")
    d = dict(zip(keys, g.groups()))
    for k in keys[8:] + ("nvec",):
        d[k] = int(d[k])
    d["features"] = d["features"].split()
    return d


def check_nic(m, name, model, mac, irq):
    d = nic_info(m, name)
    if d["model"] != model or d["mac"] != mac or d["link"] != "up":
        raise TestFailure("%s: expected %s %s link up, got %s" % (name, model, mac, d))
    if d["irq"] != irq:
        raise TestFailure("%s: expected %s interrupts, got %s" % (name, irq, d["irq"]))
    return d


def arping(m, name, count=1, timeout=60):
    out = m.command("arping -I %s -s 10.0.2.15 -c %d%s 10.0.2.2" %
                    (name, count, " -q" if count > 5 else ""), timeout=timeout)
    g = expect_in(out, r"Sent (\d+) probes, Received (\d+) response", "arping " + name)
    sent, got = int(g.group(1)), int(g.group(2))
    if sent != count or got != count:
        raise TestFailure("arping %s: %d sent, %d replies, wanted %d:\n%s" %
                          (name, sent, got, count, out))
    g = expect_in(out, r"reply MAC (\S+); rtt min ([\d.]+) ms, median ([\d.]+) ms, max ([\d.]+)",
                  "arping summary")
    if g.group(1) != GATEWAY_MAC:
        raise TestFailure("arping %s: reply from %s, not the gateway %s" %
                          (name, g.group(1), GATEWAY_MAC))
    return float(g.group(3))


def burst(m, name, model):
    """200 requests: the transmit counter moves by exactly 200 frames of 60
    bytes, the receive counter by at least 200 (the replies)."""
    a = nic_info(m, name)
    median = arping(m, name, 200, timeout=240)
    b = nic_info(m, name)
    if b["tx_frames"] - a["tx_frames"] != 200 or b["tx_bytes"] - a["tx_bytes"] != 200 * 60:
        raise TestFailure("%s: tx moved by %d frames / %d bytes, wanted 200 / 12000" %
                          (name, b["tx_frames"] - a["tx_frames"], b["tx_bytes"] - a["tx_bytes"]))
    if b["rx_frames"] - a["rx_frames"] < 200:
        raise TestFailure("%s: rx moved by %d frames, wanted >= 200" %
                          (name, b["rx_frames"] - a["rx_frames"]))
    if b["irqs"] <= a["irqs"] or b["tx_errors"] or b["rx_errors"]:
        raise TestFailure("%s: interrupts or errors wrong: %s -> %s" % (name, a, b))
    FIGURES.setdefault("arping median ms", {})[model] = median
    # Frames handed over back to back fill the ring: -EAGAIN is counted
    # (tx busy), the frame retried, and every frame still goes out once.
    out = m.command("nic-flood %s 1000" % name, timeout=120)
    g = expect_in(out, r"1000 frames sent in (\d+) ms, ring full \(-EAGAIN\) (\d+) times, "
                       r"1000 completed$", "nic-flood")
    c = nic_info(m, name)
    if c["tx_frames"] - b["tx_frames"] != 1000 or c["tx_busy"] - b["tx_busy"] != int(g.group(2)):
        raise TestFailure("%s: flood counters: %s -> %s" % (name, b, c))
    FIGURES.setdefault("1000-frame flood: ms, times ring full", {})[model] = \
        "%s ms, %s" % (g.group(1), g.group(2))


def multi_buffer(m, name, buf_bytes, frags):
    """A 1442-byte echo reply arrives whole in one receive buffer, then,
    with receive buffers of buf_bytes, as `frags` fragments (virtio-net:
    MRG_RXBUF buffers; e1000: descriptors up to EOP) whose data is intact."""
    out = m.command("nic-test -I %s ping -l 1400 10.0.2.2" % name)
    expect_in(out, r"echo reply of 1442 bytes in 1 fragment\(s\), data intact", "ping")
    m.command("nic-rx-buf %s %d" % (name, buf_bytes))
    # Every posted buffer goes round once (virtio-net posts the new size
    # as buffers come back); QEMU's e1000 takes no frame for 1 s after an
    # RCTL write.
    arping(m, name, 130)
    time.sleep(1.5)
    out = m.command("nic-test -I %s ping -l 1400 10.0.2.2" % name)
    expect_in(out, r"echo reply of 1442 bytes in %d fragment\(s\), data intact" % frags,
              "ping over %d-byte buffers" % buf_bytes)
    m.command("nic-rx-buf %s 2048" % name)
    time.sleep(1.5)


def link_toggle(m, qmp, name, dev):
    start = m.pos
    qmp.call("set_link", name=dev, up=False)
    m.expect(r"net: %s: link down" % name, timeout=30)
    if nic_info(m, name)["link"] != "down":
        raise TestFailure("%s: nic does not show link down" % name)
    out = m.command("arping -I %s -s 10.0.2.15 10.0.2.2" % name)
    expect_in(out, r"link down", "arping on a link that is down")
    qmp.call("set_link", name=dev, up=True)
    m.expect(r"net: %s: link up" % name, timeout=30)
    arping(m, name)
    del start


def poweroff(m, lines):
    m.send("poweroff\r")
    for rx in lines:
        m.expect(rx, timeout=120)
    m.expect(r"Entering ACPI S5|powering off", timeout=120)
    m.wait_exit(120)


def virtio_machine():
    path, qa = qmp_args("virtio")
    with Machine("nic-virtio", timeout=900,
                 env={"QEMU_ARGS": netdev(0, "virtio-net-pci", MAC_VIRTIO) + qa}) as m:
        FIGURES.setdefault("boot to prompt s", {})["virtio-net"] = boot(m, 1)
        d = check_nic(m, "eth0", "virtio-net", MAC_VIRTIO, "MSI-X")
        if d["nvec"] != 2:
            raise TestFailure("virtio-net: expected 2 MSI-X vectors, got %d" % d["nvec"])
        expect_in(" ".join(d["device"].split()), r"\bMRG_RXBUF\b.*\bSTATUS\b", "negotiated")
        FIGURES.setdefault("offloads", {})["virtio-net"] = "%s (device: %s)" % (
            " ".join(d["features"]), d["device"])
        arping(m, "eth0")
        burst(m, "eth0", "virtio-net")
        # QEMU offers no checksum or TSO offload on user networking (no
        # vnet header on that backend): the check says so.
        out = m.command("nic-test -I eth0 csum 10.0.2.2")
        expect_in(out, r"transmit checksum not offered by the device", "virtio-net csum")
        multi_buffer(m, "eth0", 512, 3)
        qmp = Qmp(path)
        qmp.connect()
        try:
            link_toggle(m, qmp, "eth0", "nic0")
        finally:
            qmp.close()
        poweroff(m, [r"virtio-net: eth0: device reset, stopped"])


def e1000_machine():
    path, qa = qmp_args("e1000")
    with Machine("nic-e1000", timeout=900,
                 env={"QEMU_ARGS": netdev(0, "e1000", MAC_E1000) + qa}) as m:
        FIGURES.setdefault("boot to prompt s", {})["e1000"] = boot(m, 1)
        d = check_nic(m, "eth0", "e1000", MAC_E1000, "INTx")
        for f in ("tx-csum", "tso4"):
            if f not in d["features"]:
                raise TestFailure("e1000: %s not offered: %s" % (f, d["features"]))
        FIGURES.setdefault("offloads", {})["e1000"] = " ".join(d["features"])
        # QEMU's e1000 takes no frame for 1 s after the receiver is enabled.
        time.sleep(1.5)
        arping(m, "eth0")
        burst(m, "eth0", "e1000")
        # The offloads are real: QEMU's gateway checks what the NIC filled in.
        out = m.command("nic-test -I eth0 csum 10.0.2.2")
        expect_in(out, r"checksum offload: echo reply received", "e1000 checksum offload")
        out = m.command("nic-test -I eth0 tso 10.0.2.2")
        expect_in(out, r"1 frame of 7554 bytes sent as 8 segments; 8 of 8 answered",
                  "e1000 TSO")
        multi_buffer(m, "eth0", 256, 6)
        qmp = Qmp(path)
        qmp.connect()
        try:
            link_toggle(m, qmp, "eth0", "nic0")
        finally:
            qmp.close()
        poweroff(m, [r"e1000: eth0: device reset, stopped"])


def both_machine():
    args = netdev(0, "virtio-net-pci", MAC_VIRTIO) + " " + netdev(1, "e1000", MAC_E1000)
    with Machine("nic-both", timeout=600, env={"QEMU_ARGS": args}) as m:
        boot(m, 2)
        check_nic(m, "eth0", "virtio-net", MAC_VIRTIO, "MSI-X")
        check_nic(m, "eth1", "e1000", MAC_E1000, "INTx")
        time.sleep(1.5)
        arping(m, "eth0", 5)
        arping(m, "eth1", 5)
        # A device error stops that NIC only: dom0 and the other NIC go on.
        for bad, good, model in (("eth1", "eth0", "e1000"), ("eth0", "eth1", "virtio-net")):
            m.command("nic-inject-fault %s" % bad)
            out = m.command("arping -I %s -s 10.0.2.15 10.0.2.2" % bad)
            if not re.search(r"%s: %s: device error: receive length .*: NIC stopped" %
                             (model, bad), out):
                m.expect(r"%s: %s: device error: receive length .*: NIC stopped" % (model, bad))
            d = nic_info(m, bad)
            if d["link"] != "down":
                raise TestFailure("%s: still up after a device error" % bad)
            if "(stopped)" not in m.command("nic"):
                raise TestFailure("nic does not say stopped")
            out = m.command("arping -I %s -s 10.0.2.15 10.0.2.2" % bad)
            expect_in(out, r"link down", "arping on a stopped NIC")
            if good == "eth0":
                arping(m, good, 5)   # the other NIC still works
        poweroff(m, [])


def q35_machine():
    with Machine("nic-q35", timeout=600,
                 env={"QEMU_ARGS": "-machine q35 " + netdev(0, "virtio-net-pci", MAC_VIRTIO) +
                      " " + netdev(1, "e1000", MAC_E1000)}) as m:
        boot(m, 2)
        check_nic(m, "eth0", "virtio-net", MAC_VIRTIO, "MSI-X")
        check_nic(m, "eth1", "e1000", MAC_E1000, "INTx")
        time.sleep(1.5)
        arping(m, "eth0", 20)
        arping(m, "eth1", 20)


def intx_machine():
    with Machine("nic-intx", keel_args="pci_nomsi", timeout=600,
                 env={"QEMU_ARGS": netdev(0, "virtio-net-pci", MAC_VIRTIO)}) as m:
        boot(m, 1)
        check_nic(m, "eth0", "virtio-net", MAC_VIRTIO, "INTx")
        arping(m, "eth0", 20)
        if nic_info(m, "eth0")["irqs"] < 20:
            raise TestFailure("virtio-net INTx: fewer interrupts than frames")


def no_nic_machine():
    with Machine("nic-none", timeout=300, env={"QEMU_ARGS": "-nic none"}) as m:
        t0 = time.monotonic()
        m.boot()
        FIGURES.setdefault("boot to prompt s", {})["no NIC"] = time.monotonic() - t0
        out = m.command("nic")
        expect_in(out, r"^no network cards$", "nic without a NIC")
        out = m.command("arping -I eth0 10.0.2.2")
        expect_in(out, r"no interface eth0", "arping without a NIC")


if __name__ == "__main__":
    tests = [("virtio-net: MAC, link, MSI-X, arping, 200-frame burst, set_link, poweroff",
              virtio_machine),
             ("e1000: MAC, link, INTx, offloads, arping, 200-frame burst, set_link, poweroff",
              e1000_machine),
             ("both: eth0 virtio-net + eth1 e1000, a device error stops one NIC only",
              both_machine),
             ("q35: virtio-net MSI-X + e1000", q35_machine),
             ("intx: virtio-net with pci_nomsi", intx_machine),
             ("no NIC: boot time, nic and arping say so", no_nic_machine)]
    only = sys.argv[1:]
    if only:
        tests = [t for t in tests if any(o in t[0] for o in only)]
    failed = run_tests(tests)
    for k, v in FIGURES.items():
        print("figure: %s: %s" % (k, ", ".join("%s %s" % (a, ("%.3f" % b) if isinstance(b, float)
                                                         else b) for a, b in v.items())))
    sys.exit(1 if failed else 0)

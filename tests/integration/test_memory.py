#!/usr/bin/env python3
"""
dom0 memory (issue 6, item 3), on real Xen + keel in QEMU:
- booted without dom0_mem on a 3 GiB machine, keel keeps dom0_keep (256 MiB
  by default) and gives the rest back to Xen; `mem`, `info` and `list` agree
  with Xen's tot_pages; `mem-set 0` shrinks and grows dom0 for real; three
  768 MiB Debian guests (most of the machine) run; a 256 MiB guest is
  created while dom0's free memory has no two neighbouring pages; Xen's free
  memory and dom0's free pages come back after the guests are destroyed;
  grants of a running guest map and unmap through the grant API;
- booted with dom0_mem=2G on a 4 GiB machine, all of it is usable: a page
  above 1 GiB is allocated, written and read;
- a thread that overflows its stack gives a clear report naming it.
"""
import os
import re
import sys
import time

from harness import Machine, ROOT, TestFailure, make_test_archive, run_shared_checks, run_tests

ARCHIVE = os.path.join(ROOT, "build", "test-archive.cpio")
MARKER = "KEEL-DOMU-INIT"


def field(out, name):
    found = re.search(r"^%s\s*:\s*(\d+)" % re.escape(name), out, re.M)
    if not found:
        raise TestFailure("no %s in:\n%s" % (name, out))
    return int(found.group(1))


def mem(m):
    """dom0 pages keel counts, Xen's tot_pages, pages given back, free pages."""
    out = m.command("mem")
    got = re.search(r"^dom0 pages\s*:\s*(\d+)", out, re.M)
    xen = re.search(r"Xen's count\s*:\s*(\d+)", out)
    back = re.search(r"given back to Xen: (\d+)", out)
    free = re.search(r"^free pages\s*:\s*(\d+)", out, re.M)
    if not (got and xen and back and free):
        raise TestFailure("mem output not understood:\n" + out)
    return int(got.group(1)), int(xen.group(1)), int(back.group(1)), int(free.group(1))


def info(m):
    out = m.command("info")
    return (field(out, "dom0_nr_pages"), field(out, "free_memory"),
            field(out, "xen_free_pages"))


def dom0_listed_mib(m):
    found = re.search(r"^Domain-0\s+0\s+(\d+)\s", m.command("list"), re.M)
    if not found:
        raise TestFailure("Domain-0 not listed")
    return int(found.group(1))


def check_agree(m, expect_pages=None):
    pages, xen, back, free = mem(m)
    info_pages, _, _ = info(m)
    listed = dom0_listed_mib(m)
    if pages != xen:
        raise TestFailure("mem says dom0 holds %d pages, Xen's tot_pages %d" % (pages, xen))
    if info_pages != xen:
        raise TestFailure("info says dom0_nr_pages %d, Xen's tot_pages %d" % (info_pages, xen))
    if listed != xen * 4096 >> 20:
        raise TestFailure("list shows Domain-0 at %d MiB, Xen's tot_pages %d" % (listed, xen))
    if expect_pages is not None and pages != expect_pages:
        raise TestFailure("dom0 holds %d pages, expected %d" % (pages, expect_pages))
    return pages, back, free


def wait_console(m, name, text, secs=240):
    out = m.command("console-wait %s %s %d" % (name, text, secs), timeout=secs + 30)
    if "found" not in out:
        raise TestFailure("%s never printed %s: %s\n--- console:\n%s" %
                          (name, text, out, m.command("console-log %s" % name)[-3000:]))


def create(m, cfg):
    out = m.command("create %s" % cfg, timeout=300)
    if re.search(r"fail|cannot|no dom0 memory|error", out, re.I):
        raise TestFailure("create %s: %s" % (cfg, out))


def balloon_checks():
    state = {}

    def boot():
        state["m"] = Machine("memory-balloon", timeout=2400, keel_args="autostart=0",
                             env={"KEEL_ARCHIVE": ARCHIVE, "DOM0_MEM": "none",
                                  "QEMU_MEM": "3072"}).__enter__()
        state["m"].boot(300)

    def kept_and_given_back():
        m = state["m"]
        # The give-back runs in slices after the prompt (the shell can answer
        # between two of them): within one `mem` keel's count and Xen's agree
        # all along; mem, info and list are compared once it has ended.
        for _ in range(120):
            pages, xen, _, _ = mem(m)
            if pages != xen:
                raise TestFailure("during the give-back mem says dom0 holds %d pages, "
                                  "Xen's tot_pages %d" % (pages, xen))
            if pages == 65536:
                break
            time.sleep(0.5)
        pages, back, free = check_agree(m, expect_pages=65536)
        # Printed on the console when it ends (dmesg's replay of old prompts
        # would end command()'s output early).
        given = re.search(r"mm: gave (\d+) MiB of pfns \S+ back to Xen in (\d+) ms", m.buf)
        if not given:
            raise TestFailure("no give-back line in dmesg")
        print("  boot give-back took %s ms after the prompt" % given.group(2), flush=True)
        if back < 500 * 256:
            raise TestFailure("only %d pages given back on a 3 GiB machine" % back)
        _, free_mib, _ = info(m)
        if free_mib < 2300:
            raise TestFailure("Xen has only %d MiB free after dom0 ballooned down" % free_mib)
        state["free_dom0"], state["free_xen"] = free, info(m)[2]
        print("  dom0 keeps %d pages (%d MiB), gave back %d MiB; Xen free %d MiB, dom0 free %d pages"
              % (pages, pages >> 8, back >> 8, free_mib, free), flush=True)

    def mem_set_dom0():
        m = state["m"]
        xen_free0 = info(m)[2]
        m.command("mem-set 0 200m")
        check_agree(m, expect_pages=51200)
        xen_free1 = info(m)[2]
        if xen_free1 - xen_free0 < 14336 - 64:
            raise TestFailure("Xen free pages %d -> %d after dom0 gave back 56 MiB"
                              % (xen_free0, xen_free1))
        m.command("mem-set 0 256m")
        check_agree(m, expect_pages=65536)
        # Too small: dom0 keeps 16 MiB free and says it could not go lower.
        out = m.command("mem-set 0 1m")
        if "not enough free dom0 memory" not in out:
            raise TestFailure("mem-set 0 1m: " + out)
        pages, _, free = check_agree(m)
        if free < 4000 or free > 4096 + 512:
            raise TestFailure("dom0 left with %d free pages after mem-set 0 1m" % free)
        m.command("mem-set 0 256m")
        check_agree(m, expect_pages=65536)
        out = m.command("selftest")
        if "selftest: 0 failed" not in out:
            raise TestFailure("selftest after balloon round trip:\n" + out)

    def guests_fill_machine():
        m = state["m"]
        for i in (1, 2, 3):
            create(m, "kmem%d.cfg" % i)
        for i in (1, 2, 3):
            wait_console(m, "kmem%d" % i, MARKER)
        _, free_mib, _ = info(m)
        print("  three 768 MiB guests running; Xen free %d MiB" % free_mib, flush=True)
        if free_mib > 600:
            raise TestFailure("guests do not fill the machine: %d MiB free" % free_mib)
        check_agree(m, expect_pages=65536)

    def grants_of_a_guest():
        m = state["m"]
        domid = int(re.search(r"^(\d+)$", m.command("domid kmem1"), re.M).group(1))
        out = m.command("selftest gnttab-guest %d" % domid)
        found = re.search(r"xenstore mfn (\d+)", out)
        if "ok" not in out or not found:
            raise TestFailure("gnttab-guest: " + out)
        ring = m.command("xenstore-read /local/domain/%d/store/ring-ref" % domid).strip()
        if ring.split()[-1] != found.group(1):
            raise TestFailure("grant 1 maps mfn %s, the guest's ring-ref is %s"
                              % (found.group(1), ring))
        if not re.search(r"grants mapped\s*:\s*0 now", m.command("mem")):
            raise TestFailure("mapped-grant counter not back to 0")

    def create_256_when_fragmented():
        m = state["m"]
        m.command("destroy kmem3")
        out = m.command("selftest fragment", timeout=300)
        if "holding" not in out:
            raise TestFailure("fragment: " + out)
        try:
            create(m, "k256.cfg")
            wait_console(m, "k256", MARKER)
        finally:
            m.command("selftest unfragment", timeout=300)
        m.command("destroy k256")

    def memory_comes_back():
        m = state["m"]
        for name in ("kmem1", "kmem2"):
            m.command("destroy %s" % name)
        # Baseline with warm caches: the decompressed guest kernel is kept,
        # and Xen keeps dom0's first grant maptrack page.
        m.command("selftest")  # also sweeps empty slabs
        _, _, free0 = check_agree(m, expect_pages=65536)
        xen0 = info(m)[2]
        for i in range(5):
            create(m, "k256.cfg")
            m.command("destroy k256")
        m.command("selftest")
        _, _, free1 = check_agree(m, expect_pages=65536)
        xen1 = info(m)[2]
        print("  5 create/destroy of a 256 MiB guest: dom0 free %d -> %d pages, "
              "Xen free %d -> %d pages" % (free0, free1, xen0, xen1), flush=True)
        if xen1 != xen0:
            raise TestFailure("Xen free pages %d before the cycles, %d after" % (xen0, xen1))
        if free1 < free0 - 16:
            raise TestFailure("dom0 free pages %d before the cycles, %d after" % (free0, free1))

    checks = [("boot without dom0_mem on 3 GiB", boot),
              ("dom0 keeps 256 MiB, gives the rest back; mem/info/list agree with Xen",
               kept_and_given_back),
              ("mem-set 0 shrinks and grows dom0 for real", mem_set_dom0),
              ("three 768 MiB guests fill the machine and boot", guests_fill_machine),
              ("a running guest's grants 0/1 map and unmap through the API",
               grants_of_a_guest),
              ("256 MiB guest created with no two free neighbouring dom0 pages",
               create_256_when_fragmented),
              ("Xen and dom0 free memory come back after create/destroy",
               memory_comes_back)]
    return run_shared_checks(checks, state)


def big_dom0():
    with Machine("memory-2g", timeout=1200, env={"DOM0_MEM": "2G", "QEMU_MEM": "4096"}) as m:
        m.boot(400)
        check_agree(m, expect_pages=524288)
        out = m.command("selftest highmem", timeout=300)
        if not re.search(r"selftest highmem: ok \(pfn 0x[0-9a-f]+ = (\d+) MiB", out):
            raise TestFailure("highmem: " + out)
        if int(re.search(r"= (\d+) MiB", out).group(1)) < 1024:
            raise TestFailure("page not above 1 GiB: " + out)


def stack_overflow():
    with Machine("memory-stack-overflow", timeout=300) as m:
        m.boot(200)
        m.send("selftest stack-overflow\r")
        m.expect(r"STACK OVERFLOW in thread 'stack-hog': stack 0x[0-9a-f]+-0x[0-9a-f]+", 60)
        m.expect(r"FATAL EXCEPTION \d+ \(\w+\) in thread 'stack-hog'", 30)
        m.expect(r"keel: stopped after fatal exception", 30)
        if "survived" in m.buf:
            raise TestFailure("the overflowing thread survived")


if __name__ == "__main__":
    make_test_archive(ARCHIVE)
    failed = run_tests([("stack overflow: clear report naming the thread", stack_overflow),
                        ("dom0_mem=2G on 4 GiB: memory above 1 GiB is usable", big_dom0)])
    failed += balloon_checks()
    sys.exit(1 if failed else 0)

"""
In-QEMU test harness: boots real Xen 4.17 + keel (scripts/qemu.sh) with a
hard timeout, drives keel's console over the serial line, and keeps every
serial log under build/test-logs/.  Results are judged from the serial log,
never from QEMU's exit code alone: a crashed dom0 makes Xen reboot and QEMU
then exits 0 too (shared/reference fact 24).
"""
import os
import re
import subprocess
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LOG_DIR = os.path.join(ROOT, "build", "test-logs")
PROMPT = "keel# "


class TestFailure(Exception):
    pass


class Machine:
    """One QEMU run.  Use as a context manager; the run is always killed."""

    def __init__(self, name, keel_args="", timeout=240, env=None):
        os.makedirs(LOG_DIR, exist_ok=True)
        self.name = name
        self.log_path = os.path.join(LOG_DIR, name + ".log")
        self.buf = ""
        self.pos = 0  # expect() searches from here
        self.lock = threading.Condition()
        self.exited = False
        e = dict(os.environ)
        e["KEEL_ARGS"] = keel_args
        e["QEMU_TIMEOUT"] = str(timeout)
        # The suite runs on Xen 4.17 unless XEN (4.17|4.20) says otherwise;
        # tests/integration/test_xen420.py passes XEN=4.20 itself.
        e["XEN"] = os.environ.get("XEN") or "4.17"
        if env:
            e.update(env)
        self.log = open(self.log_path, "w", encoding="utf-8", errors="replace")
        self.start_time = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(ROOT, "scripts", "qemu.sh")], cwd=ROOT, env=e,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            data = self.proc.stdout.read1(4096)
            if not data:
                break
            text = data.decode("utf-8", errors="replace").replace("\r", "")
            with self.lock:
                self.buf += text
                self.log.write(text)
                self.log.flush()
                self.lock.notify_all()
        self.proc.wait()
        with self.lock:
            self.exited = True
            self.lock.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.kill()
        return False

    def kill(self):
        # QEMU runs under `timeout --foreground`, which does not pass a kill
        # on to its child: kill the whole process group.
        try:
            os.killpg(self.proc.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.kill()
        self.reader.join(10)
        self.log.close()

    def expect(self, pattern, timeout=60):
        """Waits for regex pattern after the cursor; returns the match and
        moves the cursor past it.  Raises TestFailure on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.exited:
                    why = "QEMU exited" if self.exited else "timeout %ss" % timeout
                    tail = "\n".join(self.buf.splitlines()[-25:])
                    raise TestFailure("%s waiting for /%s/; serial log: %s; its last lines:\n%s" %
                                      (why, pattern, self.log_path, tail))
                self.lock.wait(min(left, 1.0))

    def send(self, text):
        """Types text on the serial line, a few bytes at a time."""
        data = text.encode()
        for i in range(0, len(data), 8):
            self.proc.stdin.write(data[i:i + 8])
            self.proc.stdin.flush()
            time.sleep(0.02)

    def command(self, line, timeout=60):
        """Runs a console command; returns its output (up to the next prompt)."""
        self.send(line + "\r")
        # keel's log lines (a domain started in the background, a disk that
        # connected, a DHCP lease) may land in the middle of the echo: allow
        # them between any two echoed characters and before its newline.
        gap = r"(?:[^\n]*\n)*?"
        self.expect(gap.join(re.escape(ch) for ch in line) + gap + r"\n", timeout)
        start = self.pos
        self.expect(re.escape(PROMPT), timeout)
        return self.buf[start:self.pos - len(PROMPT)]

    def boot(self, timeout=180):
        self.expect(re.escape(PROMPT), timeout)
        return self

    def wait_exit(self, timeout=60):
        """Waits for QEMU to end; returns its exit status."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("QEMU still running after %ss; serial log: %s" %
                              (timeout, self.log_path))

    def output_since(self, start):
        return self.buf[start:]


def run_tests(tests):
    """Runs (name, fn) pairs; prints PASS/FAIL lines; returns failures."""
    failed = 0
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            print("PASS %s (%.1fs)" % (name, time.monotonic() - t0), flush=True)
        except Exception as e:  # a harness bug must fail the test, not the run
            failed += 1
            print("FAIL %s: %s" % (name, e), flush=True)
    return failed


def run_shared_checks(checks, state):
    """Runs checks that share one machine: the first check boots it into
    state["m"]; when that failed, every later check fails as "no machine"
    rather than hanging.  The machine is always killed at the end."""
    first = checks[0][1]

    def guarded(fn):
        def run():
            if "m" not in state and fn is not first:
                raise TestFailure("no machine (boot failed)")
            fn()
        return run
    try:
        return run_tests([(n, guarded(f)) for n, f in checks])
    finally:
        if "m" in state:
            state["m"].kill()


# ---- readings several test files take from a booted keel -----------------

def xen_free(m):
    """Xen's free pages (`info`)."""
    return int(re.search(r"^xen_free_pages\s*:\s*(\d+)", m.command("info"), re.M).group(1))


def settled_free(m, want):
    """Xen's free pages once a dead domain's last pages are back (Xen frees
    them a moment after destroy returns): the value, after it equals want
    (None: after it stops changing), or the last one read in 10 s."""
    last = cur = None
    for _ in range(20):
        cur = xen_free(m)
        if cur == want or (want is None and cur == last):
            return cur
        last = cur
        time.sleep(0.5)
    return cur


def grants_mapped(m):
    """Foreign grant pages dom0 has mapped now (`mem`)."""
    out = m.command("mem")
    g = re.search(r"grants mapped\s*:\s*(\d+) now", out)
    if not g:
        raise TestFailure("mem shows no grant count:\n" + out)
    return int(g.group(1))


def heap_kib(m):
    """keel's heap in use, KiB (`mem`)."""
    out = m.command("mem")
    found = re.search(r"heap\s*:\s*(\d+) KiB in use", out)
    if not found:
        raise TestFailure("no heap figure in `mem`: " + out)
    return int(found.group(1))


def make_test_archive(path, *options):
    """(Re)builds the boot archive the tests boot with (scripts/
    mk-test-archive.sh): bootfs/, the Debian domU, the test configs.  Each
    file that boots it builds it first: a fresh checkout has none."""
    subprocess.run([os.path.join(ROOT, "scripts", "mk-test-archive.sh"), path] + list(options),
                   check=True, stdout=subprocess.DEVNULL)

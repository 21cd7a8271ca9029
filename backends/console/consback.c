/*
 * The console backend's kernel side: the table of connected guest consoles,
 * their ring mappings, event channels and logs, the thread that drains them,
 * and `xl console` attach.  The ring protocol itself is ring.c's.
 *
 * Design.
 *  - consback_connect (the builder) maps the guest's ring page and binds to
 *    its port; consback_disconnect (domain destruction) undoes both and
 *    frees the log.  A connection is a kmalloc'd struct consback in
 *    consoles[]; each gets a serial number so that a thread sleeping across
 *    a disconnect (attach, wait_output) re-finds its connection by serial
 *    after every wake-up and never holds a pointer across a sleep.
 *  - The event handler runs in upcall context: it sets drain_kicked and
 *    wakes the drain thread, nothing else.
 *  - One thread ("consback") drains every connected console: it always
 *    consumes all the guest's output (the guest never blocks on us), appends
 *    it to that domain's log (newest CONSBACK_LOG_BYTES kept), copies it to
 *    keel's console if that domain is attached, and notifies the guest that
 *    out[] has room.  A pass reads at most one ring's worth per console and
 *    the thread yields between passes, so a chatty guest cannot starve dom0.
 *  - A guest whose indices are impossible is marked broken: its port is
 *    masked, one line is logged, and it gets no more service until the
 *    toolstack disconnects it.  Its log stays readable.
 *  - Threads are cooperative and nothing here sleeps while holding a
 *    connection, so the table needs no lock; only drain_kicked is shared
 *    with upcall context.
 */
#include <keel/consback.h>
#include <keel/evtchn.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <lib/logring.h>
#include "ring.h"

/* Consoles served at once. */
#define CONSBACK_MAX 64
/* How long attach waits for a guest to make room in in[] before it drops
 * the rest of what was typed (a guest that never reads its input). */
#define INPUT_STALL_MS 200
/* Bytes wait_output scans per step. */
#define SCAN_CHUNK 512

struct consback {
	domid_t domid;
	uint64_t serial;                /* this connection, never reused */
	struct xencons_interface *intf; /* the guest's ring page, mapped */
	evtchn_port_t port;             /* our end of the guest's console port */
	bool broken;                    /* impossible indices seen: no more service */
	uint64_t first_output_ns;       /* 0 until the first byte */
	uint64_t input_dropped;         /* typed bytes the guest never took */
	struct logring log;
};

static struct consback *consoles[CONSBACK_MAX];
static uint64_t next_serial = 1;
static uint64_t attached_serial;    /* the connection `xl console` shows; 0 = none */

static struct thread *drain_thread;
static struct waitq drain_wq;
static volatile bool drain_kicked;  /* set in upcall context */
static struct waitq output_wq;      /* consback_wait_output sleepers */

static struct consback *find(domid_t domid)
{
	for (size_t i = 0; i < CONSBACK_MAX; i++)
		if (consoles[i] && consoles[i]->domid == domid)
			return consoles[i];
	return NULL;
}

static struct consback *find_serial(uint64_t serial)
{
	for (size_t i = 0; i < CONSBACK_MAX; i++)
		if (consoles[i] && consoles[i]->serial == serial)
			return consoles[i];
	return NULL;
}

/* Wakes every thread that waits on a connection, so it re-checks it. */
static void wake_waiters(void)
{
	waitq_wake_all(console_input_waitq());
	waitq_wake_all(&output_wq);
}

static void mark_broken(struct consback *c, const char *ring)
{
	c->broken = true;
	evtchn_mask(c->port);
	klog("consback: domain %u wrote impossible %s ring indices; its console is stopped\n",
	     c->domid, ring);
	wake_waiters();
}

/* Upcall context: the guest produced output or consumed input. */
static void consback_event(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	drain_kicked = true;
	waitq_wake_all(&drain_wq);
}

/* Moves one ring's worth of c's output to its log; true if there was any. */
static bool drain_one(struct consback *c, char *buf)
{
	size_t got;

	if (c->broken)
		return false;
	if (consring_out_read(c->intf, buf, CONSRING_OUT_BYTES, &got)) {
		mark_broken(c, "output");
		return false;
	}
	if (!got)
		return false;
	if (!c->first_output_ns)
		c->first_output_ns = time_now_ns();
	logring_write(&c->log, buf, got);
	if (c->serial == attached_serial)
		console_write(buf, got);
	evtchn_notify(c->port);
	return true;
}

static bool kicked(void *ctx)
{
	(void)ctx;
	return drain_kicked;
}

static void drain_main(void *unused)
{
	static char buf[CONSRING_OUT_BYTES];

	(void)unused;
	for (;;) {
		waitq_wait_until(&drain_wq, kicked, NULL, 0);
		/* Cleared before the pass: an event during it kicks another. */
		drain_kicked = false;
		bool more;
		do {
			more = false;
			/* Re-read the table each pass: it may change while we yield. */
			for (size_t i = 0; i < CONSBACK_MAX; i++)
				if (consoles[i] && drain_one(consoles[i], buf))
					more = true;
			if (more) {
				waitq_wake_all(&output_wq);
				thread_yield();
			}
		} while (more);
	}
}

static void kick_drain(void)
{
	drain_kicked = true;
	waitq_wake_all(&drain_wq);
}

int consback_connect(domid_t domid, uint64_t ring_mfn, evtchn_port_t guest_port)
{
	size_t slot;
	int rc;

	if (find(domid))
		return -EEXIST;
	for (slot = 0; slot < CONSBACK_MAX && consoles[slot]; slot++)
		;
	if (slot == CONSBACK_MAX)
		return -ENOSPC;
	if (!drain_thread) {
		drain_thread = thread_create("consback", drain_main, NULL);
		if (!drain_thread)
			return -ENOMEM;
	}

	struct consback *c = kzalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	char *log_buf = kmalloc(CONSBACK_LOG_BYTES);
	if (!log_buf) {
		rc = -ENOMEM;
		goto err_free_console;
	}
	logring_init(&c->log, log_buf, CONSBACK_LOG_BYTES);

	mfn_t mfn = _mfn(ring_mfn);
	c->intf = vmap_mfns(&mfn, 1, domid, true, &rc);
	if (!c->intf)
		goto err_free_log;
	rc = evtchn_bind_interdomain(domid, guest_port, consback_event, NULL, &c->port);
	if (rc)
		goto err_unmap_ring;

	c->domid = domid;
	c->serial = next_serial++;
	consoles[slot] = c;
	/* The guest may have written before we bound: its events went nowhere. */
	kick_drain();
	return 0;

err_unmap_ring:
	vunmap(c->intf, 1);
err_free_log:
	kfree(log_buf);
err_free_console:
	kfree(c);
	return rc;
}

void consback_disconnect(domid_t domid)
{
	for (size_t i = 0; i < CONSBACK_MAX; i++) {
		struct consback *c = consoles[i];
		if (!c || c->domid != domid)
			continue;
		consoles[i] = NULL;
		/* Closing our end works whether or not the guest still exists. */
		int rc = evtchn_close(c->port);
		if (rc)
			klog("consback: domain %u: closing port %u: %d\n", domid, c->port, rc);
		vunmap(c->intf, 1);
		kfree(c->log.buf);
		kfree(c);
		/* An attached shell returns -ENODEV; wait_output returns false. */
		wake_waiters();
		return;
	}
}

/* ---- xl console ---- */

struct attach_wait {
	uint64_t serial;
	int c;
};

static bool input_or_gone(void *ctx)
{
	struct attach_wait *w = ctx;
	struct consback *c = find_serial(w->serial);

	if (!c || c->broken)
		return true;
	/* Takes the byte it finds, so checking and reading are one step. */
	w->c = console_trygetc();
	return w->c >= 0;
}

/* Gives typed bytes to the guest, waiting a little if its in[] is full. */
static void send_input(uint64_t serial, const char *data, size_t len)
{
	for (unsigned int waited_ms = 0;; waited_ms++) {
		struct consback *c = find_serial(serial);
		size_t put;

		if (!c || c->broken)
			return;
		if (consring_in_write(c->intf, data, len, &put)) {
			mark_broken(c, "input");
			return;
		}
		if (put)
			evtchn_notify(c->port);
		data += put;
		len -= put;
		if (!len)
			return;
		if (waited_ms == INPUT_STALL_MS) {
			c->input_dropped += len;
			return;
		}
		thread_sleep_ns(1000000);
	}
}

int consback_attach(domid_t domid)
{
	struct consback *c = find(domid);
	char buf[256];
	int rc;

	if (!c)
		return -ENOENT;
	if (attached_serial)
		return -EBUSY;
	if (c->broken) {
		kprintf("domain %u's console is broken\n", domid);
		return -ENODEV;
	}

	/* Replay, then go live, with no sleep in between: the drain thread
	 * prints exactly the bytes after the ones replayed here. */
	uint64_t serial = c->serial;
	uint64_t pos = c->log.head > CONSBACK_REPLAY_BYTES ? c->log.head - CONSBACK_REPLAY_BYTES : 0;
	size_t n;
	while ((n = logring_read(&c->log, &pos, buf, sizeof(buf))))
		console_write(buf, n);
	attached_serial = serial;

	for (;;) {
		struct attach_wait w = { .serial = serial, .c = -1 };
		waitq_wait_until(console_input_waitq(), input_or_gone, &w, 0);
		c = find_serial(serial);
		if (!c || c->broken) {
			kprintf("\n[domain %u's console went away]\n", domid);
			rc = -ENODEV;
			break;
		}
		/* Batch what is already typed; stop at the detach key. */
		bool detach = w.c == CONSBACK_DETACH_CHAR;
		n = 0;
		if (!detach)
			buf[n++] = (char)w.c;
		while (!detach && n < sizeof(buf)) {
			int ch = console_trygetc();
			if (ch < 0)
				break;
			if (ch == CONSBACK_DETACH_CHAR)
				detach = true;
			else
				buf[n++] = (char)ch;
		}
		if (n)
			send_input(serial, buf, n);
		if (detach) {
			console_puts("\n");
			rc = 0;
			break;
		}
	}
	attached_serial = 0;
	return rc;
}

/* ---- logs, for the toolstack and tests ---- */

size_t consback_read_log(domid_t domid, uint64_t *pos, char *out, size_t max)
{
	struct consback *c = find(domid);

	return c ? logring_read(&c->log, pos, out, max) : 0;
}

int consback_first_output_ns(domid_t domid, uint64_t *ns)
{
	struct consback *c = find(domid);

	if (!c)
		return -ENOENT;
	if (!c->first_output_ns)
		return -ENODATA;
	*ns = c->first_output_ns;
	return 0;
}

struct output_wait {
	uint64_t serial;
	const char *needle;
	size_t needle_len;
	uint64_t pos;                   /* next log byte to scan */
	size_t kept;                    /* tail of the last scan kept in window */
	bool found;
	char window[CONSBACK_NEEDLE_MAX - 1 + SCAN_CHUNK];
};

static bool has_needle(const char *hay, size_t len, const char *needle, size_t needle_len)
{
	for (size_t i = 0; i + needle_len <= len; i++) {
		const char *p = memchr(hay + i, needle[0], len - needle_len + 1 - i);
		if (!p)
			return false;
		i = (size_t)(p - hay);
		if (memcmp(p, needle, needle_len) == 0)
			return true;
	}
	return false;
}

/* Scans the output logged since the last call; true when found or gone. */
static bool output_seen(void *ctx)
{
	struct output_wait *w = ctx;
	struct consback *c = find_serial(w->serial);

	if (!c || c->broken)
		return true;
	for (;;) {
		/* Bytes overwritten before we scanned them break the window's
		 * continuity: a match must not straddle the gap. */
		if (w->pos < logring_tail(&c->log))
			w->kept = 0;
		size_t n = logring_read(&c->log, &w->pos, w->window + w->kept, SCAN_CHUNK);
		if (!n)
			return false;
		size_t have = w->kept + n;
		if (has_needle(w->window, have, w->needle, w->needle_len)) {
			w->found = true;
			return true;
		}
		w->kept = MIN(have, w->needle_len - 1);
		memmove(w->window, w->window + have - w->kept, w->kept);
	}
}

bool consback_wait_output(domid_t domid, const char *needle, uint64_t timeout_ns)
{
	struct consback *c = find(domid);
	struct output_wait w = { 0 };

	if (!c || !needle)
		return false;
	w.serial = c->serial;
	w.needle = needle;
	w.needle_len = strnlen(needle, CONSBACK_NEEDLE_MAX + 1);
	if (w.needle_len == 0 || w.needle_len > CONSBACK_NEEDLE_MAX)
		return false;
	return waitq_wait_until(&output_wq, output_seen, &w, timeout_ns) && w.found;
}

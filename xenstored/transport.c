/*
 * xenstored's shared-ring transport and its server thread.  The store is
 * pure (store.c and its parts, proto.c) and so is the ring protocol
 * (xsring.c); this file maps each domU's ring page, binds its event channel,
 * runs passes of xsring_serve() over the connections, runs in-process watch
 * callbacks, and fires @releaseDomain once Xen no longer has the domain.
 *
 * Design.
 *   Fairness: threads switch only when one yields, so a guest that refills
 *   its ring must not keep this thread.  Each pass gives each connection a
 *   budget (XSD_PASS_REQUESTS requests, XSD_PASS_BYTES bytes); after a
 *   connection that moved bytes the thread yields, and a connection with
 *   input left over gets the next pass, after everyone else.
 *   Back-pressure: a connection whose queued output is at its cap is not
 *   read (its requests wait in its ring) until the guest reads.
 *   Errors: a ring whose indices are impossible or whose stream is broken is
 *   stopped: its `error` field is set (XENSTORE_SERVER_FEATURE_ERROR is
 *   advertised at introduction), its connection and everything it kept are
 *   freed, and it is not read again until the domain goes.
 *   Lifetime: ring_conns change only in this file's functions, which may run
 *   in other threads (the toolstack's) while the server thread is yielded;
 *   the server thread therefore holds no ring_conn across a yield: it marks
 *   each one with the pass number and walks the list again from the head.
 *   Long work: a removed subtree is freed XSD_PASS_REAP_NODES nodes a pass.
 *   Release: xenstored_release() disconnects at once (the ring is unmapped
 *   before Xen frees the page); the domain's store state goes and
 *   @releaseDomain fires when Xen reports the domain gone (polled), or after
 *   XSD_DYING_MAX_NS in any case.
 *   Logs about a guest are rate-limited by time, per ring.
 */
#include <keel/evtchn.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/xenctl.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <xen/io/xs_wire.h>
#include "xsring.h"

#define XSD_PASS_REQUESTS 32
#define XSD_PASS_BYTES (8 * XENSTORE_RING_SIZE)
#define XSD_PASS_REAP_NODES 256
#define XSD_DYING_POLL_NS (20 * 1000 * 1000ULL)
#define XSD_DYING_MAX_NS (10 * 1000 * 1000 * 1000ULL)
#define XSD_LOG_WINDOW_NS (10 * 1000 * 1000 * 1000ULL)
#define XSD_LOG_BURST 3

/* At most XSD_LOG_BURST messages per XSD_LOG_WINDOW_NS; the rest counted. */
struct ratelimit {
	uint64_t window_start_ns;
	unsigned printed;
	unsigned suppressed;
};

struct ring_conn {
	domid_t domid;
	struct xenstore_domain_interface *intf;
	evtchn_port_t port;          /* our end; 0 when none is bound */
	struct xs_conn *conn;        /* NULL once the ring is stopped */
	struct ring_conn *next;
	uint64_t pass;               /* the last server pass that served it */
	uint64_t event_ns;           /* its first event not yet served, or 0 */
	struct ratelimit log;
};

/* A domain disconnected whose @releaseDomain waits for Xen to drop it. */
struct dying {
	struct dying *next;
	domid_t domid;
	uint64_t since_ns;
};

struct xs_store *xenstore;
static struct ring_conn *ring_conns;
static struct dying *dying;
static struct waitq server_wq;
static volatile bool work_pending;
static struct xsd_stats stats;
static struct ratelimit global_log;

static void kick(void)
{
	work_pending = true;
	waitq_wake_all(&server_wq);
}

static bool ratelimit_ok(struct ratelimit *rl, domid_t domid)
{
	uint64_t now = time_now_ns();

	if (now - rl->window_start_ns >= XSD_LOG_WINDOW_NS) {
		if (rl->suppressed)
			klog("xenstored: domain %u: %u more messages suppressed\n", domid,
			     rl->suppressed);
		rl->window_start_ns = now;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < XSD_LOG_BURST) {
		rl->printed++;
		return true;
	}
	rl->suppressed++;
	stats.log_suppressed++;
	return false;
}

/* Upcall context: only note the time and wake the server thread. */
static void ring_event(evtchn_port_t port, void *ctx)
{
	struct ring_conn *rc = ctx;

	(void)port;
	if (!rc->event_ns)
		rc->event_ns = time_now_ns();
	kick();
}

static struct ring_conn *find(domid_t domid)
{
	for (struct ring_conn *rc = ring_conns; rc; rc = rc->next)
		if (rc->domid == domid)
			return rc;
	return NULL;
}

/*
 * Re-introduction: the guest's channel may have changed.  Bind the new one
 * before closing ours if Xen lets us (the guest made a new unbound port);
 * if the guest reused its port, ours must go first.  Either way a failure
 * leaves no stale port number behind: rc->port is then 0.
 */
static int rebind(struct ring_conn *rc, uint32_t guest_port)
{
	evtchn_port_t port;
	int err = evtchn_bind_interdomain(rc->domid, guest_port, ring_event, rc, &port);

	if (err && rc->port) {
		evtchn_close(rc->port);
		rc->port = 0;
		err = evtchn_bind_interdomain(rc->domid, guest_port, ring_event, rc, &port);
	} else if (!err && rc->port) {
		evtchn_close(rc->port);
	}
	if (err)
		return err;
	rc->port = port;
	kick();
	return 0;
}

static int host_introduce(void *ctx, uint16_t domid, uint64_t gfn, uint32_t guest_port)
{
	struct ring_conn *rc = find(domid);
	int err;

	(void)ctx;
	if (rc)
		return rebind(rc, guest_port);
	rc = kzalloc(sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	mfn_t mfn = _mfn(gfn); /* PV guests: the gfn is the machine frame */
	rc->intf = vmap_mfns(&mfn, 1, domid, true, &err);
	if (!rc->intf)
		goto err_free;
	rc->conn = xs_conn_new(xenstore, domid);
	if (!rc->conn) {
		err = -ENOMEM;
		goto err_unmap;
	}
	xs_conn_set_priv(rc->conn, rc);
	rc->domid = domid;
	err = evtchn_bind_interdomain(domid, guest_port, ring_event, rc, &rc->port);
	if (err)
		goto err_conn;
	xsring_init(rc->intf);
	rc->next = ring_conns;
	ring_conns = rc;
	kick(); /* the guest may have written requests already */
	return 0;

err_conn:
	xs_conn_free(rc->conn);
err_unmap:
	vunmap(rc->intf, 1);
err_free:
	kfree(rc);
	return err;
}

static int host_release(void *ctx, uint16_t domid)
{
	(void)ctx;
	for (struct ring_conn **pp = &ring_conns; *pp; pp = &(*pp)->next) {
		struct ring_conn *rc = *pp;
		if (rc->domid != domid)
			continue;
		*pp = rc->next;
		if (rc->port)
			evtchn_close(rc->port);
		vunmap(rc->intf, 1);
		xs_conn_free(rc->conn);
		kfree(rc);
		return 0;
	}
	return 0;
}

static void host_conn_kick(void *ctx, struct xs_conn *conn)
{
	(void)ctx;
	(void)conn;
	kick();
}

static void host_local_kick(void *ctx)
{
	(void)ctx;
	kick();
}

static const struct xs_host_ops host_ops = {
	.introduce = host_introduce,
	.release = host_release,
	.conn_kick = host_conn_kick,
	.local_kick = host_local_kick,
};

static const char *why(int err)
{
	switch (err) {
	case -EINVAL:
		return "impossible ring indices";
	case -E2BIG:
		return "message longer than the protocol allows";
	case -ENOMEM:
		return "no memory for a reply";
	default:
		return "connection broken";
	}
}

/* The ring cannot go on: tell the guest through `error`, free its state. */
static void stop_ring(struct ring_conn *rc, int err)
{
	stats.ring_resets++;
	if (ratelimit_ok(&rc->log, rc->domid))
		klog("xenstored: domain %u: %s: ring stopped\n", rc->domid, why(err));
	xsring_set_error(rc->intf, xsring_error_code(err));
	xs_conn_free(rc->conn);
	rc->conn = NULL;
	if (rc->port)
		evtchn_notify(rc->port);
}

/* One budgeted pass over one ring; true if it moved bytes. */
static bool serve(struct ring_conn *rc, bool *more)
{
	static const struct xsring_budget budget = { XSD_PASS_REQUESTS, XSD_PASS_BYTES };
	struct xsring_result res;
	int err;

	if (!rc->conn)
		return false;
	/* How long the guest's event waited for this pass (ring_event sets
	 * event_ns in upcall context: take it with events masked). */
	unsigned long f = irq_save();
	uint64_t since = rc->event_ns;
	rc->event_ns = 0;
	irq_restore(f);
	if (since) {
		uint64_t d = time_now_ns() - since;
		stats.worst_event_wait_ns = MAX(stats.worst_event_wait_ns, d);
		stats.events_waited_20ms += d >= 20 * 1000 * 1000ULL;
	}
	err = xsring_serve(rc->intf, rc->conn, &budget, &res);
	stats.ring_requests_bytes += res.in_bytes;
	stats.passes_over_budget += res.more;
	stats.passes_blocked += res.blocked;
	if (err == -EPIPE)
		return false; /* released: host_release frees it */
	if (err)
		stop_ring(rc, err);
	else if ((res.in_bytes || res.out_bytes) && rc->port)
		evtchn_notify(rc->port);
	*more |= res.more;
	return res.in_bytes || res.out_bytes;
}

/* @releaseDomain for the dying domains Xen no longer has. */
static void reap_dying(void)
{
	for (struct dying **pp = &dying; *pp;) {
		struct dying *d = *pp;
		struct xenabi_dominfo info;
		bool gone = xenctl_domain_info(d->domid, &info) == -ESRCH;
		bool late = time_now_ns() - d->since_ns >= XSD_DYING_MAX_NS;

		if (!gone && !late) {
			pp = &d->next;
			continue;
		}
		if (!gone && ratelimit_ok(&global_log, d->domid))
			klog("xenstored: domain %u still dying after %llu s: releasing it anyway\n",
			     d->domid, (unsigned long long)(XSD_DYING_MAX_NS / 1000000000ULL));
		*pp = d->next;
		xs_domain_gone(xenstore, d->domid);
		kfree(d);
	}
}

static bool has_work(void *ctx)
{
	(void)ctx;
	return work_pending;
}

static void server_thread(void *unused)
{
	uint64_t pass = 0;

	(void)unused;
	for (;;) {
		bool more = false;

		waitq_wait_until(&server_wq, has_work, NULL, dying ? XSD_DYING_POLL_NS : 0);
		work_pending = false;
		pass++;
		stats.passes++;
	walk:
		/* No ring_conn is held across a yield (see the design note). */
		for (struct ring_conn *rc = ring_conns; rc; rc = rc->next) {
			if (rc->pass == pass)
				continue;
			rc->pass = pass;
			if (serve(rc, &more)) {
				thread_yield();
				goto walk;
			}
		}
		/* Bounded: the store queues at most XS_PENDING_MAX callbacks. */
		xs_store_run_pending(xenstore);
		/* Removed subtrees are freed a slice per pass. */
		if (xs_store_reap_pending(xenstore)) {
			xs_store_reap(xenstore, XSD_PASS_REAP_NODES);
			more |= xs_store_reap_pending(xenstore);
		}
		if (dying)
			reap_dying();
		if (more) {
			/* Someone has input left: another pass, after the others. */
			work_pending = true;
			thread_yield();
		}
	}
}

int xsd_printf(const char *path, const char *fmt, ...)
{
	char val[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = kvsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -E2BIG;
	return xs_write(xenstore, path, val, (size_t)n);
}

int xsd_set_owner(const char *path, domid_t owner, unsigned int dflt, domid_t reader,
		  unsigned int reader_perm)
{
	struct xs_perm p[2] = { { owner, (uint8_t)dflt }, { reader, (uint8_t)reader_perm } };
	return xs_set_perms(xenstore, path, p, reader_perm ? 2 : 1);
}

void xsd_get_stats(struct xsd_stats *out)
{
	struct xs_store_stats st;

	xs_store_get_stats(xenstore, &st);
	stats.watch_events_dropped = st.watch_events_dropped;
	stats.local_events_dropped = st.local_events_dropped;
	stats.commit_errors = st.commit_errors;
	stats.dying = 0;
	for (struct dying *d = dying; d; d = d->next)
		stats.dying++;
	*out = stats;
}

int xenstored_introduce(domid_t domid, uint64_t mfn, evtchn_port_t guest_port)
{
	/* Xen has given the domid out again: the old domain is gone for sure,
	 * and its release must not later hit the new one. */
	for (struct dying **pp = &dying; *pp; pp = &(*pp)->next) {
		struct dying *d = *pp;

		if (d->domid == domid) {
			*pp = d->next;
			kfree(d);
			xs_domain_gone(xenstore, domid);
			break;
		}
	}
	return xs_introduce_domain(xenstore, domid, mfn, guest_port);
}

void xenstored_release(domid_t domid)
{
	bool known = xs_is_introduced(xenstore, domid) || find(domid);

	/* The ring goes now: Xen must not free a page we still map. */
	xs_domain_disconnect(xenstore, domid);
	/* Called again for the same death (the reaper and a shell destroy
	 * both tearing down): nothing more to do. */
	for (struct dying *d = dying; d; d = d->next)
		if (d->domid == domid)
			return;
	struct dying *d = kzalloc(sizeof(*d));
	if (!d || !known) {
		/* No memory to wait with (or nothing to wait for): now. */
		kfree(d);
		xs_domain_gone(xenstore, domid);
		kick();
		return;
	}
	d->domid = domid;
	d->since_ns = time_now_ns();
	d->next = dying;
	dying = d;
	kick();
}

/* An in-process watch: counts @releaseDomain events (xenstored-stats). */
static void count_release(void *ctx, const char *path, const char *token)
{
	(void)ctx;
	(void)path;
	(void)token;
	stats.release_events++;
}

void xenstored_init(void)
{
	xenstore = xs_store_new();
	if (!xenstore)
		panic("xenstored: no memory for the store");
	xs_store_set_host(xenstore, &host_ops, NULL);
	/* dom0's part of the standard tree, as libxl and xenstored leave it. */
	xsd_printf("/local/domain/0/name", "Domain-0");
	xsd_printf("/local/domain/0/domid", "0");
	xsd_printf("/local/pool/0/name", "Pool-0");
	xsd_printf("/tool/xenstored", "keel");
	xs_mkdir(xenstore, "/vm");
	xs_mkdir(xenstore, "/libxl");
	xs_watch_local(xenstore, "@releaseDomain", "keel-stats", count_release, NULL);
	if (!thread_create("xenstored", server_thread, NULL))
		panic("xenstored: cannot start its thread");
}

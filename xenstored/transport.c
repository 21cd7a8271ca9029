/*
 * xenstored's shared-ring transport (xen/io/xs_wire.h, struct
 * xenstore_domain_interface) and its server thread.  The store itself is
 * pure (store.c, proto.c); this file maps each domU's ring page, binds its
 * event channel, moves bytes between the ring and the store's connection,
 * and runs in-process watch callbacks.
 *
 * The ring page is shared with a guest that may be hostile: each index is
 * read once, checked (prod - cons never exceeds the ring), and the request
 * bytes are copied out before the store sees them.  A connection whose ring
 * or stream is broken is reset: its store connection is replaced and the
 * unread input dropped; the guest and dom0 go on.
 */
#include <keel/evtchn.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <xen/io/xs_wire.h>

struct ring_conn {
	domid_t domid;
	struct xenstore_domain_interface *intf;
	evtchn_port_t port;          /* our end */
	struct xs_conn *conn;
	struct ring_conn *next;
	uint64_t resets;
};

struct xs_store *xenstore;
static struct ring_conn *ring_conns;
static struct waitq server_wq;
static volatile bool work_pending;
static struct xsd_stats stats;

static void kick(void)
{
	work_pending = true;
	waitq_wake_all(&server_wq);
}

/* Upcall context: only wake the server thread. */
static void ring_event(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	kick();
}

static struct ring_conn *find(domid_t domid)
{
	for (struct ring_conn *rc = ring_conns; rc; rc = rc->next)
		if (rc->domid == domid)
			return rc;
	return NULL;
}

static int host_introduce(void *ctx, uint16_t domid, uint64_t gfn, uint32_t guest_port)
{
	struct ring_conn *rc = find(domid);
	int err;

	(void)ctx;
	if (rc) {
		/* Re-introduction: the guest's channel may have changed. */
		evtchn_close(rc->port);
		return evtchn_bind_interdomain(domid, guest_port, ring_event, rc, &rc->port);
	}
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
	err = evtchn_bind_interdomain(domid, guest_port, ring_event, rc, &rc->port);
	if (err)
		goto err_conn;
	rc->domid = domid;
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

/* Replaces a broken connection with a fresh one (its state is lost). */
static void reset_conn(struct ring_conn *rc, const char *why)
{
	rc->resets++;
	stats.ring_resets++;
	if (rc->resets <= 5)
		klog("xenstored: domain %u: %s: connection reset\n", rc->domid, why);
	xs_conn_free(rc->conn);
	rc->conn = xs_conn_new(xenstore, rc->domid);
	if (rc->conn)
		xs_conn_set_priv(rc->conn, rc);
}

/* Moves requests from the ring into the store; true if it consumed any. */
static bool pull_requests(struct ring_conn *rc)
{
	struct xenstore_domain_interface *intf = rc->intf;
	char buf[XENSTORE_RING_SIZE];
	bool moved = false;

	for (;;) {
		XENSTORE_RING_IDX cons = intf->req_cons;
		XENSTORE_RING_IDX prod = __atomic_load_n(&intf->req_prod, __ATOMIC_RELAXED);
		/* Read the guest's bytes only after seeing its producer index. */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		XENSTORE_RING_IDX avail = prod - cons;
		if (avail == 0)
			break;
		if (avail > XENSTORE_RING_SIZE) {
			/* Indices that cannot be: skip everything it claims. */
			intf->req_cons = prod;
			reset_conn(rc, "request ring indices out of range");
			return true;
		}
		for (XENSTORE_RING_IDX i = 0; i < avail; i++)
			buf[i] = intf->req[MASK_XENSTORE_IDX(cons + i)];
		/* Our copy is taken before the space is handed back. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		intf->req_cons = cons + avail;
		moved = true;
		stats.ring_requests_bytes += avail;
		if (!rc->conn)
			continue;
		int err = xs_conn_input(rc->conn, buf, avail);
		if (err)
			reset_conn(rc, err == -E2BIG ? "message longer than the protocol allows"
					 : "protocol error");
	}
	return moved;
}

/* Moves queued replies and watch events into the ring; true if any. */
static bool push_responses(struct ring_conn *rc)
{
	struct xenstore_domain_interface *intf = rc->intf;
	bool moved = false;

	while (rc->conn && xs_conn_has_output(rc->conn)) {
		XENSTORE_RING_IDX cons = __atomic_load_n(&intf->rsp_cons, __ATOMIC_RELAXED);
		XENSTORE_RING_IDX prod = intf->rsp_prod;
		/* Make sure the guest has finished reading the space we reuse. */
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		XENSTORE_RING_IDX used = prod - cons;
		if (used > XENSTORE_RING_SIZE) {
			reset_conn(rc, "response ring indices out of range");
			intf->rsp_prod = cons;
			break;
		}
		size_t space = XENSTORE_RING_SIZE - used;
		size_t contiguous = MIN(space, XENSTORE_RING_SIZE - MASK_XENSTORE_IDX(prod));
		if (contiguous == 0)
			break;
		size_t n = xs_conn_output(rc->conn, &intf->rsp[MASK_XENSTORE_IDX(prod)], contiguous);
		if (n == 0)
			break;
		/* The bytes must be visible before the index that publishes them. */
		__atomic_thread_fence(__ATOMIC_RELEASE);
		intf->rsp_prod = prod + (XENSTORE_RING_IDX)n;
		moved = true;
	}
	return moved;
}

static bool has_work(void *ctx)
{
	(void)ctx;
	return work_pending;
}

static void server_thread(void *unused)
{
	(void)unused;
	for (;;) {
		waitq_wait_until(&server_wq, has_work, NULL, 0);
		work_pending = false;
		for (struct ring_conn *rc = ring_conns; rc; rc = rc->next) {
			/* A conn the store broke by itself (its output overflowed
			 * because the guest does not read) is replaced. */
			if (rc->conn && xs_conn_error(rc->conn))
				reset_conn(rc, "guest does not read its replies");
			bool moved = pull_requests(rc);
			moved |= push_responses(rc);
			if (moved)
				evtchn_notify(rc->port);
		}
		xs_store_run_pending(xenstore);
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
	*out = stats;
}

int xenstored_introduce(domid_t domid, uint64_t mfn, evtchn_port_t guest_port)
{
	return xs_introduce_domain(xenstore, domid, mfn, guest_port);
}

void xenstored_release(domid_t domid)
{
	/* One teardown: conns, the introduced state (via host_release), perms
	 * naming the domain, and a single @releaseDomain. */
	xs_domain_gone(xenstore, domid);
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

/*
 * The xenstore ring protocol, server side (xenstored/xsring.h): bytes between
 * a guest's struct xenstore_domain_interface and a store connection, with
 * per-pass budgets and back-pressure.  Mapping, event channels and the server
 * thread are transport.c's.
 *
 * Trust: the guest may change any index or byte between two of our loads.
 * Each index is loaded once per call (XSRING_LOAD_IDX), bounded, and only the
 * snapshot is used afterwards; data bytes are copied once into our buffer
 * before the store parses them.  A bad index costs the guest its xenstore
 * connection, never a loop or an out-of-bounds access here.
 */
#include <lib/base.h>
#include "xsring.h"

/* Host tests define it first to count loads and to move indices behind our
 * back, as a hostile guest would. */
#ifndef XSRING_LOAD_IDX
#define XSRING_LOAD_IDX(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#endif

static void store_idx(XENSTORE_RING_IDX *p, XENSTORE_RING_IDX v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

int xsring_req_avail(const struct xenstore_domain_interface *intf, struct xsring_pos *pos)
{
	XENSTORE_RING_IDX cons = XSRING_LOAD_IDX(&intf->req_cons);
	XENSTORE_RING_IDX prod = XSRING_LOAD_IDX(&intf->req_prod);
	XENSTORE_RING_IDX avail = prod - cons;

	if (avail > XENSTORE_RING_SIZE)
		return -EINVAL; /* Buggy or malicious guest. */
	/* The bytes up to prod must be read after prod itself, or we could
	 * copy slots the guest had not filled when it published prod. */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	pos->idx = cons;
	pos->avail = avail;
	return 0;
}

void xsring_req_take(struct xenstore_domain_interface *intf, struct xsring_pos *pos,
		     void *buf, size_t n)
{
	char *out = buf;

	ASSERT(n <= pos->avail);
	for (size_t done = 0; done < n;) {
		size_t off = MASK_XENSTORE_IDX(pos->idx + (XENSTORE_RING_IDX)done);
		size_t chunk = MIN(n - done, XENSTORE_RING_SIZE - off);

		memcpy(out + done, &intf->req[off], chunk);
		done += chunk;
	}
	/* Our reads of those slots must be complete before the guest sees
	 * them freed by the new req_cons and writes over them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pos->idx += (XENSTORE_RING_IDX)n;
	pos->avail -= n;
	store_idx(&intf->req_cons, pos->idx);
}

int xsring_rsp_space(const struct xenstore_domain_interface *intf, struct xsring_pos *pos)
{
	XENSTORE_RING_IDX cons = XSRING_LOAD_IDX(&intf->rsp_cons);
	XENSTORE_RING_IDX prod = XSRING_LOAD_IDX(&intf->rsp_prod);
	XENSTORE_RING_IDX used = prod - cons;

	if (used > XENSTORE_RING_SIZE)
		return -EINVAL; /* Buggy or malicious guest. */
	/* The guest's reads of the slots it freed (up to rsp_cons) must be
	 * done before our writes reuse them. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	pos->idx = prod;
	pos->avail = XENSTORE_RING_SIZE - used;
	return 0;
}

void xsring_rsp_put(struct xenstore_domain_interface *intf, struct xsring_pos *pos,
		    const void *buf, size_t n)
{
	const char *in = buf;

	ASSERT(n <= pos->avail);
	for (size_t done = 0; done < n;) {
		size_t off = MASK_XENSTORE_IDX(pos->idx + (XENSTORE_RING_IDX)done);
		size_t chunk = MIN(n - done, XENSTORE_RING_SIZE - off);

		memcpy(&intf->rsp[off], in + done, chunk);
		done += chunk;
	}
	/* The bytes must be visible before the rsp_prod that publishes them. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	pos->idx += (XENSTORE_RING_IDX)n;
	pos->avail -= n;
	store_idx(&intf->rsp_prod, pos->idx);
}

/* Queued output into rsp[] while there is room. */
static int flush(struct xenstore_domain_interface *intf, struct xs_conn *conn,
		 struct xsring_result *res)
{
	char buf[XENSTORE_RING_SIZE];
	struct xsring_pos pos;

	while (xs_conn_has_output(conn)) {
		int r = xsring_rsp_space(intf, &pos);
		size_t n;

		if (r)
			return r;
		if (!pos.avail)
			break;
		n = xs_conn_output(conn, buf, pos.avail);
		if (!n)
			break;
		xsring_rsp_put(intf, &pos, buf, n);
		res->out_bytes += n;
	}
	return 0;
}

int xsring_serve(struct xenstore_domain_interface *intf, struct xs_conn *conn,
		 const struct xsring_budget *budget, struct xsring_result *res)
{
	uint64_t first = xs_conn_requests(conn);
	char buf[XENSTORE_RING_SIZE];
	struct xsring_pos pos;
	int r;

	memset(res, 0, sizeof(*res));
	for (;;) {
		size_t room, n, used;

		r = flush(intf, conn, res);
		if (r)
			return r;
		r = xs_conn_error(conn);
		if (r)
			return r;
		room = xs_conn_input_room(conn);
		if (!room) {
			res->blocked = true;
			break;
		}
		r = xsring_req_avail(intf, &pos);
		if (r)
			return r;
		if (!pos.avail)
			break;
		if (xs_conn_requests(conn) - first >= budget->requests ||
		    res->in_bytes >= budget->bytes) {
			res->more = true;
			break;
		}
		n = MIN(MIN(pos.avail, room), budget->bytes - res->in_bytes);
		xsring_req_take(intf, &pos, buf, n);
		res->in_bytes += n;
		/* n never passes the end of the message being received, so the
		 * conn takes all of it (or breaks). */
		r = xs_conn_feed(conn, buf, n, &used);
		if (r)
			return r;
		ASSERT(used == n);
	}
	return flush(intf, conn, res);
}

uint32_t xsring_error_code(int err)
{
	switch (err) {
	case -EINVAL:
		return XENSTORE_ERROR_RINGIDX;
	case -E2BIG:
		return XENSTORE_ERROR_PROTO;
	default:
		return XENSTORE_ERROR_COMM;
	}
}

void xsring_init(struct xenstore_domain_interface *intf)
{
	store_idx(&intf->error, XENSTORE_ERROR_NONE);
	store_idx(&intf->server_features, XENSTORE_SERVER_FEATURE_ERROR);
}

void xsring_set_error(struct xenstore_domain_interface *intf, uint32_t code)
{
	/* Whatever we wrote before must be visible before the error is. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	store_idx(&intf->error, code);
}

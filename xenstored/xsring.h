/*
 * The xenstore shared ring (struct xenstore_domain_interface of
 * <xen/io/xs_wire.h>), server side: moving bytes between a guest's ring page
 * and a store connection.  Pure (no events, no mapping: transport.c's), so it
 * builds for the host.  Private to xenstored/ and its tests.
 *
 * The page is shared with a guest that may rewrite any of it at any moment.
 * One discipline, the console ring's too: each index is loaded once into a
 * snapshot, the snapshot is bounded (prod - cons never more than the ring),
 * the bytes are copied, and only then is anything acted on; later steps use
 * the snapshot, never a second load.
 */
#ifndef KEEL_XENSTORED_XSRING_H
#define KEEL_XENSTORED_XSRING_H

#include <lib/base.h>
#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>

/* One side of the ring as one load of its two indices found it. */
struct xsring_pos {
	XENSTORE_RING_IDX idx; /* req: our cons; rsp: our prod */
	size_t avail;          /* req: bytes to read; rsp: free space */
};

/*
 * Requests: loads req_cons and req_prod once.  0 with *pos set, or -EINVAL
 * (the page untouched) when req_prod - req_cons > XENSTORE_RING_SIZE.
 */
int xsring_req_avail(const struct xenstore_domain_interface *intf, struct xsring_pos *pos);

/* Copies n <= pos->avail request bytes out and publishes req_cons. */
void xsring_req_take(struct xenstore_domain_interface *intf, struct xsring_pos *pos,
		     void *buf, size_t n);

/* Responses: as xsring_req_avail() for rsp_cons and rsp_prod (free space). */
int xsring_rsp_space(const struct xenstore_domain_interface *intf, struct xsring_pos *pos);

/* Copies n <= pos->avail bytes in and publishes rsp_prod. */
void xsring_rsp_put(struct xenstore_domain_interface *intf, struct xsring_pos *pos,
		    const void *buf, size_t n);

/* What one call of xsring_serve() may do, and what it did. */
struct xsring_budget {
	unsigned requests; /* complete requests executed, at most */
	size_t bytes;      /* request bytes taken from the ring, at most */
};

struct xsring_result {
	size_t in_bytes, out_bytes; /* moved through the ring */
	bool more;                  /* stopped on the budget with input left */
	bool blocked;               /* not reading: the conn's output is full */
};

/*
 * One pass for one connection: flushes queued output into rsp[], then feeds
 * request bytes to conn (never more than completes the current message, so
 * nothing is taken that cannot be acted on) until the ring is empty, the
 * budget is spent (res->more) or the conn's output is at its cap
 * (res->blocked: back-pressure, the requests wait in the guest's ring), and
 * flushes again.  The caller notifies the guest if bytes moved.  Returns 0,
 * or -errno when the connection cannot go on: -EINVAL (impossible ring
 * indices), or the conn's sticky error (xs_conn_feed()).  Never sleeps.
 */
int xsring_serve(struct xenstore_domain_interface *intf, struct xs_conn *conn,
		 const struct xsring_budget *budget, struct xsring_result *res);

/* The XENSTORE_ERROR_* code that tells the guest why its ring was stopped. */
uint32_t xsring_error_code(int err);

/* Advertises XENSTORE_SERVER_FEATURE_ERROR and clears error (a new ring). */
void xsring_init(struct xenstore_domain_interface *intf);

/* Sets the ring's error field; the server then stops serving the ring. */
void xsring_set_error(struct xenstore_domain_interface *intf, uint32_t code);

#endif

/*
 * keel's built-in xenstored: the store (tree, permissions, quotas,
 * transactions, watches) and the xenstore wire protocol of
 * <xen/io/xs_wire.h> spoken on per-connection byte streams.  It owns no
 * transport: the ring code (event channels, the shared page) and dom0's own
 * toolstack drive it through this header.  Design notes: docs/xenstored.md.
 *
 * Concurrency: nothing here sleeps or takes locks; the caller serialises all
 * calls on one store (keel runs the store from one thread).  Every function
 * may allocate with kmalloc and so may fail with -ENOMEM.
 */
#ifndef KEEL_XENSTORED_H
#define KEEL_XENSTORED_H

#include <lib/base.h>

struct xs_store;
struct xs_conn;

/* One entry of a node's permission list (docs/misc/xenstore.txt). */
enum {
	XS_PERM_NONE = 0,  /* "n" */
	XS_PERM_READ = 1,  /* "r" */
	XS_PERM_WRITE = 2, /* "w" */
	XS_PERM_BOTH = 3,  /* "b" */
};

struct xs_perm {
	uint16_t domid;
	uint8_t perm; /* XS_PERM_* */
};

/*
 * Per-domain limits; they bind unprivileged connections only.  The defaults
 * are C xenstored's (4.17) where it has one.  Exceeding a count or a size
 * gives the error C xenstored gives: ENOSPC (nodes, value bytes, perms per
 * node, open transactions, transaction memory), E2BIG (watches).
 */
struct xs_quota {
	uint32_t nodes_per_domain;      /* 1000: nodes owned by the domain */
	uint32_t value_bytes;           /* 2048: one node's value */
	uint32_t watches_per_domain;    /* 128 */
	uint32_t transactions_per_conn; /* 10 open at once */
	uint32_t perms_per_node;        /* 5 entries in a SET_PERMS */
	uint32_t tx_bytes;              /* 512 KiB of heap one transaction keeps:
					 * its copies of nodes and its log of
					 * requests (paths and data), counted as
					 * the heap's size classes take them */
	uint32_t tx_ops;                /* 1024 logged requests per transaction
					 * (C xenstored's transaction-nodes) */
	uint32_t output_bytes;          /* 256 KiB of queued replies and events */
	uint32_t output_bytes_priv;     /* 4 MiB, the same for privileged conns */
};

/*
 * What the store asks of its host (the kernel's ring transport).  Every
 * member may be NULL.  The hooks may call xs_conn_new()/xs_conn_free() but no
 * other function of this header.
 *   introduce: first XS_INTRODUCE of domid (and re-introductions, which
 *              rebind the event channel): map gfn, bind port, create the conn.
 *              A non-zero (-errno) return fails the request with that error.
 *   release:   the domain is released or gone: tear its ring conn down.
 *   resume:    XS_RESUME of domid.
 *   conn_kick: output was queued on a conn, or the conn broke, outside
 *              that conn's own xs_conn_input() (a watch event caused by
 *              someone else); the transport should flush or reset it.
 *   local_kick: an in-process watch callback was queued; call
 *              xs_store_run_pending() soon.
 */
struct xs_host_ops {
	int (*introduce)(void *ctx, uint16_t domid, uint64_t gfn, uint32_t port);
	int (*release)(void *ctx, uint16_t domid);
	int (*resume)(void *ctx, uint16_t domid);
	void (*conn_kick)(void *ctx, struct xs_conn *conn);
	void (*local_kick)(void *ctx);
};

/* ---- the store -------------------------------------------------------- */

/* A store holding only "/" (perms "n0").  NULL on ENOMEM. */
struct xs_store *xs_store_new(void);

/* Frees the store, its nodes, and every connection still open on it. */
void xs_store_free(struct xs_store *store);

/* Registers the host hooks; ops must outlive the store.  ops may be NULL. */
void xs_store_set_host(struct xs_store *store, const struct xs_host_ops *ops,
		       void *ctx);

/* Counters of what the store refused or lost to keep dom0 bounded. */
struct xs_store_stats {
	uint64_t watch_events_dropped; /* a wire watcher's output was full */
	uint64_t local_events_dropped; /* the in-process queue was full */
	uint64_t commit_errors;        /* a commit's replay failed (ENOMEM) */
};
void xs_store_get_stats(const struct xs_store *store, struct xs_store_stats *out);

/*
 * A removed subtree leaves the tree at once but its memory is freed here, at
 * most budget nodes per call (long work in slices).  Returns how many were
 * freed; xs_store_reap_pending() says whether any wait.  The host calls it
 * after ops->local_kick.
 */
unsigned xs_store_reap(struct xs_store *store, unsigned budget);
bool xs_store_reap_pending(const struct xs_store *store);

/* Reads or replaces the quota settings (they apply to later requests). */
void xs_store_get_quota(const struct xs_store *store, struct xs_quota *out);
void xs_store_set_quota(struct xs_store *store, const struct xs_quota *quota);

/*
 * The domain is going: its connections lose their watches and transactions
 * and are reset (xs_conn_input then fails), and ops->release is called if it
 * was introduced (the transport unmaps its ring before Xen frees the page).
 * Nothing else changes yet.  Idempotent; returns 0.
 */
int xs_domain_disconnect(struct xs_store *store, uint16_t domid);

/*
 * The domain has died (Xen no longer has it): xs_domain_disconnect() if not
 * done yet, its nodes pass to dom0 and permission entries naming it are
 * dropped, SET_TARGET links with it end, and @releaseDomain fires once per
 * introduction, however often this is called.  Returns 0.
 */
int xs_domain_gone(struct xs_store *store, uint16_t domid);

/* ---- connections (the wire protocol) ---------------------------------- */

/*
 * A connection speaking for domid.  Conns of domid 0 are privileged (dom0-like,
 * no permission checks, no quotas); xs_conn_set_privileged() makes another one
 * so.  NULL on ENOMEM.
 */
struct xs_conn *xs_conn_new(struct xs_store *store, uint16_t domid);
void xs_conn_set_privileged(struct xs_conn *conn, bool privileged);

/*
 * Drops the conn's watches, transactions and queued output, and frees it.  If
 * called from a host hook while the conn is inside xs_conn_input(), the free
 * is deferred until that call returns.
 */
void xs_conn_free(struct xs_conn *conn);

/* An opaque pointer for the transport. */
void xs_conn_set_priv(struct xs_conn *conn, void *priv);
void *xs_conn_priv(const struct xs_conn *conn);
uint16_t xs_conn_domid(const struct xs_conn *conn);

/*
 * Feeds up to len bytes of the conn's request stream, which may hold partial
 * or several messages; each complete one is executed at once and its reply
 * queued.  Stops after a message whose reply left the conn's output at its
 * cap (back-pressure: the caller keeps the rest until the peer has read);
 * *used says how many bytes were taken.  Returns 0, or a negative errno once
 * the conn is broken and must be reset by the transport: -E2BIG (a header
 * announced more than XENSTORE_PAYLOAD_MAX bytes), -ENOMEM (a reply could
 * not be queued), -EPIPE (its domain was released).  The error is sticky:
 * later calls return it again and consume nothing.
 */
int xs_conn_feed(struct xs_conn *conn, const void *bytes, size_t len,
		 size_t *used);

/*
 * How many bytes xs_conn_feed() should be given next: what completes the
 * message being received (so a transport never takes bytes it cannot act
 * on now), or 0 while the conn's output is at its cap or the conn is broken.
 */
size_t xs_conn_input_room(const struct xs_conn *conn);

/* Requests the conn has executed so far (for per-pass budgets). */
uint64_t xs_conn_requests(const struct xs_conn *conn);

/* xs_conn_feed() of all len bytes, ignoring back-pressure (tests, dom0). */
int xs_conn_input(struct xs_conn *conn, const void *bytes, size_t len);

/*
 * Copies out, and consumes, up to max bytes of queued output (whole or
 * partial messages); returns how many.  Never fails.
 */
size_t xs_conn_output(struct xs_conn *conn, void *buf, size_t max);
bool xs_conn_has_output(const struct xs_conn *conn);

/* 0, or the sticky error xs_conn_input() reports. */
int xs_conn_error(const struct xs_conn *conn);

/* ---- dom0's in-process API -------------------------------------------- */

/*
 * These act as a privileged dom0 connection without wire bytes or a
 * transaction.  Paths are absolute, or relative to /local/domain/0.  Each call
 * returns 0 or the errno a wire request would get (-ENOENT, -EINVAL, ...).
 * Output buffers are single kmalloc'd blocks the caller kfree()s.
 */

/* *value gets len bytes plus a terminating NUL not counted in *len. */
int xs_read(struct xs_store *store, const char *path, char **value,
	    size_t *len);
/* Creates missing parents like XS_WRITE.  Fires watches. */
int xs_write(struct xs_store *store, const char *path, const void *value,
	     size_t len);
int xs_mkdir(struct xs_store *store, const char *path);
/* Removes the node and its subtree; a missing node with a parent is 0. */
int xs_rm(struct xs_store *store, const char *path);
/* *names is an array of *n strings, all in the one block. */
int xs_directory(struct xs_store *store, const char *path, char ***names,
		 unsigned *n);
int xs_get_perms(struct xs_store *store, const char *path,
		 struct xs_perm **perms, unsigned *n);
int xs_set_perms(struct xs_store *store, const char *path,
		 const struct xs_perm *perms, unsigned n);

/*
 * In-process watches.  Events are queued, never delivered from inside a
 * store call: xs_store_run_pending() runs the callbacks queued so far (the
 * initial event of a new watch included), in order, and returns how many it
 * ran.  Callbacks may call any function of this API.  A callback's path is
 * the changed node's (relative if the watch path was).  Path and token are
 * copied; xs_unwatch_local() also discards that watch's queued events.
 */
int xs_watch_local(struct xs_store *store, const char *path, const char *token,
		   void (*cb)(void *ctx, const char *path, const char *token),
		   void *ctx);
int xs_unwatch_local(struct xs_store *store, const char *path,
		     const char *token);
unsigned xs_store_run_pending(struct xs_store *store);

/* XS_INTRODUCE / XS_RELEASE / XS_SET_TARGET / XS_IS_DOMAIN_INTRODUCED. */
int xs_introduce_domain(struct xs_store *store, uint16_t domid, uint64_t gfn,
			uint32_t port);
int xs_release_domain(struct xs_store *store, uint16_t domid);
int xs_set_target(struct xs_store *store, uint16_t domid, uint16_t target);
bool xs_is_introduced(const struct xs_store *store, uint16_t domid);

#endif

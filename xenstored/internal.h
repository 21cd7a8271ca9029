/*
 * What store.c (the tree, permissions, transactions, watches) and proto.c
 * (framing, argument parsing, replies) share: the connection and store
 * objects and the operations proto.c dispatches to.  Not a public header.
 */
#ifndef KEEL_XENSTORED_INTERNAL_H
#define KEEL_XENSTORED_INTERNAL_H

#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>

/* DOMID_FIRST_RESERVED of <xen/xen.h>: domids from here on are not domains. */
#define XS_DOMID_MAX_VALID 0x7fef

/* An intrusive hash-table entry, keyed by a string the owner keeps. */
struct xs_hent {
	struct xs_hent *next;
	uint32_t hash;
	const char *key;
	size_t key_len;
};

struct xs_htab {
	struct xs_hent **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

struct xs_watch {
	struct xs_watch *next;
	char *path;        /* canonical: absolute or @special */
	char *token;
	size_t prefix_len; /* stripped from event paths of a relative watch */
	void (*cb)(void *ctx, const char *path, const char *token);
	void *ctx;         /* cb, ctx: in-process watches only */
};

struct xs_outmsg {
	struct xs_outmsg *next;
	size_t len;
	size_t off; /* bytes already consumed by xs_conn_output() */
	unsigned char data[];
};

struct xs_tx;

struct xs_conn {
	struct xs_conn *next, *prev; /* store->conns */
	struct xs_store *store;
	uint16_t domid;
	bool privileged;
	bool local;        /* the store's in-process dom0 conn */
	int error;         /* sticky -errno: the conn is broken */
	unsigned busy;     /* nesting depth of xs_conn_input() */
	bool free_pending; /* xs_conn_free() came while busy */
	void *priv;

	struct xs_watch *watches;
	struct xs_tx *txs;
	unsigned ntx;
	uint32_t next_tx_id;

	/* The message being received: header bytes, then payload + a NUL. */
	unsigned char in_hdr[sizeof(struct xsd_sockmsg)];
	size_t in_have;
	char in_buf[XENSTORE_PAYLOAD_MAX + 1];

	struct xs_outmsg *out_head, *out_tail;
	size_t out_bytes;
};

/* store.c ---------------------------------------------------------------- */

bool xs_conn_is_privileged(const struct xs_conn *conn);
void xs_conn_drop_state(struct xs_conn *conn); /* watches + transactions */
void xs_store_link_conn(struct xs_store *s, struct xs_conn *c);
void xs_store_unlink_conn(struct xs_store *s, struct xs_conn *c);
int xs_domain_ref(struct xs_store *s, uint16_t domid);
const struct xs_quota *xs_store_quota(const struct xs_store *s);
void xs_store_kick(struct xs_store *s, struct xs_conn *c);
/* Checks internal invariants (tests and the fuzzer): 0 or -EIO. */
int xs_store_selfcheck(const struct xs_store *s);

/* A transaction of conn by id; NULL if there is none. */
struct xs_tx *xs_tx_find(struct xs_conn *c, uint32_t id);

/*
 * The operations behind the wire requests.  c is the requester (identity,
 * privilege, relative-path base), tx NULL outside a transaction; path is the
 * request's string.  Each returns 0 or -errno.
 */
int xs_op_read(struct xs_conn *c, struct xs_tx *tx, const char *path,
	       char **value, size_t *len);
int xs_op_write(struct xs_conn *c, struct xs_tx *tx, const char *path,
		const void *value, size_t len);
int xs_op_mkdir(struct xs_conn *c, struct xs_tx *tx, const char *path);
int xs_op_rm(struct xs_conn *c, struct xs_tx *tx, const char *path);
/* *children: NUL-terminated names back to back; *gen: the node's generation. */
int xs_op_directory(struct xs_conn *c, struct xs_tx *tx, const char *path,
		    char **children, size_t *len, uint64_t *gen);
int xs_op_get_perms(struct xs_conn *c, struct xs_tx *tx, const char *path,
		    struct xs_perm **perms, unsigned *n);
int xs_op_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *path,
		    const struct xs_perm *perms, unsigned n);
/* On success *watch is the new watch (for its initial event). */
int xs_op_watch(struct xs_conn *c, const char *path, const char *token,
		void (*cb)(void *, const char *, const char *), void *ctx,
		struct xs_watch **watch);
int xs_op_unwatch(struct xs_conn *c, const char *path, const char *token);
int xs_op_tx_start(struct xs_conn *c, uint32_t *id);
int xs_op_tx_end(struct xs_conn *c, uint32_t id, bool commit);
int xs_op_introduce(struct xs_conn *c, uint16_t domid, uint64_t gfn,
		    uint32_t port);
int xs_op_release(struct xs_conn *c, uint16_t domid);
int xs_op_resume(struct xs_conn *c, uint16_t domid);
int xs_op_set_target(struct xs_conn *c, uint16_t domid, uint16_t target);
int xs_op_is_introduced(struct xs_conn *c, uint16_t domid, bool *yes);
void xs_op_reset_watches(struct xs_conn *c);

/* proto.c ---------------------------------------------------------------- */

/* Queues a WATCH_EVENT (path, token) on a wire conn; drops oversized ones. */
void xs_conn_queue_event(struct xs_conn *c, const char *path,
			 const char *token);

#endif

/*
 * What store.c (the tree, permissions, transactions, watches) and proto.c
 * (framing, argument parsing, replies) share: the connection and store
 * objects and the operations proto.c dispatches to.  Not a public header.
 */
#ifndef KEEL_XENSTORED_INTERNAL_H
#define KEEL_XENSTORED_INTERNAL_H

#include <keel/xenstored.h>
#include <lib/hashtable.h>
#include <xen/io/xs_wire.h>

/* DOMID_FIRST_RESERVED of <xen/xen.h>: domids from here on are not domains. */
#define XS_DOMID_MAX_VALID 0x7fef

struct xs_watch {
	struct xs_watch *next;
	uint64_t dropped;  /* events lost: the watcher's output was full */
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
	uint64_t requests; /* complete requests processed */
};

#define PERM_OWNER 4 /* internal: full access, may SET_PERMS */
#define PERM_ALL (XS_PERM_READ | XS_PERM_WRITE | PERM_OWNER)
#define DOM_BUCKETS 64

struct xs_node {
	struct htab_entry h;
	char *path;
	size_t path_len;
	struct xs_node *parent;
	struct xs_node *first_child, *last_child;
	struct xs_node *prev_sib, *next_sib;
	uint64_t gen;
	char *value;
	uint32_t vlen;
	struct xs_perm *perms;
	uint32_t nperms; /* >= 1 */
};

struct xs_domain {
	struct xs_domain *next;
	uint16_t domid;
	bool introduced;
	bool disconnected_live; /* disconnected, its @releaseDomain not fired */
	bool has_target;
	uint16_t target;
	uint64_t gfn;
	uint32_t port;
	uint32_t nodes;   /* nodes whose owner (perms[0]) is this domain */
	uint32_t watches; /* watches of this domain's conns */
	uint64_t events_dropped; /* watch events its conns' full output lost */
};

/* A path a transaction touched, and its view of the node if it changed it. */
struct xs_txent {
	struct htab_entry h;
	struct xs_txent *next_all;
	char *path;
	size_t path_len;
	uint64_t base_gen; /* the real node's generation when first seen */
	bool dirty;        /* the fields below are the transaction's node */
	bool exists;
	char *value;
	uint32_t vlen;
	struct xs_perm *perms;
	uint32_t nperms;
	char *children; /* NUL-terminated names back to back */
	size_t children_len;
};

enum { TXOP_WRITE, TXOP_MKDIR, TXOP_RM, TXOP_SET_PERMS };

struct xs_txop {
	struct xs_txop *next;
	int type;
	char *path;
	void *data; /* value bytes, or struct xs_perm[len] */
	size_t len;
};

struct xs_tx {
	struct xs_tx *next;
	uint32_t id;
	bool doomed; /* it saw a node change under it: commit will fail */
	struct htab ents;
	struct xs_txent *all;
	struct xs_txop *ops, *ops_tail;
	long own_delta;   /* nodes owned by the conn's domain, net */
	size_t bytes;     /* heap charged to the transaction (xs_heap_cost) */
	size_t max_bytes;
	uint32_t nops;    /* entries in the log */
	uint32_t max_ops;
};

struct xs_pending {
	struct xs_pending *next;
	struct xs_watch *watch; /* compared, never dereferenced */
	uint64_t seq;
	void (*cb)(void *ctx, const char *path, const char *token);
	void *ctx;
	size_t path_len;
	char data[]; /* path NUL token NUL */
};

enum { SPECIAL_INTRODUCE, SPECIAL_RELEASE, SPECIAL_COUNT };

struct xs_special {
	const char *name;
	struct xs_perm *perms;
	uint32_t nperms;
};

struct xs_store {
	struct htab nodes;
	struct xs_node *root;
	uint64_t next_gen;
	struct xs_domain *domains[DOM_BUCKETS];
	struct xs_conn *conns;
	struct xs_conn *local;
	struct xs_special special[SPECIAL_COUNT];
	const struct xs_host_ops *ops;
	void *ops_ctx;
	struct xs_pending *pend_head, *pend_tail;
	uint64_t pend_seq;
	unsigned npending;
	struct xs_node *graveyard; /* removed subtrees, freed by xs_store_reap() */
	struct xs_quota quota;
	struct xs_store_stats stats;
};

/* In-process watch callbacks queued at most (the rest are dropped). */
#define XS_PENDING_MAX 1024



/* A node as one request sees it: the real tree's or its transaction's. */
struct xs_vnode {
	bool exists;
	const char *value;
	uint32_t vlen;
	const struct xs_perm *perms;
	uint32_t nperms;
	uint64_t gen;
	struct xs_node *node;
	struct xs_txent *ent;
};


/* tree.c */
int xs_path_canon(const struct xs_conn *c, const char *in, bool allow_special,
		  char *out, size_t *out_len, bool *relative);
size_t xs_path_domain(char *buf, size_t size, uint16_t domid);
bool xs_path_is_child(const char *child, const char *parent);
int xs_node_children(const struct xs_node *n, char **out, size_t *len);
int xs_node_create(struct xs_store *s, struct xs_node *parent,
		   const char *path, size_t len, const void *value,
		   size_t vlen, const struct xs_perm *perms, uint32_t nperms);
struct xs_node *xs_node_find(const struct xs_store *s, const char *path,
			     size_t len);
void xs_node_free(struct xs_node *n);
int xs_node_set_perms(struct xs_store *s, struct xs_node *n,
		      const struct xs_perm *perms, uint32_t nperms);
int xs_node_set_value(struct xs_store *s, struct xs_node *n,
		      const void *value, size_t vlen);
void xs_node_touch(struct xs_store *s, struct xs_node *n);
size_t xs_path_parent_len(const char *path, size_t len);
void xs_tree_delete(struct xs_store *s, struct xs_node *top);

/* domain.c */
struct xs_domain *xs_domain_find(const struct xs_store *s, uint16_t domid);
struct xs_domain *xs_domain_get(struct xs_store *s, uint16_t domid);

/* perms.c */
unsigned xs_perms_for(const struct xs_store *s, const struct xs_conn *c,
		      const struct xs_perm *p, uint32_t n);
struct xs_perm *xs_perms_dup(const struct xs_perm *p, uint32_t n);
void xs_perms_forget(struct xs_store *s, uint16_t domid);

/* watch.c */
void xs_watch_fire(struct xs_store *s, const char *path, bool exact,
		   const struct xs_perm *np, uint32_t nn,
		   const struct xs_perm *pp, uint32_t pn,
		   const struct xs_perm *op, uint32_t on);
void xs_watch_fire_node(struct xs_store *s, const char *path, size_t len,
			const struct xs_perm *op, uint32_t on);
void xs_watch_fire_special(struct xs_store *s, int which);
void xs_watch_fire_below(struct xs_store *s, const struct xs_node *top);
struct xs_special *xs_special_find(struct xs_store *s, const char *path);
void xs_watch_free(struct xs_store *s, struct xs_conn *c,
		   struct xs_watch *w);

/* transaction.c */
int xs_tx_delete(struct xs_store *s, struct xs_tx *tx,
		 const struct xs_conn *c, const char *path, size_t len);
void xs_tx_free(struct xs_tx *tx);
void xs_tx_log(struct xs_tx *tx, struct xs_txop *op);
void xs_txop_free(struct xs_txop *op);
struct xs_txop *xs_txop_new(int type, const char *path, const void *data,
			    size_t len, size_t elem);
int xs_view_children(const struct xs_vnode *vn, char **out, size_t *len);
int xs_view_create(struct xs_store *s, struct xs_tx *tx,
		   const struct xs_conn *c, const char *path, size_t len,
		   const void *value, size_t vlen,
		   const struct xs_perm *perms, uint32_t nperms);
int xs_view_get(struct xs_store *s, struct xs_tx *tx, const char *path,
		size_t len, struct xs_vnode *vn);
int xs_view_set_perms(struct xs_store *s, struct xs_tx *tx,
		      const struct xs_conn *c, const char *path,
		      size_t len, const struct xs_perm *perms,
		      uint32_t nperms);
int xs_view_set_value(struct xs_store *s, struct xs_tx *tx,
		      const char *path, size_t len, const void *value,
		      size_t vlen);

/* store.c */
int xs_store_rm(struct xs_conn *c, struct xs_tx *tx, const char *in,
		bool check);
int xs_store_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *in,
		       const struct xs_perm *perms, unsigned n, bool check);
int xs_store_write(struct xs_conn *c, struct xs_tx *tx, const char *in,
		   const void *value, size_t vlen, bool mkdir, bool check);

/*
 * What kmalloc(bytes) really takes from dom0's heap: kernel/heap.c's
 * power-of-two classes from 16 to 2048 bytes, whole pages above.  Charges to
 * a guest's quota use it, so that a 2049-byte path counts as the 4 KiB it
 * costs.
 */
static inline size_t xs_heap_cost(size_t bytes)
{
	size_t c = 16;

	if (bytes > 2048)
		return (bytes + 4095) & ~(size_t)4095;
	while (c < bytes)
		c <<= 1;
	return c;
}

/*
 * Charges a new log entry op (its struct, path and data_bytes of data) to
 * tx, before the request changes anything: -ENOSPC when the transaction's
 * memory or operation quota would be passed.
 */
int xs_tx_charge_op(struct xs_tx *tx, const struct xs_txop *op, size_t data_bytes);

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

/*
 * Queues a WATCH_EVENT (path, token) on a wire conn: 0, -E2BIG (it could
 * never fit a message), -ENOSPC (the conn's output is at its cap: dropped)
 * or -ENOMEM (the conn is broken).
 */
int xs_conn_queue_event(struct xs_conn *c, const char *path,
			const char *token);
/* Is the conn's queued output at its cap (it is not read from meanwhile)? */
bool xs_conn_output_full(const struct xs_conn *c);

/* watch.c: queues w's first event (at once after WATCH), as for a change. */
void xs_watch_deliver_initial(struct xs_conn *c, struct xs_watch *w);

#endif

/*
 * The store of keel's xenstored: the node tree with values and permissions,
 * per-domain quotas, optimistic transactions, watches, the introduced-domain
 * set and dom0's in-process API.  It knows nothing of wire bytes (proto.c).
 *
 * Design.
 *   Tree: every node sits in one hash table keyed by its full path, and in
 *   its parent's doubly linked child list (insertion order, which is the
 *   order DIRECTORY reports).  A lookup is one hash probe; nothing walks the
 *   whole tree except domain teardown.  Each change gives the node a new
 *   generation from a store-wide counter (a child added or removed changes
 *   the parent); generation 0 means "absent".
 *
 *   Transactions (C xenstored's model): a transaction keeps a table of every
 *   path it touched with the generation it first saw, and for the nodes it
 *   changed a private copy (value, perms, child names) that its own reads
 *   see; the changing requests themselves go to a log.  Commit checks that
 *   none of the touched paths changed since (else EAGAIN), then replays the
 *   log on the real tree without permission checks; since everything the
 *   requests depended on is unchanged, the replay does exactly what the
 *   transaction saw, and the replay fires the watches.
 *
 *   Watches: a change walks every connection's watch list (prefix match, or
 *   exact match for removed descendants and @specials) and, if that
 *   connection may read the node or its parent, queues a WATCH_EVENT on it.
 *   In-process watches belong to the store's local connection and queue
 *   callbacks that xs_store_run_pending() runs, so no callback ever runs
 *   inside a store call.
 *
 *   Privilege: conns of domid 0 and conns flagged privileged bypass checks
 *   and quotas; a domain that is the SET_TARGET of another is owned, for
 *   permission purposes, by that other domain too.
 */
#include <lib/base.h>
#include "internal.h"

#define PERM_OWNER 4 /* internal: full access, may SET_PERMS */
#define PERM_ALL (XS_PERM_READ | XS_PERM_WRITE | PERM_OWNER)
#define DOM_BUCKETS 64

struct xs_node {
	struct xs_hent h;
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
	bool has_target;
	uint16_t target;
	uint64_t gfn;
	uint32_t port;
	uint32_t nodes;   /* nodes whose owner (perms[0]) is this domain */
	uint32_t watches; /* watches of this domain's conns */
};

/* A path a transaction touched, and its view of the node if it changed it. */
struct xs_txent {
	struct xs_hent h;
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
	struct xs_htab ents;
	struct xs_txent *all;
	struct xs_txop *ops, *ops_tail;
	long own_delta;   /* nodes owned by the conn's domain, net */
	size_t bytes;     /* memory charged to the transaction */
	size_t max_bytes;
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
	struct xs_htab nodes;
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
	struct xs_quota quota;
};

static const struct xs_quota default_quota = {
	.nodes_per_domain = 1000,
	.value_bytes = 2048,
	.watches_per_domain = 128,
	.transactions_per_conn = 10,
	.perms_per_node = 5,
	.tx_bytes = 512 * 1024,
	.output_bytes = 256 * 1024,
	.output_bytes_priv = 4 * 1024 * 1024,
};

/* ---- hash table ------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static struct xs_hent *htab_find(const struct xs_htab *t, const char *key,
				 size_t len)
{
	uint32_t hash;

	if (!t->nbuckets)
		return NULL;
	hash = hash_bytes(key, len);
	for (struct xs_hent *e = t->buckets[hash & (t->nbuckets - 1)]; e;
	     e = e->next)
		if (e->hash == hash && e->key_len == len &&
		    !memcmp(e->key, key, len))
			return e;
	return NULL;
}

static void htab_grow(struct xs_htab *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : 64;
	struct xs_hent **b = kzalloc(n * sizeof(*b));

	/* Without memory the chains just get longer. */
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct xs_hent *e = t->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	}
	kfree(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* e->key and e->key_len are set by the caller. */
static int htab_insert(struct xs_htab *t, struct xs_hent *e)
{
	if (t->count >= t->nbuckets)
		htab_grow(t);
	if (!t->nbuckets)
		return -ENOMEM;
	e->hash = hash_bytes(e->key, e->key_len);
	e->next = t->buckets[e->hash & (t->nbuckets - 1)];
	t->buckets[e->hash & (t->nbuckets - 1)] = e;
	t->count++;
	return 0;
}

static void htab_remove(struct xs_htab *t, struct xs_hent *e)
{
	struct xs_hent **pp = &t->buckets[e->hash & (t->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	t->count--;
}

/* ---- paths ------------------------------------------------------------ */

static bool path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' ||
	       ch == '_' || ch == '@';
}

/* Length of the parent's path: "/a/b" -> 2, "/a" -> 1 ("/"). */
static size_t parent_len(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/* Is child equal to parent or below it?  "/" is everything's parent. */
static bool is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (parent[0] == '/' && parent[1] == '\0')
		return child[0] == '/';
	return !strncmp(child, parent, len) &&
	       (child[len] == '/' || child[len] == '\0');
}

static size_t domain_path(char *buf, size_t size, uint16_t domid)
{
	return (size_t)snprintf(buf, size, "/local/domain/%u", domid);
}

/*
 * Turns a request's path into the canonical one in out (XENSTORE_ABS_PATH_MAX
 * + 1 bytes): a relative path is taken from /local/domain/<domid>/, a path
 * starting with '@' is a special watch name if allow_special.  The checks are
 * xenstored's: only [A-Za-z0-9-/_@], no "//", no trailing '/', at most
 * XENSTORE_ABS_PATH_MAX bytes, and (unprivileged) at most
 * XENSTORE_REL_PATH_MAX bytes below any /local/domain/<n>/.
 */
static int canon(const struct xs_conn *c, const char *in, bool allow_special,
		 char *out, size_t *out_len, bool *relative)
{
	size_t len = strnlen(in, XENSTORE_ABS_PATH_MAX + 1), pre = 0;

	*relative = false;
	if (in[0] == '@') {
		if (!allow_special || len < 2 || len > XENSTORE_ABS_PATH_MAX)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			if (!path_char_ok(in[i]))
				return -EINVAL;
		memcpy(out, in, len + 1);
		*out_len = len;
		return 0;
	}
	if (in[0] != '/') {
		*relative = true;
		pre = domain_path(out, XENSTORE_ABS_PATH_MAX + 1, c->domid);
		out[pre++] = '/';
	}
	if (len > XENSTORE_ABS_PATH_MAX - pre)
		return -EINVAL;
	memcpy(out + pre, in, len + 1);
	len += pre;
	if (len > 1 && out[len - 1] == '/')
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!path_char_ok(out[i]))
			return -EINVAL;
		if (out[i] == '/' && out[i + 1] == '/')
			return -EINVAL;
	}
	if (!xs_conn_is_privileged(c) && !strncmp(out, "/local/domain/", 14)) {
		size_t i = 14;

		while (out[i] >= '0' && out[i] <= '9')
			i++;
		if (i > 14 && out[i] == '/' &&
		    len - i - 1 > XENSTORE_REL_PATH_MAX)
			return -EINVAL;
	}
	*out_len = len;
	return 0;
}

/* ---- domains ---------------------------------------------------------- */

static struct xs_domain *dom_find(const struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = s->domains[domid % DOM_BUCKETS];

	while (d && d->domid != domid)
		d = d->next;
	return d;
}

static struct xs_domain *dom_get(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = dom_find(s, domid);

	if (d)
		return d;
	d = kzalloc(sizeof(*d));
	if (!d)
		return NULL;
	d->domid = domid;
	d->next = s->domains[domid % DOM_BUCKETS];
	s->domains[domid % DOM_BUCKETS] = d;
	return d;
}

int xs_domain_ref(struct xs_store *s, uint16_t domid)
{
	return dom_get(s, domid) ? 0 : -ENOMEM;
}

const struct xs_quota *xs_store_quota(const struct xs_store *s)
{
	return &s->quota;
}

bool xs_conn_is_privileged(const struct xs_conn *c)
{
	return c->domid == 0 || c->privileged;
}

/* ---- permissions ------------------------------------------------------ */

/*
 * The access c has to a node with these perms: everything if privileged or
 * the owner (or the owner is c's SET_TARGET), else the first ACL entry that
 * names c's domain (or its target), else the owner entry's default.
 */
static unsigned perm_for(const struct xs_store *s, const struct xs_conn *c,
			 const struct xs_perm *p, uint32_t n)
{
	const struct xs_domain *d;
	bool has_target;

	if (xs_conn_is_privileged(c))
		return PERM_ALL;
	if (!n)
		return 0;
	d = dom_find(s, c->domid);
	has_target = d && d->has_target;
	if (p[0].domid == c->domid || (has_target && p[0].domid == d->target))
		return PERM_ALL;
	for (uint32_t i = 1; i < n; i++)
		if (p[i].domid == c->domid ||
		    (has_target && p[i].domid == d->target))
			return p[i].perm;
	return p[0].perm;
}

static struct xs_perm *perms_dup(const struct xs_perm *p, uint32_t n)
{
	struct xs_perm *q = kmalloc(MAX(n, 1u) * sizeof(*q));

	if (q)
		memcpy(q, p, n * sizeof(*q));
	return q;
}

/* ---- the tree --------------------------------------------------------- */

static struct xs_node *node_find(const struct xs_store *s, const char *path,
				 size_t len)
{
	struct xs_hent *e = htab_find(&s->nodes, path, len);

	return e ? container_of(e, struct xs_node, h) : NULL;
}

static void node_touch(struct xs_store *s, struct xs_node *n)
{
	n->gen = s->next_gen++;
}

static void node_free(struct xs_node *n)
{
	kfree(n->path);
	kfree(n->value);
	kfree(n->perms);
	kfree(n);
}

/* A new last child of parent (which must be path's parent). */
static int node_create(struct xs_store *s, struct xs_node *parent,
		       const char *path, size_t len, const void *value,
		       size_t vlen, const struct xs_perm *perms, uint32_t nperms)
{
	struct xs_domain *owner = dom_get(s, perms[0].domid);
	struct xs_node *n = kzalloc(sizeof(*n));

	if (!owner || !n)
		goto err_free;
	n->path = strndup(path, len);
	n->value = kmalloc(vlen + 1);
	n->perms = perms_dup(perms, nperms);
	if (!n->path || !n->value || !n->perms)
		goto err_free;
	memcpy(n->value, value, vlen);
	n->vlen = (uint32_t)vlen;
	n->nperms = nperms;
	n->path_len = len;
	n->h.key = n->path;
	n->h.key_len = len;
	if (htab_insert(&s->nodes, &n->h))
		goto err_free;
	n->parent = parent;
	n->prev_sib = parent->last_child;
	if (parent->last_child)
		parent->last_child->next_sib = n;
	else
		parent->first_child = n;
	parent->last_child = n;
	node_touch(s, n);
	node_touch(s, parent);
	owner->nodes++;
	return 0;

err_free:
	if (n)
		node_free(n);
	return -ENOMEM;
}

/* Unlinks and frees a node that has no children. */
static void node_destroy(struct xs_store *s, struct xs_node *n)
{
	struct xs_domain *owner = dom_find(s, n->perms[0].domid);

	ASSERT(!n->first_child && n->parent);
	if (owner && owner->nodes)
		owner->nodes--;
	if (n->prev_sib)
		n->prev_sib->next_sib = n->next_sib;
	else
		n->parent->first_child = n->next_sib;
	if (n->next_sib)
		n->next_sib->prev_sib = n->prev_sib;
	else
		n->parent->last_child = n->prev_sib;
	node_touch(s, n->parent);
	htab_remove(&s->nodes, &n->h);
	node_free(n);
}

static int node_set_value(struct xs_store *s, struct xs_node *n,
			  const void *value, size_t vlen)
{
	char *v = kmalloc(vlen + 1);

	if (!v)
		return -ENOMEM;
	memcpy(v, value, vlen);
	kfree(n->value);
	n->value = v;
	n->vlen = (uint32_t)vlen;
	node_touch(s, n);
	return 0;
}

static int node_set_perms(struct xs_store *s, struct xs_node *n,
			  const struct xs_perm *perms, uint32_t nperms)
{
	struct xs_domain *old = dom_find(s, n->perms[0].domid);
	struct xs_domain *new = dom_get(s, perms[0].domid);
	struct xs_perm *p = perms_dup(perms, nperms);

	if (!new || !p) {
		kfree(p);
		return -ENOMEM;
	}
	if (old && old->nodes)
		old->nodes--;
	new->nodes++;
	kfree(n->perms);
	n->perms = p;
	n->nperms = nperms;
	node_touch(s, n);
	return 0;
}

/* The basename of a child node. */
static const char *node_name(const struct xs_node *n)
{
	return n->path + (n->parent->path_len == 1 ? 1 : n->parent->path_len + 1);
}

static int node_children(const struct xs_node *n, char **out, size_t *len)
{
	size_t total = 0;
	char *buf, *p;

	for (const struct xs_node *ch = n->first_child; ch; ch = ch->next_sib)
		total += strlen(node_name(ch)) + 1;
	buf = kmalloc(total + 1);
	if (!buf)
		return -ENOMEM;
	p = buf;
	for (const struct xs_node *ch = n->first_child; ch; ch = ch->next_sib) {
		size_t l = strlen(node_name(ch)) + 1;

		memcpy(p, node_name(ch), l);
		p += l;
	}
	*p = '\0';
	*out = buf;
	*len = total;
	return 0;
}

/* ---- watches ---------------------------------------------------------- */

static void pending_add(struct xs_store *s, struct xs_watch *w,
			const char *path)
{
	size_t pl = strlen(path), tl = strlen(w->token);
	struct xs_pending *p = kmalloc(sizeof(*p) + pl + tl + 2);

	if (!p) {
		klog("xenstored: no memory, local watch event %s lost\n", path);
		return;
	}
	p->next = NULL;
	p->watch = w;
	p->seq = ++s->pend_seq;
	p->cb = w->cb;
	p->ctx = w->ctx;
	p->path_len = pl;
	memcpy(p->data, path, pl + 1);
	memcpy(p->data + pl + 1, w->token, tl + 1);
	if (s->pend_tail)
		s->pend_tail->next = p;
	else
		s->pend_head = p;
	s->pend_tail = p;
	if (s->ops && s->ops->local_kick)
		s->ops->local_kick(s->ops_ctx);
}

static void pending_purge(struct xs_store *s, const struct xs_watch *w)
{
	struct xs_pending **pp = &s->pend_head, *p;

	s->pend_tail = NULL;
	while ((p = *pp)) {
		if (p->watch == w) {
			*pp = p->next;
			kfree(p);
		} else {
			s->pend_tail = p;
			pp = &p->next;
		}
	}
}

void xs_store_kick(struct xs_store *s, struct xs_conn *c)
{
	/* A conn inside its own xs_conn_input() is flushed by its caller. */
	if (!c->busy && s->ops && s->ops->conn_kick)
		s->ops->conn_kick(s->ops_ctx, c);
}

static void deliver(struct xs_store *s, struct xs_conn *c, struct xs_watch *w,
		    const char *path)
{
	const char *rel = path + (strlen(path) >= w->prefix_len ?
				  w->prefix_len : 0);

	if (c->local) {
		pending_add(s, w, rel);
		return;
	}
	xs_conn_queue_event(c, rel, w->token);
	xs_store_kick(s, c);
}

/*
 * Whether c hears about a change of a node: it may read the node, its parent
 * or, for a SET_PERMS, the node under its old permissions.
 */
static bool watch_permitted(const struct xs_store *s, const struct xs_conn *c,
			    const struct xs_perm *np, uint32_t nn,
			    const struct xs_perm *pp, uint32_t pn,
			    const struct xs_perm *op, uint32_t on)
{
	if (xs_conn_is_privileged(c))
		return true;
	return (np && (perm_for(s, c, np, nn) & XS_PERM_READ)) ||
	       (pp && (perm_for(s, c, pp, pn) & XS_PERM_READ)) ||
	       (op && (perm_for(s, c, op, on) & XS_PERM_READ));
}

/*
 * Queues an event for every watch on path (exact) or on path or an ancestor
 * (!exact) whose conn may see the node.  np/pp/op: the node's perms, its
 * parent's, its previous ones (any may be NULL).
 */
static void fire(struct xs_store *s, const char *path, bool exact,
		 const struct xs_perm *np, uint32_t nn,
		 const struct xs_perm *pp, uint32_t pn,
		 const struct xs_perm *op, uint32_t on)
{
	for (struct xs_conn *c = s->conns; c; c = c->next) {
		int allowed = -1;

		if (c->error)
			continue;
		for (struct xs_watch *w = c->watches; w; w = w->next) {
			if (exact ? strcmp(path, w->path) != 0 :
				    !is_child(path, w->path))
				continue;
			if (allowed < 0)
				allowed = watch_permitted(s, c, np, nn, pp, pn,
							  op, on);
			if (!allowed)
				break;
			deliver(s, c, w, path);
			if (c->error)
				break;
		}
	}
}

static void fire_node(struct xs_store *s, const char *path, size_t len,
		      const struct xs_perm *op, uint32_t on)
{
	struct xs_node *n = node_find(s, path, len);

	if (n)
		fire(s, path, false, n->perms, n->nperms,
		     n->parent ? n->parent->perms : NULL,
		     n->parent ? n->parent->nperms : 0, op, on);
}

static void fire_special(struct xs_store *s, int which)
{
	struct xs_special *sp = &s->special[which];

	fire(s, sp->name, true, sp->perms, sp->nperms, NULL, 0, NULL, 0);
}

static struct xs_special *special_find(struct xs_store *s, const char *path)
{
	for (int i = 0; i < SPECIAL_COUNT; i++)
		if (!strcmp(path, s->special[i].name))
			return &s->special[i];
	return NULL;
}

static void watch_free(struct xs_store *s, struct xs_conn *c,
		       struct xs_watch *w)
{
	struct xs_domain *d = dom_find(s, c->domid);

	if (d && d->watches)
		d->watches--;
	if (c->local)
		pending_purge(s, w);
	kfree(w->path);
	kfree(w->token);
	kfree(w);
}

/* ---- transactions: the view ------------------------------------------- */

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

static struct xs_txent *tx_find_ent(const struct xs_tx *tx, const char *path,
				    size_t len)
{
	struct xs_hent *e = htab_find(&tx->ents, path, len);

	return e ? container_of(e, struct xs_txent, h) : NULL;
}

static int tx_charge(struct xs_tx *tx, size_t bytes)
{
	tx->bytes += bytes;
	return tx->bytes > tx->max_bytes ? -ENOSPC : 0;
}

static int tx_add_ent(struct xs_tx *tx, const char *path, size_t len,
		      uint64_t gen, struct xs_txent **out)
{
	struct xs_txent *e;

	if (tx_charge(tx, sizeof(*e) + len))
		return -ENOSPC;
	e = kzalloc(sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->path = strndup(path, len);
	if (!e->path) {
		kfree(e);
		return -ENOMEM;
	}
	e->path_len = len;
	e->base_gen = gen;
	e->h.key = e->path;
	e->h.key_len = len;
	if (htab_insert(&tx->ents, &e->h)) {
		kfree(e->path);
		kfree(e);
		return -ENOMEM;
	}
	e->next_all = tx->all;
	tx->all = e;
	*out = e;
	return 0;
}

static void ent_clear(struct xs_txent *e)
{
	kfree(e->value);
	kfree(e->perms);
	kfree(e->children);
	e->value = NULL;
	e->perms = NULL;
	e->children = NULL;
	e->vlen = 0;
	e->nperms = 0;
	e->children_len = 0;
}

/*
 * The node at path as the request sees it.  Inside a transaction the first
 * look at a path records the real node's generation; a later look that finds
 * another generation dooms the transaction.
 */
static int view_get(struct xs_store *s, struct xs_tx *tx, const char *path,
		    size_t len, struct xs_vnode *vn)
{
	struct xs_txent *e = NULL;
	struct xs_node *n;

	memset(vn, 0, sizeof(*vn));
	if (tx) {
		e = tx_find_ent(tx, path, len);
		if (e && e->dirty) {
			vn->ent = e;
			vn->exists = e->exists;
			vn->value = e->value;
			vn->vlen = e->vlen;
			vn->perms = e->perms;
			vn->nperms = e->nperms;
			vn->gen = e->base_gen;
			return 0;
		}
	}
	n = node_find(s, path, len);
	if (tx) {
		uint64_t gen = n ? n->gen : 0;

		if (!e) {
			int r = tx_add_ent(tx, path, len, gen, &e);

			if (r)
				return r;
		} else if (e->base_gen != gen) {
			tx->doomed = true;
		}
	}
	if (n) {
		vn->node = n;
		vn->exists = true;
		vn->value = n->value;
		vn->vlen = n->vlen;
		vn->perms = n->perms;
		vn->nperms = n->nperms;
		vn->gen = n->gen;
	}
	return 0;
}

static int view_children(const struct xs_vnode *vn, char **out, size_t *len)
{
	if (vn->node)
		return node_children(vn->node, out, len);
	*out = kmalloc(vn->ent->children_len + 1);
	if (!*out)
		return -ENOMEM;
	if (vn->ent->children_len)
		memcpy(*out, vn->ent->children, vn->ent->children_len);
	(*out)[vn->ent->children_len] = '\0';
	*len = vn->ent->children_len;
	return 0;
}

/* Makes the transaction's own copy of the node at path. */
static int tx_cow(struct xs_store *s, struct xs_tx *tx, const char *path,
		  size_t len, struct xs_txent **out)
{
	struct xs_vnode vn;
	struct xs_txent *e;
	int r = view_get(s, tx, path, len, &vn);

	if (r)
		return r;
	e = tx_find_ent(tx, path, len);
	ASSERT(e);
	*out = e;
	if (e->dirty)
		return 0;
	if (vn.exists) {
		e->value = kmalloc(vn.vlen + 1);
		e->perms = perms_dup(vn.perms, vn.nperms);
		r = node_children(vn.node, &e->children, &e->children_len);
		if (!e->value || !e->perms || r) {
			ent_clear(e);
			return -ENOMEM;
		}
		memcpy(e->value, vn.value, vn.vlen);
		e->vlen = vn.vlen;
		e->nperms = vn.nperms;
		r = tx_charge(tx, vn.vlen + e->children_len +
				  vn.nperms * sizeof(struct xs_perm));
		if (r) {
			ent_clear(e);
			return r;
		}
	}
	e->dirty = true;
	e->exists = vn.exists;
	return 0;
}

static int ent_add_child(struct xs_tx *tx, struct xs_txent *e,
			 const char *name)
{
	size_t l = strlen(name) + 1;
	char *c = krealloc(e->children, e->children_len + l);

	if (!c)
		return -ENOMEM;
	memcpy(c + e->children_len, name, l);
	e->children = c;
	e->children_len += l;
	return tx_charge(tx, l);
}

static void ent_del_child(struct xs_txent *e, const char *name)
{
	size_t off = 0, l = strlen(name) + 1;

	while (off < e->children_len) {
		size_t cl = strnlen(e->children + off, e->children_len - off) + 1;

		if (cl == l && !memcmp(e->children + off, name, l)) {
			memmove(e->children + off, e->children + off + l,
				e->children_len - off - l);
			e->children_len -= l;
			return;
		}
		off += cl;
	}
}

/* Creates path in the view; its parent exists there. */
static int view_create(struct xs_store *s, struct xs_tx *tx,
		       const struct xs_conn *c, const char *path, size_t len,
		       const void *value, size_t vlen,
		       const struct xs_perm *perms, uint32_t nperms)
{
	size_t plen = parent_len(path, len);
	struct xs_txent *pe, *e;
	int r;

	if (!tx) {
		struct xs_node *parent = node_find(s, path, plen);

		if (!parent)
			return -ENOENT;
		return node_create(s, parent, path, len, value, vlen, perms,
				   nperms);
	}
	r = tx_cow(s, tx, path, plen, &pe);
	if (!r)
		r = tx_cow(s, tx, path, len, &e);
	if (r)
		return r;
	ent_clear(e);
	e->value = kmalloc(vlen + 1);
	e->perms = perms_dup(perms, nperms);
	if (!e->value || !e->perms) {
		ent_clear(e);
		e->exists = false;
		return -ENOMEM;
	}
	memcpy(e->value, value, vlen);
	e->vlen = (uint32_t)vlen;
	e->nperms = nperms;
	r = ent_add_child(tx, pe, path + (plen == 1 ? 1 : plen + 1));
	if (r) {
		ent_clear(e);
		e->exists = false;
		return r;
	}
	e->exists = true;
	if (perms[0].domid == c->domid)
		tx->own_delta++;
	return tx_charge(tx, vlen + nperms * sizeof(*perms));
}

static int view_set_value(struct xs_store *s, struct xs_tx *tx,
			  const char *path, size_t len, const void *value,
			  size_t vlen)
{
	struct xs_txent *e;
	char *v;
	int r;

	if (!tx) {
		struct xs_node *n = node_find(s, path, len);

		return n ? node_set_value(s, n, value, vlen) : -ENOENT;
	}
	r = tx_cow(s, tx, path, len, &e);
	if (r)
		return r;
	v = kmalloc(vlen + 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, value, vlen);
	kfree(e->value);
	e->value = v;
	e->vlen = (uint32_t)vlen;
	return tx_charge(tx, vlen);
}

static int view_set_perms(struct xs_store *s, struct xs_tx *tx,
			  const struct xs_conn *c, const char *path,
			  size_t len, const struct xs_perm *perms,
			  uint32_t nperms)
{
	struct xs_txent *e;
	struct xs_perm *p;
	int r;

	if (!tx) {
		struct xs_node *n = node_find(s, path, len);

		return n ? node_set_perms(s, n, perms, nperms) : -ENOENT;
	}
	r = tx_cow(s, tx, path, len, &e);
	if (r)
		return r;
	if (!e->exists || !e->nperms)
		return -ENOENT;
	p = perms_dup(perms, nperms);
	if (!p)
		return -ENOMEM;
	if (e->perms[0].domid == c->domid)
		tx->own_delta--;
	if (p[0].domid == c->domid)
		tx->own_delta++;
	kfree(e->perms);
	e->perms = p;
	e->nperms = nperms;
	return tx_charge(tx, nperms * sizeof(*p));
}

/* Removes path and everything below it from the real tree, firing watches. */
static void tree_delete(struct xs_store *s, struct xs_node *top)
{
	struct xs_node *n = top, *parent;

	/* Post-order, iteratively: always remove the deepest first child. */
	for (;;) {
		while (n->first_child)
			n = n->first_child;
		if (n == top)
			break;
		parent = n->parent;
		fire(s, n->path, true, n->perms, n->nperms, parent->perms,
		     parent->nperms, NULL, 0);
		node_destroy(s, n);
		n = parent;
	}
	fire(s, top->path, false, top->perms, top->nperms, top->parent->perms,
	     top->parent->nperms, NULL, 0);
	node_destroy(s, top);
}

/* The transaction's version: every node of the subtree becomes absent. */
static int tx_delete(struct xs_store *s, struct xs_tx *tx,
		     const struct xs_conn *c, const char *path, size_t len)
{
	size_t plen = parent_len(path, len), depth = 0, cap = 16;
	char **stack = kmalloc(cap * sizeof(*stack));
	struct xs_txent *e;
	int r = 0;

	if (!stack)
		return -ENOMEM;
	stack[depth] = strndup(path, len);
	if (!stack[depth])
		r = -ENOMEM;
	else
		depth++;
	while (depth && !r) {
		char *p = stack[--depth], *kids = NULL;
		size_t plen2 = strlen(p), klen = 0;
		struct xs_vnode vn;

		r = view_get(s, tx, p, plen2, &vn);
		if (!r && vn.exists)
			r = view_children(&vn, &kids, &klen);
		for (size_t off = 0; !r && vn.exists && off < klen;) {
			size_t nl = strlen(kids + off);
			char *child = kmalloc(plen2 + nl + 2);

			if (depth == cap) {
				char **ns = krealloc(stack,
						     2 * cap * sizeof(*stack));

				if (!ns) {
					kfree(child);
					r = -ENOMEM;
					break;
				}
				stack = ns;
				cap *= 2;
			}
			if (!child) {
				r = -ENOMEM;
				break;
			}
			snprintf(child, plen2 + nl + 2, "%s/%s", p, kids + off);
			stack[depth++] = child;
			off += nl + 1;
		}
		kfree(kids);
		if (!r && vn.exists)
			r = tx_cow(s, tx, p, plen2, &e);
		if (!r && vn.exists) {
			if (e->nperms && e->perms[0].domid == c->domid)
				tx->own_delta--;
			ent_clear(e);
			e->exists = false;
		}
		kfree(p);
	}
	while (depth)
		kfree(stack[--depth]);
	kfree(stack);
	if (!r)
		r = tx_cow(s, tx, path, plen, &e);
	if (!r)
		ent_del_child(e, path + (plen == 1 ? 1 : plen + 1));
	return r;
}

/* ENOENT, or EACCES if the nearest existing ancestor is unreadable to c. */
static int missing_errno(struct xs_store *s, struct xs_tx *tx,
			 const struct xs_conn *c, const char *path, size_t len)
{
	struct xs_vnode vn;

	if (xs_conn_is_privileged(c))
		return -ENOENT;
	while (len > 1) {
		len = parent_len(path, len);
		if (view_get(s, tx, path, len, &vn))
			return -ENOENT;
		if (vn.exists)
			return perm_for(s, c, vn.perms, vn.nperms) &
					       XS_PERM_READ ?
				       -ENOENT :
				       -EACCES;
	}
	return -ENOENT;
}

/* Looks path up for a request needing perm; fails ENOENT/EACCES. */
static int get_node(struct xs_store *s, struct xs_tx *tx,
		    const struct xs_conn *c, const char *path, size_t len,
		    unsigned perm, struct xs_vnode *vn)
{
	int r = view_get(s, tx, path, len, vn);

	if (r)
		return r;
	if (!vn->exists)
		return missing_errno(s, tx, c, path, len);
	if ((perm_for(s, c, vn->perms, vn->nperms) & perm) != perm)
		return -EACCES;
	return 0;
}

/* ---- transactions: log, commit ---------------------------------------- */

static struct xs_txop *txop_new(int type, const char *path, const void *data,
				size_t len, size_t elem)
{
	struct xs_txop *op = kzalloc(sizeof(*op));

	if (!op)
		return NULL;
	op->type = type;
	op->path = strdup(path);
	op->data = kmalloc(len * elem + 1);
	if (!op->path || !op->data) {
		kfree(op->path);
		kfree(op->data);
		kfree(op);
		return NULL;
	}
	if (len)
		memcpy(op->data, data, len * elem);
	op->len = len;
	return op;
}

static void txop_free(struct xs_txop *op)
{
	if (!op)
		return;
	kfree(op->path);
	kfree(op->data);
	kfree(op);
}

static void tx_log(struct xs_tx *tx, struct xs_txop *op)
{
	if (tx->ops_tail)
		tx->ops_tail->next = op;
	else
		tx->ops = op;
	tx->ops_tail = op;
}

static void tx_free(struct xs_tx *tx)
{
	struct xs_txent *e, *ne;
	struct xs_txop *op, *nop;

	for (e = tx->all; e; e = ne) {
		ne = e->next_all;
		ent_clear(e);
		kfree(e->path);
		kfree(e);
	}
	for (op = tx->ops; op; op = nop) {
		nop = op->next;
		txop_free(op);
	}
	kfree(tx->ents.buckets);
	kfree(tx);
}

struct xs_tx *xs_tx_find(struct xs_conn *c, uint32_t id)
{
	struct xs_tx *tx = c->txs;

	while (tx && tx->id != id)
		tx = tx->next;
	return tx;
}

/* ---- the operations --------------------------------------------------- */

/*
 * WRITE and MKDIR.  check=false is the commit replay: no permission or quota
 * checks, but ownership of new nodes still follows c's privilege.
 */
static int do_write(struct xs_conn *c, struct xs_tx *tx, const char *in,
		    const void *value, size_t vlen, bool mkdir, bool check)
{
	struct xs_store *s = c->store;
	bool priv = xs_conn_is_privileged(c), rel;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_perm *perms = NULL;
	struct xs_txop *op = NULL;
	struct xs_vnode vn, anc;
	size_t len, plen, l;
	unsigned missing = 1;
	bool modified = false;
	int r;

	check = check && !priv;
	r = canon(c, in, false, path, &len, &rel);
	if (r)
		return r;
	if (check && vlen > s->quota.value_bytes)
		return -ENOSPC;
	r = view_get(s, tx, path, len, &vn);
	if (r)
		return r;
	if (vn.exists) {
		if (check && !(perm_for(s, c, vn.perms, vn.nperms) &
			       XS_PERM_WRITE))
			return -EACCES;
		if (mkdir)
			return 0;
	}
	if (tx) {
		op = txop_new(mkdir ? TXOP_MKDIR : TXOP_WRITE, path, value,
			      vlen, 1);
		if (!op)
			return -ENOMEM;
	}
	if (vn.exists) {
		modified = true;
		r = view_set_value(s, tx, path, len, value, vlen);
		goto out;
	}

	/* Find the nearest existing ancestor; "/" always exists. */
	for (plen = len;;) {
		plen = parent_len(path, plen);
		r = view_get(s, tx, path, plen, &anc);
		if (r)
			goto out;
		if (anc.exists)
			break;
		if (plen == 1) {
			r = -ENOENT;
			goto out;
		}
		missing++;
	}
	r = -EACCES;
	if (check && !(perm_for(s, c, anc.perms, anc.nperms) & XS_PERM_WRITE))
		goto out;
	if (check) {
		const struct xs_domain *d = dom_find(s, c->domid);
		long have = (d ? (long)d->nodes : 0) + (tx ? tx->own_delta : 0);

		r = -ENOSPC;
		if (have + (long)missing > (long)s->quota.nodes_per_domain)
			goto out;
	}
	/* New nodes inherit the parent's perms; a domain owns what it makes. */
	r = -ENOMEM;
	perms = perms_dup(anc.perms, anc.nperms);
	if (!perms)
		goto out;
	if (!priv)
		perms[0].domid = c->domid;
	for (l = plen; l < len;) {
		size_t end = l == 1 ? 1 : l + 1;
		bool last;

		while (end < len && path[end] != '/')
			end++;
		last = end == len;
		modified = true;
		r = view_create(s, tx, c, path, end, last ? value : "",
				last ? vlen : 0, perms, anc.nperms);
		if (r)
			goto out;
		l = end;
	}
	r = 0;
out:
	kfree(perms);
	if (tx) {
		if (r)
			txop_free(op);
		else
			tx_log(tx, op);
		/* A half-made change is in the view but not in the log. */
		if (r && modified)
			tx->doomed = true;
	} else if (!r) {
		fire_node(s, path, len, NULL, 0);
	}
	return r;
}

static int do_rm(struct xs_conn *c, struct xs_tx *tx, const char *in,
		 bool check)
{
	struct xs_store *s = c->store;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_txop *op;
	struct xs_vnode vn;
	size_t len;
	bool rel;
	int r;

	check = check && !xs_conn_is_privileged(c);
	r = canon(c, in, false, path, &len, &rel);
	if (r)
		return r;
	r = view_get(s, tx, path, len, &vn);
	if (r)
		return r;
	if (!vn.exists) {
		/* Gone already: fine if the parent is there. */
		r = missing_errno(s, tx, c, path, len);
		if (r == -ENOENT && len > 1) {
			struct xs_vnode pn;

			if (!view_get(s, tx, path, parent_len(path, len), &pn) &&
			    pn.exists)
				return 0;
		}
		return r;
	}
	if (check && !(perm_for(s, c, vn.perms, vn.nperms) & XS_PERM_WRITE))
		return -EACCES;
	if (len == 1)
		return -EINVAL;
	if (!tx) {
		struct xs_node *n = node_find(s, path, len);

		if (n)
			tree_delete(s, n);
		return 0;
	}
	op = txop_new(TXOP_RM, path, NULL, 0, 1);
	if (!op)
		return -ENOMEM;
	r = tx_delete(s, tx, c, path, len);
	if (r) {
		txop_free(op);
		tx->doomed = true;
	}
	else
		tx_log(tx, op);
	return r;
}

static int do_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *in,
			const struct xs_perm *perms, unsigned n, bool check)
{
	struct xs_store *s = c->store;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_perm *old = NULL, *p;
	struct xs_special *sp;
	struct xs_txop *op = NULL;
	struct xs_vnode vn;
	uint32_t nold;
	size_t len;
	bool rel;
	int r;

	check = check && !xs_conn_is_privileged(c);
	if (!n)
		return -EINVAL;
	r = canon(c, in, true, path, &len, &rel);
	if (r)
		return r;
	if (check && n > s->quota.perms_per_node)
		return -ENOSPC;
	sp = special_find(s, path);
	if (path[0] == '@' && !sp)
		return -ENOENT;
	if (sp) {
		if (check && !(perm_for(s, c, sp->perms, sp->nperms) &
			       PERM_OWNER))
			return -EACCES;
		if (check && perms[0].domid != sp->perms[0].domid)
			return -EPERM;
		p = perms_dup(perms, n);
		if (!p)
			return -ENOMEM;
		kfree(sp->perms);
		sp->perms = p;
		sp->nperms = n;
		return 0;
	}
	r = get_node(s, tx, c, path, len, 0, &vn);
	if (r)
		return r;
	if (check && !(perm_for(s, c, vn.perms, vn.nperms) & PERM_OWNER))
		return -EACCES;
	/* Unprivileged domains may not give their nodes away. */
	if (check && perms[0].domid != vn.perms[0].domid)
		return -EPERM;
	nold = vn.nperms;
	old = perms_dup(vn.perms, nold);
	if (!old)
		return -ENOMEM;
	if (tx) {
		op = txop_new(TXOP_SET_PERMS, path, perms, n, sizeof(*perms));
		if (!op) {
			kfree(old);
			return -ENOMEM;
		}
	}
	r = view_set_perms(s, tx, c, path, len, perms, n);
	if (tx) {
		if (r) {
			txop_free(op);
			tx->doomed = true;
		} else {
			tx_log(tx, op);
		}
	} else if (!r) {
		fire_node(s, path, len, old, nold);
	}
	kfree(old);
	return r;
}

int xs_op_write(struct xs_conn *c, struct xs_tx *tx, const char *path,
		const void *value, size_t len)
{
	return do_write(c, tx, path, value, len, false, true);
}

int xs_op_mkdir(struct xs_conn *c, struct xs_tx *tx, const char *path)
{
	return do_write(c, tx, path, "", 0, true, true);
}

int xs_op_rm(struct xs_conn *c, struct xs_tx *tx, const char *path)
{
	return do_rm(c, tx, path, true);
}

int xs_op_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *path,
		    const struct xs_perm *perms, unsigned n)
{
	return do_set_perms(c, tx, path, perms, n, true);
}

int xs_op_read(struct xs_conn *c, struct xs_tx *tx, const char *in,
	       char **value, size_t *vlen)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_vnode vn;
	size_t len;
	bool rel;
	int r = canon(c, in, false, path, &len, &rel);

	if (!r)
		r = get_node(c->store, tx, c, path, len, XS_PERM_READ, &vn);
	if (r)
		return r;
	*value = kmalloc(vn.vlen + 1);
	if (!*value)
		return -ENOMEM;
	memcpy(*value, vn.value, vn.vlen);
	(*value)[vn.vlen] = '\0';
	*vlen = vn.vlen;
	return 0;
}

int xs_op_directory(struct xs_conn *c, struct xs_tx *tx, const char *in,
		    char **children, size_t *clen, uint64_t *gen)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_vnode vn;
	size_t len;
	bool rel;
	int r = canon(c, in, false, path, &len, &rel);

	if (!r)
		r = get_node(c->store, tx, c, path, len, XS_PERM_READ, &vn);
	if (r)
		return r;
	*gen = vn.gen;
	return view_children(&vn, children, clen);
}

int xs_op_get_perms(struct xs_conn *c, struct xs_tx *tx, const char *in,
		    struct xs_perm **perms, unsigned *n)
{
	struct xs_store *s = c->store;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	const struct xs_special *sp;
	struct xs_vnode vn;
	size_t len;
	bool rel;
	int r = canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	sp = special_find(s, path);
	if (sp) {
		if (!(perm_for(s, c, sp->perms, sp->nperms) & XS_PERM_READ))
			return -EACCES;
		vn.perms = sp->perms;
		vn.nperms = sp->nperms;
	} else if (path[0] == '@') {
		return -ENOENT;
	} else {
		r = get_node(s, tx, c, path, len, XS_PERM_READ, &vn);
		if (r)
			return r;
	}
	*perms = perms_dup(vn.perms, vn.nperms);
	if (!*perms)
		return -ENOMEM;
	*n = vn.nperms;
	return 0;
}

int xs_op_watch(struct xs_conn *c, const char *in, const char *token,
		void (*cb)(void *, const char *, const char *), void *ctx,
		struct xs_watch **out)
{
	struct xs_store *s = c->store;
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_watch *w, **tail;
	struct xs_domain *d;
	size_t len;
	bool rel;
	int r = canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	for (tail = &c->watches; *tail; tail = &(*tail)->next)
		if (!strcmp((*tail)->path, path) &&
		    !strcmp((*tail)->token, token))
			return -EEXIST;
	d = dom_get(s, c->domid);
	if (!d)
		return -ENOMEM;
	if (!xs_conn_is_privileged(c) &&
	    d->watches >= s->quota.watches_per_domain)
		return -E2BIG;
	w = kzalloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->token = strdup(token);
	if (!w->path || !w->token) {
		kfree(w->path);
		kfree(w->token);
		kfree(w);
		return -ENOMEM;
	}
	if (rel) {
		char pre[32];

		w->prefix_len = domain_path(pre, sizeof(pre), c->domid) + 1;
	}
	w->cb = cb;
	w->ctx = ctx;
	*tail = w;
	d->watches++;
	*out = w;
	return 0;
}

int xs_op_unwatch(struct xs_conn *c, const char *in, const char *token)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_watch **pp, *w;
	size_t len;
	bool rel;
	int r = canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	for (pp = &c->watches; (w = *pp); pp = &w->next) {
		if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
			*pp = w->next;
			watch_free(c->store, c, w);
			return 0;
		}
	}
	return -ENOENT;
}

int xs_op_tx_start(struct xs_conn *c, uint32_t *id)
{
	struct xs_store *s = c->store;
	bool priv = xs_conn_is_privileged(c);
	struct xs_tx *tx;

	if (!priv && c->ntx >= s->quota.transactions_per_conn)
		return -ENOSPC;
	tx = kzalloc(sizeof(*tx));
	if (!tx)
		return -ENOMEM;
	do
		tx->id = c->next_tx_id++;
	while (tx->id == 0 || xs_tx_find(c, tx->id));
	tx->max_bytes = priv ? SIZE_MAX : s->quota.tx_bytes;
	tx->next = c->txs;
	c->txs = tx;
	c->ntx++;
	*id = tx->id;
	return 0;
}

/* Has anything the transaction looked at changed in the real tree? */
static bool tx_conflicts(const struct xs_store *s, const struct xs_tx *tx)
{
	if (tx->doomed)
		return true;
	for (const struct xs_txent *e = tx->all; e; e = e->next_all) {
		const struct xs_node *n = node_find(s, e->path, e->path_len);

		if ((n ? n->gen : 0) != e->base_gen)
			return true;
	}
	return false;
}

int xs_op_tx_end(struct xs_conn *c, uint32_t id, bool commit)
{
	struct xs_store *s = c->store;
	struct xs_tx **pp = &c->txs, *tx;
	int r = 0;

	while (*pp && (*pp)->id != id)
		pp = &(*pp)->next;
	tx = *pp;
	if (!tx)
		return -ENOENT;
	*pp = tx->next;
	c->ntx--;
	if (!commit)
		goto out;
	r = -EAGAIN;
	if (tx_conflicts(s, tx))
		goto out;
	if (!xs_conn_is_privileged(c) && tx->own_delta > 0) {
		const struct xs_domain *d = dom_find(s, c->domid);
		long have = d ? (long)d->nodes : 0;

		r = -ENOSPC;
		if (have + tx->own_delta > (long)s->quota.nodes_per_domain)
			goto out;
	}
	r = 0;
	for (struct xs_txop *op = tx->ops; op; op = op->next) {
		int e = 0;

		switch (op->type) {
		case TXOP_WRITE:
		case TXOP_MKDIR:
			e = do_write(c, NULL, op->path, op->data, op->len,
				     op->type == TXOP_MKDIR, false);
			break;
		case TXOP_RM:
			e = do_rm(c, NULL, op->path, false);
			break;
		case TXOP_SET_PERMS:
			e = do_set_perms(c, NULL, op->path, op->data,
					 (unsigned)op->len, false);
			break;
		}
		/* Only ENOMEM can fail a replay; keep going, report it. */
		if (e && !r) {
			klog("xenstored: commit of tx %u of dom%u: error %d\n",
			     id, c->domid, e);
			r = e;
		}
	}
out:
	tx_free(tx);
	return r;
}

void xs_conn_drop_state(struct xs_conn *c)
{
	struct xs_watch *w;
	struct xs_tx *tx;

	while ((w = c->watches)) {
		c->watches = w->next;
		watch_free(c->store, c, w);
	}
	while ((tx = c->txs)) {
		c->txs = tx->next;
		tx_free(tx);
	}
	c->ntx = 0;
}

void xs_op_reset_watches(struct xs_conn *c)
{
	xs_conn_drop_state(c);
}

/* ---- domains: introduce, release -------------------------------------- */

int xs_op_introduce(struct xs_conn *c, uint16_t domid, uint64_t gfn,
		    uint32_t port)
{
	struct xs_store *s = c->store;
	struct xs_domain *d;
	int r = 0;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	if (domid > XS_DOMID_MAX_VALID || port == 0)
		return -EINVAL;
	d = dom_get(s, domid);
	if (!d)
		return -ENOMEM;
	/* A second INTRODUCE rebinds the event channel: the hook again. */
	if (s->ops && s->ops->introduce)
		r = s->ops->introduce(s->ops_ctx, domid, gfn, port);
	if (r)
		return r < 0 ? r : -r;
	d->gfn = gfn;
	d->port = port;
	if (!d->introduced) {
		d->introduced = true;
		fire_special(s, SPECIAL_INTRODUCE);
	}
	return 0;
}

/* Hands a dead domain's nodes to dom0 and drops ACL entries naming it. */
static void perms_forget(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = dom_find(s, domid), *d0 = dom_get(s, 0);

	for (size_t b = 0; b < s->nodes.nbuckets; b++) {
		for (struct xs_hent *h = s->nodes.buckets[b]; h; h = h->next) {
			struct xs_node *n = container_of(h, struct xs_node, h);
			uint32_t j = 1;

			if (n->perms[0].domid == domid && domid != 0) {
				n->perms[0].domid = 0;
				if (d0)
					d0->nodes++;
			}
			for (uint32_t i = 1; i < n->nperms; i++)
				if (n->perms[i].domid != domid)
					n->perms[j++] = n->perms[i];
			n->nperms = j;
		}
	}
	if (d && domid != 0)
		d->nodes = 0;
	for (int i = 0; i < SPECIAL_COUNT; i++) {
		struct xs_special *sp = &s->special[i];
		uint32_t j = 1;

		if (sp->perms[0].domid == domid)
			sp->perms[0].domid = 0;
		for (uint32_t k = 1; k < sp->nperms; k++)
			if (sp->perms[k].domid != domid)
				sp->perms[j++] = sp->perms[k];
		sp->nperms = j;
	}
}

static void domain_teardown(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = dom_find(s, domid);

	for (struct xs_conn *c = s->conns; c; c = c->next) {
		if (c->local || c->domid != domid)
			continue;
		xs_conn_drop_state(c);
		if (!c->error)
			c->error = -EPIPE;
	}
	if (d && d->introduced) {
		d->introduced = false;
		/* The hook may free the conns (deferred for a busy one). */
		if (s->ops && s->ops->release)
			s->ops->release(s->ops_ctx, domid);
	}
	for (size_t b = 0; b < DOM_BUCKETS; b++)
		for (struct xs_domain *t = s->domains[b]; t; t = t->next)
			if (t->has_target && (t->target == domid ||
					      t->domid == domid))
				t->has_target = false;
	perms_forget(s, domid);
	fire_special(s, SPECIAL_RELEASE);
}

int xs_op_release(struct xs_conn *c, uint16_t domid)
{
	const struct xs_domain *d;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	if (domid > XS_DOMID_MAX_VALID)
		return -EINVAL;
	d = dom_find(c->store, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	domain_teardown(c->store, domid);
	return 0;
}

int xs_op_resume(struct xs_conn *c, uint16_t domid)
{
	struct xs_store *s = c->store;
	const struct xs_domain *d;
	int r = 0;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	d = dom_find(s, domid);
	if (!d || !d->introduced)
		return -ENOENT;
	if (s->ops && s->ops->resume)
		r = s->ops->resume(s->ops_ctx, domid);
	return r > 0 ? -r : r;
}

int xs_op_set_target(struct xs_conn *c, uint16_t domid, uint16_t target)
{
	struct xs_domain *d, *t;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	d = dom_find(c->store, domid);
	t = dom_find(c->store, target);
	if (!d || !d->introduced || !t || !t->introduced)
		return -ENOENT;
	d->has_target = true;
	d->target = target;
	return 0;
}

int xs_op_is_introduced(struct xs_conn *c, uint16_t domid, bool *yes)
{
	const struct xs_domain *d;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	d = dom_find(c->store, domid);
	*yes = domid == 0 || (d && d->introduced);
	return 0;
}

int xs_domain_gone(struct xs_store *s, uint16_t domid)
{
	domain_teardown(s, domid);
	return 0;
}

/* ---- the store -------------------------------------------------------- */

void xs_store_link_conn(struct xs_store *s, struct xs_conn *c)
{
	c->prev = NULL;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
}

void xs_store_unlink_conn(struct xs_store *s, struct xs_conn *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = c->prev = NULL;
}

struct xs_store *xs_store_new(void)
{
	static const struct xs_perm root_perm = { 0, XS_PERM_NONE };
	static const char *const names[SPECIAL_COUNT] = {
		[SPECIAL_INTRODUCE] = "@introduceDomain",
		[SPECIAL_RELEASE] = "@releaseDomain",
	};
	struct xs_store *s = kzalloc(sizeof(*s));
	struct xs_node *root;

	if (!s)
		return NULL;
	s->quota = default_quota;
	s->next_gen = 1;
	for (int i = 0; i < SPECIAL_COUNT; i++) {
		s->special[i].name = names[i];
		s->special[i].perms = perms_dup(&root_perm, 1);
		s->special[i].nperms = 1;
		if (!s->special[i].perms)
			goto err_free;
	}
	root = kzalloc(sizeof(*root));
	if (!root)
		goto err_free;
	s->root = root;
	root->path = strdup("/");
	root->value = kmalloc(1);
	root->perms = perms_dup(&root_perm, 1);
	if (!root->path || !root->value || !root->perms)
		goto err_free;
	root->path_len = 1;
	root->nperms = 1;
	root->h.key = root->path;
	root->h.key_len = 1;
	if (htab_insert(&s->nodes, &root->h) || !dom_get(s, 0))
		goto err_free;
	dom_get(s, 0)->nodes = 1;
	node_touch(s, root);
	s->local = xs_conn_new(s, 0);
	if (!s->local)
		goto err_free;
	s->local->local = true;
	return s;

err_free:
	xs_store_free(s);
	return NULL;
}

void xs_store_free(struct xs_store *s)
{
	struct xs_pending *p;

	if (!s)
		return;
	while (s->conns)
		xs_conn_free(s->conns);
	while ((p = s->pend_head)) {
		s->pend_head = p->next;
		kfree(p);
	}
	for (size_t b = 0; b < s->nodes.nbuckets; b++) {
		struct xs_hent *h = s->nodes.buckets[b], *next;

		for (; h; h = next) {
			next = h->next;
			node_free(container_of(h, struct xs_node, h));
		}
	}
	if (s->root && !s->nodes.count)
		node_free(s->root);
	kfree(s->nodes.buckets);
	for (size_t b = 0; b < DOM_BUCKETS; b++) {
		struct xs_domain *d = s->domains[b], *next;

		for (; d; d = next) {
			next = d->next;
			kfree(d);
		}
	}
	for (int i = 0; i < SPECIAL_COUNT; i++)
		kfree(s->special[i].perms);
	kfree(s);
}

void xs_store_set_host(struct xs_store *s, const struct xs_host_ops *ops,
		       void *ctx)
{
	s->ops = ops;
	s->ops_ctx = ctx;
}

void xs_store_get_quota(const struct xs_store *s, struct xs_quota *out)
{
	*out = s->quota;
}

void xs_store_set_quota(struct xs_store *s, const struct xs_quota *quota)
{
	s->quota = *quota;
}

/* ---- dom0's in-process API -------------------------------------------- */

int xs_read(struct xs_store *s, const char *path, char **value, size_t *len)
{
	return xs_op_read(s->local, NULL, path, value, len);
}

int xs_write(struct xs_store *s, const char *path, const void *value,
	     size_t len)
{
	return xs_op_write(s->local, NULL, path, value, len);
}

int xs_mkdir(struct xs_store *s, const char *path)
{
	return xs_op_mkdir(s->local, NULL, path);
}

int xs_rm(struct xs_store *s, const char *path)
{
	return xs_op_rm(s->local, NULL, path);
}

int xs_directory(struct xs_store *s, const char *path, char ***names,
		 unsigned *n)
{
	char *buf, **arr, *strs;
	size_t len;
	uint64_t gen;
	unsigned count = 0;
	int r = xs_op_directory(s->local, NULL, path, &buf, &len, &gen);

	if (r)
		return r;
	for (size_t i = 0; i < len; i++)
		count += buf[i] == '\0';
	arr = kmalloc((count + 1) * sizeof(*arr) + len + 1);
	if (!arr) {
		kfree(buf);
		return -ENOMEM;
	}
	strs = (char *)(arr + count + 1);
	memcpy(strs, buf, len);
	for (unsigned i = 0; i < count; i++) {
		arr[i] = strs;
		strs += strlen(strs) + 1;
	}
	arr[count] = NULL;
	kfree(buf);
	*names = arr;
	*n = count;
	return 0;
}

int xs_get_perms(struct xs_store *s, const char *path, struct xs_perm **perms,
		 unsigned *n)
{
	return xs_op_get_perms(s->local, NULL, path, perms, n);
}

int xs_set_perms(struct xs_store *s, const char *path,
		 const struct xs_perm *perms, unsigned n)
{
	return xs_op_set_perms(s->local, NULL, path, perms, n);
}

int xs_watch_local(struct xs_store *s, const char *path, const char *token,
		   void (*cb)(void *ctx, const char *path, const char *token),
		   void *ctx)
{
	struct xs_watch *w;
	int r;

	if (!cb)
		return -EINVAL;
	r = xs_op_watch(s->local, path, token, cb, ctx, &w);
	if (r)
		return r;
	/* The initial event, as for a wire watch. */
	pending_add(s, w, w->path + w->prefix_len);
	return 0;
}

int xs_unwatch_local(struct xs_store *s, const char *path, const char *token)
{
	return xs_op_unwatch(s->local, path, token);
}

unsigned xs_store_run_pending(struct xs_store *s)
{
	uint64_t upto = s->pend_seq;
	unsigned ran = 0;
	struct xs_pending *p;

	/* Only events queued before the call: a callback that writes what it
	 * watches must not keep us here forever. */
	while ((p = s->pend_head) && p->seq <= upto) {
		s->pend_head = p->next;
		if (!s->pend_head)
			s->pend_tail = NULL;
		p->cb(p->ctx, p->data, p->data + p->path_len + 1);
		kfree(p);
		ran++;
	}
	return ran;
}

int xs_introduce_domain(struct xs_store *s, uint16_t domid, uint64_t gfn,
			uint32_t port)
{
	return xs_op_introduce(s->local, domid, gfn, port);
}

int xs_release_domain(struct xs_store *s, uint16_t domid)
{
	return xs_op_release(s->local, domid);
}

int xs_set_target(struct xs_store *s, uint16_t domid, uint16_t target)
{
	return xs_op_set_target(s->local, domid, target);
}

bool xs_is_introduced(const struct xs_store *s, uint16_t domid)
{
	const struct xs_domain *d = dom_find(s, domid);

	return domid == 0 || (d && d->introduced);
}

/* ---- self-check (tests and fuzzing) ----------------------------------- */

/*
 * Walks everything and checks the invariants the code relies on: the tree
 * and the hash table agree, every node has perms, the per-domain node and
 * watch counts match.  Returns 0 or -EIO.  O(nodes * domains): tests only.
 */
int xs_store_selfcheck(const struct xs_store *s)
{
	size_t reachable = 0;

	for (size_t b = 0; b < s->nodes.nbuckets; b++) {
		for (struct xs_hent *h = s->nodes.buckets[b]; h; h = h->next) {
			const struct xs_node *n =
				container_of(h, const struct xs_node, h);
			const struct xs_node *ch;

			reachable++;
			if (!n->nperms || node_find(s, n->path, n->path_len) != n)
				return -EIO;
			if (n != s->root) {
				for (ch = n->parent->first_child; ch && ch != n;
				     ch = ch->next_sib)
					;
				if (!ch || n->parent->path_len !=
						   parent_len(n->path, n->path_len))
					return -EIO;
			}
		}
	}
	if (reachable != s->nodes.count)
		return -EIO;
	for (size_t b = 0; b < DOM_BUCKETS; b++) {
		for (const struct xs_domain *d = s->domains[b]; d; d = d->next) {
			uint32_t nodes = 0, watches = 0;

			for (size_t k = 0; k < s->nodes.nbuckets; k++)
				for (struct xs_hent *h = s->nodes.buckets[k]; h;
				     h = h->next)
					nodes += container_of(h, struct xs_node,
							      h)->perms[0].domid ==
						 d->domid;
			for (const struct xs_conn *c = s->conns; c; c = c->next)
				for (const struct xs_watch *w = c->watches;
				     w && c->domid == d->domid; w = w->next)
					watches++;
			if (nodes != d->nodes || watches != d->watches)
				return -EIO;
		}
	}
	return 0;
}

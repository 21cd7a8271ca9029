/*
 * The store of keel's xenstored: the requests' operations (WRITE, MKDIR, RM,
 * SET_PERMS, READ, DIRECTORY, GET_PERMS), the store object and dom0's
 * in-process API.  The parts live beside it: tree.c (paths, nodes),
 * perms.c, transaction.c, watch.c, domain.c; proto.c speaks the wire bytes.
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


static const struct xs_quota default_quota = {
	.nodes_per_domain = 1000,
	.value_bytes = 2048,
	.watches_per_domain = 128,
	.transactions_per_conn = 10,
	.perms_per_node = 5,
	.tx_bytes = 512 * 1024,
	.tx_ops = 1024,
	.output_bytes = 256 * 1024,
	.output_bytes_priv = 4 * 1024 * 1024,
};


/* ENOENT, or EACCES if the nearest existing ancestor is unreadable to c. */
static int missing_errno(struct xs_store *s, struct xs_tx *tx,
			 const struct xs_conn *c, const char *path, size_t len)
{
	struct xs_vnode vn;

	if (xs_conn_is_privileged(c))
		return -ENOENT;
	while (len > 1) {
		len = xs_path_parent_len(path, len);
		if (xs_view_get(s, tx, path, len, &vn))
			return -ENOENT;
		if (vn.exists)
			return xs_perms_for(s, c, vn.perms, vn.nperms) &
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
	int r = xs_view_get(s, tx, path, len, vn);

	if (r)
		return r;
	if (!vn->exists)
		return missing_errno(s, tx, c, path, len);
	if ((xs_perms_for(s, c, vn->perms, vn->nperms) & perm) != perm)
		return -EACCES;
	return 0;
}

/* ---- the operations --------------------------------------------------- */

/*
 * WRITE and MKDIR.  check=false is the commit replay: no permission or quota
 * checks, but ownership of new nodes still follows c's privilege.
 */
int xs_store_write(struct xs_conn *c, struct xs_tx *tx, const char *in,
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
	r = xs_path_canon(c, in, false, path, &len, &rel);
	if (r)
		return r;
	if (check && vlen > s->quota.value_bytes)
		return -ENOSPC;
	r = xs_view_get(s, tx, path, len, &vn);
	if (r)
		return r;
	if (vn.exists) {
		if (check && !(xs_perms_for(s, c, vn.perms, vn.nperms) &
			       XS_PERM_WRITE))
			return -EACCES;
		if (mkdir)
			return 0;
	}
	if (tx) {
		op = xs_txop_new(mkdir ? TXOP_MKDIR : TXOP_WRITE, path, value,
			      vlen, 1);
		if (!op)
			return -ENOMEM;
		/* The log entry is the transaction's too: charge it first. */
		r = xs_tx_charge_op(tx, op, vlen);
		if (r) {
			xs_txop_free(op);
			return r;
		}
	}
	if (vn.exists) {
		modified = true;
		r = xs_view_set_value(s, tx, path, len, value, vlen);
		goto out;
	}

	/* Find the nearest existing ancestor; "/" always exists. */
	for (plen = len;;) {
		plen = xs_path_parent_len(path, plen);
		r = xs_view_get(s, tx, path, plen, &anc);
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
	if (check && !(xs_perms_for(s, c, anc.perms, anc.nperms) & XS_PERM_WRITE))
		goto out;
	if (check) {
		const struct xs_domain *d = xs_domain_find(s, c->domid);
		long have = (d ? (long)d->nodes : 0) + (tx ? tx->own_delta : 0);

		r = -ENOSPC;
		if (have + (long)missing > (long)s->quota.nodes_per_domain)
			goto out;
	}
	/* New nodes inherit the parent's perms; a domain owns what it makes. */
	r = -ENOMEM;
	perms = xs_perms_dup(anc.perms, anc.nperms);
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
		r = xs_view_create(s, tx, c, path, end, last ? value : "",
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
			xs_txop_free(op);
		else
			xs_tx_log(tx, op);
		/* A half-made change is in the view but not in the log. */
		if (r && modified)
			tx->doomed = true;
	} else if (!r) {
		xs_watch_fire_node(s, path, len, NULL, 0);
	}
	return r;
}

int xs_store_rm(struct xs_conn *c, struct xs_tx *tx, const char *in,
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
	r = xs_path_canon(c, in, false, path, &len, &rel);
	if (r)
		return r;
	r = xs_view_get(s, tx, path, len, &vn);
	if (r)
		return r;
	if (!vn.exists) {
		/* Gone already: fine if the parent is there. */
		r = missing_errno(s, tx, c, path, len);
		if (r == -ENOENT && len > 1) {
			struct xs_vnode pn;

			if (!xs_view_get(s, tx, path, xs_path_parent_len(path, len), &pn) &&
			    pn.exists)
				return 0;
		}
		return r;
	}
	if (check && !(xs_perms_for(s, c, vn.perms, vn.nperms) & XS_PERM_WRITE))
		return -EACCES;
	if (len == 1)
		return -EINVAL;
	if (!tx) {
		struct xs_node *n = xs_node_find(s, path, len);

		if (n)
			xs_tree_delete(s, n);
		return 0;
	}
	op = xs_txop_new(TXOP_RM, path, NULL, 0, 1);
	if (!op)
		return -ENOMEM;
	r = xs_tx_charge_op(tx, op, 0);
	if (r) {
		xs_txop_free(op);
		return r;
	}
	r = xs_tx_delete(s, tx, c, path, len);
	if (r) {
		xs_txop_free(op);
		tx->doomed = true;
	}
	else
		xs_tx_log(tx, op);
	return r;
}

int xs_store_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *in,
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
	r = xs_path_canon(c, in, true, path, &len, &rel);
	if (r)
		return r;
	if (check && n > s->quota.perms_per_node)
		return -ENOSPC;
	sp = xs_special_find(s, path);
	if (path[0] == '@' && !sp)
		return -ENOENT;
	if (sp) {
		if (check && !(xs_perms_for(s, c, sp->perms, sp->nperms) &
			       PERM_OWNER))
			return -EACCES;
		if (check && perms[0].domid != sp->perms[0].domid)
			return -EPERM;
		p = xs_perms_dup(perms, n);
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
	if (check && !(xs_perms_for(s, c, vn.perms, vn.nperms) & PERM_OWNER))
		return -EACCES;
	/* Unprivileged domains may not give their nodes away. */
	if (check && perms[0].domid != vn.perms[0].domid)
		return -EPERM;
	nold = vn.nperms;
	old = xs_perms_dup(vn.perms, nold);
	if (!old)
		return -ENOMEM;
	if (tx) {
		op = xs_txop_new(TXOP_SET_PERMS, path, perms, n, sizeof(*perms));
		r = op ? xs_tx_charge_op(tx, op, n * sizeof(*perms)) : -ENOMEM;
		if (r) {
			xs_txop_free(op);
			kfree(old);
			return r;
		}
	}
	r = xs_view_set_perms(s, tx, c, path, len, perms, n);
	if (tx) {
		if (r) {
			xs_txop_free(op);
			tx->doomed = true;
		} else {
			xs_tx_log(tx, op);
		}
	} else if (!r) {
		xs_watch_fire_node(s, path, len, old, nold);
	}
	kfree(old);
	return r;
}

int xs_op_write(struct xs_conn *c, struct xs_tx *tx, const char *path,
		const void *value, size_t len)
{
	return xs_store_write(c, tx, path, value, len, false, true);
}

int xs_op_mkdir(struct xs_conn *c, struct xs_tx *tx, const char *path)
{
	return xs_store_write(c, tx, path, "", 0, true, true);
}

int xs_op_rm(struct xs_conn *c, struct xs_tx *tx, const char *path)
{
	return xs_store_rm(c, tx, path, true);
}

int xs_op_set_perms(struct xs_conn *c, struct xs_tx *tx, const char *path,
		    const struct xs_perm *perms, unsigned n)
{
	return xs_store_set_perms(c, tx, path, perms, n, true);
}

int xs_op_read(struct xs_conn *c, struct xs_tx *tx, const char *in,
	       char **value, size_t *vlen)
{
	char path[XENSTORE_ABS_PATH_MAX + 1];
	struct xs_vnode vn;
	size_t len;
	bool rel;
	int r = xs_path_canon(c, in, false, path, &len, &rel);

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
	int r = xs_path_canon(c, in, false, path, &len, &rel);

	if (!r)
		r = get_node(c->store, tx, c, path, len, XS_PERM_READ, &vn);
	if (r)
		return r;
	*gen = vn.gen;
	return xs_view_children(&vn, children, clen);
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
	int r = xs_path_canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	sp = xs_special_find(s, path);
	if (sp) {
		if (!(xs_perms_for(s, c, sp->perms, sp->nperms) & XS_PERM_READ))
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
	*perms = xs_perms_dup(vn.perms, vn.nperms);
	if (!*perms)
		return -ENOMEM;
	*n = vn.nperms;
	return 0;
}

void xs_conn_drop_state(struct xs_conn *c)
{
	struct xs_watch *w;
	struct xs_tx *tx;

	while ((w = c->watches)) {
		c->watches = w->next;
		xs_watch_free(c->store, c, w);
	}
	while ((tx = c->txs)) {
		c->txs = tx->next;
		xs_tx_free(tx);
	}
	c->ntx = 0;
}

void xs_op_reset_watches(struct xs_conn *c)
{
	xs_conn_drop_state(c);
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
		s->special[i].perms = xs_perms_dup(&root_perm, 1);
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
	root->perms = xs_perms_dup(&root_perm, 1);
	if (!root->path || !root->value || !root->perms)
		goto err_free;
	root->path_len = 1;
	root->nperms = 1;
	root->h.key = root->path;
	root->h.key_len = 1;
	if (htab_insert(&s->nodes, &root->h) || !xs_domain_get(s, 0))
		goto err_free;
	xs_domain_get(s, 0)->nodes = 1;
	xs_node_touch(s, root);
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
	while (xs_store_reap(s, UINT32_MAX))
		;
	for (size_t b = 0; b < s->nodes.nbuckets; b++) {
		struct htab_entry *h = s->nodes.buckets[b], *next;

		for (; h; h = next) {
			next = h->next;
			xs_node_free(container_of(h, struct xs_node, h));
		}
	}
	if (s->root && !s->nodes.count)
		xs_node_free(s->root);
	htab_release(&s->nodes);
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

void xs_store_get_stats(const struct xs_store *s, struct xs_store_stats *out)
{
	*out = s->stats;
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
	const struct xs_domain *d = xs_domain_find(s, domid);

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
		for (struct htab_entry *h = s->nodes.buckets[b]; h; h = h->next) {
			const struct xs_node *n =
				container_of(h, const struct xs_node, h);
			const struct xs_node *ch;

			reachable++;
			if (!n->nperms || xs_node_find(s, n->path, n->path_len) != n)
				return -EIO;
			if (n != s->root) {
				for (ch = n->parent->first_child; ch && ch != n;
				     ch = ch->next_sib)
					;
				if (!ch || n->parent->path_len !=
						   xs_path_parent_len(n->path, n->path_len))
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
				for (struct htab_entry *h = s->nodes.buckets[k]; h;
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


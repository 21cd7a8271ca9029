/*
 * Transactions (C xenstored's optimistic model; see the design block of
 * store.c): the transaction's view of nodes, its log of changing requests,
 * what it is charged, and commit.
 */
#include <lib/base.h>
#include "internal.h"

static struct xs_txent *tx_find_ent(const struct xs_tx *tx, const char *path,
				    size_t len)
{
	struct htab_entry *e = htab_find(&tx->ents, path, len);

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

	/* The entry, its path and its share of the table's buckets. */
	if (tx_charge(tx, xs_heap_cost(sizeof(*e)) + xs_heap_cost(len + 1) +
			  2 * sizeof(void *)))
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
int xs_view_get(struct xs_store *s, struct xs_tx *tx, const char *path,
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
	n = xs_node_find(s, path, len);
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

int xs_view_children(const struct xs_vnode *vn, char **out, size_t *len)
{
	if (vn->node)
		return xs_node_children(vn->node, out, len);
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
	int r = xs_view_get(s, tx, path, len, &vn);

	if (r)
		return r;
	e = tx_find_ent(tx, path, len);
	ASSERT(e);
	*out = e;
	if (e->dirty)
		return 0;
	if (vn.exists) {
		e->value = kmalloc(vn.vlen + 1);
		e->perms = xs_perms_dup(vn.perms, vn.nperms);
		r = xs_node_children(vn.node, &e->children, &e->children_len);
		if (!e->value || !e->perms || r) {
			ent_clear(e);
			return -ENOMEM;
		}
		memcpy(e->value, vn.value, vn.vlen);
		e->vlen = vn.vlen;
		e->nperms = vn.nperms;
		r = tx_charge(tx, xs_heap_cost(vn.vlen + 1) +
				  xs_heap_cost(e->children_len + 1) +
				  xs_heap_cost(vn.nperms * sizeof(struct xs_perm)));
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
	size_t grow = xs_heap_cost(e->children_len + l) -
		      (e->children ? xs_heap_cost(e->children_len) : 0);
	char *c;

	if (tx_charge(tx, grow))
		return -ENOSPC;
	c = krealloc(e->children, e->children_len + l);
	if (!c)
		return -ENOMEM;
	memcpy(c + e->children_len, name, l);
	e->children = c;
	e->children_len += l;
	return 0;
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
int xs_view_create(struct xs_store *s, struct xs_tx *tx,
		   const struct xs_conn *c, const char *path, size_t len,
		   const void *value, size_t vlen,
		   const struct xs_perm *perms, uint32_t nperms)
{
	size_t plen = xs_path_parent_len(path, len);
	struct xs_txent *pe, *e;
	int r;

	if (!tx) {
		struct xs_node *parent = xs_node_find(s, path, plen);

		if (!parent)
			return -ENOENT;
		return xs_node_create(s, parent, path, len, value, vlen, perms,
				   nperms);
	}
	r = tx_cow(s, tx, path, plen, &pe);
	if (!r)
		r = tx_cow(s, tx, path, len, &e);
	if (r)
		return r;
	ent_clear(e);
	e->value = kmalloc(vlen + 1);
	e->perms = xs_perms_dup(perms, nperms);
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
	return tx_charge(tx, xs_heap_cost(vlen + 1) +
			     xs_heap_cost(nperms * sizeof(*perms)));
}

int xs_view_set_value(struct xs_store *s, struct xs_tx *tx,
		      const char *path, size_t len, const void *value,
		      size_t vlen)
{
	struct xs_txent *e;
	char *v;
	int r;

	if (!tx) {
		struct xs_node *n = xs_node_find(s, path, len);

		return n ? xs_node_set_value(s, n, value, vlen) : -ENOENT;
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
	return tx_charge(tx, xs_heap_cost(vlen + 1));
}

int xs_view_set_perms(struct xs_store *s, struct xs_tx *tx,
		      const struct xs_conn *c, const char *path,
		      size_t len, const struct xs_perm *perms,
		      uint32_t nperms)
{
	struct xs_txent *e;
	struct xs_perm *p;
	int r;

	if (!tx) {
		struct xs_node *n = xs_node_find(s, path, len);

		return n ? xs_node_set_perms(s, n, perms, nperms) : -ENOENT;
	}
	r = tx_cow(s, tx, path, len, &e);
	if (r)
		return r;
	if (!e->exists || !e->nperms)
		return -ENOENT;
	p = xs_perms_dup(perms, nperms);
	if (!p)
		return -ENOMEM;
	if (e->perms[0].domid == c->domid)
		tx->own_delta--;
	if (p[0].domid == c->domid)
		tx->own_delta++;
	kfree(e->perms);
	e->perms = p;
	e->nperms = nperms;
	return tx_charge(tx, xs_heap_cost(nperms * sizeof(*p)));
}

/* The transaction's version: every node of the subtree becomes absent. */
int xs_tx_delete(struct xs_store *s, struct xs_tx *tx,
		 const struct xs_conn *c, const char *path, size_t len)
{
	size_t plen = xs_path_parent_len(path, len), depth = 0, cap = 16;
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

		r = xs_view_get(s, tx, p, plen2, &vn);
		if (!r && vn.exists)
			r = xs_view_children(&vn, &kids, &klen);
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

/* ---- transactions: log, commit ---------------------------------------- */

struct xs_txop *xs_txop_new(int type, const char *path, const void *data,
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

void xs_txop_free(struct xs_txop *op)
{
	if (!op)
		return;
	kfree(op->path);
	kfree(op->data);
	kfree(op);
}

int xs_tx_charge_op(struct xs_tx *tx, const struct xs_txop *op, size_t data_bytes)
{
	if (tx->nops >= tx->max_ops)
		return -ENOSPC;
	tx->nops++;
	return tx_charge(tx, xs_heap_cost(sizeof(*op)) +
			     xs_heap_cost(strlen(op->path) + 1) +
			     xs_heap_cost(data_bytes + 1));
}

void xs_tx_log(struct xs_tx *tx, struct xs_txop *op)
{
	if (tx->ops_tail)
		tx->ops_tail->next = op;
	else
		tx->ops = op;
	tx->ops_tail = op;
}

void xs_tx_free(struct xs_tx *tx)
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
		xs_txop_free(op);
	}
	htab_release(&tx->ents);
	kfree(tx);
}

struct xs_tx *xs_tx_find(struct xs_conn *c, uint32_t id)
{
	struct xs_tx *tx = c->txs;

	while (tx && tx->id != id)
		tx = tx->next;
	return tx;
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
	tx->max_ops = priv ? UINT32_MAX : s->quota.tx_ops;
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
		const struct xs_node *n = xs_node_find(s, e->path, e->path_len);

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
		const struct xs_domain *d = xs_domain_find(s, c->domid);
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
			e = xs_store_write(c, NULL, op->path, op->data, op->len,
				     op->type == TXOP_MKDIR, false);
			break;
		case TXOP_RM:
			e = xs_store_rm(c, NULL, op->path, false);
			break;
		case TXOP_SET_PERMS:
			e = xs_store_set_perms(c, NULL, op->path, op->data,
					 (unsigned)op->len, false);
			break;
		}
		/* Only ENOMEM can fail a replay; keep going, report it. */
		if (e && !r) {
			s->stats.commit_errors++;
			r = e;
		}
	}
out:
	xs_tx_free(tx);
	return r;
}

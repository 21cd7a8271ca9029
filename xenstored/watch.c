/*
 * Watches: WATCH / UNWATCH, matching a change against every connection's
 * watches, queueing WATCH_EVENTs on wire connections and callbacks for the
 * in-process ones (xs_store_run_pending()).
 */
#include <lib/base.h>
#include "internal.h"

/* ---- watches ---------------------------------------------------------- */

/*
 * Queues an in-process callback.  The queue is bounded (XS_PENDING_MAX): a
 * guest that makes many changes under a dom0 watch costs dom0 at most that
 * many entries, the rest are dropped and counted on the watch.
 */
static void pending_add(struct xs_store *s, struct xs_watch *w,
			const char *path)
{
	size_t pl = strlen(path), tl = strlen(w->token);
	struct xs_pending *p = NULL;

	if (s->npending < XS_PENDING_MAX)
		p = kmalloc(sizeof(*p) + pl + tl + 2);
	if (!p) {
		w->dropped++;
		s->stats.local_events_dropped++;
		return;
	}
	s->npending++;
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
			s->npending--;
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
	/* A watcher whose output is full loses the event, counted; its conn
	 * and everyone else's go on. */
	if (xs_conn_queue_event(c, rel, w->token) == -ENOSPC) {
		struct xs_domain *d = xs_domain_find(s, c->domid);

		w->dropped++;
		s->stats.watch_events_dropped++;
		if (d)
			d->events_dropped++;
	}
	xs_store_kick(s, c);
}

void xs_watch_deliver_initial(struct xs_conn *c, struct xs_watch *w)
{
	deliver(c->store, c, w, w->path);
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
	return (np && (xs_perms_for(s, c, np, nn) & XS_PERM_READ)) ||
	       (pp && (xs_perms_for(s, c, pp, pn) & XS_PERM_READ)) ||
	       (op && (xs_perms_for(s, c, op, on) & XS_PERM_READ));
}

/*
 * Queues an event for every watch on path (exact) or on path or an ancestor
 * (!exact) whose conn may see the node.  np/pp/op: the node's perms, its
 * parent's, its previous ones (any may be NULL).
 */
void xs_watch_fire(struct xs_store *s, const char *path, bool exact,
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
				    !xs_path_is_child(path, w->path))
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

/*
 * For xs_tree_delete(): one exact event for every watch set on a node strictly
 * below top (those nodes vanish with it), found by walking the watches once
 * rather than every node of the subtree against every watch.
 */
void xs_watch_fire_below(struct xs_store *s, const struct xs_node *top)
{
	for (struct xs_conn *c = s->conns; c; c = c->next) {
		for (struct xs_watch *w = c->watches; w && !c->error; w = w->next) {
			const struct xs_node *n;

			if (w->path[0] != '/' || !strcmp(w->path, top->path) ||
			    !xs_path_is_child(w->path, top->path))
				continue;
			n = xs_node_find(s, w->path, strlen(w->path));
			if (!n || !watch_permitted(s, c, n->perms, n->nperms,
						   n->parent->perms,
						   n->parent->nperms, NULL, 0))
				continue;
			deliver(s, c, w, w->path);
		}
	}
}

void xs_watch_fire_node(struct xs_store *s, const char *path, size_t len,
			const struct xs_perm *op, uint32_t on)
{
	struct xs_node *n = xs_node_find(s, path, len);

	if (n)
		xs_watch_fire(s, path, false, n->perms, n->nperms,
		     n->parent ? n->parent->perms : NULL,
		     n->parent ? n->parent->nperms : 0, op, on);
}

void xs_watch_fire_special(struct xs_store *s, int which)
{
	struct xs_special *sp = &s->special[which];

	xs_watch_fire(s, sp->name, true, sp->perms, sp->nperms, NULL, 0, NULL, 0);
}

struct xs_special *xs_special_find(struct xs_store *s, const char *path)
{
	for (int i = 0; i < SPECIAL_COUNT; i++)
		if (!strcmp(path, s->special[i].name))
			return &s->special[i];
	return NULL;
}

void xs_watch_free(struct xs_store *s, struct xs_conn *c,
		   struct xs_watch *w)
{
	struct xs_domain *d = xs_domain_find(s, c->domid);

	if (d && d->watches)
		d->watches--;
	if (c->local)
		pending_purge(s, w);
	kfree(w->path);
	kfree(w->token);
	kfree(w);
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
	int r = xs_path_canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	for (tail = &c->watches; *tail; tail = &(*tail)->next)
		if (!strcmp((*tail)->path, path) &&
		    !strcmp((*tail)->token, token))
			return -EEXIST;
	d = xs_domain_get(s, c->domid);
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

		w->prefix_len = xs_path_domain(pre, sizeof(pre), c->domid) + 1;
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
	int r = xs_path_canon(c, in, true, path, &len, &rel);

	if (r)
		return r;
	for (pp = &c->watches; (w = *pp); pp = &w->next) {
		if (!strcmp(w->path, path) && !strcmp(w->token, token)) {
			*pp = w->next;
			xs_watch_free(c->store, c, w);
			return 0;
		}
	}
	return -ENOENT;
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
	xs_watch_deliver_initial(s->local, w);
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
		s->npending--;
		p->cb(p->ctx, p->data, p->data + p->path_len + 1);
		kfree(p);
		ran++;
	}
	return ran;
}

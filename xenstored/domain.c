/*
 * The domains xenstored knows: per-domain counters, INTRODUCE / RELEASE /
 * RESUME / SET_TARGET, and the teardown of a domain that is gone.
 */
#include <lib/base.h>
#include "internal.h"

/* ---- domains ---------------------------------------------------------- */

struct xs_domain *xs_domain_find(const struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = s->domains[domid % DOM_BUCKETS];

	while (d && d->domid != domid)
		d = d->next;
	return d;
}

struct xs_domain *xs_domain_get(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = xs_domain_find(s, domid);

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
	return xs_domain_get(s, domid) ? 0 : -ENOMEM;
}

const struct xs_quota *xs_store_quota(const struct xs_store *s)
{
	return &s->quota;
}

bool xs_conn_is_privileged(const struct xs_conn *c)
{
	return c->domid == 0 || c->privileged;
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
	d = xs_domain_get(s, domid);
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
		xs_watch_fire_special(s, SPECIAL_INTRODUCE);
	}
	return 0;
}

/* Hands a dead domain's nodes to dom0 and drops ACL entries naming it. */
int xs_domain_disconnect(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = xs_domain_find(s, domid);

	for (struct xs_conn *c = s->conns; c; c = c->next) {
		if (c->local || c->domid != domid)
			continue;
		xs_conn_drop_state(c);
		if (!c->error)
			c->error = -EPIPE;
	}
	if (d && d->introduced) {
		d->introduced = false;
		d->disconnected_live = true; /* @releaseDomain still owed */
		/* The hook may free the conns (deferred for a busy one). */
		if (s->ops && s->ops->release)
			s->ops->release(s->ops_ctx, domid);
	}
	return 0;
}

/*
 * The domain is gone: disconnected if it was not yet, its nodes pass to
 * dom0, ACL entries and SET_TARGET links naming it end, and @releaseDomain
 * fires -- once per introduced life of the domid, however many callers
 * (XS_RELEASE, the toolstack's reaper, a shell destroy) report its death.
 */
static void domain_teardown(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = xs_domain_find(s, domid);
	bool fire_release = d && (d->introduced || d->disconnected_live);

	xs_domain_disconnect(s, domid);
	if (d)
		d->disconnected_live = false;
	for (size_t b = 0; b < DOM_BUCKETS; b++)
		for (struct xs_domain *t = s->domains[b]; t; t = t->next)
			if (t->has_target && (t->target == domid ||
					      t->domid == domid))
				t->has_target = false;
	xs_perms_forget(s, domid);
	if (fire_release)
		xs_watch_fire_special(s, SPECIAL_RELEASE);
}

int xs_op_release(struct xs_conn *c, uint16_t domid)
{
	const struct xs_domain *d;

	if (!xs_conn_is_privileged(c))
		return -EACCES;
	if (domid > XS_DOMID_MAX_VALID)
		return -EINVAL;
	d = xs_domain_find(c->store, domid);
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
	d = xs_domain_find(s, domid);
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
	d = xs_domain_find(c->store, domid);
	t = xs_domain_find(c->store, target);
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
	d = xs_domain_find(c->store, domid);
	*yes = domid == 0 || (d && d->introduced);
	return 0;
}

int xs_domain_gone(struct xs_store *s, uint16_t domid)
{
	domain_teardown(s, domid);
	return 0;
}

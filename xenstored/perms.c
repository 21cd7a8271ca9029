/*
 * xenstore permissions (docs/misc/xenstore.txt): what access a connection
 * has to a node's ACL, and forgetting a dead domain in every ACL.
 */
#include <lib/base.h>
#include "internal.h"

/* ---- permissions ------------------------------------------------------ */

/*
 * The access c has to a node with these perms: everything if privileged or
 * the owner (or the owner is c's SET_TARGET), else the first ACL entry that
 * names c's domain (or its target), else the owner entry's default.
 */
unsigned xs_perms_for(const struct xs_store *s, const struct xs_conn *c,
		      const struct xs_perm *p, uint32_t n)
{
	const struct xs_domain *d;
	bool has_target;

	if (xs_conn_is_privileged(c))
		return PERM_ALL;
	if (!n)
		return 0;
	d = xs_domain_find(s, c->domid);
	has_target = d && d->has_target;
	if (p[0].domid == c->domid || (has_target && p[0].domid == d->target))
		return PERM_ALL;
	for (uint32_t i = 1; i < n; i++)
		if (p[i].domid == c->domid ||
		    (has_target && p[i].domid == d->target))
			return p[i].perm;
	return p[0].perm;
}

struct xs_perm *xs_perms_dup(const struct xs_perm *p, uint32_t n)
{
	struct xs_perm *q = kmalloc(MAX(n, 1u) * sizeof(*q));

	if (q)
		memcpy(q, p, n * sizeof(*q));
	return q;
}

void xs_perms_forget(struct xs_store *s, uint16_t domid)
{
	struct xs_domain *d = xs_domain_find(s, domid), *d0 = xs_domain_get(s, 0);

	for (size_t b = 0; b < s->nodes.nbuckets; b++) {
		for (struct htab_entry *h = s->nodes.buckets[b]; h; h = h->next) {
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

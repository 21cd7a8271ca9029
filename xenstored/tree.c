/*
 * The node tree of keel's xenstored: canonical paths, nodes in one hash table
 * keyed by full path and in their parent's child list, node creation,
 * change and removal with per-domain node counts.  Watches are watch.c's,
 * permission checks perms.c's.
 */
#include <lib/base.h>
#include "internal.h"

/* ---- paths ------------------------------------------------------------ */

static bool path_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '-' || ch == '/' ||
	       ch == '_' || ch == '@';
}

/* Length of the parent's path: "/a/b" -> 2, "/a" -> 1 ("/"). */
size_t xs_path_parent_len(const char *path, size_t len)
{
	while (len > 1 && path[len - 1] != '/')
		len--;
	return len > 1 ? len - 1 : 1;
}

/* Is child equal to parent or below it?  "/" is everything's parent. */
bool xs_path_is_child(const char *child, const char *parent)
{
	size_t len = strlen(parent);

	if (parent[0] == '/' && parent[1] == '\0')
		return child[0] == '/';
	return !strncmp(child, parent, len) &&
	       (child[len] == '/' || child[len] == '\0');
}

size_t xs_path_domain(char *buf, size_t size, uint16_t domid)
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
int xs_path_canon(const struct xs_conn *c, const char *in, bool allow_special,
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
		pre = xs_path_domain(out, XENSTORE_ABS_PATH_MAX + 1, c->domid);
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

/* ---- the tree --------------------------------------------------------- */

struct xs_node *xs_node_find(const struct xs_store *s, const char *path,
			     size_t len)
{
	struct htab_entry *e = htab_find(&s->nodes, path, len);

	return e ? container_of(e, struct xs_node, h) : NULL;
}

void xs_node_touch(struct xs_store *s, struct xs_node *n)
{
	n->gen = s->next_gen++;
}

void xs_node_free(struct xs_node *n)
{
	kfree(n->path);
	kfree(n->value);
	kfree(n->perms);
	kfree(n);
}

/* A new last child of parent (which must be path's parent). */
int xs_node_create(struct xs_store *s, struct xs_node *parent,
		   const char *path, size_t len, const void *value,
		   size_t vlen, const struct xs_perm *perms, uint32_t nperms)
{
	struct xs_domain *owner = xs_domain_get(s, perms[0].domid);
	struct xs_node *n = kzalloc(sizeof(*n));

	if (!owner || !n)
		goto err_free;
	n->path = strndup(path, len);
	n->value = kmalloc(vlen + 1);
	n->perms = xs_perms_dup(perms, nperms);
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
	xs_node_touch(s, n);
	xs_node_touch(s, parent);
	owner->nodes++;
	return 0;

err_free:
	if (n)
		xs_node_free(n);
	return -ENOMEM;
}

int xs_node_set_value(struct xs_store *s, struct xs_node *n,
		      const void *value, size_t vlen)
{
	char *v = kmalloc(vlen + 1);

	if (!v)
		return -ENOMEM;
	memcpy(v, value, vlen);
	kfree(n->value);
	n->value = v;
	n->vlen = (uint32_t)vlen;
	xs_node_touch(s, n);
	return 0;
}

int xs_node_set_perms(struct xs_store *s, struct xs_node *n,
		      const struct xs_perm *perms, uint32_t nperms)
{
	struct xs_domain *old = xs_domain_find(s, n->perms[0].domid);
	struct xs_domain *new = xs_domain_get(s, perms[0].domid);
	struct xs_perm *p = xs_perms_dup(perms, nperms);

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
	xs_node_touch(s, n);
	return 0;
}

/* The basename of a child node. */
static const char *node_name(const struct xs_node *n)
{
	return n->path + (n->parent->path_len == 1 ? 1 : n->parent->path_len + 1);
}

int xs_node_children(const struct xs_node *n, char **out, size_t *len)
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


/*
 * Removes top and everything below it from the real tree, firing watches,
 * without a per-node cost that grows with the number of watches: the
 * watches on nodes below top are found through the watch lists
 * (xs_watch_fire_below()), then the subtree leaves the hash table and its owners'
 * counts in one walk of pointer updates, and its memory goes to the
 * graveyard, which xs_store_reap() frees in slices.  For everyone else the
 * removal is complete and atomic at return.
 */
void xs_tree_delete(struct xs_store *s, struct xs_node *top)
{
	struct xs_node *parent = top->parent, *n;

	xs_watch_fire_below(s, top);
	xs_watch_fire(s, top->path, false, top->perms, top->nperms, parent->perms,
	     parent->nperms, NULL, 0);
	if (top->prev_sib)
		top->prev_sib->next_sib = top->next_sib;
	else
		parent->first_child = top->next_sib;
	if (top->next_sib)
		top->next_sib->prev_sib = top->prev_sib;
	else
		parent->last_child = top->prev_sib;
	xs_node_touch(s, parent);
	/* Pre-order over the detached subtree; its links stay intact. */
	for (n = top; n;) {
		struct xs_domain *owner = xs_domain_find(s, n->perms[0].domid);

		if (owner && owner->nodes)
			owner->nodes--;
		htab_remove(&s->nodes, &n->h);
		if (n->first_child) {
			n = n->first_child;
			continue;
		}
		while (n != top && !n->next_sib)
			n = n->parent;
		n = n == top ? NULL : n->next_sib;
	}
	top->parent = NULL;
	top->prev_sib = NULL;
	top->next_sib = s->graveyard;
	s->graveyard = top;
	if (s->ops && s->ops->local_kick)
		s->ops->local_kick(s->ops_ctx);
}

unsigned xs_store_reap(struct xs_store *s, unsigned budget)
{
	unsigned freed = 0;

	while (s->graveyard && freed < budget) {
		struct xs_node *top = s->graveyard, *n = top, *p;

		while (n->first_child)
			n = n->first_child;
		if (n == top) {
			s->graveyard = top->next_sib;
		} else {
			/* n is its parent's first child and a leaf. */
			p = n->parent;
			p->first_child = n->next_sib;
			if (n->next_sib)
				n->next_sib->prev_sib = NULL;
			else
				p->last_child = NULL;
		}
		xs_node_free(n);
		freed++;
	}
	return freed;
}

bool xs_store_reap_pending(const struct xs_store *s)
{
	return s->graveyard != NULL;
}

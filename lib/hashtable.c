/*
 * The generic intrusive hash table of include/lib/hashtable.h.  It owns only
 * its bucket array; entries belong to the caller.
 */
#include <lib/base.h>
#include <lib/hashtable.h>

#define HTAB_FIRST_BUCKETS 64

uint32_t htab_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h;
}

struct htab_entry *htab_find(const struct htab *t, const char *key, size_t len)
{
	uint32_t hash;

	if (!t->nbuckets)
		return NULL;
	hash = htab_hash(key, len);
	for (struct htab_entry *e = t->buckets[hash & (t->nbuckets - 1)]; e; e = e->next)
		if (e->hash == hash && e->key_len == len && !memcmp(e->key, key, len))
			return e;
	return NULL;
}

static void htab_grow(struct htab *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : HTAB_FIRST_BUCKETS;
	struct htab_entry **b;

	if (n < t->nbuckets || n > SIZE_MAX / sizeof(*b))
		return;
	b = kzalloc(n * sizeof(*b));
	/* Without memory the chains just get longer. */
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct htab_entry *e = t->buckets[i], *next;

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

int htab_insert(struct htab *t, struct htab_entry *e)
{
	if (t->count >= t->nbuckets)
		htab_grow(t);
	if (!t->nbuckets)
		return -ENOMEM;
	e->hash = htab_hash(e->key, e->key_len);
	e->next = t->buckets[e->hash & (t->nbuckets - 1)];
	t->buckets[e->hash & (t->nbuckets - 1)] = e;
	t->count++;
	return 0;
}

void htab_remove(struct htab *t, struct htab_entry *e)
{
	struct htab_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];

	while (*pp != e) {
		ASSERT(*pp);
		pp = &(*pp)->next;
	}
	*pp = e->next;
	e->next = NULL;
	t->count--;
}

void htab_release(struct htab *t)
{
	kfree(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
	t->count = 0;
}

struct htab_entry *htab_walk(const struct htab *t, size_t *cursor, struct htab_entry **next)
{
	struct htab_entry *e = *next;

	/* *next is taken before the caller sees e, so e may be removed. */
	while (!e && *cursor < t->nbuckets)
		e = t->buckets[(*cursor)++];
	*next = e ? e->next : NULL;
	return e;
}

/*
 * A generic intrusive hash table keyed by byte strings the owner keeps
 * (FNV-1a, chained buckets, a power-of-two bucket count that doubles as
 * entries are added).  The owner embeds struct htab_entry in its object and
 * keeps the key alive while the entry is in a table.  Pure: builds for the
 * host.  Not thread-safe: the caller serialises all calls on one table.
 */
#ifndef KEEL_LIB_HASHTABLE_H
#define KEEL_LIB_HASHTABLE_H

#include <lib/base.h>

struct htab_entry {
	struct htab_entry *next;
	uint32_t hash;
	const char *key;
	size_t key_len;
};

struct htab {
	struct htab_entry **buckets;
	size_t nbuckets; /* a power of two, or 0 before the first insert */
	size_t count;
};

/* An empty table needs no call: a zeroed struct htab is one. */

/* The hash of len bytes of key (FNV-1a, 32 bits). */
uint32_t htab_hash(const char *key, size_t len);

/* The entry whose key is these len bytes, or NULL. */
struct htab_entry *htab_find(const struct htab *t, const char *key, size_t len);

/*
 * Adds e, whose key and key_len the caller has set; a key already in the
 * table is the caller's mistake (both would stay, the newer found first).
 * Returns 0, or -ENOMEM if the table has no bucket array yet and none can be
 * allocated (a failed growth later only makes chains longer).
 */
int htab_insert(struct htab *t, struct htab_entry *e);

/* Removes e, which must be in t. */
void htab_remove(struct htab *t, struct htab_entry *e);

/* Frees the bucket array (not the entries); t is empty again. */
void htab_release(struct htab *t);

/*
 * Iteration in bucket order: *cursor starts at 0 and *next at NULL; each
 * entry is returned once, then NULL.  The table must not change during a
 * walk, except that the entry just returned may be removed.
 */
struct htab_entry *htab_walk(const struct htab *t, size_t *cursor, struct htab_entry **next);

#endif

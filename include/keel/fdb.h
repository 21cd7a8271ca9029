/*
 * A bridge's forwarding table (net/fdb.c): which port a source MAC was last
 * seen on, as Linux's bridge learns it (br_fdb.c), with ageing.  Pure: the
 * caller passes the time, so host tests and the fuzzer drive the clock.  It
 * does not forward anything; the bridge asks it where a frame goes.
 *
 * Memory: the table is one fixed array inside struct fdb, filled by
 * fdb_init; nothing is allocated after.  It is set-associative: a MAC's
 * keyed hash picks one set of FDB_WAYS entries, and a MAC learnt into a
 * full set takes the place of that set's oldest (least recently seen)
 * learnt entry.  So a guest sending frames from random source MACs costs
 * at most FDB_WAYS comparisons per frame, never grows memory, and can only
 * push other MACs out of the table (their frames are then flooded, as for
 * any unknown destination, until they are seen again).  The hash key is
 * chosen at init so a guest cannot aim its MACs at one set.
 *
 * Locking: none inside; the bridge serialises calls (keel's threads are
 * cooperative and the bridge forwards a frame to the end before yielding).
 */
#ifndef KEEL_FDB_H
#define KEEL_FDB_H

#include <lib/base.h>

#define FDB_WAYS 8
#define FDB_SETS 128
#define FDB_CAPACITY (FDB_WAYS * FDB_SETS)     /* 1024 entries */
#define FDB_DEFAULT_AGEING_NS (300ull * 1000000000ull) /* Linux bridge: 300 s */

struct fdb_entry {
	uint8_t mac[6];
	uint16_t port;
	bool used;
	bool local;             /* fdb_add_local: never ages, never replaced */
	uint64_t seen_ns;       /* last frame from this MAC */
};

struct fdb_stats {
	uint64_t learnt;        /* new entries */
	uint64_t moved;         /* a MAC seen on another port than its entry's */
	uint64_t replaced;      /* entries pushed out of a full set */
	uint64_t refused;       /* multicast/zero sources, local MACs claimed */
};

struct fdb {
	uint64_t ageing_ns;
	uint64_t key;           /* hash key, from fdb_init's seed */
	unsigned int count;     /* used entries (aged ones count until reused) */
	struct fdb_stats stats;
	struct fdb_entry entries[FDB_CAPACITY];
};

/*
 * Empties t.  ageing_ns 0 means FDB_DEFAULT_AGEING_NS.  seed keys the hash
 * (pass something a guest cannot guess: a boot-time random or TSC value).
 */
void fdb_init(struct fdb *t, uint64_t ageing_ns, uint64_t seed);

/*
 * A frame from source `mac` came in on `port` at now_ns: remember it.
 * Returns 0 (learnt, refreshed or moved to this port), -EINVAL for a
 * source no station may use (a multicast/broadcast address, the group bit
 * set, or all zeros: the caller counts and may drop the frame), -EEXIST for
 * a MAC that is one of the bridge's own local ones on another port, or
 * -ENOSPC when its set holds only local entries.  Never sleeps.
 */
int fdb_learn(struct fdb *t, const uint8_t mac[6], uint16_t port, uint64_t now_ns);

/*
 * Adds a local (static) entry: a MAC of the bridge itself (keel's own port)
 * that never ages and that no learning moves.  0, -EINVAL (multicast or
 * zero), -ENOSPC (its set is all local entries).
 */
int fdb_add_local(struct fdb *t, const uint8_t mac[6], uint16_t port);

/* The port `mac` was last seen on, or -1 when unknown or older than the
 * ageing time (the frame is then flooded). */
int fdb_lookup(const struct fdb *t, const uint8_t mac[6], uint64_t now_ns);

/* Forgets every entry on `port` (it left the bridge or went down),
 * local ones included. */
void fdb_flush_port(struct fdb *t, uint16_t port);

/* One row of `brctl showmacs`. */
struct fdb_show_row {
	uint8_t mac[6];
	uint16_t port;
	bool local;
	uint64_t age_ns;        /* since last seen; 0 for local entries */
};

/*
 * Iterates over the live entries (local, or seen within the ageing time):
 * start with *cursor = 0; each call fills *row and returns true, or
 * returns false at the end.  Entries come in table order, not sorted.
 */
bool fdb_show(const struct fdb *t, uint64_t now_ns, unsigned int *cursor,
	      struct fdb_show_row *row);

/* The set (0..FDB_SETS-1) mac falls in under t's key: for tests and
 * diagnostics. */
unsigned int fdb_set_of(const struct fdb *t, const uint8_t mac[6]);

/* True for a MAC that may be a frame's source: not group, not zero. */
bool fdb_mac_is_unicast(const uint8_t mac[6]);

#endif

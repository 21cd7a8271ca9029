/*
 * A first-fit bitmap allocator over a range of unit indices: dom0's page
 * frames, and the slots of the vmap virtual area.  Pure and host-tested.
 * One bit per unit; runs are found with a rotating hint so repeated small
 * allocations stay cheap.  No locking inside: the caller serialises.
 */
#ifndef KEEL_LIB_RANGE_ALLOC_H
#define KEEL_LIB_RANGE_ALLOC_H

#include <lib/base.h>

struct range_alloc {
	uint64_t base;    /* first unit index */
	uint64_t count;   /* units covered */
	uint64_t *bits;   /* 1 = in use; (count + 63) / 64 words */
	uint64_t free;    /* units currently free */
	uint64_t hint;    /* where the next search starts (relative) */
};

/* Bytes of bitmap storage for count units. */
#define RANGE_ALLOC_BITMAP_BYTES(count) ((((count) + 63) / 64) * 8)

/* All units start in use; free the usable ones with range_free(). */
void range_init(struct range_alloc *r, uint64_t base, uint64_t count, uint64_t *bits);
/*
 * Finds n free units whose first index is a multiple of align (a power of
 * two, 1 for none), marks them used and stores the first index in *out.
 * Returns 0 or -ENOMEM.
 */
int range_alloc(struct range_alloc *r, uint64_t n, uint64_t align, uint64_t *out);
/* Like range_alloc (no alignment), but the run must end at or below limit. */
int range_alloc_below(struct range_alloc *r, uint64_t n, uint64_t limit, uint64_t *out);
/*
 * Marks up to max free units used, highest indices first, and stores them
 * in out (descending).  Returns how many were taken (the balloon gives the
 * top of dom0's memory back first).
 */
size_t range_take_highest(struct range_alloc *r, uint64_t *out, size_t max);
/* Marks [first, first + n) free.  Freeing a free unit is a caller bug (ASSERT). */
void range_free(struct range_alloc *r, uint64_t first, uint64_t n);
/* Marks [first, first + n) used whatever it was (boot-time reservations). */
void range_reserve(struct range_alloc *r, uint64_t first, uint64_t n);
bool range_is_used(const struct range_alloc *r, uint64_t index);

#endif

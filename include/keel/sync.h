/*
 * Synchronisation primitives for drivers and backends: spinlocks that also
 * keep event handlers out, sleeping mutexes, completions, reference counts,
 * and the in-flight counter a device's disconnect waits on.
 *
 * Today dom0 runs on one vCPU with cooperative threads, so a spinlock only
 * has to mask events (a handler is the only thing that can interleave) and
 * a mutex only matters across a sleep.  Each primitive is nevertheless
 * written to stay correct on several vCPUs (atomic lock word, atomic
 * counts), so code that uses them today does not change when dom0 goes SMP.
 *
 * Lock order (outermost first); a thread may take a later class while
 * holding an earlier one, never the reverse:
 *   1. mutexes (may sleep: toolstack, a device's control path)
 *   2. spinlocks of a device or backend instance (ring, request pool)
 *   3. spinlocks of shared services (grant maps, PIRQ table, block-device
 *      registry), which never call out while held
 * No sleeping, allocation that may sleep, or hypercall that may block is
 * allowed under a spinlock.  Event handlers may take class 2 and 3 locks
 * with the _irqsave forms and may call complete(), ref_put() and
 * inflight_put(), never anything that sleeps.
 */
#ifndef KEEL_SYNC_H
#define KEEL_SYNC_H

#include <keel/irq.h>
#include <keel/kernel.h>
#include <lib/base.h>

/* ---- spinlocks ---- */
struct spinlock {
	uint32_t locked;
	const char *name;
};
#define SPINLOCK_INIT(n) { .locked = 0, .name = (n) }

static inline void spin_init(struct spinlock *l, const char *name)
{
	l->locked = 0;
	l->name = name;
}

/* Masks events, then takes the lock; returns the old mask for the unlock.
 * On one vCPU a lock found taken is a self-deadlock: ASSERT catches it. */
static inline unsigned long spin_lock_irqsave(struct spinlock *l)
{
	unsigned long f = irq_save();
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		ASSERT(!"spinlock already held on the only vCPU");
		__asm__ volatile("pause");
	}
	return f;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, unsigned long f)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	irq_restore(f);
}

static inline bool spin_is_locked(const struct spinlock *l)
{
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}

/* ---- mutexes (thread context only; may sleep) ---- */
struct mutex {
	struct thread *owner;
	struct waitq wq;
	const char *name;
};
#define MUTEX_INIT(n) { .owner = NULL, .wq = { NULL }, .name = (n) }

void mutex_init(struct mutex *m, const char *name);
/* Sleeps until the mutex is free, then owns it.  Not recursive. */
void mutex_lock(struct mutex *m);
/* Returns true and owns the mutex if it was free. */
bool mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
bool mutex_held_by_me(const struct mutex *m);

/* ---- completions ---- */
struct completion {
	uint32_t done;
	struct waitq wq;
};

void completion_init(struct completion *c);
/* Marks it done and wakes every waiter; safe from event handlers. */
void complete(struct completion *c);
/* Sleeps until done or timeout_ns (0 = forever); true if done.  May sleep. */
bool completion_wait(struct completion *c, uint64_t timeout_ns);
bool completion_done(const struct completion *c);

/* ---- reference counts ---- */
struct refcount {
	uint32_t count;
};

static inline void ref_init(struct refcount *r, uint32_t n)
{
	__atomic_store_n(&r->count, n, __ATOMIC_RELAXED);
}

static inline void ref_get(struct refcount *r)
{
	uint32_t old = __atomic_fetch_add(&r->count, 1, __ATOMIC_RELAXED);
	ASSERT(old > 0);
}

/* Drops one reference; true when it was the last (the caller frees). */
static inline bool ref_put(struct refcount *r)
{
	uint32_t old = __atomic_fetch_sub(&r->count, 1, __ATOMIC_ACQ_REL);
	ASSERT(old > 0);
	return old == 1;
}

/*
 * In-flight I/O of one device instance.  Every request the device has been
 * handed takes one count (inflight_get) and gives it back when the device
 * reported it done (inflight_put, safe from handlers).  Disconnect sets
 * `closing` (new requests are refused) and inflight_drain() sleeps until the
 * count is zero: only then may grants be unmapped or pages given back.
 */
struct inflight {
	uint32_t count;
	bool closing;
	struct waitq wq;
};

static inline void inflight_init(struct inflight *f)
{
	f->count = 0;
	f->closing = false;
	f->wq.head = NULL;
}

/* Returns false (and takes nothing) once the device is closing. */
bool inflight_get(struct inflight *f);
void inflight_put(struct inflight *f);
/* Marks the device closing and waits for the count to reach zero;
 * timeout_ns 0 = forever.  Returns true when drained.  May sleep. */
bool inflight_drain(struct inflight *f, uint64_t timeout_ns);

#endif

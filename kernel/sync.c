/*
 * Sleeping primitives of include/keel/sync.h: mutexes, completions and the
 * in-flight counter.  Spinlocks and refcounts are inline in the header.
 * Every state change that a waiter's condition reads happens with events
 * masked, and waitq_wait_until evaluates the condition with events masked,
 * so a wake-up between the check and the sleep cannot be lost.
 */
#include <keel/sync.h>

void mutex_init(struct mutex *m, const char *name)
{
	m->owner = NULL;
	m->wq.head = NULL;
	m->name = name;
}

static bool mutex_try(void *ctx)
{
	struct mutex *m = ctx;

	if (m->owner)
		return false;
	m->owner = thread_current();
	return true;
}

void mutex_lock(struct mutex *m)
{
	ASSERT(m->owner != thread_current());
	waitq_wait_until(&m->wq, mutex_try, m, 0);
}

bool mutex_trylock(struct mutex *m)
{
	unsigned long f = irq_save();
	bool ok = mutex_try(m);
	irq_restore(f);
	return ok;
}

void mutex_unlock(struct mutex *m)
{
	unsigned long f = irq_save();

	ASSERT(m->owner == thread_current());
	m->owner = NULL;
	irq_restore(f);
	/* Every waiter re-checks; the first to run takes the mutex. */
	waitq_wake_all(&m->wq);
}

bool mutex_held_by_me(const struct mutex *m)
{
	return m->owner == thread_current();
}

void completion_init(struct completion *c)
{
	c->done = 0;
	c->wq.head = NULL;
}

void complete(struct completion *c)
{
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	waitq_wake_all(&c->wq);
}

bool completion_done(const struct completion *c)
{
	return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE) != 0;
}

static bool completion_cond(void *ctx)
{
	return completion_done(ctx);
}

bool completion_wait(struct completion *c, uint64_t timeout_ns)
{
	return waitq_wait_until(&c->wq, completion_cond, c, timeout_ns);
}

bool inflight_get(struct inflight *f)
{
	unsigned long fl = irq_save();
	bool ok = !f->closing;

	if (ok)
		f->count++;
	irq_restore(fl);
	return ok;
}

void inflight_put(struct inflight *f)
{
	unsigned long fl = irq_save();

	ASSERT(f->count > 0);
	f->count--;
	bool wake = f->count == 0;
	irq_restore(fl);
	if (wake)
		waitq_wake_all(&f->wq);
}

static bool inflight_idle(void *ctx)
{
	const struct inflight *f = ctx;
	return f->count == 0;
}

bool inflight_drain(struct inflight *f, uint64_t timeout_ns)
{
	unsigned long fl = irq_save();
	f->closing = true;
	irq_restore(fl);
	return waitq_wait_until(&f->wq, inflight_idle, f, timeout_ns);
}

/*
 * Cooperative kernel threads.  A thread runs until it sleeps, waits or
 * yields; event handlers only move threads onto the run queue.  When nothing
 * is runnable the idle loop blocks the vCPU in Xen (SCHEDOP_block), with a
 * one-shot timer armed for the next deadline: a blocked dom0 costs no CPU.
 *
 * The run queue and wait queues are touched by handlers in upcall context,
 * so thread-side code changes them with events masked.
 */
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>

/*
 * Stacks are vmalloc areas: an unmapped guard page lies below each one, so
 * an overflow faults instead of corrupting the heap.  Xen delivers a
 * fault on the faulting thread's own stack, though, and cannot write its
 * frame into the guard page (it would crash dom0 with no word about the
 * thread), so overflow is caught one page early: a debug-register write
 * watchpoint (DR0) sits on the word TRIPWIRE_BYTES above the bottom of the
 * running thread's stack, and the #DB it raises is reported with the
 * thread's name while TRIPWIRE_BYTES of stack remain for the report.  An
 * overflow that jumps past the tripwire still hits the guard page.
 */
#define TRIPWIRE_BYTES 4096
/* 32 KiB usable above the tripwire. */
#define STACK_BYTES (32 * 1024 + TRIPWIRE_BYTES)
#define DR7_L0_WRITE_8 (1UL | (1UL << 16) | (3UL << 18))
#define DR6_B0 1UL

enum thread_state { T_RUNNABLE, T_WAITING, T_DEAD };

struct thread {
	uint64_t rsp;
	void *stack;              /* lowest byte; NULL for idle (the boot stack) */
	const char *name;
	enum thread_state state;
	struct thread *next;      /* run queue or wait queue link */
	struct waitq *waiting_on;
	struct timer wake_timer;
	bool timed_out;
	struct thread *all_next;  /* every thread, for `threads` */
	void (*fn)(void *);
	void *arg;
	/* Run-time accounting (see the `threads` command). */
	uint64_t in_ns;           /* when it last got the CPU */
	uint64_t in_upcalls;      /* the upcall count then */
	uint64_t ready_ns;        /* when it last became runnable */
	uint64_t runs, run_ns, longest_run_ns, worst_wait_ns;
	void *resumed_at, *longest_from, *longest_to;
	/* Inside a Xen call that may be preempted (thread_preemptible_begin). */
	bool in_preemptible_call;
};

void arch_switch_stack(uint64_t *save_rsp, uint64_t new_rsp);
void arch_thread_trampoline(void);

static struct thread idle_thread = { .name = "idle", .state = T_RUNNABLE };
static struct thread *current = &idle_thread;
static struct thread *runq_head, *runq_tail;
static struct thread *dead_list;
static struct sched_stats stats;
static struct thread *all_threads = &idle_thread;
/* The last long runs (>= SCHED_LONG_RUN_NS without switching), a ring. */
#define SCHED_LONG_RUN_NS (20 * 1000 * 1000ULL)
#define NR_LONG_RUNS 16
static struct sched_long_run long_runs[NR_LONG_RUNS];
static unsigned int nr_long_runs;
static uint64_t idle_ns;
/* DR0 points here while a thread without a guarded stack (idle) runs. */
static uint64_t tripwire_idle;
static bool tripwire_on;

static void tripwire_arm(struct thread *t)
{
	if (!tripwire_on)
		return;
	unsigned long a = t->stack ? (unsigned long)t->stack + TRIPWIRE_BYTES
				   : (unsigned long)&tripwire_idle;
	hypercall2(__HYPERVISOR_set_debugreg, 0, a);
}

struct thread *thread_current(void)
{
	return current;
}

const char *thread_name(const struct thread *t)
{
	return t->name;
}

static void runq_push(struct thread *t)
{
	if (!t->ready_ns)
		t->ready_ns = time_now_ns();
	t->next = NULL;
	if (runq_tail)
		runq_tail->next = t;
	else
		runq_head = t;
	runq_tail = t;
}

static struct thread *runq_pop(void)
{
	struct thread *t = runq_head;

	if (t) {
		runq_head = t->next;
		if (!runq_head)
			runq_tail = NULL;
		t->next = NULL;
	}
	return t;
}

/* Charges prev's run to it and next's wait for the CPU to next. */
static void account_switch(struct thread *prev, struct thread *next, void *site)
{
	uint64_t now = time_now_ns();

	if (prev != &idle_thread) {
		uint64_t ran = now - prev->in_ns;
		prev->runs++;
		prev->run_ns += ran;
		if (ran > prev->longest_run_ns) {
			prev->longest_run_ns = ran;
			prev->longest_from = prev->resumed_at;
			prev->longest_to = site;
		}
		if (ran >= SCHED_LONG_RUN_NS) {
			struct sched_long_run *r = &long_runs[nr_long_runs++ % NR_LONG_RUNS];
			r->name = prev->name;
			r->start_ns = prev->in_ns;
			r->ns = ran;
			r->from = prev->resumed_at;
			r->to = site;
			r->upcalls = evtchn_upcall_count() - prev->in_upcalls;
		}
	}
	prev->resumed_at = site;
	if (next->ready_ns && now - next->ready_ns > next->worst_wait_ns)
		next->worst_wait_ns = now - next->ready_ns;
	next->ready_ns = 0;
	next->in_ns = now;
	next->in_upcalls = evtchn_upcall_count();
}

/* Switches to the next runnable thread (or idle).  Events must be masked;
 * site is where the current thread gives the CPU up (for the accounting). */
static void schedule_at(void *site)
{
	struct thread *prev = current;
	struct thread *next = runq_pop();

	if (!next) {
		if (prev->state == T_RUNNABLE)
			return;
		next = &idle_thread;
	}
	if (next == prev) {
		next->ready_ns = 0;
		return;
	}
	account_switch(prev, next, site);
	current = next;
	stats.switches++;
	tripwire_arm(next);
	arch_switch_stack(&prev->rsp, next->rsp);
	/* Back on prev's stack: reap threads that died meanwhile. */
	while (dead_list && dead_list != current) {
		struct thread *d = dead_list;
		dead_list = d->next;
		for (struct thread **pp = &all_threads; *pp; pp = &(*pp)->all_next) {
			if (*pp == d) {
				*pp = d->all_next;
				break;
			}
		}
		vfree(d->stack);
		kfree(d);
	}
}

#define schedule() schedule_at(__builtin_return_address(0))

/*
 * Preemptible Xen calls.  Xen cuts a long call (destroying a domain,
 * populate_physmap of dirty pages, a long mmu_update) at points where an
 * event is pending for dom0: it rewinds dom0 to the hypercall instruction
 * with the arguments of the rest of the work and delivers the upcall first.
 * A thread that marks such a call is switched out at the end of that
 * upcall when the events woke someone, exactly as if it had yielded just
 * before the call; when it runs again, the upcall returns and the call goes
 * on.  So a 300 ms domain destroy no longer holds the xenstored thread for
 * 300 ms.  Only calls made with events unmasked, outside every spinlock,
 * from code that may sleep, and with arguments no other thread touches may
 * be marked.
 */
void thread_preemptible_begin(void)
{
	/*
	 * Xen stops the call only for an event that arrives during it: a
	 * thread an earlier event already woke would wait for all of it, so
	 * it runs first.
	 */
	if (runq_head)
		thread_yield();
	current->in_preemptible_call = true;
}

void thread_preemptible_end(void)
{
	current->in_preemptible_call = false;
}

void sched_upcall_exit(void)
{
	if (!current->in_preemptible_call || !runq_head)
		return;
	stats.preemptions++;
	runq_push(current);
	schedule();
}

/*
 * A new thread's first code (through arch_thread_trampoline, which calls
 * thread_exit when it returns).  It is entered from schedule(), with events
 * masked: unmask them, or the thread would run its whole life masked and
 * every event would wait until dom0 next went idle (a create that keeps
 * the shell busy for a second held every guest's xenstore request that
 * long).
 */
static void thread_entry(void *ctx)
{
	struct thread *t = ctx;

	irq_enable();
	t->fn(t->arg);
}

struct thread *thread_create(const char *name, void (*fn)(void *), void *arg)
{
	struct thread *t = kzalloc(sizeof(*t));

	if (!t)
		return NULL;
	t->stack = vmalloc(STACK_BYTES);
	if (!t->stack) {
		kfree(t);
		return NULL;
	}
	/* Initial frame popped by arch_switch_stack: r15 r14 r13 r12 rbx rbp, ret. */
	/* The trampoline starts with rsp at the 16-byte aligned top, so the
	 * function it calls sees rsp = 8 mod 16 at entry, as the ABI demands
	 * (SSE code in the decompression libraries relies on it). */
	uint64_t *sp = (uint64_t *)((char *)t->stack + STACK_BYTES);
	*--sp = (uint64_t)arch_thread_trampoline; /* return address */
	*--sp = 0;                                /* rbp */
	*--sp = 0;                                /* rbx */
	*--sp = (uint64_t)thread_entry;           /* r12 */
	*--sp = (uint64_t)t;                      /* r13 */
	*--sp = 0;                                /* r14 */
	*--sp = 0;                                /* r15 */
	t->rsp = (uint64_t)sp;
	t->name = name;
	t->fn = fn;
	t->arg = arg;
	t->state = T_RUNNABLE;
	unsigned long f = irq_save();
	stats.threads++;
	t->all_next = all_threads;
	all_threads = t;
	runq_push(t);
	irq_restore(f);
	return t;
}

void thread_exit(void)
{
	irq_disable();
	current->state = T_DEAD;
	current->next = dead_list;
	dead_list = current;
	stats.threads--;
	schedule();
	panic("dead thread scheduled");
}

void thread_yield(void)
{
	unsigned long f = irq_save();

	if (current != &idle_thread)
		runq_push(current);
	schedule();
	irq_restore(f);
}

static void wake_locked(struct thread *t)
{
	if (t->state != T_WAITING)
		return;
	if (t->waiting_on) {
		for (struct thread **pp = &t->waiting_on->head; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		}
		t->waiting_on = NULL;
	}
	t->state = T_RUNNABLE;
	runq_push(t);
}

static void wake_on_timeout(void *ctx)
{
	struct thread *t = ctx;

	t->timed_out = true;
	wake_locked(t);
}

void waitq_wake_all(struct waitq *wq)
{
	unsigned long f = irq_save();

	while (wq->head) {
		struct thread *t = wq->head;
		wq->head = t->next;
		t->waiting_on = NULL;
		if (t->state == T_WAITING) {
			t->state = T_RUNNABLE;
			runq_push(t);
		}
	}
	irq_restore(f);
}

bool waitq_wait_until(struct waitq *wq, bool (*cond)(void *), void *ctx, uint64_t timeout_ns)
{
	unsigned long f = irq_save();
	uint64_t deadline = timeout_ns ? time_now_ns() + timeout_ns : 0;
	bool ok;

	ASSERT(current != &idle_thread);
	current->timed_out = false;
	for (;;) {
		if (cond(ctx)) {
			ok = true;
			break;
		}
		if (current->timed_out) {
			ok = false;
			break;
		}
		current->state = T_WAITING;
		if (wq) {
			current->waiting_on = wq;
			current->next = wq->head;
			wq->head = current;
		}
		current->wake_timer.fn = wake_on_timeout;
		current->wake_timer.ctx = current;
		if (deadline)
			timer_arm(&current->wake_timer, deadline);
		schedule();
		timer_cancel(&current->wake_timer);
	}
	irq_restore(f);
	return ok;
}

static bool never(void *ctx)
{
	(void)ctx;
	return false;
}

void thread_sleep_ns(uint64_t ns)
{
	waitq_wait_until(NULL, never, NULL, ns ? ns : 1);
}

void sched_init(void)
{
	stats.threads = 1;
	if (hypercall2(__HYPERVISOR_set_debugreg, 0, (unsigned long)&tripwire_idle) == 0 &&
	    hypercall2(__HYPERVISOR_set_debugreg, 7, DR7_L0_WRITE_8) == 0)
		tripwire_on = true;
	else
		klog("threads: no debug registers: stack overflow is caught by the guard page only\n");
}

bool thread_stack_overflow_report(int64_t vector, uint64_t fault_addr, uint64_t rsp)
{
	struct thread *t = current;

	if (!t->stack)
		return false;
	uint64_t bottom = (uint64_t)t->stack, top = bottom + STACK_BYTES;
	bool hit = false;
	if (vector == 1 && tripwire_on)
		hit = (hypercall1(__HYPERVISOR_get_debugreg, 6) & DR6_B0) != 0;
	else if (vector == 14)
		hit = fault_addr >= bottom - PAGE_SIZE && fault_addr < bottom;
	if (!hit && rsp >= bottom - PAGE_SIZE && rsp < bottom + TRIPWIRE_BYTES)
		hit = true;
	if (!hit)
		return false;
	kprintf("\nkeel: STACK OVERFLOW in thread '%s': stack %#llx-%#llx, rsp %#llx, "
		"%s\n", t->name, (unsigned long long)bottom, (unsigned long long)top,
		(unsigned long long)rsp,
		vector == 1 ? "less than 4 KiB left (tripwire)" : "fault in the guard page");
	return true;
}

void sched_get_stats(struct sched_stats *out)
{
	*out = stats;
}

bool sched_thread_info(unsigned int idx, struct sched_thread_info *out, bool reset)
{
	unsigned long f = irq_save();
	struct thread *t = all_threads;

	while (t && idx--)
		t = t->all_next;
	if (t) {
		*out = (struct sched_thread_info){
			.name = t->name, .runs = t->runs, .run_ns = t->run_ns,
			.longest_run_ns = t->longest_run_ns, .worst_wait_ns = t->worst_wait_ns,
			.longest_from = t->longest_from, .longest_to = t->longest_to,
		};
		if (reset)
			t->runs = t->run_ns = t->longest_run_ns = t->worst_wait_ns = 0;
	}
	irq_restore(f);
	return t != NULL;
}

unsigned int sched_long_runs(struct sched_long_run *out, unsigned int max, bool reset)
{
	unsigned long f = irq_save();
	unsigned int n = MIN(nr_long_runs, (unsigned int)NR_LONG_RUNS), first = nr_long_runs - n;

	n = MIN(n, max);
	first = nr_long_runs - n;
	for (unsigned int i = 0; i < n; i++)
		out[i] = long_runs[(first + i) % NR_LONG_RUNS];
	if (reset)
		nr_long_runs = 0;
	irq_restore(f);
	return n;
}

uint64_t sched_idle_ns(void)
{
	return idle_ns;
}

bool sched_others_runnable(void)
{
	return __atomic_load_n(&runq_head, __ATOMIC_RELAXED) != NULL;
}

static uint64_t handoff_ns, handoff_total_ns, nr_handoffs;

void sched_mark_handoff(void)
{
	unsigned long f = irq_save();
	if (!handoff_ns)
		handoff_ns = time_now_ns();
	irq_restore(f);
}

void sched_handoff_stats(uint64_t *total_ns, uint64_t *count)
{
	unsigned long f = irq_save();
	*total_ns = handoff_total_ns;
	*count = nr_handoffs;
	irq_restore(f);
}

void sched_run_idle(void)
{
	for (;;) {
		irq_disable();
		if (runq_head) {
			schedule();
			irq_enable();
			continue;
		}
		/* Block with events masked: SCHEDOP_block re-enables them
		 * atomically (fact 17), so a wake-up cannot be missed between the
		 * check above and the block.  Timers were armed by whoever waits. */
		stats.blocks++;
		uint64_t t0 = time_now_ns();
		if (handoff_ns) {
			handoff_total_ns += t0 - handoff_ns;
			nr_handoffs++;
			handoff_ns = 0;
		}
		hyp_sched_op(SCHEDOP_block, NULL);
		idle_ns += time_now_ns() - t0;
		irq_enable();
	}
}

/*
 * The kernel's own services: boot state, console, log, time, timers and
 * threads.  Contracts: "may sleep" functions are for thread context only;
 * everything else is also safe from event handlers (upcall context).
 */
#ifndef KEEL_KERNEL_H
#define KEEL_KERNEL_H

#include <lib/base.h>
#include <xen/xen.h>

/* ---- boot (kernel/main.c) ---- */
extern start_info_t *start_info;
extern uint64_t boot_entry_ns;     /* system time at kernel_start */
extern uint64_t boot_prompt_ns;    /* system time when the prompt first showed */

#define BOOT_PHASES_MAX 16
struct boot_phase {
	const char *name;
	uint64_t done_ns;    /* system time when the phase ended */
};
extern struct boot_phase boot_phases[BOOT_PHASES_MAX];
extern unsigned int boot_phase_count;
void boot_phase_done(const char *name);

struct boot_options {
	bool quiet;          /* "quiet": fewer boot messages */
	uint64_t loglevel;   /* 0..7 */
	bool autostart;      /* start /etc/xen/auto domains */
	char test[32];       /* test hooks: a named scenario */
	char dom0_keep[16];  /* "dom0_keep=SIZE": memory dom0 keeps (see kernel/main.c) */
};
extern struct boot_options boot_opts;

/* ---- console (xen/console.c) ---- */
void console_write(const char *s, size_t len);
void console_puts(const char *s);
void console_init(void);
/* Blocks until a byte of dom0 console input is there; may sleep. */
int console_getc(void);
/* Non-blocking: -EAGAIN when no input is waiting. */
int console_trygetc(void);
/*
 * Woken when console input arrives; a thread that waits for input or for
 * something else (the console backend's attach) sleeps here, and whoever
 * ends that wait wakes this queue too.
 */
struct waitq *console_input_waitq(void);

/* ---- log (kernel/log.c) ---- */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_init(void);
/* Adds bytes to the log ring only (console input already echoed). */
void log_record(const char *s, size_t len);
/* Copies out keel's log from absolute position *pos; see lib/logring.h. */
size_t log_read(uint64_t *pos, char *out, size_t max);
/*
 * For a message whose rate a guest decides (one per bad request): true at
 * most once a second per *last_ns, the caller's own stamp, which it updates.
 */
bool klog_due(uint64_t *last_ns);
void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- time (kernel/time.c) ---- */
void time_init(void);
/* Xen system time: ns since the host booted, monotonic. */
uint64_t time_now_ns(void);
/* Nanoseconds since the Unix epoch. */
uint64_t time_wallclock_ns(void);

struct timer {
	uint64_t deadline_ns;
	void (*fn)(void *ctx);   /* runs in upcall context */
	void *ctx;
	struct timer *next;
	bool armed;
};
void timer_arm(struct timer *t, uint64_t deadline_ns);
void timer_cancel(struct timer *t);

/* ---- threads (kernel/thread.c) ---- */
struct thread;
struct waitq {
	struct thread *head;
};
void sched_init(void);
struct thread *thread_create(const char *name, void (*fn)(void *), void *arg);
void thread_exit(void) __attribute__((noreturn));
struct thread *thread_current(void);
const char *thread_name(const struct thread *t);
/* Gives the CPU to other runnable threads; may sleep. */
void thread_yield(void);
/* Sleeps for ns nanoseconds; may sleep. */
void thread_sleep_ns(uint64_t ns);
/*
 * Marks the Xen call(s) between these two as preemptible: when Xen
 * interrupts such a call to deliver an event that wakes another thread, the
 * calling thread yields there and the call resumes when it runs again
 * (begin also yields first if another thread is runnable already).  The
 * caller must be allowed to sleep, must hold no spinlock, and its call's
 * arguments must be its own (the stack, not a shared buffer).
 */
void thread_preemptible_begin(void);
void thread_preemptible_end(void);
/* End of an event upcall (events masked): the preemption point above. */
void sched_upcall_exit(void);
/*
 * Called by the trap handler on a fatal exception: if it is the current
 * thread's stack overflowing (the #DB of the stack tripwire, a fault in the
 * guard page, or rsp inside either), prints a report naming the thread and
 * returns true.  Upcall/trap context.
 */
bool thread_stack_overflow_report(int64_t vector, uint64_t fault_addr, uint64_t rsp);
/* Runs the idle loop on the boot stack; never returns. */
void sched_run_idle(void) __attribute__((noreturn));

/*
 * Waits until cond is true, checking it with events masked so a wake-up
 * cannot slip in between the check and the sleep.  timeout_ns 0 = forever.
 * Evaluates to true if cond held, false on timeout.
 */
bool waitq_wait_until(struct waitq *wq, bool (*cond)(void *), void *ctx, uint64_t timeout_ns);
/* Wakes every waiter; safe from event handlers. */
void waitq_wake_all(struct waitq *wq);

struct sched_stats {
	uint64_t blocks;         /* SCHEDOP_block calls */
	uint64_t switches;
	uint64_t threads;
	uint64_t preemptions;    /* switches out of a preemptible Xen call */
};
void sched_get_stats(struct sched_stats *out);

/*
 * Run-time accounting, for finding who keeps the CPU (`threads`).  A run is
 * the stretch from a thread getting the CPU to its giving it up; its wait is
 * from becoming runnable (woken, or yielding) to getting the CPU.  Sites are
 * code addresses (addr2line -e build/keel): where it got the CPU back
 * (from) and where it gave it up (to).
 */
struct sched_thread_info {
	const char *name;
	uint64_t runs, run_ns, longest_run_ns, worst_wait_ns;
	void *longest_from, *longest_to;
};
/* Thread idx (0 = newest); false past the last one.  reset zeroes its figures. */
bool sched_thread_info(unsigned int idx, struct sched_thread_info *out, bool reset);
/* A run of SCHED_LONG_RUN_NS or more; the last few are kept. */
struct sched_long_run {
	const char *name;
	uint64_t start_ns, ns;
	uint64_t upcalls;        /* event upcalls taken during it */
	void *from, *to;
};
/* Copies up to max of the latest long runs, oldest first; returns how many. */
unsigned int sched_long_runs(struct sched_long_run *out, unsigned int max, bool reset);
/* Time the idle loop spent blocked in Xen (dom0 had nothing to run). */
uint64_t sched_idle_ns(void);
/* Whether a thread other than the caller is ready to run (any context). */
bool sched_others_runnable(void);
/*
 * A backend that just notified a guest marks the hand-off; the idle loop,
 * when it next blocks, adds the time since the first unmatched mark: how
 * long dom0 kept the (one) CPU after answering, which the guest waits out.
 */
void sched_mark_handoff(void);
void sched_handoff_stats(uint64_t *total_ns, uint64_t *count);

/* ---- heap (kernel/heap.c) ---- */
void heap_init(void);
void heap_stats(uint64_t *in_use_bytes, uint64_t *slab_pages);
struct heap_stats {
	uint64_t in_use_bytes;        /* handed out, rounded to block sizes */
	uint64_t slab_pages;          /* slab pages held now */
	uint64_t empty_slab_pages;    /* of those, with no object in use */
	uint64_t slab_pages_returned; /* slab pages given back since boot */
	uint64_t vmalloc_bytes;       /* large blocks served by vmalloc */
};
void heap_get_stats(struct heap_stats *out);
/* Gives every empty slab page back to the page allocator; never sleeps. */
void heap_reclaim(void);
/*
 * kmalloc for large buffers where the caller may yield: a block over
 * KMALLOC_SLICED_MIN_BYTES is vmalloc'd (scattered pages) in slices with
 * slice() called between them (vmalloc_sliced); smaller ones are kmalloc's.
 * Free with kfree.  Thread context, events unmasked; may sleep in slice().
 */
#define KMALLOC_SLICED_MIN_BYTES (1024u * 1024)
void *kmalloc_sliced(size_t bytes, void (*slice)(void));

/* ---- traps (arch/x86_64/traps.c) ---- */
void traps_init(void);

/* ---- power (kernel/power.c): see <keel/power.h> ---- */
#include <keel/power.h>

/* ---- boot archive (kernel/bootarchive.c) ---- */
struct bootfs;
extern struct bootfs boot_fs;
void bootarchive_init(void);
bool bootarchive_mounted(void);

/* ---- shell (kernel/shell.c) ---- */
void shell_main(void *unused);

#endif

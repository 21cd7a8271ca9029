/*
 * Time from Xen: system time (ns since host boot) extrapolated from our
 * vcpu_time_info with the TSC, wall-clock from shared_info, and one-shot
 * timers on VIRQ_TIMER through set_timer_op.  Timers are kept in a list
 * sorted by deadline; their callbacks run in upcall context.
 */
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>

static struct timer *timers;   /* sorted, earliest first */

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The version field is odd while Xen updates the record: retry then. */
uint64_t time_now_ns(void)
{
	volatile struct vcpu_time_info *t = &this_vcpu()->time;
	uint32_t version, mul;
	uint64_t tsc_stamp, sys, delta;
	int8_t shift;

	do {
		version = t->version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		tsc_stamp = t->tsc_timestamp;
		sys = t->system_time;
		mul = t->tsc_to_system_mul;
		shift = t->tsc_shift;
		delta = rdtsc() - tsc_stamp;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != t->version);

	if (shift < 0)
		delta >>= -shift;
	else
		delta <<= shift;
	return sys + (uint64_t)(((unsigned __int128)delta * mul) >> 32);
}

uint64_t time_wallclock_ns(void)
{
	volatile struct shared_info *s = shared_info;
	uint32_t version;
	uint64_t sec, nsec;

	do {
		version = s->wc_version;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		sec = s->wc_sec | ((uint64_t)s->wc_sec_hi << 32);
		nsec = s->wc_nsec;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while ((version & 1) || version != s->wc_version);
	return sec * 1000000000ULL + nsec + time_now_ns();
}

static void program_next(void)
{
	if (timers)
		hyp_set_timer_op(timers->deadline_ns);
}

/* VIRQ_TIMER: run every expired timer, then re-arm for the next one. */
static void timer_virq(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	uint64_t now = time_now_ns();
	while (timers && timers->deadline_ns <= now) {
		struct timer *t = timers;
		timers = t->next;
		t->armed = false;
		t->fn(t->ctx);
		now = time_now_ns();
	}
	program_next();
}

void timer_cancel(struct timer *t)
{
	unsigned long f = irq_save();

	if (t->armed) {
		for (struct timer **pp = &timers; *pp; pp = &(*pp)->next) {
			if (*pp == t) {
				*pp = t->next;
				break;
			}
		}
		t->armed = false;
	}
	irq_restore(f);
}

void timer_arm(struct timer *t, uint64_t deadline_ns)
{
	unsigned long f = irq_save();

	timer_cancel(t);
	t->deadline_ns = deadline_ns;
	struct timer **pp = &timers;
	while (*pp && (*pp)->deadline_ns <= deadline_ns)
		pp = &(*pp)->next;
	t->next = *pp;
	*pp = t;
	t->armed = true;
	if (timers == t)
		program_next();
	irq_restore(f);
}

void time_init(void)
{
	evtchn_port_t port;

	/* Xen gives dom0 a 100 Hz periodic timer that wakes nothing useful
	 * (fact 20) and costs upcalls while idle: switch it off. */
	hyp_vcpu_op(VCPUOP_stop_periodic_timer, 0, NULL);
	if (evtchn_bind_virq(VIRQ_TIMER, timer_virq, NULL, &port))
		panic("cannot bind VIRQ_TIMER");
}

/*
 * Event channels, 2-level ABI: the upcall walks evtchn_pending_sel, then each
 * selected word of evtchn_pending & ~evtchn_mask, clears each pending bit and
 * calls the port's handler.  The bitmaps live in shared_info and are written
 * by Xen concurrently, so every read-modify-write on them is a locked atomic.
 */
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>

#define NR_PORTS (sizeof(xen_ulong_t) * 8 * sizeof(xen_ulong_t) * 8)

struct port_handler {
	evtchn_handler_t fn;
	void *ctx;
};
static struct port_handler handlers[NR_PORTS];
static uint64_t upcalls;

static void sync_set_bit(unsigned int nr, xen_ulong_t *words)
{
	__atomic_or_fetch(&words[nr / 64], 1UL << (nr % 64), __ATOMIC_SEQ_CST);
}

static void sync_clear_bit(unsigned int nr, xen_ulong_t *words)
{
	__atomic_and_fetch(&words[nr / 64], ~(1UL << (nr % 64)), __ATOMIC_SEQ_CST);
}

static bool test_bit(unsigned int nr, const xen_ulong_t *words)
{
	return (__atomic_load_n(&words[nr / 64], __ATOMIC_SEQ_CST) >> (nr % 64)) & 1;
}

void evtchn_init(void)
{
	/* All ports masked until someone binds them (Xen leaves them 0, fact 12). */
	for (unsigned int i = 0; i < ARRAY_SIZE(shared_info->evtchn_mask); i++)
		shared_info->evtchn_mask[i] = ~0UL;
}

void evtchn_do_upcall(void *frame)
{
	struct vcpu_info *v = this_vcpu();

	(void)frame;
	upcalls++;
	do {
		v->evtchn_upcall_pending = 0;
		/* Clear the pending flag before taking the selector so an event that
		 * arrives now sets both again and is not lost. */
		xen_ulong_t sel = __atomic_exchange_n(&v->evtchn_pending_sel, 0, __ATOMIC_SEQ_CST);
		while (sel) {
			unsigned int w = __builtin_ctzl(sel);
			sel &= sel - 1;
			xen_ulong_t bits = __atomic_load_n(&shared_info->evtchn_pending[w],
							   __ATOMIC_SEQ_CST) &
					   ~__atomic_load_n(&shared_info->evtchn_mask[w],
							    __ATOMIC_SEQ_CST);
			while (bits) {
				unsigned int b = __builtin_ctzl(bits);
				bits &= bits - 1;
				evtchn_port_t port = w * 64 + b;
				sync_clear_bit(port, shared_info->evtchn_pending);
				struct port_handler *h = &handlers[port];
				if (h->fn)
					h->fn(port, h->ctx);
			}
		}
	} while (v->evtchn_upcall_pending);
	/* A thread inside a preemptible Xen call gives way to what the
	 * events woke (kernel/thread.c). */
	sched_upcall_exit();
}

uint64_t evtchn_upcall_count(void)
{
	return upcalls;
}

void evtchn_set_handler(evtchn_port_t port, evtchn_handler_t h, void *ctx)
{
	if (port >= NR_PORTS)
		return;
	unsigned long f = irq_save();
	handlers[port].fn = h;
	handlers[port].ctx = ctx;
	irq_restore(f);
}

void evtchn_mask(evtchn_port_t port)
{
	sync_set_bit(port, shared_info->evtchn_mask);
}

void evtchn_unmask(evtchn_port_t port)
{
	sync_clear_bit(port, shared_info->evtchn_mask);
	/* An event that arrived while masked is pending but was never flagged
	 * to this vCPU: flag it ourselves so the upcall sees it (as Xen's
	 * EVTCHNOP_unmask would). */
	if (test_bit(port, shared_info->evtchn_pending)) {
		struct vcpu_info *v = this_vcpu();
		__atomic_or_fetch(&v->evtchn_pending_sel, 1UL << (port / 64), __ATOMIC_SEQ_CST);
		v->evtchn_upcall_pending = 1;
		if (!v->evtchn_upcall_mask)
			irq_force_callback();
	}
}

static int bound(evtchn_port_t port, evtchn_handler_t h, void *ctx, evtchn_port_t *out)
{
	if (port >= NR_PORTS) {
		/* Beyond our handler table: give the port back to Xen. */
		struct evtchn_close op = { .port = port };
		hyp_event_channel_op(EVTCHNOP_close, &op);
		return -ENOSPC;
	}
	evtchn_set_handler(port, h, ctx);
	evtchn_unmask(port);
	if (out)
		*out = port;
	return 0;
}

int evtchn_bind_virq(uint32_t virq, evtchn_handler_t h, void *ctx, evtchn_port_t *port)
{
	struct evtchn_bind_virq op = { .virq = virq, .vcpu = 0 };
	long rc = hyp_event_channel_op(EVTCHNOP_bind_virq, &op);

	return rc ? (int)rc : bound(op.port, h, ctx, port);
}

int evtchn_alloc_unbound(domid_t local_dom, domid_t remote, evtchn_handler_t h, void *ctx,
			 evtchn_port_t *port)
{
	struct evtchn_alloc_unbound op = { .dom = local_dom, .remote_dom = remote };
	long rc = hyp_event_channel_op(EVTCHNOP_alloc_unbound, &op);

	if (rc)
		return (int)rc;
	if (local_dom != DOMID_SELF) {
		/* A port in another domain (the builder seeds a guest's ports). */
		*port = op.port;
		return 0;
	}
	return bound(op.port, h, ctx, port);
}

int evtchn_bind_interdomain(domid_t remote, evtchn_port_t rport, evtchn_handler_t h,
			    void *ctx, evtchn_port_t *port)
{
	struct evtchn_bind_interdomain op = { .remote_dom = remote, .remote_port = rport };
	long rc = hyp_event_channel_op(EVTCHNOP_bind_interdomain, &op);

	return rc ? (int)rc : bound(op.local_port, h, ctx, port);
}

int evtchn_bind_pirq(uint32_t pirq, bool will_share, evtchn_handler_t h, void *ctx,
		     evtchn_port_t *port)
{
	struct evtchn_bind_pirq op = { .pirq = pirq,
				       .flags = will_share ? BIND_PIRQ__WILL_SHARE : 0 };
	long rc = hyp_event_channel_op(EVTCHNOP_bind_pirq, &op);

	return rc ? (int)rc : bound(op.port, h, ctx, port);
}

int evtchn_notify(evtchn_port_t port)
{
	struct evtchn_send op = { .port = port };

	return (int)hyp_event_channel_op(EVTCHNOP_send, &op);
}

int evtchn_close(evtchn_port_t port)
{
	struct evtchn_close op = { .port = port };

	evtchn_mask(port);
	evtchn_set_handler(port, NULL, NULL);
	sync_clear_bit(port, shared_info->evtchn_pending);
	return (int)hyp_event_channel_op(EVTCHNOP_close, &op);
}

unsigned int evtchn_bound_count(unsigned int *highest)
{
	unsigned int n = 0;

	*highest = 0;
	for (unsigned int p = 1; p < NR_PORTS; p++)
		if (handlers[p].fn) {
			n++;
			*highest = p;
		}
	return n;
}

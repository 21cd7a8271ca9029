/*
 * Event channels (2-level ABI, xen/event_channel.h): binding, masking,
 * notifying, closing, and the upcall demultiplexer.  Handlers run in upcall
 * context with events masked: they must not sleep; they wake threads.
 * Every function returns 0 or a negative errno (Xen's, passed through).
 */
#ifndef KEEL_EVTCHN_H
#define KEEL_EVTCHN_H

#include <lib/base.h>
#include <xen/event_channel.h>

typedef void (*evtchn_handler_t)(evtchn_port_t port, void *ctx);

void evtchn_init(void);

/* Binds a VIRQ on vCPU 0; the port starts unmasked with handler h. */
int evtchn_bind_virq(uint32_t virq, evtchn_handler_t h, void *ctx, evtchn_port_t *port);
/* A port that domain remote may bind to; starts unmasked with handler h. */
int evtchn_alloc_unbound(domid_t local_dom, domid_t remote, evtchn_handler_t h, void *ctx,
			 evtchn_port_t *port);
/*
 * Connects to remote's port rport; starts unmasked with handler h.  Xen marks
 * the new local port pending once at bind, so h runs once without any notify
 * from the other side: handlers must tolerate spurious events.
 */
int evtchn_bind_interdomain(domid_t remote, evtchn_port_t rport, evtchn_handler_t h,
			    void *ctx, evtchn_port_t *port);
/* Binds a physical IRQ (PIRQ) for device drivers; starts unmasked. */
int evtchn_bind_pirq(uint32_t pirq, bool will_share, evtchn_handler_t h, void *ctx,
		     evtchn_port_t *port);
/* Sets or replaces the handler of an already-bound port. */
void evtchn_set_handler(evtchn_port_t port, evtchn_handler_t h, void *ctx);
void evtchn_mask(evtchn_port_t port);
void evtchn_unmask(evtchn_port_t port);
int evtchn_notify(evtchn_port_t port);
/* Closes the port and forgets its handler. */
int evtchn_close(evtchn_port_t port);

uint64_t evtchn_upcall_count(void);
/* Ports with a handler now, and the highest of them. */
unsigned int evtchn_bound_count(unsigned int *highest);

#endif

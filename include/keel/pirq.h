/*
 * Physical IRQs through Xen (xen/pirq.c): a device interrupt (MSI or MSI-X
 * vector, or a legacy GSI) is "mapped" to a PIRQ number by
 * PHYSDEVOP_map_pirq, then bound to an event channel (EVTCHNOP_bind_pirq).
 * Xen may require an explicit end-of-interrupt (PHYSDEVOP_eoi) after each
 * delivery: level-triggered GSIs do, edge MSIs usually not; we ask Xen
 * (PHYSDEVOP_irq_status_query) and EOI after the handler when it says so.
 *
 * Shared by every driver and, later, by PCI passthrough (mapping a PIRQ for
 * another domain).  Handlers run in upcall context: they acknowledge the
 * device if the interrupt is level-triggered and wake a thread; no sleeping.
 */
#ifndef KEEL_PIRQ_H
#define KEEL_PIRQ_H

#include <lib/base.h>
#include <xen/event_channel.h>

typedef void (*pirq_handler_t)(void *ctx);

struct pirq_binding {
	int pirq;               /* -1: not mapped */
	evtchn_port_t port;     /* 0: not bound */
	bool needs_eoi;
	pirq_handler_t handler;
	void *ctx;
	uint64_t count;         /* deliveries */
	/* A level-triggered GSI shared by several devices: one event channel,
	 * the bindings chained from the first one bound (xen/pirq.c). */
	struct pirq_binding *shared_next;
};

/* Maps MSI (msix false: entry 0, table_base 0) or MSI-X vector `entry` of
 * seg:bus:devfn, whose table sits in the memory BAR at table_base.
 * 0 or -errno (Xen's). */
int pirq_map_msi(uint16_t seg, uint8_t bus, uint8_t devfn, bool msix, unsigned int entry,
		 uint64_t table_base, int *pirq);
/* Registers a legacy GSI's trigger and polarity with Xen and maps it. */
int pirq_map_gsi(unsigned int gsi, bool level, bool active_low, int *pirq);
/* Gives a mapped PIRQ back to Xen. */
int pirq_unmap(int pirq);

/* Binds `pirq` to a new event channel with handler h; b is filled and must
 * stay allocated until pirq_unbind.  0 or -errno. */
int pirq_bind(struct pirq_binding *b, int pirq, pirq_handler_t h, void *ctx);
/* A PIRQ already bound by another device (a shared INTx line) is joined:
 * every handler on the line runs at each event, each driver asks its own
 * device whether it was the one (ISR/ICR), and the line is EOIed once. */
/* Closes the event channel (the PIRQ stays mapped). */
void pirq_unbind(struct pirq_binding *b);

#endif

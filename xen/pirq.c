/*
 * PIRQ mapping and binding (see include/keel/pirq.h).  The event-channel
 * handler of a PIRQ runs the driver's handler, then sends Xen the EOI it
 * asked for at bind time; until then Xen keeps a level interrupt masked at
 * the IO-APIC, so the EOI must come after the device was acknowledged.
 */
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/pirq.h>

int pirq_map_msi(uint16_t seg, uint8_t bus, uint8_t devfn, bool msix, unsigned int entry,
		 uint64_t table_base, int *pirq)
{
	struct physdev_map_pirq op = {
		.domid = DOMID_SELF,
		.type = MAP_PIRQ_TYPE_MSI_SEG,
		.index = -1,
		.pirq = -1,
		.bus = bus | ((int)seg << 16),
		.devfn = devfn,
		.entry_nr = msix ? (int)entry : 0,
		.table_base = msix ? table_base : 0,
	};
	long rc = hyp_physdev_op(PHYSDEVOP_map_pirq, &op);

	if (rc)
		return (int)rc;
	*pirq = op.pirq;
	return 0;
}

int pirq_map_gsi(unsigned int gsi, bool level, bool active_low, int *pirq)
{
	struct physdev_setup_gsi setup = {
		.gsi = (int)gsi, .triggering = level ? 1 : 0, .polarity = active_low ? 1 : 0,
	};
	/* -EEXIST: the GSI was set up already (by Xen for its own use, or by us). */
	long rc = hyp_physdev_op(PHYSDEVOP_setup_gsi, &setup);
	if (rc && rc != -EEXIST)
		return (int)rc;
	struct physdev_map_pirq op = {
		.domid = DOMID_SELF, .type = MAP_PIRQ_TYPE_GSI, .index = (int)gsi, .pirq = (int)gsi,
	};
	rc = hyp_physdev_op(PHYSDEVOP_map_pirq, &op);
	if (rc)
		return (int)rc;
	*pirq = op.pirq;
	return 0;
}

int pirq_unmap(int pirq)
{
	struct physdev_unmap_pirq op = { .domid = DOMID_SELF, .pirq = pirq };
	return (int)hyp_physdev_op(PHYSDEVOP_unmap_pirq, &op);
}

static void pirq_event(evtchn_port_t port, void *ctx)
{
	struct pirq_binding *b = ctx;

	(void)port;
	b->count++;
	if (b->handler)
		b->handler(b->ctx);
	if (b->needs_eoi) {
		struct physdev_eoi eoi = { .irq = (uint32_t)b->pirq };
		hyp_physdev_op(PHYSDEVOP_eoi, &eoi);
	}
}

int pirq_bind(struct pirq_binding *b, int pirq, pirq_handler_t h, void *ctx)
{
	struct physdev_irq_status_query q = { .irq = (uint32_t)pirq };

	b->pirq = pirq;
	b->handler = h;
	b->ctx = ctx;
	b->count = 0;
	b->needs_eoi = false;
	int rc = evtchn_bind_pirq((uint32_t)pirq, false, pirq_event, b, &b->port);
	if (rc) {
		b->port = 0;
		return rc;
	}
	if (hyp_physdev_op(PHYSDEVOP_irq_status_query, &q) == 0)
		b->needs_eoi = q.flags & XENIRQSTAT_needs_eoi;
	return 0;
}

void pirq_unbind(struct pirq_binding *b)
{
	if (b->port) {
		evtchn_close(b->port);
		b->port = 0;
	}
}

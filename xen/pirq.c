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

/* GSIs dom0 mapped already (+1; 0: not mapped): a second device on the
 * same line gets the same PIRQ. */
static int gsi_pirq[256];
static unsigned int gsi_users[256];

int pirq_map_gsi(unsigned int gsi, bool level, bool active_low, int *pirq)
{
	if (gsi < ARRAY_SIZE(gsi_pirq) && gsi_pirq[gsi]) {
		*pirq = gsi_pirq[gsi] - 1;
		gsi_users[gsi]++;
		return 0;
	}
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
	if (gsi < ARRAY_SIZE(gsi_pirq)) {
		gsi_pirq[gsi] = op.pirq + 1;
		gsi_users[gsi] = 1;
	}
	return 0;
}

int pirq_unmap(int pirq)
{
	/* A GSI another device still uses stays mapped. */
	for (unsigned int g = 0; g < ARRAY_SIZE(gsi_pirq); g++)
		if (gsi_pirq[g] == pirq + 1) {
			if (--gsi_users[g])
				return 0;
			gsi_pirq[g] = 0;
			break;
		}
	struct physdev_unmap_pirq op = { .domid = DOMID_SELF, .pirq = pirq };
	return (int)hyp_physdev_op(PHYSDEVOP_unmap_pirq, &op);
}

/* The first binding of each shared PIRQ (GSIs are small numbers). */
#define SHARED_PIRQS 256
static struct pirq_binding *shared_head[SHARED_PIRQS];

static void pirq_event(evtchn_port_t port, void *ctx)
{
	struct pirq_binding *b = ctx;

	(void)port;
	for (struct pirq_binding *x = b; x; x = x->shared_next) {
		x->count++;
		if (x->handler)
			x->handler(x->ctx);
	}
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
	b->shared_next = NULL;
	struct pirq_binding *head = pirq >= 0 && pirq < SHARED_PIRQS ? shared_head[pirq] : NULL;
	if (head) {
		/* Joined under events masked: the head's handler walks the chain. */
		evtchn_mask(head->port);
		b->shared_next = head->shared_next;
		head->shared_next = b;
		b->port = head->port;
		b->needs_eoi = head->needs_eoi;
		evtchn_unmask(head->port);
		return 0;
	}
	int rc = evtchn_bind_pirq((uint32_t)pirq, true, pirq_event, b, &b->port);
	if (rc) {
		b->port = 0;
		return rc;
	}
	if (pirq >= 0 && pirq < SHARED_PIRQS)
		shared_head[pirq] = b;
	if (hyp_physdev_op(PHYSDEVOP_irq_status_query, &q) == 0)
		b->needs_eoi = q.flags & XENIRQSTAT_needs_eoi;
	return 0;
}

void pirq_unbind(struct pirq_binding *b)
{
	if (!b->port)
		return;
	struct pirq_binding *head =
		b->pirq >= 0 && b->pirq < SHARED_PIRQS ? shared_head[b->pirq] : NULL;
	if (head && (head != b || b->shared_next)) {
		evtchn_port_t port = head->port;
		evtchn_mask(port);
		if (head == b) {
			/* The next binding becomes the head: the channel is its now. */
			struct pirq_binding *next = b->shared_next;
			shared_head[b->pirq] = next;
			evtchn_set_handler(port, pirq_event, next);
		} else {
			for (struct pirq_binding *x = head; x; x = x->shared_next)
				if (x->shared_next == b) {
					x->shared_next = b->shared_next;
					break;
				}
		}
		evtchn_unmask(port);
		b->shared_next = NULL;
		b->port = 0;
		return;
	}
	if (head == b)
		shared_head[b->pirq] = NULL;
	evtchn_close(b->port);
	b->port = 0;
}

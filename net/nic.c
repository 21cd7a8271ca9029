/*
 * The list of network cards keel drives and their names (eth0, eth1 ... in
 * probe order).  Drivers register here; the switch's uplink port takes the
 * frames they receive (include/keel/nic.h).
 */
#include <keel/kernel.h>
#include <keel/nic.h>

static struct nic *nics;
static unsigned int nic_count;

/* The switch's hook: the first NIC becomes xenbr0's uplink (net/uplink.c). */
void net_uplink_nic_added(struct nic *n);

int nic_register(struct nic *n)
{
	struct nic **pp;

	if (!n->ops || !n->ops->xmit || n->max_tx_frags == 0)
		return -EINVAL;
	snprintf(n->name, sizeof(n->name), "eth%u", nic_count++);
	n->next = NULL;
	for (pp = &nics; *pp; pp = &(*pp)->next)
		;
	*pp = n;
	kprintf("net: %s: %s, MAC %02x:%02x:%02x:%02x:%02x:%02x, link %s\n", n->name, n->model,
		n->mac[0], n->mac[1], n->mac[2], n->mac[3], n->mac[4], n->mac[5],
		n->link_up ? "up" : "down");
	net_uplink_nic_added(n);
	return 0;
}

void nic_input(struct nic *n, struct net_frame *f)
{
	n->stats.rx_frames++;
	n->stats.rx_bytes += f->len;
	if (!n->rx) {
		n->stats.rx_dropped++;
		return;
	}
	n->rx(n, f);
}

void nic_set_link(struct nic *n, bool up)
{
	if (n->link_up == up)
		return;
	n->link_up = up;
	kprintf("net: %s: link %s\n", n->name, up ? "up" : "down");
	if (n->link_changed)
		n->link_changed(n);
}

struct nic *nic_find(const char *name)
{
	for (struct nic *n = nics; n; n = n->next)
		if (!strcmp(n->name, name))
			return n;
	return NULL;
}

struct nic *nic_first(void)
{
	return nics;
}

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
#include <keel/fdb.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/net.h>
#include <keel/uplinks.h>
#include <keel/offload.h>

#define BRIDGE_PORTS_MAX 256

struct net_bridge {
	char name[16];
	struct net_port *ports;
	struct net_port *by_index[BRIDGE_PORTS_MAX];
	uint16_t nports;
	uint64_t flooded, forwarded, filtered, bad_source;
	struct fdb fdb;
	struct net_bridge *next;
};

static struct net_bridge *bridges;

/*
 * The software offload path (a port that cannot take a frame as it is):
 * the frame is gathered into `linear`, its checksum filled or its GSO
 * frame cut into segments built in `segment`.  One pair for all bridges:
 * forwarding never sleeps, so with cooperative threads only one frame is
 * in here at a time (with SMP this becomes per-CPU).
 */
#define SW_BUF_BYTES (NET_FRAME_MAX + 64)
static uint8_t *sw_linear, *sw_segment;
static struct net_frame sw_frame;
static struct {
	uint64_t csum_filled, gso_frames, gso_segments, failed;
} sw_stats;

static bool valid_name(const char *name)
{
	return uplink_valid_name(name, strlen(name));
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
	/* The table's hash key: a value a guest cannot know (TSC and time). */
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	fdb_init(&b->fdb, 0, ((uint64_t)hi << 32 | lo) ^ time_now_ns() ^ (uintptr_t)b);
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
	b->by_index[idx] = p;
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
	b->by_index[p->index] = NULL;
	fdb_flush_port(&b->fdb, p->index);
	p->bridge = NULL;
	p->next = NULL;
}

static bool is_multicast(const uint8_t *mac)
{
	return mac[0] & 1;
}

static void count_out(struct net_port *to, int rc, uint32_t len)
{
	if (rc) {
		to->stats.tx_dropped++;
		return;
	}
	to->stats.tx_frames++;
	to->stats.tx_bytes += len;
}

static void local_frame(struct net_frame *f, const uint8_t *buf, uint32_t len, uint16_t flags)
{
	struct net_meta meta = { .flags = flags };

	net_frame_local(f, buf, len, &meta);
}

static int emit_segment(void *ctx, const uint8_t *seg, uint32_t len)
{
	struct net_port *to = ctx;

	local_frame(&sw_frame, seg, len, NET_META_CSUM_OK);
	sw_stats.gso_segments++;
	int rc = to->ops->deliver(to, &sw_frame);
	count_out(to, rc, len);
	return 0;
}

/* Whether port `to` takes frame f as it is. */
static bool port_takes(const struct net_port *to, const struct net_frame *f)
{
	if (f->meta.flags & NET_META_GSO) {
		unsigned int need = f->meta.gso_type == NET_GSO_TCPV6 ? NET_PORT_CAN_GSO_TCPV6
								       : NET_PORT_CAN_GSO_TCPV4;
		if (!(to->caps & need))
			return false;
	}
	if ((f->meta.flags & NET_META_CSUM_BLANK) && !(to->caps & NET_PORT_CAN_CSUM_BLANK))
		return false;
	return true;
}

/* Hands f to port `to` as it can take it; counts. */
static void deliver(struct net_port *to, const struct net_frame *f)
{
	if (!to->up) {
		to->stats.tx_dropped++;
		return;
	}
	if (port_takes(to, f)) {
		count_out(to, to->ops->deliver(to, f), f->len);
		return;
	}
	if (!sw_linear || f->len > SW_BUF_BYTES || net_frame_read(f, 0, sw_linear, f->len)) {
		sw_stats.failed++;
		to->stats.tx_dropped++;
		return;
	}
	if (f->meta.flags & NET_META_GSO) {
		sw_stats.gso_frames++;
		int rc = offload_segment_tcp(sw_linear, f->len, f->meta.gso_type, f->meta.gso_size,
					     sw_segment, SW_BUF_BYTES, emit_segment, to);
		if (rc < 0) {
			sw_stats.failed++;
			to->stats.tx_dropped++;
		}
		return;
	}
	if (offload_fill_csum(sw_linear, f->len, f->meta.csum_start, f->meta.csum_offset)) {
		sw_stats.failed++;
		to->stats.tx_dropped++;
		return;
	}
	sw_stats.csum_filled++;
	local_frame(&sw_frame, sw_linear, f->len, NET_META_CSUM_OK);
	count_out(to, to->ops->deliver(to, &sw_frame), f->len);
}

void net_port_input(struct net_port *from, struct net_frame *f)
{
	struct net_bridge *b = from->bridge;

	if (!b || !from->up || f->hdr_len < ETH_HLEN || f->len > NET_FRAME_MAX) {
		from->stats.rx_dropped++;
		return;
	}
	if ((from->lock_mac || from->n_ips) &&
	    offload_check_src(f->hdr, f->hdr_len, from->lock_mac ? from->mac : NULL, from->ips,
			      from->n_ips)) {
		from->stats.rx_dropped++;
		from->stats.spoofed++;
		return;
	}
	uint64_t now = time_now_ns();
	if (fdb_learn(&b->fdb, net_src(f), from->index, now) == -EINVAL) {
		/* A group or zero source: no station sends from one. */
		b->bad_source++;
		from->stats.rx_dropped++;
		return;
	}
	from->stats.rx_frames++;
	from->stats.rx_bytes += f->len;

	if (!is_multicast(net_dst(f))) {
		int idx = fdb_lookup(&b->fdb, net_dst(f), now);
		if (idx >= 0) {
			struct net_port *to = b->by_index[idx];
			if (to == from || !to) {
				b->filtered++;
				return;
			}
			b->forwarded++;
			deliver(to, f);
			return;
		}
	}
	b->flooded++;
	for (struct net_port *p = b->ports; p; p = p->next)
		if (p != from)
			deliver(p, f);
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
	sw_linear = kmalloc(SW_BUF_BYTES);
	sw_segment = kmalloc(SW_BUF_BYTES);
	if (!sw_linear || !sw_segment)
		kprintf("net: no memory for the software offload buffers: frames needing it are dropped\n");
	if (net_bridge_create("xenbr0"))
		kprintf("net: cannot create xenbr0\n");
}

int net_bridge_showmacs(const char *name)
{
	struct net_bridge *b = net_bridge_find(name);
	struct fdb_show_row row;
	unsigned int cursor = 0;

	if (!b)
		return -ENOENT;
	kprintf("port name        mac addr            is local?   ageing timer\n");
	while (fdb_show(&b->fdb, time_now_ns(), &cursor, &row)) {
		struct net_port *p = b->by_index[row.port];
		kprintf("%-16s %02x:%02x:%02x:%02x:%02x:%02x   %-11s %4llu.%02llu\n",
			p ? p->name : "?", row.mac[0], row.mac[1], row.mac[2], row.mac[3], row.mac[4],
			row.mac[5], row.local ? "yes" : "no",
			(unsigned long long)(row.age_ns / 1000000000ull),
			(unsigned long long)(row.age_ns / 10000000ull % 100));
	}
	kprintf("forwarded %llu, flooded %llu, filtered %llu, bad source %llu; software checksums "
		"%llu, GSO frames cut %llu into %llu, failed %llu\n",
		(unsigned long long)b->forwarded, (unsigned long long)b->flooded,
		(unsigned long long)b->filtered, (unsigned long long)b->bad_source,
		(unsigned long long)sw_stats.csum_filled, (unsigned long long)sw_stats.gso_frames,
		(unsigned long long)sw_stats.gso_segments, (unsigned long long)sw_stats.failed);
	return 0;
}

void net_link_show(void)
{
	unsigned int n = 1;

	for (struct net_bridge *b = bridges; b; b = b->next) {
		kprintf("%u: %s: <BROADCAST,MULTICAST,UP> mtu %u\n", n++, b->name, NET_MTU);
		for (struct net_port *p = b->ports; p; p = p->next) {
			const struct net_port_stats *s = &p->stats;
			kprintf("%u: %s: <BROADCAST,MULTICAST%s> mtu %u master %s\n", n++, p->name,
				p->up ? ",UP,LOWER_UP" : "", NET_MTU, b->name);
			kprintf("    RX: bytes %llu packets %llu dropped %llu spoofed %llu\n",
				(unsigned long long)s->rx_bytes, (unsigned long long)s->rx_frames,
				(unsigned long long)s->rx_dropped, (unsigned long long)s->spoofed);
			kprintf("    TX: bytes %llu packets %llu dropped %llu\n",
				(unsigned long long)s->tx_bytes, (unsigned long long)s->tx_frames,
				(unsigned long long)s->tx_dropped);
		}
	}
}

static bool batch_open;
static struct net_port *batch_head;

void net_batch_begin(void)
{
	batch_open = true;
}

bool net_batch_active(void)
{
	return batch_open;
}

void net_batch_defer(struct net_port *p)
{
	if (p->batch_queued)
		return;
	p->batch_queued = true;
	p->batch_next = batch_head;
	batch_head = p;
}

void net_batch_end(void)
{
	batch_open = false;
	while (batch_head) {
		struct net_port *p = batch_head;
		batch_head = p->batch_next;
		p->batch_queued = false;
		if (p->ops->flush)
			p->ops->flush(p);
	}
}

/*
 * dom0's own IP address: an lwIP interface that is keel's port on bridge
 * xenbr0 (kind NET_PORT_HOST), as a Linux dom0's address sits on its
 * bridge device.  Configured by DHCP, or statically from keel's command
 * line (`ip=ADDR/LEN gw=ADDR dns=ADDR`; `ip=none` leaves keel without an
 * address).
 *
 * lwIP runs with NO_SYS=1 (net/lwip/include/lwipopts.h).  The `net-ip`
 * thread owns it: it feeds lwIP the frames the switch delivered (queued
 * by host_deliver, bounded: a full queue drops and counts) and runs
 * lwIP's timers.  The shell's commands call lwIP too, under the same
 * mutex.  Frames leave through keel_linkoutput: the pbuf chain becomes a
 * net_frame of LOCAL fragments, none crossing a page, handed to the
 * switch, which is done with it when net_port_input returns.
 *
 * MAC: the uplink NIC's, as a Linux bridge takes its first port's; with
 * no NIC, a fixed locally administered address.
 */
#include <keel/ip.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/net.h>
#include <keel/nic.h>
#include <keel/offload.h>
#include <keel/pci.h>
#include <keel/sync.h>

#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/prot/dhcp.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "lwip/ip_priv.h"

char ip_opt_ip[IP_OPT_MAX];
char ip_opt_gw[IP_OPT_MAX];
char ip_opt_dns[IP_OPT_MAX];

struct ip_state ip_state;

/* Locally administered (bit 1 of the first octet), unicast: "keel" 00. */
static const uint8_t fallback_mac[ETH_ALEN] = { 0x02, 0x6b, 0x65, 0x65, 0x6c, 0x00 };

#define RXQ_LEN 128             /* frames waiting for the net-ip thread */
#define RX_BATCH 64             /* frames fed to lwIP before the thread yields */
#define PROBE_WAIT_NS (30ULL * 1000000000ULL)
#define IDLE_MAX_MS 500

static struct netif nif;
static struct net_port port;
static struct mutex lock = MUTEX_INIT("ip");
static struct waitq ip_wq;
static bool kicked;

static struct pbuf *rxq[RXQ_LEN];
static unsigned int rxq_head, rxq_count;

/* Static configuration (command line), network byte order. */
static uint32_t cfg_addr, cfg_mask, cfg_gw, cfg_dns;

void ip_lock(void)
{
	mutex_lock(&lock);
}

void ip_unlock(void)
{
	mutex_unlock(&lock);
}

void ip_kick(void)
{
	kicked = true;
	waitq_wake_all(&ip_wq);
}

struct netif *ip_netif(void)
{
	return &nif;
}

/* ---- frames in: the switch delivers, the net-ip thread feeds lwIP ---- */

static bool for_us(const struct net_frame *f)
{
	const uint8_t *dst = net_dst(f);
	return (dst[0] & 1) || !memcmp(dst, nif.hwaddr, ETH_ALEN);
}

static void rxq_push(struct pbuf *pb)
{
	rxq[(rxq_head + rxq_count) % RXQ_LEN] = pb;
	rxq_count++;
	if (rxq_count > ip_state.stats.queue_max)
		ip_state.stats.queue_max = rxq_count;
	waitq_wake_all(&ip_wq);
}

/* Queues len bytes at buf (a whole frame) as a pbuf for the net-ip thread. */
static int queue_bytes(const uint8_t *buf, uint32_t len)
{
	struct ip_stats *st = &ip_state.stats;

	if (len < ETH_HLEN || len > ETH_HLEN + 4 + NET_MTU) {
		st->rx_bad++;
		return -EMSGSIZE;
	}
	if (rxq_count == RXQ_LEN) {
		st->rx_queue_full++;
		return -ENOBUFS;
	}
	struct pbuf *pb = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!pb) {
		st->rx_no_pbuf++;
		return -ENOBUFS;
	}
	pbuf_take(pb, buf, (u16_t)len);
	rxq_push(pb);
	return 0;
}

static int emit_segment(void *ctx, const uint8_t *seg, uint32_t len)
{
	(void)ctx;
	return queue_bytes(seg, len);
}

/*
 * A frame lwIP cannot take as it is: a GSO frame (cut here into MSS-sized
 * segments) or a blank checksum that does not sit in one pool buffer.  It
 * is read whole into a linear buffer first (the first use allocates it).
 */
static int deliver_offloaded(const struct net_frame *f)
{
	static uint8_t *linear, *scratch;
	struct ip_stats *st = &ip_state.stats;
	int rc;

	if (!linear) {
		linear = kmalloc(NET_FRAME_MAX);
		scratch = kmalloc(NET_FRAME_MAX);
		if (!linear || !scratch) {
			kfree(linear);
			kfree(scratch);
			linear = scratch = NULL;
			st->rx_no_pbuf++;
			return -ENOMEM;
		}
	}
	rc = net_frame_read(f, 0, linear, f->len);
	if (rc) {
		st->rx_bad++;
		return rc;
	}
	if (f->meta.flags & NET_META_GSO) {
		rc = offload_segment_tcp(linear, f->len, f->meta.gso_type, f->meta.gso_size,
					 scratch, NET_FRAME_MAX, emit_segment, NULL);
		if (rc < 0 && rc != -ENOBUFS)
			st->rx_bad++;
		st->rx_gso_cut++;
		return rc < 0 ? rc : 0;
	}
	if (offload_fill_csum(linear, f->len, f->meta.csum_start, f->meta.csum_offset)) {
		st->rx_bad++;
		return -EINVAL;
	}
	return queue_bytes(linear, f->len);
}

static int host_deliver(struct net_port *p, const struct net_frame *f)
{
	struct ip_stats *st = &ip_state.stats;
	struct pbuf *pb;
	uint32_t off = 0;

	(void)p;
	if (!ip_state.started)
		return -ENETDOWN;
	if (f->hdr_len < ETH_HLEN) {
		st->rx_bad++;
		return -EINVAL;
	}
	/* A unicast frame for another MAC reaches this port while the switch
	 * floods unknown destinations: not ours, as a NIC's filter would say.
	 * Nor is anything but IPv4 and ARP (lwIP is built without IPv6). */
	uint16_t type = net_ethertype(f);
	if (!for_us(f) || (type != ETH_P_IPV4 && type != ETH_P_ARP))
		return 0;
	st->rx_frames++;
	st->rx_bytes += f->len;
	if (f->meta.flags & NET_META_GSO)
		return deliver_offloaded(f);
	if (f->len < ETH_HLEN || f->len > ETH_HLEN + 4 + NET_MTU) {
		st->rx_bad++;
		return -EMSGSIZE;
	}
	if (rxq_count == RXQ_LEN) {
		st->rx_queue_full++;
		return -ENOBUFS;
	}
	pb = pbuf_alloc(PBUF_RAW, (u16_t)f->len, PBUF_POOL);
	if (!pb) {
		st->rx_no_pbuf++;
		return -ENOBUFS;
	}
	if ((f->meta.flags & NET_META_CSUM_BLANK) && pb->next) {
		pbuf_free(pb);
		return deliver_offloaded(f);
	}
	for (struct pbuf *q = pb; q; q = q->next) {
		int rc = net_frame_read(f, off, q->payload, q->len);
		if (rc) {
			pbuf_free(pb);
			st->rx_bad++;
			return rc;
		}
		off += q->len;
	}
	/* A guest's blank checksum, completed here (the frame is in one buffer). */
	if ((f->meta.flags & NET_META_CSUM_BLANK) &&
	    offload_fill_csum(pb->payload, f->len, f->meta.csum_start, f->meta.csum_offset)) {
		pbuf_free(pb);
		st->rx_bad++;
		return -EINVAL;
	}
	rxq_push(pb);
	return 0;
}

static struct pbuf *rxq_pop(void)
{
	if (!rxq_count)
		return NULL;
	struct pbuf *pb = rxq[rxq_head];
	rxq_head = (rxq_head + 1) % RXQ_LEN;
	rxq_count--;
	return pb;
}

static const struct net_port_ops host_port_ops = {
	.deliver = host_deliver,
};

/* ---- frames out ---- */

/* A frame that needs more pieces than a net_frame holds is copied here
 * whole; 2 KiB-aligned, so one frame of at most 1518 bytes never crosses
 * a page. */
static uint8_t tx_bounce[2048] __attribute__((aligned(2048)));

static bool add_piece(struct net_frame *f, const uint8_t *va, uint32_t len)
{
	while (len) {
		uint32_t room = PAGE_SIZE - ((uintptr_t)va & (PAGE_SIZE - 1));
		uint32_t n = MIN(len, room);
		if (f->nfrags == NET_FRAGS_MAX)
			return false;
		f->frags[f->nfrags++] = (struct net_frag){ .kind = NET_FRAG_LOCAL, .len = (uint16_t)n,
							   .va = va };
		va += n;
		len -= n;
	}
	return true;
}

static err_t keel_linkoutput(struct netif *netif, struct pbuf *p)
{
	struct ip_stats *st = &ip_state.stats;
	struct net_frame f;

	(void)netif;
	if (!ip_state.joined || p->tot_len > sizeof(tx_bounce) || p->tot_len < ETH_HLEN) {
		st->tx_dropped++;
		return ERR_IF;
	}
	f.len = p->tot_len;
	f.nfrags = 0;
	f.source_failed = NULL;
	f.meta = (struct net_meta){ .flags = NET_META_CSUM_OK };
	bool fits = true;
	for (struct pbuf *q = p; q && fits; q = q->next)
		fits = add_piece(&f, q->payload, q->len);
	if (!fits) {
		pbuf_copy_partial(p, tx_bounce, p->tot_len, 0);
		f.nfrags = 0;
		add_piece(&f, tx_bounce, p->tot_len);
		st->tx_bounced++;
	}
	if (net_frame_load_hdr(&f)) {
		st->tx_dropped++;
		return ERR_IF;
	}
	net_port_input(&port, &f);
	st->tx_frames++;
	st->tx_bytes += f.len;
	return ERR_OK;
}

static err_t keel_netif_init(struct netif *netif)
{
	netif->name[0] = 'b';
	netif->name[1] = 'r';
	netif->mtu = NET_MTU;
	netif->hwaddr_len = ETH_ALEN;
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	netif->output = etharp_output;
	netif->linkoutput = keel_linkoutput;
	netif_set_hostname(netif, "keel");
	return ERR_OK;
}

/* ---- addressing ---- */

static void status_changed(struct netif *netif)
{
	char a[16], g[16], s[16];

	if (ip4_addr_isany_val(*netif_ip4_addr(netif)))
		return;
	ip_format(a, sizeof(a), ip4_addr_get_u32(netif_ip4_addr(netif)));
	ip_format(g, sizeof(g), ip4_addr_get_u32(netif_ip4_gw(netif)));
	int len = ip_mask_len(ip4_addr_get_u32(netif_ip4_netmask(netif)));
	if (ip_state.mode == IP_MODE_DHCP && dhcp_supplied_address(netif)) {
		struct dhcp *d = netif_dhcp_data(netif);
		uint64_t now = time_now_ns();
		uint64_t ms = (now - boot_entry_ns) / 1000000;
		ip_state.lease_ns = now;
		ip_format(s, sizeof(s), ip4_addr_get_u32(ip_2_ip4(&d->server_ip_addr)));
		/* lwIP sets the address (and calls here) before the gateway. */
		ip_format(g, sizeof(g), ip4_addr_get_u32(&d->offered_gw_addr));
		kprintf("net: xenbr0: %s/%d by DHCP from %s, gateway %s, lease %u s, "
			"%llu.%03llu s after keel started\n",
			a, len, s, ip4_addr_isany_val(d->offered_gw_addr) ? "none" : g,
			(unsigned int)d->offered_t0_lease,
			(unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
	}
}

static void report_opt(const char *name, const char *val, const char *why)
{
	klog("keel: boot command line: option '%s': '%s' %s; ignored\n", name, val, why);
}

/* Reads ip=, gw=, dns= (kernel/main.c's table filled them). */
static void parse_options(void)
{
	unsigned int len = 0;
	uint32_t a;

	ip_state.mode = IP_MODE_DHCP;
	if (!strcmp(ip_opt_ip, "none")) {
		ip_state.mode = IP_MODE_OFF;
	} else if (ip_opt_ip[0] && strcmp(ip_opt_ip, "dhcp")) {
		if (ip_parse_cidr(ip_opt_ip, &a, &len))
			report_opt("ip", ip_opt_ip,
				   "is not ADDR/LEN (e.g. 10.0.2.20/24), dhcp or none; using DHCP");
		else if (ip_check_static(a, len, 0))
			report_opt("ip", ip_opt_ip,
				   "is not a host address of its subnet; using DHCP");
		else {
			ip_state.mode = IP_MODE_STATIC;
			cfg_addr = a;
			cfg_mask = ip_prefix_mask(len);
		}
	}
	if (ip_opt_gw[0]) {
		if (ip_parse_addr(ip_opt_gw, &a))
			report_opt("gw", ip_opt_gw, "is not an IPv4 address");
		else if (ip_state.mode != IP_MODE_STATIC)
			report_opt("gw", ip_opt_gw, "needs a static ip=ADDR/LEN");
		else if (ip_check_static(cfg_addr, len, a))
			report_opt("gw", ip_opt_gw, "is not another host of ip='s subnet");
		else
			cfg_gw = a;
	}
	if (ip_opt_dns[0]) {
		if (ip_parse_addr(ip_opt_dns, &a) || a == 0 || a == 0xffffffffu)
			report_opt("dns", ip_opt_dns, "is not an IPv4 address");
		else
			cfg_dns = a;
	}
}

/* ---- the net-ip thread ---- */

static bool have_work(void *unused)
{
	(void)unused;
	return rxq_count || kicked;
}

static void start_interface(void)
{
	struct nic *n = nic_first();
	ip4_addr_t addr, mask, gw;
	char mac[18];

	const uint8_t *hw = n ? n->mac : fallback_mac;

	if (n) {
		ip_state.mac_from_nic = true;
		snprintf(ip_state.nic_name, sizeof(ip_state.nic_name), "%s", n->name);
	}
	snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", hw[0], hw[1], hw[2], hw[3],
		 hw[4], hw[5]);

	ip_lock();
	lwip_init();
	ip4_addr_set_u32(&addr, cfg_addr);
	ip4_addr_set_u32(&mask, cfg_mask);
	ip4_addr_set_u32(&gw, cfg_gw);
	netif_add(&nif, &addr, &mask, &gw, NULL, keel_netif_init, netif_input);
	memcpy(nif.hwaddr, hw, ETH_ALEN);
	netif_set_default(&nif);
	netif_set_status_callback(&nif, status_changed);
	if (cfg_dns) {
		ip_addr_t d;
		ip_addr_set_ip4_u32_val(d, cfg_dns);
		dns_setserver(0, &d);
	}
	ip_state.started = true;

	snprintf(port.name, sizeof(port.name), "keel0");
	port.kind = NET_PORT_HOST;
	/* Blank checksums and GSO frames are completed and cut here, where the
	 * frame is copied anyway (the switch need not copy it first). */
	port.caps = NET_PORT_CAN_CSUM_BLANK | NET_PORT_CAN_GSO_TCPV4;
	port.ops = &host_port_ops;
	port.priv = &nif;
	memcpy(port.mac, nif.hwaddr, ETH_ALEN);
	port.up = true;
	int rc = net_port_add("xenbr0", &port);
	if (rc) {
		kprintf("net: keel0 cannot join xenbr0 (%d): keel has no address\n", rc);
		ip_state.started = false;
		ip_unlock();
		return;
	}
	ip_state.joined = true;
	netif_set_up(&nif);
	netif_set_link_up(&nif);
	if (ip_state.mode == IP_MODE_DHCP) {
		kprintf("net: keel0 on xenbr0, MAC %s (%s), asking DHCP for an address\n", mac,
			ip_state.mac_from_nic ? ip_state.nic_name : "no NIC: a local address");
		err_t e = dhcp_start(&nif);
		if (e != ERR_OK)
			kprintf("net: xenbr0: DHCP cannot start (lwIP error %d)\n", e);
	} else {
		char a[16], g[16];
		ip_format(a, sizeof(a), cfg_addr);
		ip_format(g, sizeof(g), cfg_gw);
		kprintf("net: keel0 on xenbr0, MAC %s (%s): %s/%d static, gateway %s\n", mac,
			ip_state.mac_from_nic ? ip_state.nic_name : "no NIC: a local address", a,
			ip_mask_len(cfg_mask), cfg_gw ? g : "none");
	}
	ip_unlock();
}

static void ip_thread(void *unused)
{
	(void)unused;
	/* The uplink NIC gives keel its MAC: wait for the drivers' probe. */
	if (!pci_probe_wait(PROBE_WAIT_NS))
		kprintf("net: PCI probe still running after 30 s; keel0 starts without it\n");
	start_interface();
	if (!ip_state.started)
		thread_exit();
	for (;;) {
		unsigned int n = 0;
		struct pbuf *pb;

		ip_lock();
		while (n < RX_BATCH && (pb = rxq_pop())) {
			if (nif.input(pb, &nif) != ERR_OK)
				pbuf_free(pb);
			n++;
		}
		sys_check_timeouts();
		u32_t sleep_ms = sys_timeouts_sleeptime();
		ip_unlock();
		if (n == RX_BATCH) {
			thread_yield();
			continue;
		}
		if (sleep_ms > IDLE_MAX_MS)
			sleep_ms = IDLE_MAX_MS;
		if (sleep_ms == 0)
			sleep_ms = 1;
		kicked = false;
		waitq_wait_until(&ip_wq, have_work, NULL, (uint64_t)sleep_ms * 1000000);
	}
}

void keel_ip_init(void)
{
	parse_options();
	if (ip_state.mode == IP_MODE_OFF) {
		kprintf("net: keel has no address of its own (ip=none)\n");
		return;
	}
	if (!thread_create("net-ip", ip_thread, NULL))
		kprintf("net: cannot create the net-ip thread: keel has no address\n");
}

/*
 * Shell commands of keel's own address (net/ip.c): `ip addr`, `ip route`,
 * `ip stats`, `ping [-c N] HOST` (ICMP echo through lwIP's raw API, printed
 * as Linux's ping prints) and `net-bench` (lwIP's lwiperf: an iperf 2 TCP
 * server).  Every lwIP call is made with ip_lock() held; lwIP's callbacks
 * run in the net-ip thread and only record, the shell prints.
 */
#include <keel/commands.h>
#include <keel/ip.h>
#include <keel/kernel.h>
#include <keel/net.h>

#include "lwip/apps/lwiperf.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip_addr.h"
#include "lwip/pbuf.h"
#include "lwip/prot/icmp.h"
#include "lwip/prot/ip4.h"
#include "lwip/raw.h"

#include "lwip/ip_priv.h"

/* Refuses commands while keel has no interface; 0 when there is one. */
static int need_interface(const char *cmd)
{
	if (ip_state.mode == IP_MODE_OFF) {
		kprintf("%s: keel has no address of its own (booted with ip=none)\n", cmd);
		return -ENETDOWN;
	}
	if (!ip_state.started) {
		kprintf("%s: keel's interface is not up yet (waiting for the NIC probe)\n", cmd);
		return -EAGAIN;
	}
	return 0;
}

static uint32_t addr_of(const ip4_addr_t *a)
{
	return ip4_addr_get_u32(a);
}

/* ---- ip ---- */

static int ip_addr_show(void)
{
	struct netif *n = ip_netif();
	char a[16], b[16];

	ip_lock();
	uint32_t addr = addr_of(netif_ip4_addr(n)), mask = addr_of(netif_ip4_netmask(n));
	bool dhcp = ip_state.mode == IP_MODE_DHCP && dhcp_supplied_address(n);
	uint32_t lft = 0;
	if (dhcp) {
		struct dhcp *d = netif_dhcp_data(n);
		uint64_t since = (time_now_ns() - ip_state.lease_ns) / 1000000000ULL;
		/* lease_used counts minutes since the last ACK (renewals too). */
		uint64_t used = since / 60 > d->lease_used ? (uint64_t)d->lease_used * 60 + since % 60
							    : since;
		lft = used < d->offered_t0_lease ? d->offered_t0_lease - (uint32_t)used : 0;
	}
	const uint8_t *hw = n->hwaddr;
	bool up = netif_is_up(n), link = netif_is_link_up(n);
	ip_unlock();

	kprintf("1: xenbr0: <BROADCAST,MULTICAST%s%s> mtu %u state %s\n", up ? ",UP" : "",
		link ? ",LOWER_UP" : "", n->mtu, up && link ? "UP" : "DOWN");
	kprintf("    link/ether %02x:%02x:%02x:%02x:%02x:%02x brd ff:ff:ff:ff:ff:ff\n", hw[0], hw[1],
		hw[2], hw[3], hw[4], hw[5]);
	if (addr == 0)
		return 0;
	int len = ip_mask_len(mask);
	kprintf("    inet %s/%d brd %s scope global %sxenbr0\n", ip_format(a, sizeof(a), addr), len,
		ip_format(b, sizeof(b), addr | ~mask), dhcp ? "dynamic " : "");
	if (dhcp)
		kprintf("       valid_lft %usec preferred_lft %usec\n", lft, lft);
	else
		kprintf("       valid_lft forever preferred_lft forever\n");
	return 0;
}

static int ip_route_show(void)
{
	struct netif *n = ip_netif();
	char a[16], g[16], net[16];

	ip_lock();
	uint32_t addr = addr_of(netif_ip4_addr(n)), mask = addr_of(netif_ip4_netmask(n));
	uint32_t gw = addr_of(netif_ip4_gw(n));
	ip_unlock();
	if (addr == 0)
		return 0;
	const char *proto = ip_state.mode == IP_MODE_DHCP ? "dhcp" : "static";
	ip_format(a, sizeof(a), addr);
	if (gw)
		kprintf("default via %s dev xenbr0 proto %s src %s\n", ip_format(g, sizeof(g), gw),
			proto, a);
	kprintf("%s/%d dev xenbr0 proto kernel scope link src %s\n",
		ip_format(net, sizeof(net), addr & mask), ip_mask_len(mask), a);
	return 0;
}

static int ip_stats_show(void)
{
	const struct ip_stats *s = &ip_state.stats;

	kprintf("keel0 (xenbr0): rx %llu frames %llu bytes, dropped %llu (queue full %llu, "
		"no buffer %llu, bad %llu), GSO frames cut %llu, input queue peak %u\n",
		(unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
		(unsigned long long)(s->rx_queue_full + s->rx_no_pbuf + s->rx_bad),
		(unsigned long long)s->rx_queue_full, (unsigned long long)s->rx_no_pbuf,
		(unsigned long long)s->rx_bad, (unsigned long long)s->rx_gso_cut, s->queue_max);
	kprintf("keel0 (xenbr0): tx %llu frames %llu bytes, dropped %llu, copied whole %llu\n",
		(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->tx_dropped, (unsigned long long)s->tx_bounced);
	return 0;
}

static int cmd_ip(int argc, char **argv)
{
	int i = 1;

	while (i < argc && argv[i][0] == '-') /* -4, -s ...: the output is the same */
		i++;
	const char *obj = i < argc ? argv[i] : "";
	int rc = need_interface("ip");
	if (!strcmp(obj, "addr") || !strcmp(obj, "a") || !strcmp(obj, "address"))
		return rc ? rc : ip_addr_show();
	if (!strcmp(obj, "route") || !strcmp(obj, "r") || !strcmp(obj, "ro"))
		return rc ? rc : ip_route_show();
	if (!strcmp(obj, "stats"))
		return rc ? rc : ip_stats_show();
	if (!strcmp(obj, "link") || !strcmp(obj, "l")) {
		net_link_show();
		return 0;
	}
	kprintf("usage: ip addr | ip route | ip link | ip stats\n");
	return -EINVAL;
}

/* ---- ping ---- */

#define PING_DATA 56            /* payload bytes, as Linux's default */
#define PING_ID 0x6b65          /* "ke" */
#define PING_RING 16

struct ping_reply {
	uint16_t seq;
	uint8_t ttl;
	uint16_t bytes;         /* ICMP bytes (header + data) */
	uint32_t from;
	uint64_t rtt_ns;
};

static struct {
	struct waitq wq;
	struct ping_reply ring[PING_RING];
	unsigned int head, count;
	uint16_t sent;          /* highest sequence number sent */
	bool active;
} ping;

static bool ping_has_reply(void *unused)
{
	(void)unused;
	return ping.count > 0;
}

/* net-ip thread, lock held: an ICMP datagram (IP header first). */
static u8_t ping_recv(void *arg, struct raw_pcb *pcb, struct pbuf *p, const ip_addr_t *addr)
{
	struct ip_hdr iph;
	struct icmp_echo_hdr echo;
	uint64_t sent_ns;

	(void)arg;
	(void)pcb;
	if (pbuf_copy_partial(p, &iph, sizeof(iph), 0) != sizeof(iph))
		return 0;
	u16_t hl = IPH_HL_BYTES(&iph);
	if (hl < sizeof(iph) || p->tot_len < hl + sizeof(echo) + sizeof(sent_ns))
		return 0;
	pbuf_copy_partial(p, &echo, sizeof(echo), hl);
	if (echo.type != ICMP_ER || echo.id != lwip_htons(PING_ID) || !ping.active)
		return 0;
	pbuf_copy_partial(p, &sent_ns, sizeof(sent_ns), hl + sizeof(echo));
	uint16_t seq = lwip_ntohs(echo.seqno);
	if (seq == 0 || seq > ping.sent || ping.count == PING_RING) {
		pbuf_free(p);
		return 1;
	}
	struct ping_reply *r = &ping.ring[(ping.head + ping.count) % PING_RING];
	*r = (struct ping_reply){ .seq = seq, .ttl = IPH_TTL(&iph),
				  .bytes = (uint16_t)(p->tot_len - hl),
				  .from = ip4_addr_get_u32(ip_2_ip4(addr)),
				  .rtt_ns = time_now_ns() - sent_ns };
	ping.count++;
	pbuf_free(p);
	waitq_wake_all(&ping.wq);
	return 1;
}

/* Linux's precision: 0.812, 8.12, 81.2, 812 ms. */
static void fmt_ms(char *buf, size_t size, uint64_t ns)
{
	uint64_t us = ns / 1000;

	if (us >= 100000 - 50)
		snprintf(buf, size, "%llu", (unsigned long long)((us + 500) / 1000));
	else if (us >= 10000 - 5)
		snprintf(buf, size, "%llu.%01llu", (unsigned long long)((us + 50) / 1000),
			 (unsigned long long)((us + 50) % 1000 / 100));
	else if (us >= 1000)
		snprintf(buf, size, "%llu.%02llu", (unsigned long long)((us + 5) / 1000),
			 (unsigned long long)((us + 5) % 1000 / 10));
	else
		snprintf(buf, size, "%llu.%03llu", (unsigned long long)(us / 1000),
			 (unsigned long long)(us % 1000));
}

static void fmt_us3(char *buf, size_t size, uint64_t us)
{
	snprintf(buf, size, "%llu.%03llu", (unsigned long long)(us / 1000),
		 (unsigned long long)(us % 1000));
}

static uint64_t isqrt(uint64_t v)
{
	uint64_t r = 0, bit = 1ULL << 62;

	while (bit > v)
		bit >>= 2;
	while (bit) {
		if (v >= r + bit) {
			v -= r + bit;
			r = (r >> 1) + bit;
		} else {
			r >>= 1;
		}
		bit >>= 2;
	}
	return r;
}

static struct {
	bool done;
	uint32_t addr;
	struct waitq wq;
} resolve;

static void dns_found(const char *name, const ip_addr_t *a, void *arg)
{
	(void)name;
	(void)arg;
	resolve.addr = a ? ip4_addr_get_u32(ip_2_ip4(a)) : 0;
	resolve.done = true;
	waitq_wake_all(&resolve.wq);
}

static bool resolve_done(void *unused)
{
	(void)unused;
	return resolve.done;
}

/* HOST as a dotted quad, or a name through lwIP's DNS client. */
static int resolve_host(const char *host, uint32_t *out)
{
	if (!ip_parse_addr(host, out))
		return 0;
	ip_addr_t a;
	resolve.done = false;
	ip_lock();
	err_t e = dns_gethostbyname(host, &a, dns_found, NULL);
	ip_unlock();
	if (e == ERR_OK) {
		*out = ip4_addr_get_u32(ip_2_ip4(&a));
		return 0;
	}
	if (e == ERR_INPROGRESS) {
		ip_kick();
		waitq_wait_until(&resolve.wq, resolve_done, NULL, 10ULL * 1000000000ULL);
		if (resolve.done && resolve.addr) {
			*out = resolve.addr;
			return 0;
		}
	}
	return -ENOENT;
}

static bool interrupted(void)
{
	int c;
	while ((c = console_trygetc()) >= 0)
		if (c == 0x03)
			return true;
	return false;
}

static int ping_send(struct raw_pcb *pcb, uint32_t dst, uint16_t seq)
{
	struct pbuf *p = pbuf_alloc(PBUF_IP, sizeof(struct icmp_echo_hdr) + PING_DATA, PBUF_RAM);
	if (!p)
		return -ENOMEM;
	struct icmp_echo_hdr *h = p->payload;
	uint8_t *data = (uint8_t *)(h + 1);
	uint64_t now = time_now_ns();
	h->type = ICMP_ECHO;
	h->code = 0;
	h->chksum = 0;
	h->id = lwip_htons(PING_ID);
	h->seqno = lwip_htons(seq);
	memcpy(data, &now, sizeof(now));
	for (unsigned int i = sizeof(now); i < PING_DATA; i++)
		data[i] = (uint8_t)i;
	h->chksum = inet_chksum(h, sizeof(*h) + PING_DATA);
	ip_addr_t to;
	ip_addr_set_ip4_u32_val(to, dst);
	err_t e = raw_sendto(pcb, p, &to);
	pbuf_free(p);
	ip_kick();
	return e == ERR_OK ? 0 : e == ERR_RTE ? -ENETUNREACH : -EIO;
}

static int cmd_ping(int argc, char **argv)
{
	unsigned long count = 0; /* 0: until ^C */
	const char *host = NULL;
	char a[16], t[16];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			char *end;
			count = strtoul(argv[++i], &end, 10);
			if (*end || count == 0 || count > 100000) {
				kprintf("ping: invalid count: '%s'\n", argv[i]);
				return -EINVAL;
			}
		} else if (argv[i][0] == '-' || host) {
			kprintf("usage: ping [-c COUNT] HOST\n");
			return -EINVAL;
		} else {
			host = argv[i];
		}
	}
	if (!host) {
		kprintf("usage: ping [-c COUNT] HOST\n");
		return -EINVAL;
	}
	int rc = need_interface("ping");
	if (rc)
		return rc;
	if (ip4_addr_isany_val(*netif_ip4_addr(ip_netif()))) {
		kprintf("ping: keel has no address yet (DHCP has not answered)\n");
		return -ENETUNREACH;
	}
	uint32_t dst;
	if (resolve_host(host, &dst)) {
		kprintf("ping: %s: Name or service not known\n", host);
		return -ENOENT;
	}
	ip_format(a, sizeof(a), dst);

	ip_lock();
	struct raw_pcb *pcb = raw_new(IP_PROTO_ICMP);
	if (pcb)
		raw_recv(pcb, ping_recv, NULL);
	ping.head = ping.count = 0;
	ping.sent = 0;
	ping.active = true;
	ip_unlock();
	if (!pcb) {
		kprintf("ping: no room for a raw socket\n");
		return -ENOMEM;
	}
	kprintf("PING %s (%s) %d(%d) bytes of data.\n", host, a, PING_DATA, PING_DATA + 28);

	unsigned long received = 0, n = 0;
	uint64_t sum_us = 0, sum2 = 0, min_us = UINT64_MAX, max_us = 0;
	uint64_t start = time_now_ns(), last_send = start;
	const uint64_t second = 1000000000ULL;
	rc = 0;
	for (;;) {
		uint64_t now = time_now_ns();
		bool more = (count == 0 || n < count) && n < 65535;
		if (more && (n == 0 || now >= last_send + second)) {
			ip_lock();
			int e = ping_send(pcb, dst, (uint16_t)(n + 1));
			if (!e)
				ping.sent = (uint16_t)(n + 1);
			ip_unlock();
			if (e == -ENETUNREACH) {
				kprintf("ping: connect: Network is unreachable\n");
				rc = e;
				break;
			}
			n++;
			last_send = now;
			more = (count == 0 || n < count) && n < 65535;
		}
		ip_lock();
		while (ping.count) {
			struct ping_reply r = ping.ring[ping.head];
			ping.head = (ping.head + 1) % PING_RING;
			ping.count--;
			ip_unlock();
			uint64_t us = r.rtt_ns / 1000;
			char from[16];
			received++;
			sum_us += us;
			sum2 += us * us;
			min_us = MIN(min_us, us);
			max_us = MAX(max_us, us);
			fmt_ms(t, sizeof(t), r.rtt_ns);
			kprintf("%u bytes from %s: icmp_seq=%u ttl=%u time=%s ms\n", r.bytes,
				ip_format(from, sizeof(from), r.from), r.seq, r.ttl, t);
			ip_lock();
		}
		ip_unlock();
		now = time_now_ns();
		/* Done: every echo sent, and answered or given a second. */
		if (!more && (received >= n || now >= last_send + second))
			break;
		if (interrupted())
			break;
		uint64_t until = last_send + second;
		if (now < until)
			waitq_wait_until(&ping.wq, ping_has_reply, NULL,
					 MIN(until - now, 100000000ULL));
	}
	unsigned long transmitted = ping.sent;
	uint64_t total_ms = (time_now_ns() - start) / 1000000;

	ip_lock();
	ping.active = false;
	raw_remove(pcb);
	ip_unlock();

	kprintf("\n--- %s ping statistics ---\n", host);
	kprintf("%lu packets transmitted, %lu received, %lu%% packet loss, time %llums\n",
		transmitted, received,
		transmitted ? (transmitted - MIN(received, transmitted)) * 100 / transmitted : 0,
		(unsigned long long)total_ms);
	if (received) {
		uint64_t avg = sum_us / received;
		uint64_t var = sum2 / received - avg * avg;
		char mn[16], av[16], mx[16], md[16];
		fmt_us3(mn, sizeof(mn), min_us);
		fmt_us3(av, sizeof(av), avg);
		fmt_us3(mx, sizeof(mx), max_us);
		fmt_us3(md, sizeof(md), isqrt(var));
		kprintf("rtt min/avg/max/mdev = %s/%s/%s/%s ms\n", mn, av, mx, md);
	}
	if (rc)
		return rc;
	return received ? 0 : -ETIMEDOUT;
}

/* ---- net-bench: lwiperf's iperf 2 TCP server ---- */

#define BENCH_PORT 5001
#define BENCH_RESULTS 8

struct bench_result {
	enum lwiperf_report_type type;
	uint32_t remote;
	uint16_t remote_port, local_port;
	uint32_t bytes, ms;
};

static struct {
	void *session;
	uint16_t port;
	struct bench_result results[BENCH_RESULTS];
	unsigned int n;         /* results recorded since start (ring index n % BENCH_RESULTS) */
} bench;

static void bench_report(void *arg, enum lwiperf_report_type type, const ip_addr_t *local_addr,
			 u16_t local_port, const ip_addr_t *remote_addr, u16_t remote_port,
			 u32_t bytes, u32_t ms, u32_t kbit)
{
	(void)arg;
	(void)local_addr;
	(void)kbit;
	bench.results[bench.n % BENCH_RESULTS] = (struct bench_result){
		.type = type, .remote = remote_addr ? ip4_addr_get_u32(ip_2_ip4(remote_addr)) : 0,
		.remote_port = remote_port, .local_port = local_port, .bytes = bytes, .ms = ms };
	bench.n++;
}

static const char *bench_outcome(enum lwiperf_report_type t)
{
	switch (t) {
	case LWIPERF_TCP_DONE_SERVER: return "done";
	case LWIPERF_TCP_DONE_CLIENT: return "done (as client)";
	case LWIPERF_TCP_ABORTED_LOCAL: return "aborted by keel";
	case LWIPERF_TCP_ABORTED_LOCAL_DATAERROR: return "aborted: bad iperf data";
	case LWIPERF_TCP_ABORTED_LOCAL_TXERROR: return "aborted: send error";
	case LWIPERF_TCP_ABORTED_REMOTE: return "aborted by the peer";
	default: return "ended";
	}
}

static void bench_print(const struct bench_result *r)
{
	char a[16];
	/* Mbit/s with two decimals: bytes * 8 / (ms * 1000) */
	uint64_t centi = r->ms ? (uint64_t)r->bytes * 8 / ((uint64_t)r->ms * 10) : 0;

	kprintf("net-bench: %s:%u -> port %u: %u bytes in %u.%03u s, %llu.%02llu Mbit/s (%s)\n",
		ip_format(a, sizeof(a), r->remote), r->remote_port, r->local_port, r->bytes,
		r->ms / 1000, r->ms % 1000, (unsigned long long)(centi / 100),
		(unsigned long long)(centi % 100), bench_outcome(r->type));
}

static int cmd_net_bench(int argc, char **argv)
{
	int rc = need_interface("net-bench");
	if (rc)
		return rc;
	if (argc >= 2 && !strcmp(argv[1], "start")) {
		unsigned long p = BENCH_PORT;
		if (argc > 2) {
			char *end;
			p = strtoul(argv[2], &end, 10);
			if (*end || p == 0 || p > 65535) {
				kprintf("net-bench: '%s' is not a port\n", argv[2]);
				return -EINVAL;
			}
		}
		if (bench.session) {
			kprintf("net-bench: already listening on port %u\n", bench.port);
			return -EALREADY;
		}
		ip_lock();
		bench.session = lwiperf_start_tcp_server(IP_ADDR_ANY, (u16_t)p, bench_report, NULL);
		ip_unlock();
		if (!bench.session) {
			kprintf("net-bench: cannot listen on port %lu\n", p);
			return -EADDRINUSE;
		}
		bench.port = (uint16_t)p;
		kprintf("net-bench: listening on TCP port %u (iperf 2: iperf -c ADDR -p %u)\n",
			bench.port, bench.port);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "stop")) {
		if (!bench.session) {
			kprintf("net-bench: not running\n");
			return -EINVAL;
		}
		ip_lock();
		lwiperf_abort(bench.session);
		ip_unlock();
		bench.session = NULL;
		kprintf("net-bench: stopped\n");
		return 0;
	}
	if (argc > 1) {
		kprintf("usage: net-bench [start [PORT] | stop]\n");
		return -EINVAL;
	}
	if (bench.session)
		kprintf("net-bench: listening on TCP port %u\n", bench.port);
	else
		kprintf("net-bench: not running (net-bench start)\n");
	unsigned int first = bench.n > BENCH_RESULTS ? bench.n - BENCH_RESULTS : 0;
	if (bench.n == 0)
		kprintf("net-bench: no transfer yet\n");
	for (unsigned int i = first; i < bench.n; i++)
		bench_print(&bench.results[i % BENCH_RESULTS]);
	return 0;
}

const struct command ip_commands[] = {
	{ "ip", cmd_ip, "addr|route|link|stats", "keel's own address on xenbr0 (as `ip -4`)" },
	{ "ping", cmd_ping, "[-c N] HOST", "ICMP echo from keel's own address" },
	{ "net-bench", cmd_net_bench, "[start [PORT]|stop]",
	  "iperf 2 TCP server (port 5001): received bytes, time, Mbit/s" },
	{ NULL, NULL, NULL, NULL },
};

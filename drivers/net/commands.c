/*
 * Shell commands for the network cards: `nic` lists them (model, PCI
 * address, MAC, link, offloads, counters) and `arping` sends ARP requests
 * as raw Ethernet frames through the NIC API and times the replies, which
 * tests a driver end to end without an IP stack.
 *
 * arping borrows the NIC's receive hook (nic->rx) while it runs: every
 * frame still goes on to the previous owner (the switch's uplink port), and
 * the hook is put back when arping ends, unless the owner changed it
 * meanwhile.  Shell thread only.
 */
#include <keel/commands.h>
#include <keel/kernel.h>
#include <keel/nic.h>
#include <keel/pci.h>
#include <lib/printf.h>
#include "nicdrv.h"

static void mac_text(const uint8_t *m, char *buf, size_t len)
{
	ksnprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static void features_text(uint32_t f, char *buf, size_t len)
{
	ksnprintf(buf, len, "%s%s%s%s%s", f & NIC_F_TX_CSUM ? " tx-csum" : "",
		  f & NIC_F_TSO4 ? " tso4" : "", f & NIC_F_TSO6 ? " tso6" : "",
		  f & NIC_F_RX_CSUM ? " rx-csum" : "", f ? "" : " none");
}

static int cmd_nic(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (!pci_probe_wait(10000000000ull))
		kprintf("nic: device probing still running\n");
	if (!nic_first()) {
		kprintf("no network cards\n");
		return 0;
	}
	for (struct nic *n = nic_first(); n; n = n->next) {
		/* nic->priv is a struct nicdrv only for keel's own PCI drivers. */
		static const struct nicdrv none;
		bool ours = n->pci && (n->pci->driver == &virtio_net_driver ||
				       n->pci->driver == &e1000_driver);
		const struct nicdrv *drv = ours ? n->priv : &none;
		static const struct pci_irqs no_irqs;
		char bdf[16] = "-", mac[24], feat[64];
		if (n->pci)
			pci_format_bdf(n->pci, bdf, sizeof(bdf));
		mac_text(n->mac, mac, sizeof(mac));
		features_text(n->features, feat, sizeof(feat));
		kprintf("%s: %s at %s, MAC %s, link %s%s, mtu %u, %s (%u vector%s)\n", n->name,
			n->model, bdf, mac, n->link_up ? "up" : "down",
			drv->stopped ? " (stopped)" : "", n->mtu,
			pci_irq_mode_name((drv->irqs ? drv->irqs : &no_irqs)->mode),
			(drv->irqs ? drv->irqs : &no_irqs)->nvec,
			(drv->irqs ? drv->irqs : &no_irqs)->nvec == 1 ? "" : "s");
		kprintf("  features:%s; device: %s\n", feat, drv->offloads);
		const struct nic_stats *s = &n->stats;
		kprintf("  rx %llu frames %llu bytes, %llu errors, %llu dropped\n",
			(unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
			(unsigned long long)s->rx_errors, (unsigned long long)s->rx_dropped);
		kprintf("  tx %llu frames %llu bytes, %llu errors, %llu busy\n",
			(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
			(unsigned long long)s->tx_errors, (unsigned long long)s->tx_busy);
		kprintf("  %llu interrupts, %llu driver passes, %llu frames checksum-verified by "
			"the device\n", (unsigned long long)s->irqs, (unsigned long long)drv->wakeups,
			(unsigned long long)drv->rx_csum_ok);
	}
	return 0;
}

/* ---- arping and the offload check ---- */

#define ARP_FRAME_BYTES 60      /* 42 of ARP, padded to Ethernet's minimum */
#define ARPING_MAX_COUNT 10000
#define TSO_MSS 1000
/* Not a multiple of the MSS: QEMU's e1000 follows a frame that ends on a
 * segment boundary with an extra header-only segment. */
#define TSO_PAYLOAD 7500
#define TSO_SEGMENTS ((TSO_PAYLOAD + TSO_MSS - 1) / TSO_MSS)
#define TEST_SPORT 40000
#define TEST_DPORT 9            /* discard: QEMU's restricted slirp answers with a reset */

enum listen_kind { LISTEN_ARP_REPLY, LISTEN_ICMP_ECHO_REPLY, LISTEN_TCP_RST };

/* What the borrowed receive hook looks for (one user at a time: the shell). */
static struct {
	struct waitq wq;
	void (*prev_rx)(struct nic *n, struct net_frame *f);
	enum listen_kind kind;
	uint8_t target[4];
	unsigned int hits;
	bool tx_done;
	uint64_t hit_ns;
	uint8_t hit_mac[ETH_ALEN];
	/* ICMP echo replies: the payload is checked against icmp_payload(). */
	uint32_t payload_len;
	bool payload_ok;
	uint32_t hit_len;
	uint16_t hit_frags;
} ap;

/* Byte i of an echo request's data. */
static uint8_t icmp_payload(uint32_t i)
{
	return (uint8_t)(i * 13 + 7);
}

/* Compares the echo reply's data (at byte `off` of f) with what was sent;
 * the frame may be in several fragments, so it is read in pieces. */
static bool payload_matches(const struct net_frame *f, uint32_t off)
{
	uint8_t buf[256];

	if (f->len < off + ap.payload_len)
		return false;
	for (uint32_t done = 0; done < ap.payload_len;) {
		uint32_t n = MIN(ap.payload_len - done, (uint32_t)sizeof(buf));
		if (net_frame_read(f, off + done, buf, n))
			return false;
		for (uint32_t i = 0; i < n; i++)
			if (buf[i] != icmp_payload(done + i))
				return false;
		done += n;
	}
	return true;
}

static bool parse_ipv4(const char *s, uint8_t out[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned int v = 0, digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			v = v * 10 + (unsigned int)(*s++ - '0');
			digits++;
		}
		if (!digits || v > 255)
			return false;
		out[i] = (uint8_t)v;
		if (i < 3 && *s++ != '.')
			return false;
	}
	return *s == 0;
}

static bool listen_match(const struct net_frame *f)
{
	const uint8_t *h = f->hdr;

	if (ap.kind == LISTEN_ARP_REPLY) {
		/* Ethernet/IPv4 ARP, op 2, sender protocol address the target. */
		static const uint8_t arp_reply[8] = { 0, 1, 8, 0, 6, 4, 0, 2 };
		if (f->hdr_len < ETH_HLEN + 28 || net_ethertype(f) != 0x0806)
			return false;
		if (memcmp(h + ETH_HLEN, arp_reply, 8) || memcmp(h + ETH_HLEN + 14, ap.target, 4))
			return false;
		memcpy(ap.hit_mac, h + ETH_HLEN + 8, ETH_ALEN);
		return true;
	}
	if (f->hdr_len < ETH_HLEN + 20 || net_ethertype(f) != 0x0800 ||
	    memcmp(h + ETH_HLEN + 12, ap.target, 4))
		return false;
	unsigned int l4 = ETH_HLEN + (h[ETH_HLEN] & 15u) * 4;
	if (ap.kind == LISTEN_ICMP_ECHO_REPLY) {
		if (h[ETH_HLEN + 9] != 1 || f->hdr_len < l4 + 8 || h[l4] != 0 ||
		    h[l4 + 4] != 0x6b || h[l4 + 5] != 0x65)    /* our id "ke" */
			return false;
		ap.payload_ok = payload_matches(f, l4 + 8);
		ap.hit_len = f->len;
		ap.hit_frags = f->nfrags;
		return true;
	}
	return h[ETH_HLEN + 9] == 6 && f->hdr_len >= l4 + 14 &&
	       (h[l4] << 8 | h[l4 + 1]) == TEST_DPORT && (h[l4 + 2] << 8 | h[l4 + 3]) == TEST_SPORT &&
	       (h[l4 + 13] & 0x04);
}

static void listen_rx(struct nic *n, struct net_frame *f)
{
	if (listen_match(f)) {
		if (ap.hits++ == 0)
			ap.hit_ns = time_now_ns();
		waitq_wake_all(&ap.wq);
	}
	if (ap.prev_rx)
		ap.prev_rx(n, f);
}

static void listen_tx_done(void *arg)
{
	(void)arg;
	ap.tx_done = true;
	waitq_wake_all(&ap.wq);
}

static unsigned int hits_wanted;

static bool hits_cond(void *ctx)
{
	(void)ctx;
	return ap.hits >= hits_wanted;
}

static bool tx_done_cond(void *ctx)
{
	(void)ctx;
	return ap.tx_done;
}

static void listen_start(struct nic *n, enum listen_kind kind, const uint8_t target[4])
{
	ap.kind = kind;
	memcpy(ap.target, target, 4);
	ap.prev_rx = n->rx;
	n->rx = listen_rx;
}

static void listen_stop(struct nic *n)
{
	/* Put the owner's hook back, unless the owner replaced ours meanwhile. */
	if (n->rx == listen_rx)
		n->rx = ap.prev_rx;
}

/*
 * Sends one frame and waits up to wait_ns for `want` matching frames, then
 * for the device to be done with the frame's pages.  0 (ap.hits says how
 * many came), the xmit error, or -EBUSY if the device still holds the
 * pages after a second (the caller must not free them).
 */
static int send_wait(struct nic *n, const struct nic_tx_frag *fr, unsigned int nfr,
		     const struct net_meta *meta, uint64_t wait_ns, unsigned int want,
		     uint64_t *t0)
{
	int rc;

	ap.hits = 0;
	ap.tx_done = false;
	hits_wanted = want;
	*t0 = time_now_ns();
	for (int tries = 0; (rc = n->ops->xmit(n, fr, nfr, meta, listen_tx_done, NULL)) == -EAGAIN &&
			    tries < 100; tries++)
		thread_sleep_ns(1000000);
	if (rc)
		return rc;
	waitq_wait_until(&ap.wq, hits_cond, NULL, wait_ns);
	if (!waitq_wait_until(&ap.wq, tx_done_cond, NULL, 1000000000ull))
		return -EBUSY;
	return 0;
}

static void build_arp(uint8_t *fr, const uint8_t *mac, const uint8_t sip[4], const uint8_t tip[4])
{
	memset(fr, 0, ARP_FRAME_BYTES);
	memset(fr, 0xff, 6);                    /* broadcast */
	memcpy(fr + 6, mac, ETH_ALEN);
	fr[12] = 0x08, fr[13] = 0x06;           /* ARP */
	uint8_t *a = fr + ETH_HLEN;
	a[0] = 0, a[1] = 1;                     /* Ethernet */
	a[2] = 8, a[3] = 0;                     /* IPv4 */
	a[4] = 6, a[5] = 4;
	a[6] = 0, a[7] = 1;                     /* request */
	memcpy(a + 8, mac, ETH_ALEN);
	memcpy(a + 14, sip, 4);
	memcpy(a + 24, tip, 4);
}

static void sort_u64(uint64_t *v, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++)
		for (unsigned int j = i; j > 0 && v[j - 1] > v[j]; j--) {
			uint64_t t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
}

static void print_ms(const char *label, uint64_t ns)
{
	kprintf("%s%llu.%03llu ms", label, (unsigned long long)(ns / 1000000),
		(unsigned long long)(ns / 1000 % 1000));
}

/* The NIC named by `-I`, probed and with its link up, or NULL (said why). */
static struct nic *usable_nic(const char *cmd, const char *ifname)
{
	pci_probe_wait(10000000000ull);
	struct nic *n = nic_find(ifname);
	if (!n) {
		kprintf("%s: no interface %s\n", cmd, ifname);
		return NULL;
	}
	if (!n->link_up) {
		kprintf("%s: %s: link down\n", cmd, ifname);
		return NULL;
	}
	return n;
}

static int cmd_arping(int argc, char **argv)
{
	const char *ifname = NULL, *target = NULL, *src = "0.0.0.0";
	unsigned long count = 1;
	bool quiet = false, bad = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-I") && i + 1 < argc)
			ifname = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			src = argv[++i];
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			count = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-q"))
			quiet = true;
		else if (argv[i][0] != '-' && !target)
			target = argv[i];
		else
			bad = true;
	}
	uint8_t tip[4], sip[4];
	if (bad || !ifname || !target || count == 0 || count > ARPING_MAX_COUNT) {
		kprintf("usage: arping -I ethN [-s SRC_IP] [-c COUNT] [-q] IP\n");
		return -EINVAL;
	}
	if (!parse_ipv4(target, tip) || !parse_ipv4(src, sip)) {
		kprintf("arping: bad IPv4 address\n");
		return -EINVAL;
	}
	struct nic *n = usable_nic("arping", ifname);
	if (!n)
		return -ENODEV;
	void *va;
	dma_addr_t dma;
	uint64_t *rtts = kmalloc(count * sizeof(uint64_t));
	if (!rtts || dma_alloc_page(&va, &dma)) {
		kfree(rtts);
		kprintf("arping: no memory\n");
		return -ENOMEM;
	}
	build_arp(va, n->mac, sip, tip);

	listen_start(n, LISTEN_ARP_REPLY, tip);
	kprintf("ARPING %s from %s %s\n", target, src, n->name);
	unsigned long sent = 0, received = 0;
	int rc = 0;
	for (unsigned long i = 0; i < count; i++) {
		struct nic_tx_frag frag = { dma, ARP_FRAME_BYTES };
		struct net_meta meta = { 0 };
		uint64_t t0;
		rc = send_wait(n, &frag, 1, &meta, 1000000000ull, 1, &t0);
		if (rc && rc != -EBUSY) {
			kprintf("arping: %s: transmit failed (%d)\n", n->name, rc);
			break;
		}
		sent++;
		if (ap.hits) {
			uint64_t rtt = ap.hit_ns - t0;
			rtts[received++] = rtt;
			if (!quiet) {
				char mac[24];
				mac_text(ap.hit_mac, mac, sizeof(mac));
				kprintf("Unicast reply from %s [%s]  ", target, mac);
				print_ms("", rtt);
				kprintf("\n");
			}
		} else if (!quiet) {
			kprintf("no reply from %s\n", target);
		}
		if (rc == -EBUSY) {
			kprintf("arping: %s: transmit not completed after 1 s\n", n->name);
			break;
		}
	}
	listen_stop(n);
	kprintf("Sent %lu probes, Received %lu response(s)\n", sent, received);
	if (received) {
		char mac[24];
		mac_text(ap.hit_mac, mac, sizeof(mac));
		sort_u64(rtts, (unsigned int)received);
		kprintf("reply MAC %s; rtt ", mac);
		print_ms("min ", rtts[0]);
		print_ms(", median ", rtts[received / 2]);
		print_ms(", max ", rtts[received - 1]);
		kprintf("\n");
	} else {
		kprintf("no reply\n");
	}
	kfree(rtts);
	if (rc != -EBUSY)
		dma_free_page(va);
	/* else the device may still read the page: it is leaked on purpose. */
	return received ? 0 : -ETIMEDOUT;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void build_ipv4(uint8_t *ip, uint16_t tot_len, uint8_t proto, const uint8_t sip[4],
		       const uint8_t tip[4])
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, tot_len);
	put16(ip + 4, 0x1234);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, sip, 4);
	memcpy(ip + 16, tip, 4);
	put16(ip + 10, (uint16_t)~nicdrv_csum_fold(sum16(ip, 20, 0)));
}

/*
 * nic-test: checks that a NIC's advertised transmit offloads make
 * frames a real receiver accepts.  `csum`: an ICMP echo request whose
 * checksum is left to the NIC (CSUM_BLANK); QEMU's gateway checks it and
 * answers only if it is right.  `tso`: one TCP frame of TSO_SEGMENTS x
 * TSO_MSS payload bytes handed over whole (GSO TCPv4); the NIC cuts it, and
 * QEMU's restricted gateway answers every segment whose IP and TCP
 * checksums are right with a reset, so resets counted = segments that
 * arrived intact.  `ping`: an ICMP echo of -l BYTES data, checksummed
 * here; the reply's data is compared, however many receive buffers
 * (fragments) it came in.
 */
static int cmd_nic_test(int argc, char **argv)
{
	const char *ifname = NULL, *what = NULL, *target = NULL, *src = "10.0.2.15";
	unsigned long ping_bytes = 56;
	bool bad = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-I") && i + 1 < argc)
			ifname = argv[++i];
		else if (!strcmp(argv[i], "-s") && i + 1 < argc)
			src = argv[++i];
		else if (!strcmp(argv[i], "-l") && i + 1 < argc)
			ping_bytes = strtoul(argv[++i], NULL, 10);
		else if (argv[i][0] != '-' && !what)
			what = argv[i];
		else if (argv[i][0] != '-' && !target)
			target = argv[i];
		else
			bad = true;
	}
	uint8_t tip[4], sip[4];
	bool tso = what && !strcmp(what, "tso"), ping = what && !strcmp(what, "ping");
	if (bad || !ifname || !target || !what || (!tso && !ping && strcmp(what, "csum")) ||
	    ping_bytes > NET_MTU - 28) {
		kprintf("usage: nic-test -I ethN csum|tso|ping [-l BYTES] [-s SRC_IP] IP\n");
		return -EINVAL;
	}
	if (!parse_ipv4(target, tip) || !parse_ipv4(src, sip)) {
		kprintf("nic-test: bad IPv4 address\n");
		return -EINVAL;
	}
	struct nic *n = usable_nic("nic-test", ifname);
	if (!n)
		return -ENODEV;
	uint32_t need = ping ? 0 : tso ? NIC_F_TSO4 | NIC_F_TX_CSUM : NIC_F_TX_CSUM;
	if ((n->features & need) != need) {
		kprintf("nic-test: %s: %s not offered by the device\n", n->name,
			tso ? "TSO (TCPv4)" : "transmit checksum");
		return -EOPNOTSUPP;
	}
	enum { PAGES = 3 };
	void *va[PAGES] = { NULL };
	dma_addr_t dma[PAGES];
	int rc = 0;
	for (int i = 0; i < PAGES; i++)
		if (dma_alloc_page(&va[i], &dma[i])) {
			kprintf("nic-test: no memory\n");
			for (int j = 0; j < i; j++)
				dma_free_page(va[j]);
			return -ENOMEM;
		}
	struct net_meta meta = { 0 };
	uint64_t t0;
	uint8_t gw[ETH_ALEN];
	bool keep_pages = false;

	/* The target's MAC first. */
	build_arp(va[0], n->mac, sip, tip);
	struct nic_tx_frag frag = { dma[0], ARP_FRAME_BYTES };
	listen_start(n, LISTEN_ARP_REPLY, tip);
	rc = send_wait(n, &frag, 1, &meta, 1000000000ull, 1, &t0);
	listen_stop(n);
	if (rc || !ap.hits) {
		kprintf("nic-test: no ARP reply from %s (%d)\n", target, rc);
		keep_pages = rc == -EBUSY;
		rc = rc ? rc : -ETIMEDOUT;
		goto out;
	}
	memcpy(gw, ap.hit_mac, ETH_ALEN);

	uint8_t *f = va[0];
	memcpy(f, gw, ETH_ALEN);
	memcpy(f + 6, n->mac, ETH_ALEN);
	f[12] = 0x08, f[13] = 0x00;
	uint8_t *ip = f + ETH_HLEN, *l4 = ip + 20;
	struct nic_tx_frag frags[PAGES];
	unsigned int nfrags = 1;
	unsigned int want;
	if (!tso) {
		/* ICMP echo (RFC 792): 8-byte header, then the data.  csum: the
		 * checksum left blank for the NIC (0: ICMP has no pseudo header);
		 * ping: computed here. */
		unsigned int l4_len = 8 + (unsigned int)ping_bytes;
		build_ipv4(ip, (uint16_t)(20 + l4_len), 1, sip, tip);
		memset(l4, 0, 8);
		l4[0] = 8;
		l4[4] = 0x6b, l4[5] = 0x65;    /* id "ke" */
		put16(l4 + 6, 1);
		for (unsigned int i = 0; i < ping_bytes; i++)
			l4[8 + i] = icmp_payload(i);
		uint32_t total = ETH_HLEN + 20 + l4_len;
		frags[0] = (struct nic_tx_frag){ dma[0], total < 60 ? 60 : total };
		if (ping) {
			put16(l4 + 2, (uint16_t)~nicdrv_csum_fold(sum16(l4, l4_len, 0)));
		} else {
			meta.flags = NET_META_CSUM_BLANK;
			meta.csum_start = ETH_HLEN + 20;
			meta.csum_offset = 2;
		}
		ap.payload_len = (uint32_t)ping_bytes;
		ap.payload_ok = false;
		listen_start(n, LISTEN_ICMP_ECHO_REPLY, tip);
		want = 1;
	} else {
		/* TCP (ACK only, to a port nobody listens on) with a payload of
		 * TSO_SEGMENTS segments, spread over two pages. */
		unsigned int pay = TSO_PAYLOAD, l4_len = 20 + pay;
		uint32_t total = ETH_HLEN + 20 + l4_len;
		build_ipv4(ip, (uint16_t)(20 + l4_len), 6, sip, tip);
		memset(l4, 0, 20);
		put16(l4, TEST_SPORT);
		put16(l4 + 2, TEST_DPORT);
		l4[7] = 1;                      /* seq 1 */
		l4[11] = 1;                     /* ack 1 */
		l4[12] = 5 << 4;
		l4[13] = 0x10;                  /* ACK */
		put16(l4 + 14, 8192);
		/* CSUM_BLANK: the field holds the pseudo-header sum (RFC 793),
		 * with the whole TCP length, as Linux leaves it. */
		uint32_t ph = sum16(sip, 4, 0) + sum16(tip, 4, 0) + 6 + l4_len;
		put16(l4 + 16, nicdrv_csum_fold(ph));
		uint32_t off = ETH_HLEN + 40;
		for (uint32_t i = 0; i < pay; i++, off++)
			((uint8_t *)va[off / PAGE_SIZE])[off % PAGE_SIZE] = (uint8_t)(i * 7);
		nfrags = 0;
		for (uint32_t o = 0; o < total; o += PAGE_SIZE)
			frags[nfrags++] = (struct nic_tx_frag){
				dma[o / PAGE_SIZE], total - o < PAGE_SIZE ? total - o : PAGE_SIZE };
		meta.flags = NET_META_CSUM_BLANK | NET_META_GSO;
		meta.csum_start = ETH_HLEN + 20;
		meta.csum_offset = 16;
		meta.gso_type = NET_GSO_TCPV4;
		meta.gso_size = TSO_MSS;
		listen_start(n, LISTEN_TCP_RST, tip);
		want = TSO_SEGMENTS;
	}
	rc = send_wait(n, frags, nfrags, &meta, 2000000000ull, want, &t0);
	if (rc == 0 && ap.hits < want)
		thread_sleep_ns(200000000);     /* late answers still count */
	listen_stop(n);
	keep_pages = rc == -EBUSY;
	if (rc && rc != -EBUSY) {
		kprintf("nic-test: %s: transmit failed (%d)\n", n->name, rc);
		goto out;
	}
	if (ping && ap.hits)
		kprintf("%s: echo reply of %u bytes in %u fragment(s), data %s\n", n->name,
			ap.hit_len, ap.hit_frags, ap.payload_ok ? "intact" : "CORRUPT");
	else if (ping)
		kprintf("%s: no echo reply\n", n->name);
	else if (!tso)
		kprintf("%s: checksum offload: %s\n", n->name,
			ap.hits ? "echo reply received (the device's checksum was right)"
				: "no echo reply");
	else
		kprintf("%s: TSO: 1 frame of %u bytes sent as %u segments; %u of %u answered "
			"(segments with right checksums)\n", n->name,
			ETH_HLEN + 40 + TSO_PAYLOAD, TSO_SEGMENTS, ap.hits, want);
	rc = ap.hits == want && (!ping || ap.payload_ok) ? 0 : -EIO;
out:
	if (!keep_pages)
		for (int i = 0; i < PAGES; i++)
			dma_free_page(va[i]);
	return rc;
}

/* Test hook: the NIC's next received frame is taken as a device error (a
 * length past its buffer), which must stop that NIC and nothing else. */
static int cmd_inject_fault(int argc, char **argv)
{
	struct nic *n = argc == 2 ? nic_find(argv[1]) : NULL;

	if (!n) {
		kprintf("usage: nic-inject-fault ethN\n");
		return -EINVAL;
	}
	if (!n->pci || (n->pci->driver != &virtio_net_driver && n->pci->driver != &e1000_driver)) {
		kprintf("nic-inject-fault: %s is not driven by keel's virtio-net or e1000\n", n->name);
		return -EINVAL;
	}
	((struct nicdrv *)n->priv)->inject_fault = true;
	kprintf("%s: the next received frame will be taken as a device error\n", n->name);
	return 0;
}

static unsigned int flood_done;

static void flood_tx_done(void *arg)
{
	(void)arg;
	flood_done++;
	waitq_wake_all(&ap.wq);
}

static unsigned int flood_want;

static bool flood_cond(void *ctx)
{
	(void)ctx;
	return flood_done >= flood_want;
}

/*
 * nic-flood: COUNT broadcast ARP requests handed to xmit back to back
 * without waiting, which fills the transmit ring: each -EAGAIN is counted
 * and the frame retried after a yield.  Ends when the device has completed
 * every frame (done called COUNT times).
 */
static int cmd_flood(int argc, char **argv)
{
	struct nic *n = argc == 3 ? usable_nic("nic-flood", argv[1]) : NULL;
	unsigned long count = argc == 3 ? strtoul(argv[2], NULL, 10) : 0;
	uint8_t sip[4] = { 10, 0, 2, 15 }, tip[4] = { 10, 0, 2, 2 };

	if (!n || count == 0 || count > 100000) {
		if (argc != 3 || count == 0 || count > 100000)
			kprintf("usage: nic-flood ethN COUNT (1..100000)\n");
		return -EINVAL;
	}
	void *va;
	dma_addr_t dma;
	if (dma_alloc_page(&va, &dma)) {
		kprintf("nic-flood: no memory\n");
		return -ENOMEM;
	}
	build_arp(va, n->mac, sip, tip);
	struct nic_tx_frag frag = { dma, ARP_FRAME_BYTES };
	struct net_meta meta = { 0 };
	unsigned long busy = 0, sent = 0;
	int rc = 0;
	flood_done = 0;
	uint64_t t0 = time_now_ns();
	while (sent < count) {
		rc = n->ops->xmit(n, &frag, 1, &meta, flood_tx_done, NULL);
		if (rc == -EAGAIN) {
			busy++;
			thread_yield();
			continue;
		}
		if (rc)
			break;
		sent++;
	}
	flood_want = (unsigned int)sent;
	bool all = waitq_wait_until(&ap.wq, flood_cond, NULL, 5000000000ull);
	uint64_t ns = time_now_ns() - t0;
	kprintf("%s: %lu frames sent in %llu ms, ring full (-EAGAIN) %lu times, %u completed%s\n",
		n->name, sent, (unsigned long long)(ns / 1000000), busy, flood_done,
		rc ? " (transmit failed)" : "");
	if (all)
		dma_free_page(va);      /* else the device may still read it: kept */
	return rc ? rc : all ? 0 : -ETIMEDOUT;
}

static int cmd_rx_buf(int argc, char **argv)
{
	struct nic *n = argc == 3 ? nic_find(argv[1]) : NULL;

	if (!n) {
		kprintf("usage: nic-rx-buf ethN BYTES\n");
		return -EINVAL;
	}
	if (!n->pci || (n->pci->driver != &virtio_net_driver && n->pci->driver != &e1000_driver)) {
		kprintf("nic-rx-buf: %s is not driven by keel's virtio-net or e1000\n", n->name);
		return -EINVAL;
	}
	struct nicdrv *drv = n->priv;
	unsigned long bytes = strtoul(argv[2], NULL, 10);
	int rc = drv->set_rx_buf_bytes ? drv->set_rx_buf_bytes(drv, (unsigned int)bytes)
				       : -EOPNOTSUPP;
	if (rc)
		kprintf("nic-rx-buf: %s: %s\n", n->name,
			rc == -EINVAL ? "size not supported by the device" : "not supported");
	else
		kprintf("%s: receive buffers of %lu bytes from now on\n", n->name, bytes);
	return rc;
}

const struct command nic_commands[] = {
	{ "nic", cmd_nic, "nic", "list network cards: MAC, link, offloads, counters" },
	{ "arping", cmd_arping, "arping -I ethN [-s SRC_IP] [-c N] [-q] IP",
	  "ARP requests as raw frames through a NIC; reply MAC and round-trip time" },
	{ "nic-test", cmd_nic_test, "nic-test -I ethN csum|tso|ping [-l BYTES] [-s SRC_IP] IP",
	  "checks a NIC's checksum or TSO offload, or a ping's data, against a real peer" },
	{ "nic-flood", cmd_flood, "nic-flood ethN COUNT",
	  "COUNT frames handed to the NIC back to back: ring-full handling and counters" },
	{ "nic-rx-buf", cmd_rx_buf, "nic-rx-buf ethN BYTES",
	  "test hook: smaller receive buffers, so frames span several" },
	{ "nic-inject-fault", cmd_inject_fault, "nic-inject-fault ethN",
	  "test hook: the next received frame counts as a device error (NIC stopped)" },
	{ NULL, NULL, NULL, NULL },
};

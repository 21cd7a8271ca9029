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
		const struct nicdrv *drv = n->priv;
		char bdf[16] = "-", mac[24], feat[64];
		if (n->pci)
			pci_format_bdf(n->pci, bdf, sizeof(bdf));
		mac_text(n->mac, mac, sizeof(mac));
		features_text(n->features, feat, sizeof(feat));
		kprintf("%s: %s at %s, MAC %s, link %s%s, mtu %u, %s (%u vector%s)\n", n->name,
			n->model, bdf, mac, n->link_up ? "up" : "down",
			drv->stopped ? " (stopped)" : "", n->mtu, pci_irq_mode_name(drv->irqs->mode),
			drv->irqs->nvec, drv->irqs->nvec == 1 ? "" : "s");
		kprintf("  features:%s; device: %s\n", feat, drv->offloads);
		const struct nic_stats *s = &n->stats;
		kprintf("  rx %llu frames %llu bytes, %llu errors, %llu dropped\n",
			(unsigned long long)s->rx_frames, (unsigned long long)s->rx_bytes,
			(unsigned long long)s->rx_errors, (unsigned long long)s->rx_dropped);
		kprintf("  tx %llu frames %llu bytes, %llu errors, %llu busy\n",
			(unsigned long long)s->tx_frames, (unsigned long long)s->tx_bytes,
			(unsigned long long)s->tx_errors, (unsigned long long)s->tx_busy);
		kprintf("  %llu interrupts, %llu driver passes\n", (unsigned long long)s->irqs,
			(unsigned long long)drv->wakeups);
	}
	return 0;
}

/* ---- arping ---- */

#define ARP_FRAME_BYTES 60      /* 42 of ARP, padded to Ethernet's minimum */
#define ARPING_MAX_COUNT 10000

static struct {
	struct waitq wq;
	void (*prev_rx)(struct nic *n, struct net_frame *f);
	uint32_t target, src;   /* network byte order as bytes in memory */
	bool got_reply, tx_done;
	uint64_t reply_ns;
	uint8_t reply_mac[ETH_ALEN];
} ap;

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

static void arping_rx(struct nic *n, struct net_frame *f)
{
	uint8_t a[28];

	/* An ARP reply (op 2) from the target for Ethernet/IPv4. */
	if (f->hdr_len >= ETH_HLEN && net_ethertype(f) == 0x0806 &&
	    f->hdr_len >= ETH_HLEN + sizeof(a)) {
		memcpy(a, f->hdr + ETH_HLEN, sizeof(a));
		if (a[0] == 0 && a[1] == 1 && a[2] == 8 && a[3] == 0 && a[4] == 6 && a[5] == 4 &&
		    a[6] == 0 && a[7] == 2 && !memcmp(a + 14, &ap.target, 4) && !ap.got_reply) {
			ap.reply_ns = time_now_ns();
			memcpy(ap.reply_mac, a + 8, ETH_ALEN);
			ap.got_reply = true;
			waitq_wake_all(&ap.wq);
		}
	}
	if (ap.prev_rx)
		ap.prev_rx(n, f);
}

static void arping_tx_done(void *arg)
{
	(void)arg;
	ap.tx_done = true;
	waitq_wake_all(&ap.wq);
}

static bool reply_cond(void *ctx)
{
	(void)ctx;
	return ap.got_reply;
}

static bool tx_done_cond(void *ctx)
{
	(void)ctx;
	return ap.tx_done;
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

static int cmd_arping(int argc, char **argv)
{
	const char *ifname = NULL, *target = NULL, *src = "0.0.0.0";
	unsigned long count = 1;
	bool quiet = false;

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
			target = NULL, i = argc;
	}
	uint8_t tip[4], sip[4];
	if (!ifname || !target || count == 0 || count > ARPING_MAX_COUNT) {
		kprintf("usage: arping -I ethN [-s SRC_IP] [-c COUNT] [-q] IP\n");
		return -EINVAL;
	}
	if (!parse_ipv4(target, tip) || !parse_ipv4(src, sip)) {
		kprintf("arping: bad IPv4 address\n");
		return -EINVAL;
	}
	pci_probe_wait(10000000000ull);
	struct nic *n = nic_find(ifname);
	if (!n) {
		kprintf("arping: no interface %s\n", ifname);
		return -ENODEV;
	}
	if (!n->link_up) {
		kprintf("arping: %s: link down\n", ifname);
		return -ENETDOWN;
	}
	void *va;
	dma_addr_t dma;
	int rc = dma_alloc_page(&va, &dma);
	if (rc) {
		kprintf("arping: no memory\n");
		return rc;
	}
	uint64_t *rtts = kmalloc(count * sizeof(uint64_t));
	if (!rtts) {
		dma_free_page(va);
		kprintf("arping: no memory\n");
		return -ENOMEM;
	}
	uint8_t *fr = va;
	memset(fr, 0xff, 6);                    /* broadcast */
	memcpy(fr + 6, n->mac, ETH_ALEN);
	fr[12] = 0x08, fr[13] = 0x06;           /* ARP */
	uint8_t *a = fr + ETH_HLEN;
	a[0] = 0, a[1] = 1;                     /* Ethernet */
	a[2] = 8, a[3] = 0;                     /* IPv4 */
	a[4] = 6, a[5] = 4;
	a[6] = 0, a[7] = 1;                     /* request */
	memcpy(a + 8, n->mac, ETH_ALEN);
	memcpy(a + 14, sip, 4);
	memset(a + 18, 0, 6);
	memcpy(a + 24, tip, 4);
	memcpy(&ap.target, tip, 4);
	memcpy(&ap.src, sip, 4);

	ap.prev_rx = n->rx;
	n->rx = arping_rx;
	kprintf("ARPING %s from %s %s\n", target, src, n->name);
	unsigned long sent = 0, received = 0;
	bool in_flight = false;
	for (unsigned long i = 0; i < count; i++) {
		struct nic_tx_frag frag = { dma, ARP_FRAME_BYTES };
		struct net_meta meta = { 0 };
		ap.got_reply = false;
		ap.tx_done = false;
		uint64_t t0 = time_now_ns();
		for (int tries = 0; (rc = n->ops->xmit(n, &frag, 1, &meta, arping_tx_done, NULL)) ==
				    -EAGAIN && tries < 100; tries++)
			thread_sleep_ns(1000000);
		if (rc) {
			kprintf("arping: %s: transmit failed (%d)\n", n->name, rc);
			break;
		}
		sent++;
		in_flight = true;
		bool got = waitq_wait_until(&ap.wq, reply_cond, NULL, 1000000000ull);
		if (got) {
			uint64_t rtt = ap.reply_ns - t0;
			rtts[received++] = rtt;
			if (!quiet) {
				char mac[24];
				mac_text(ap.reply_mac, mac, sizeof(mac));
				kprintf("Unicast reply from %s [%s]  ", target, mac);
				print_ms("", rtt);
				kprintf("\n");
			}
		} else if (!quiet) {
			kprintf("no reply from %s\n", target);
		}
		/* The page is reused for the next request: wait until the device
		 * has read it. */
		if (!waitq_wait_until(&ap.wq, tx_done_cond, NULL, 1000000000ull)) {
			kprintf("arping: %s: transmit not completed after 1 s\n", n->name);
			break;
		}
		in_flight = false;
	}
	if (n->rx == arping_rx)
		n->rx = ap.prev_rx;
	kprintf("Sent %lu probes, Received %lu response(s)\n", sent, received);
	if (received) {
		char mac[24];
		mac_text(ap.reply_mac, mac, sizeof(mac));
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
	if (!in_flight)
		dma_free_page(va);
	/* else: the device may still read the page; it is leaked on purpose. */
	return received ? 0 : -ETIMEDOUT;
}

const struct command nic_commands[] = {
	{ "nic", cmd_nic, "nic", "list network cards: MAC, link, offloads, counters" },
	{ "arping", cmd_arping, "arping -I ethN [-s SRC_IP] [-c N] [-q] IP",
	  "ARP requests as raw frames through a NIC; reply MAC and round-trip time" },
	{ NULL, NULL, NULL, NULL },
};

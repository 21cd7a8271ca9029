/*
 * Intel 82540EM ("e1000", QEMU's -device e1000, 8086:100e) behind keel's
 * NIC API (include/keel/nic.h).  Register and descriptor layouts are in
 * e1000_reg.h, from the 8254x Software Developer's Manual.
 *
 * Rings: one page of 128 receive descriptors, each with its own 2048-byte
 * half page of dom0 memory (the receive ring is kept full: a descriptor is
 * given back as soon as its frame was handed on); one page of 256 transmit
 * descriptors.  A frame is sent as legacy descriptors, or, when it asks
 * for a checksum or segmentation, as a TCP/IP context descriptor followed
 * by data descriptors (SDM 3.3.5-3.3.7).  For TSO the device wants the
 * headers prepared (IP checksum zero, TCP checksum seeded with the pseudo
 * header without its length, SDM 3.5.x), so the driver copies them into a
 * per-descriptor header buffer of its own, edits that copy, and leaves
 * the caller's bytes alone.
 *
 * Context: the interrupt handler (upcall) reads ICR (which clears it and
 * lowers INTx), records the causes and wakes the driver's thread; the
 * thread handles link changes, transmit completions and received frames
 * with a budget per pass.  Threads are cooperative and the handler never
 * touches a ring, so the rings need no lock.  A device that writes back a
 * length past its buffer or a frame longer than keel takes is reported
 * and this NIC stopped.
 */
#include <arch/io.h>
#include <keel/kernel.h>
#include <keel/nic.h>
#include <keel/pci_irq.h>
#include <lib/printf.h>
#include "e1000_reg.h"
#include "nicdrv.h"

#define NR_RX 128
#define RX_BUF_BYTES 2048
#define NR_TX 256
#define TX_HDR_BYTES 256        /* per-descriptor header copy for TSO */
#define BUDGET 64

struct e1000_txinfo {
	void (*done)(void *arg);
	void *arg;
	uint32_t len;
	uint16_t eop;           /* at a frame's first descriptor: its last one */
};

struct e1000 {
	struct nicdrv drv;      /* first: nic->priv is read as a struct nicdrv */
	struct pci_dev *pci;
	volatile uint8_t *regs;
	struct pci_irqs irqs;
	struct nic nic;
	struct e1000_rx_desc *rx;
	dma_addr_t rx_dma;
	uint8_t *rx_va[NR_RX];
	unsigned int rx_next;
	struct e1000_tx_desc *tx;
	dma_addr_t tx_dma;
	uint8_t *tx_hdr_page[NR_TX * TX_HDR_BYTES / PAGE_SIZE];
	dma_addr_t tx_hdr_dma[NR_TX * TX_HDR_BYTES / PAGE_SIZE];
	struct e1000_txinfo txi[NR_TX];
	unsigned int tx_tail, tx_clean;
	volatile uint32_t pending;      /* ICR causes seen by the handler */
	struct waitq wq;
	uint64_t rx_csum_ok;
	char thread_name[24];
	struct net_frame frame;
};

static uint32_t rd32(struct e1000 *e, unsigned int reg)
{
	return mmio_read32(e->regs + reg);
}

static void wr32(struct e1000 *e, unsigned int reg, uint32_t v)
{
	mmio_write32(e->regs + reg, v);
}

static bool e1000_match(const struct pci_dev *d)
{
	return d->vendor == 0x8086 && d->device == 0x100e;
}

static void e1000_interrupt(void *ctx)
{
	struct e1000 *e = ctx;
	uint32_t icr = rd32(e, E1000_ICR);

	if (!icr)
		return;  /* a shared INTx line raised by another device */
	e->nic.stats.irqs++;
	__atomic_fetch_or(&e->pending, icr, __ATOMIC_RELAXED);
	waitq_wake_all(&e->wq);
}

static unsigned int tx_used(const struct e1000 *e)
{
	return (e->tx_tail + NR_TX - e->tx_clean) % NR_TX;
}

/* Stops DMA: receive and transmit off, interrupts masked, reset. */
static void hw_stop(struct e1000 *e)
{
	wr32(e, E1000_IMC, 0xffffffff);
	wr32(e, E1000_RCTL, 0);
	wr32(e, E1000_TCTL, 0);
	wr32(e, E1000_CTRL, rd32(e, E1000_CTRL) | E1000_CTRL_RST);
	pci_disable_bus_master(e->pci);
}

static void tx_drop_all(struct e1000 *e)
{
	while (e->tx_clean != e->tx_tail) {
		struct e1000_txinfo *start = &e->txi[e->tx_clean];
		struct e1000_txinfo *last = &e->txi[start->eop];
		e->tx_clean = (start->eop + 1u) % NR_TX;
		e->nic.stats.tx_errors++;
		if (last->done)
			last->done(last->arg);
	}
}

static void e1000_fail(struct e1000 *e, const char *why, uint32_t a, uint32_t b)
{
	if (e->drv.stopped)
		return;
	klog("e1000: %s: device error: %s (%u, %u): NIC stopped\n", e->nic.name, why, a, b);
	e->drv.stopped = true;
	hw_stop(e);
	tx_drop_all(e);
	nic_set_link(&e->nic, false);
}

static void put_desc(struct e1000 *e, uint64_t addr, uint32_t cmd_len, uint8_t popts)
{
	struct e1000_tx_desc *d = &e->tx[e->tx_tail];
	d->addr = addr;
	d->cmd_len = cmd_len;
	d->status = 0;
	d->popts = popts;
	d->special = 0;
	e->txi[e->tx_tail].done = NULL;
	e->tx_tail = (e->tx_tail + 1) % NR_TX;
}

/*
 * TSO (TCPv4): copies Ethernet + IP + TCP headers into the header buffer of
 * descriptor slot `slot`, zeroes the IP checksum and turns the TCP checksum
 * field (the pseudo-header sum with the whole frame's TCP length, as a
 * CSUM_BLANK frame carries it) into the sum without a length, which the
 * device adds per segment.  Returns the header length or -errno.
 */
static int tso_prepare(struct e1000 *e, unsigned int slot, const struct nic_tx_frag *f0,
		       const struct net_meta *meta, uint32_t len, unsigned int *ipcss)
{
	const uint8_t *va = nicdrv_tx_va(f0->addr);
	unsigned int cs = meta->csum_start;

	if (!va || cs + 20 > f0->len)
		return -EINVAL;
	unsigned int l3 = (va[12] == 0x81 && va[13] == 0x00) ? 18 : 14;
	unsigned int hl = cs + (va[cs + 12] >> 4) * 4u;
	if (cs < l3 + 20 || hl > TX_HDR_BYTES - 1 || hl > f0->len || hl >= len ||
	    meta->csum_offset != 16)
		return -EINVAL;
	uint8_t *h = e->tx_hdr_page[slot / (PAGE_SIZE / TX_HDR_BYTES)] +
		     (slot % (PAGE_SIZE / TX_HDR_BYTES)) * TX_HDR_BYTES;
	memcpy(h, va, hl);
	h[l3 + 10] = h[l3 + 11] = 0;
	uint16_t old = (uint16_t)(h[cs + 16] << 8 | h[cs + 17]);
	uint16_t tcp_len = (uint16_t)(len - cs);
	uint16_t seed = nicdrv_csum_fold((uint32_t)old + (uint16_t)~tcp_len);
	h[cs + 16] = (uint8_t)(seed >> 8);
	h[cs + 17] = (uint8_t)seed;
	*ipcss = l3;
	return (int)hl;
}

static dma_addr_t tx_hdr_dma(struct e1000 *e, unsigned int slot)
{
	unsigned int per = PAGE_SIZE / TX_HDR_BYTES;
	return _dma(dma_x(e->tx_hdr_dma[slot / per]) + (slot % per) * TX_HDR_BYTES);
}

static int e1000_xmit(struct nic *n, const struct nic_tx_frag *frags, unsigned int nfrags,
		      const struct net_meta *meta, void (*done)(void *arg), void *arg)
{
	struct e1000 *e = n->priv;
	uint32_t len = 0;

	if (e->drv.stopped || !n->link_up)
		return -ENETDOWN;
	if (nfrags == 0 || nfrags > n->max_tx_frags)
		return -EINVAL;
	for (unsigned int i = 0; i < nfrags; i++) {
		if (frags[i].len == 0 || frags[i].len > 0xffff)
			return -EINVAL;
		len += frags[i].len;
	}
	if (len < ETH_HLEN || len > NET_FRAME_MAX)
		return -EINVAL;
	uint16_t flags = meta ? meta->flags : 0;
	bool csum = flags & NET_META_CSUM_BLANK, gso = flags & NET_META_GSO;
	if (csum && (meta->csum_start > 255 || meta->csum_start + meta->csum_offset > 255 ||
		     (uint32_t)meta->csum_start + meta->csum_offset + 2 > len))
		return -EINVAL;
	if (gso && (meta->gso_type != NET_GSO_TCPV4 || !csum || meta->gso_size == 0))
		return -EINVAL;
	if (!gso && len > (uint32_t)n->mtu + ETH_HLEN + 4)
		return -EINVAL;
	/* Descriptors: context + header copy (TSO) + one per fragment. */
	unsigned int need = nfrags + (csum ? 1 : 0) + (gso ? 1 : 0);
	if (tx_used(e) + need > NR_TX - 1) {
		n->stats.tx_busy++;
		return -EAGAIN;
	}

	unsigned int first = e->tx_tail;
	if (!csum) {
		for (unsigned int i = 0; i < nfrags; i++) {
			uint32_t cmd = frags[i].len | E1000_TXD_CMD_IFCS;
			if (i + 1 == nfrags)
				cmd |= E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS;
			put_desc(e, dma_x(frags[i].addr), cmd, 0);
		}
	} else {
		struct e1000_tx_ctx_desc *c = (struct e1000_tx_ctx_desc *)&e->tx[e->tx_tail];
		unsigned int ipcss = 0;
		int hl = 0;
		if (gso) {
			/* The header copy lives with the descriptor after the context. */
			hl = tso_prepare(e, (e->tx_tail + 1) % NR_TX, &frags[0], meta, len, &ipcss);
			if (hl < 0)
				return hl;
		}
		memset(c, 0, sizeof(*c));
		c->tucss = (uint8_t)meta->csum_start;
		c->tucso = (uint8_t)(meta->csum_start + meta->csum_offset);
		c->tucse = 0;   /* to the end of the frame */
		c->cmd_len = E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_CTX;
		if (gso) {
			c->ipcss = (uint8_t)ipcss;
			c->ipcso = (uint8_t)(ipcss + 10);
			c->ipcse = (uint16_t)(meta->csum_start - 1);
			c->cmd_len |= (len - (uint32_t)hl) | E1000_TXD_CMD_TSE | E1000_TXD_CMD_TCP |
				      E1000_TXD_CMD_IP;
			c->hdr_len = (uint8_t)hl;
			c->mss = meta->gso_size;
		}
		e->txi[e->tx_tail].done = NULL;
		e->tx_tail = (e->tx_tail + 1) % NR_TX;
		uint32_t dcmd = E1000_TXD_CMD_DEXT | E1000_TXD_DTYP_DATA | E1000_TXD_CMD_IFCS |
				(gso ? E1000_TXD_CMD_TSE : 0);
		uint8_t popts = E1000_TXD_POPTS_TXSM | (gso ? E1000_TXD_POPTS_IXSM : 0);
		/* Pieces: (header copy), then the fragments past the header. */
		unsigned int pieces = nfrags + (gso ? 1 : 0), p = 0;
		if (gso) {
			put_desc(e, dma_x(tx_hdr_dma(e, (e->tx_tail) % NR_TX)),
				 dcmd | (uint32_t)hl | (++p == pieces ? E1000_TXD_CMD_EOP |
						       E1000_TXD_CMD_RS : 0), popts);
		}
		for (unsigned int i = 0; i < nfrags; i++) {
			uint64_t a = dma_x(frags[i].addr);
			uint32_t l = frags[i].len;
			if (i == 0 && gso) {
				a += (uint32_t)hl;
				l -= (uint32_t)hl;
			}
			p++;
			if (l == 0)
				continue;  /* the whole first fragment was header */
			uint32_t cmd = dcmd | l;
			if (p == pieces)
				cmd |= E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS;
			put_desc(e, a, cmd, popts);
		}
	}
	unsigned int last = (e->tx_tail + NR_TX - 1) % NR_TX;
	e->txi[first].eop = (uint16_t)last;
	e->txi[last].done = done;
	e->txi[last].arg = arg;
	e->txi[last].len = len;
	/* The descriptors must be in memory before the tail hands them over
	 * (x86 keeps store order; the MMIO write is a compiler barrier). */
	dma_wmb();
	wr32(e, E1000_TDT, e->tx_tail);
	return 0;
}

static const struct nic_ops e1000_ops = { .xmit = e1000_xmit };

static bool reap_tx(struct e1000 *e)
{
	for (unsigned int n = 0; n < BUDGET; n++) {
		if (e->tx_clean == e->tx_tail)
			return true;
		unsigned int eop = e->txi[e->tx_clean].eop;
		volatile uint8_t *st = &e->tx[eop].status;
		if (!(*st & E1000_TXD_STAT_DD))
			return true;
		dma_rmb();
		struct e1000_txinfo *t = &e->txi[eop];
		e->tx_clean = (eop + 1) % NR_TX;
		e->nic.stats.tx_frames++;
		e->nic.stats.tx_bytes += t->len;
		if (t->done)
			t->done(t->arg);
		if (e->drv.stopped)
			return true;
	}
	return false;
}

static bool reap_rx(struct e1000 *e)
{
	struct net_frame *f = &e->frame;

	for (unsigned int n = 0; n < BUDGET && !e->drv.stopped; n++) {
		/* A frame is the descriptors up to one with EOP, all written back. */
		unsigned int cnt = 0, i = e->rx_next;
		bool whole = false;
		while (cnt < NET_FRAGS_MAX) {
			volatile struct e1000_rx_desc *d = &e->rx[i];
			if (!(d->status & E1000_RXD_STAT_DD))
				break;
			cnt++;
			if (d->status & E1000_RXD_STAT_EOP) {
				whole = true;
				break;
			}
			i = (i + 1) % NR_RX;
		}
		if (!whole) {
			if (cnt == NET_FRAGS_MAX) {
				e1000_fail(e, "receive frame spans too many buffers", cnt, 0);
				return true;
			}
			return true;  /* nothing, or the rest is still being written */
		}
		dma_rmb();
		memset(&f->meta, 0, sizeof(f->meta));
		f->len = 0;
		f->nfrags = 0;
		bool bad = false;
		uint8_t status = 0;
		for (unsigned int k = 0, j = e->rx_next; k < cnt; k++, j = (j + 1) % NR_RX) {
			volatile struct e1000_rx_desc *d = &e->rx[j];
			uint16_t l = d->length;
			if (l > RX_BUF_BYTES) {
				e1000_fail(e, "receive length past the buffer", j, l);
				return true;
			}
			if (d->errors & E1000_RXD_ERR_FRAME)
				bad = true;
			status = d->status;
			if (d->errors & (E1000_RXD_ERR_TCPE | E1000_RXD_ERR_IPE))
				status = 0;
			if (l) {
				struct net_frag *fr = &f->frags[f->nfrags++];
				fr->kind = NET_FRAG_LOCAL;
				fr->offset = 0;
				fr->len = l;
				fr->va = e->rx_va[j];
				f->len += l;
			}
		}
		if (!(status & E1000_RXD_STAT_IXSM) && (status & E1000_RXD_STAT_TCPCS)) {
			f->meta.flags |= NET_META_CSUM_OK;
			e->rx_csum_ok++;
		}
		if (bad || f->len < ETH_HLEN) {
			e->nic.stats.rx_errors++;
		} else {
			(void)net_frame_load_hdr(f);
			nic_input(&e->nic, f);
		}
		if (e->drv.stopped)
			return true;
		/* Give the buffers back: the tail is the last descriptor the
		 * device may fill. */
		unsigned int j = e->rx_next;
		for (unsigned int k = 0; k < cnt; k++, j = (j + 1) % NR_RX) {
			e->rx[j].status = 0;
			e->rx[j].errors = 0;
			e->rx[j].length = 0;
		}
		e->rx_next = j;
		dma_wmb();
		wr32(e, E1000_RDT, (j + NR_RX - 1) % NR_RX);
	}
	return false;
}

static bool pending_cond(void *ctx)
{
	return ((struct e1000 *)ctx)->pending != 0;
}

static void e1000_thread(void *arg)
{
	struct e1000 *e = arg;

	for (;;) {
		waitq_wait_until(&e->wq, pending_cond, e, 0);
		uint32_t icr = __atomic_exchange_n(&e->pending, 0, __ATOMIC_RELAXED);
		e->drv.wakeups++;
		if (e->drv.stopped)
			continue;
		if (icr & (E1000_ICR_LSC | E1000_ICR_RXSEQ))
			nic_set_link(&e->nic, rd32(e, E1000_STATUS) & E1000_STATUS_LU);
		bool tx_done = reap_tx(e);
		bool rx_done = reap_rx(e);
		if (!tx_done || !rx_done) {
			__atomic_fetch_or(&e->pending, E1000_ICR_RXT0, __ATOMIC_RELAXED);
			thread_yield();
		}
	}
}

/* One word of the EEPROM through EERD (SDM 13.4.4); -ETIMEDOUT if the
 * device never says done. */
static int eeprom_read(struct e1000 *e, unsigned int word, uint16_t *out)
{
	wr32(e, E1000_EERD, (uint32_t)word << E1000_EERD_ADDR_SHIFT | E1000_EERD_START);
	for (int i = 0; i < 1000; i++) {
		uint32_t v = rd32(e, E1000_EERD);
		if (v & E1000_EERD_DONE) {
			*out = (uint16_t)(v >> E1000_EERD_DATA_SHIFT);
			return 0;
		}
		thread_sleep_ns(10000);
	}
	return -ETIMEDOUT;
}

static bool mac_valid(const uint8_t *m)
{
	return !(m[0] & 1) && (m[0] | m[1] | m[2] | m[3] | m[4] | m[5]);
}

static void read_mac(struct e1000 *e, uint8_t *mac)
{
	uint16_t w[3];
	bool ok = true;

	for (unsigned int i = 0; i < 3 && ok; i++)
		ok = eeprom_read(e, i, &w[i]) == 0;
	if (ok) {
		for (unsigned int i = 0; i < 3; i++) {
			mac[2 * i] = (uint8_t)w[i];
			mac[2 * i + 1] = (uint8_t)(w[i] >> 8);
		}
		if (mac_valid(mac))
			return;
	}
	/* No EEPROM answer: what the receive address register holds. */
	uint32_t lo = rd32(e, E1000_RAL0), hi = rd32(e, E1000_RAH0);
	for (unsigned int i = 0; i < 4; i++)
		mac[i] = (uint8_t)(lo >> (8 * i));
	mac[4] = (uint8_t)hi;
	mac[5] = (uint8_t)(hi >> 8);
	if (!mac_valid(mac)) {
		uint8_t m[ETH_ALEN] = { 0x02, 0x6b, 0x65, e->pci->bus, e->pci->slot, e->pci->fn };
		memcpy(mac, m, ETH_ALEN);
	}
}

static int e1000_probe(struct pci_dev *d)
{
	struct e1000 *e;
	int rc;

	if (d->bars[0].is_io || d->bars[0].size_bytes < E1000_REGS_BYTES)
		return -ENODEV;
	if (!(e = kzalloc(sizeof(*e))))
		return -ENOMEM;
	e->pci = d;
	e->regs = pci_map_bar(d, 0, 0, E1000_REGS_BYTES);
	if (!e->regs) {
		rc = -ENOMEM;
		goto err_free;
	}
	pci_enable_device(d);
	/* Quiet and reset (SDM 14.5): nothing masked in, rings off. */
	wr32(e, E1000_IMC, 0xffffffff);
	wr32(e, E1000_RCTL, 0);
	wr32(e, E1000_TCTL, 0);
	wr32(e, E1000_CTRL, rd32(e, E1000_CTRL) | E1000_CTRL_RST);
	thread_sleep_ns(2000000);
	wr32(e, E1000_IMC, 0xffffffff);
	(void)rd32(e, E1000_ICR);
	uint32_t ctrl = rd32(e, E1000_CTRL);
	ctrl &= ~(E1000_CTRL_LRST | E1000_CTRL_PHY_RST | E1000_CTRL_ILOS | E1000_CTRL_VME);
	wr32(e, E1000_CTRL, ctrl | E1000_CTRL_SLU | E1000_CTRL_ASDE);

	struct nic *n = &e->nic;
	read_mac(e, n->mac);
	wr32(e, E1000_RAL0, (uint32_t)n->mac[0] | (uint32_t)n->mac[1] << 8 |
			    (uint32_t)n->mac[2] << 16 | (uint32_t)n->mac[3] << 24);
	wr32(e, E1000_RAH0, (uint32_t)n->mac[4] | (uint32_t)n->mac[5] << 8 | E1000_RAH_AV);
	for (unsigned int i = 0; i < 128; i++)
		wr32(e, E1000_MTA + 4 * i, 0);

	void *va;
	if ((rc = dma_alloc_page(&va, &e->rx_dma)))
		goto err_unmap;
	e->rx = va;
	if ((rc = dma_alloc_page(&va, &e->tx_dma)))
		goto err_pages;
	e->tx = va;
	for (unsigned int i = 0; i < NR_RX; i += PAGE_SIZE / RX_BUF_BYTES) {
		dma_addr_t dma;
		if ((rc = dma_alloc_page(&va, &dma)))
			goto err_pages;
		for (unsigned int j = 0; j < PAGE_SIZE / RX_BUF_BYTES; j++) {
			e->rx_va[i + j] = (uint8_t *)va + j * RX_BUF_BYTES;
			e->rx[i + j].addr = dma_x(dma) + j * RX_BUF_BYTES;
		}
	}
	for (unsigned int p = 0; p < ARRAY_SIZE(e->tx_hdr_page); p++) {
		if ((rc = dma_alloc_page(&va, &e->tx_hdr_dma[p])))
			goto err_pages;
		e->tx_hdr_page[p] = va;
	}

	void *ctxs[1] = { e };
	if ((rc = pci_irq_setup(d, &e->irqs, 1, e1000_interrupt, ctxs)))
		goto err_pages;

	/* Receive (SDM 14.4): every descriptor but one is the device's. */
	wr32(e, E1000_RDBAL, (uint32_t)dma_x(e->rx_dma));
	wr32(e, E1000_RDBAH, (uint32_t)(dma_x(e->rx_dma) >> 32));
	wr32(e, E1000_RDLEN, NR_RX * sizeof(struct e1000_rx_desc));
	wr32(e, E1000_RDH, 0);
	wr32(e, E1000_RDT, NR_RX - 1);
	wr32(e, E1000_RDTR, 0);
	wr32(e, E1000_RXCSUM, E1000_RXCSUM_TUOFL | E1000_RXCSUM_IPOFL);
	wr32(e, E1000_RCTL, E1000_RCTL_EN | E1000_RCTL_BAM | E1000_RCTL_SECRC | E1000_RCTL_SZ_2048);
	/* Transmit (SDM 14.5): full duplex collision distance, IEEE 802.3 gaps. */
	wr32(e, E1000_TDBAL, (uint32_t)dma_x(e->tx_dma));
	wr32(e, E1000_TDBAH, (uint32_t)(dma_x(e->tx_dma) >> 32));
	wr32(e, E1000_TDLEN, NR_TX * sizeof(struct e1000_tx_desc));
	wr32(e, E1000_TDH, 0);
	wr32(e, E1000_TDT, 0);
	wr32(e, E1000_TIDV, 0);
	wr32(e, E1000_TIPG, 10 | 8 << 10 | 6 << 20);
	wr32(e, E1000_TCTL, E1000_TCTL_EN | E1000_TCTL_PSP | 0x0f << E1000_TCTL_CT_SHIFT |
			    0x40 << E1000_TCTL_COLD_SHIFT);
	wr32(e, E1000_ITR, 0);
	wr32(e, E1000_IMS, E1000_ICR_LSC | E1000_ICR_RXSEQ | E1000_ICR_RXT0 | E1000_ICR_RXO |
			   E1000_ICR_RXDMT0 | E1000_ICR_TXDW);

	/* The link comes up after autonegotiation: wait for it a little. */
	for (int i = 0; i < 100 && !(rd32(e, E1000_STATUS) & E1000_STATUS_LU); i++)
		thread_sleep_ns(10000000);

	n->model = "e1000";
	n->pci = d;
	n->link_up = rd32(e, E1000_STATUS) & E1000_STATUS_LU;
	n->features = NIC_F_TX_CSUM | NIC_F_TSO4 | NIC_F_RX_CSUM;
	n->mtu = NET_MTU;
	n->max_tx_frags = NET_FRAGS_MAX;
	n->ops = &e1000_ops;
	n->priv = e;
	e->drv.irqs = &e->irqs;
	ksnprintf(e->drv.offloads, sizeof(e->drv.offloads),
		  "tx checksum context, TSE (TCPv4), rx checksum (RXCSUM)");
	d->driver_data = e;
	if ((rc = nic_register(n)))
		goto err_running;
	ksnprintf(e->thread_name, sizeof(e->thread_name), "%s-e1000", n->name);
	if (!thread_create(e->thread_name, e1000_thread, e)) {
		e1000_fail(e, "no thread", 0, 0);
		return 0;
	}
	char bdf[16];
	pci_format_bdf(d, bdf, sizeof(bdf));
	klog("e1000: %s: %s, %u rx / %u tx descriptors, %s, link %s\n", bdf, n->name, NR_RX,
	     NR_TX, pci_irq_mode_name(e->irqs.mode), n->link_up ? "up" : "down");
	return 0;

err_running:
	d->driver_data = NULL;
	hw_stop(e);
	pci_irq_teardown(d, &e->irqs);
err_pages:
	hw_stop(e);
	for (unsigned int p = 0; p < ARRAY_SIZE(e->tx_hdr_page); p++)
		if (e->tx_hdr_page[p])
			dma_free_page(e->tx_hdr_page[p]);
	for (unsigned int i = 0; i < NR_RX; i += PAGE_SIZE / RX_BUF_BYTES)
		if (e->rx_va[i])
			dma_free_page(e->rx_va[i]);
	if (e->tx)
		dma_free_page(e->tx);
	if (e->rx)
		dma_free_page(e->rx);
err_unmap:
	pci_unmap_bar((void *)e->regs, E1000_REGS_BYTES);
err_free:
	kfree(e);
	return rc;
}

/* Poweroff/reboot: receive and transmit off, reset, bus mastering off. */
static void e1000_shutdown(struct pci_dev *d)
{
	struct e1000 *e = d->driver_data;

	if (!e || e->drv.stopped)
		return;
	e->drv.stopped = true;
	hw_stop(e);
	tx_drop_all(e);
	klog("e1000: %s: device reset, stopped\n", e->nic.name);
}

const struct pci_driver e1000_driver = {
	.name = "e1000",
	.match = e1000_match,
	.probe = e1000_probe,
	.shutdown = e1000_shutdown,
};

/*
 * virtio-net (virtio 1.0, 5.1) behind keel's NIC API (include/keel/nic.h).
 *
 * Queues: 0 receive, 1 transmit (one pair; no control queue).  Receive
 * buffers are half pages of dom0 memory, descriptor i always describing
 * buffer i, so a used id names its buffer; the receive queue is kept full.
 * With VIRTIO_NET_F_MRG_RXBUF a frame may span several buffers (the first
 * one's header says how many), each becoming a LOCAL fragment of the frame
 * handed to nic_input().  Transmit: one slot per frame, each an indirect
 * table (the 12-byte virtio_net_hdr, then the caller's fragments) in the
 * driver's DMA pages, so one ring entry carries one frame.
 *
 * Context: the interrupt handler (upcall) only reads the ISR under INTx,
 * records what happened and wakes the driver's thread.  The thread reaps
 * transmit completions (done callbacks) and received frames with a budget
 * per pass, then yields.  xmit runs in its caller's thread.  dom0's threads
 * are cooperative, so the rings need no lock: the handler never touches
 * them.
 *
 * A device that returns an id it was not given, an index running ahead of
 * the ring or a length past its buffer is reported and this NIC stopped
 * (reset, bus mastering off, pending transmits completed as dropped).
 */
#include <arch/io.h>
#include <keel/kernel.h>
#include <keel/nic.h>
#include <keel/virtio_pci.h>
#include <lib/printf.h>
#include "nicdrv.h"
#include "virtio_net_reg.h"

#define RXQ 0
#define TXQ 1
#define RX_MAX 128              /* receive buffers (two per page) */
#define RX_BUF_BYTES 2048
#define TX_MAX 128              /* transmit slots */
#define TX_SLOT_BYTES 512       /* header at 0, indirect table at 16 */
#define TX_TABLE_OFF 16
#define BUDGET 64               /* frames per pass each way */

#define PEND_QUEUE 1
#define PEND_CONFIG 2

struct vnet_vec {
	struct vnet *v;
	uint32_t what;          /* PEND_* this vector means */
};

struct vnet_tx {
	void (*done)(void *arg);
	void *arg;
	uint32_t len;
	bool busy;
};

struct vnet {
	struct nicdrv drv;      /* first: nic->priv is read as a struct nicdrv */
	struct virtio_pci vp;
	struct virtqueue rxq, txq;
	struct nic nic;
	unsigned int hdr_bytes;
	bool mrg_rxbuf;
	unsigned int nr_rx, nr_tx, tx_inflight;
	uint8_t *rx_va[RX_MAX];
	bool rx_posted[RX_MAX];
	uint8_t *tx_page[TX_MAX * TX_SLOT_BYTES / PAGE_SIZE];
	dma_addr_t tx_dma[TX_MAX * TX_SLOT_BYTES / PAGE_SIZE];
	struct vnet_tx tx[TX_MAX];
	uint16_t tx_free[TX_MAX];
	unsigned int nr_tx_free;
	volatile uint32_t pending;      /* PEND_*, set by the handler */
	struct waitq wq;
	struct vnet_vec vec[2];
	char thread_name[24];
	struct net_frame frame;
};

static bool vnet_match(const struct pci_dev *d)
{
	/* 0x1000: transitional, 0x1041: modern-only (virtio 1.0, 4.1.2.1). */
	return d->vendor == 0x1af4 && (d->device == 0x1000 || d->device == 0x1041);
}

static void vnet_interrupt(void *ctx)
{
	struct vnet_vec *vv = ctx;
	struct vnet *v = vv->v;
	uint32_t what = vv->what;

	v->nic.stats.irqs++;
	if (v->vp.irqs.mode == PCI_IRQ_INTX) {
		/* Reading the ISR lowers the line (4.1.4.5); bit 1 is a config change. */
		uint8_t isr = virtio_pci_isr(&v->vp);
		if (!isr)
			return;
		what = (isr & 1 ? PEND_QUEUE : 0) | (isr & 2 ? PEND_CONFIG : 0);
	}
	__atomic_fetch_or(&v->pending, what, __ATOMIC_RELAXED);
	waitq_wake_all(&v->wq);
}

static uint8_t *tx_slot(struct vnet *v, unsigned int id, dma_addr_t *dma)
{
	unsigned int per_page = PAGE_SIZE / TX_SLOT_BYTES;
	unsigned int off = (id % per_page) * TX_SLOT_BYTES;

	*dma = _dma(dma_x(v->tx_dma[id / per_page]) + off);
	return v->tx_page[id / per_page] + off;
}

static dma_addr_t rx_dma(struct vnet *v, unsigned int id)
{
	return dma_map_virt(v->rx_va[id]);
}

static void rx_post(struct vnet *v, unsigned int id)
{
	v->rxq.desc[id] = (struct virtq_desc){ dma_x(rx_dma(v, id)), RX_BUF_BYTES,
					       VIRTQ_DESC_F_WRITE, 0 };
	v->rx_posted[id] = true;
	virtq_publish(&v->rxq, (uint16_t)id);
}

/* Completes every transmit the device still holds as dropped (it is reset). */
static void tx_drop_all(struct vnet *v)
{
	for (unsigned int id = 0; id < v->nr_tx; id++) {
		struct vnet_tx *t = &v->tx[id];
		if (!t->busy)
			continue;
		t->busy = false;
		v->tx_free[v->nr_tx_free++] = (uint16_t)id;
		v->tx_inflight--;
		v->nic.stats.tx_errors++;
		if (t->done)
			t->done(t->arg);
	}
}

/* The device broke the protocol: stop it, never trust it again. */
static void vnet_fail(struct vnet *v, const char *why, uint32_t a, uint32_t b)
{
	if (v->drv.stopped)
		return;
	klog("virtio-net: %s: device error: %s (%u, %u): NIC stopped\n", v->nic.name, why, a, b);
	v->drv.stopped = true;
	virtio_pci_reset(&v->vp);
	pci_disable_bus_master(v->vp.pci);
	tx_drop_all(v);
	nic_set_link(&v->nic, false);
}

static int vnet_xmit(struct nic *n, const struct nic_tx_frag *frags, unsigned int nfrags,
		     const struct net_meta *meta, void (*done)(void *arg), void *arg)
{
	struct vnet *v = n->priv;
	uint32_t len = 0;

	if (v->drv.stopped || !n->link_up)
		return -ENETDOWN;
	if (nfrags == 0 || nfrags > n->max_tx_frags)
		return -EINVAL;
	for (unsigned int i = 0; i < nfrags; i++) {
		if (frags[i].len == 0 || frags[i].len > NET_FRAME_MAX)
			return -EINVAL;
		len += frags[i].len;
	}
	if (len < ETH_HLEN || len > NET_FRAME_MAX)
		return -EINVAL;
	uint16_t flags = meta ? meta->flags : 0;
	if ((flags & NET_META_CSUM_BLANK) &&
	    (!(n->features & NIC_F_TX_CSUM) ||
	     (uint32_t)meta->csum_start + meta->csum_offset + 2 > len))
		return -EINVAL;
	if (flags & NET_META_GSO) {
		uint32_t need = meta->gso_type == NET_GSO_TCPV4 ? NIC_F_TSO4 :
				meta->gso_type == NET_GSO_TCPV6 ? NIC_F_TSO6 : 0;
		if (!need || !(n->features & need) || !(flags & NET_META_CSUM_BLANK) ||
		    meta->gso_size == 0)
			return -EINVAL;
	} else if (len > (uint32_t)n->mtu + ETH_HLEN + 4) {
		return -EINVAL;  /* 4: room for a VLAN tag */
	}
	if (v->nr_tx_free == 0) {
		n->stats.tx_busy++;
		return -EAGAIN;
	}

	unsigned int id = v->tx_free[--v->nr_tx_free];
	dma_addr_t sdma;
	uint8_t *slot = tx_slot(v, id, &sdma);
	struct virtio_net_hdr *h = (struct virtio_net_hdr *)slot;
	memset(h, 0, sizeof(*h));
	if (flags & NET_META_CSUM_BLANK) {
		h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		h->csum_start = meta->csum_start;
		h->csum_offset = meta->csum_offset;
	}
	if (flags & NET_META_GSO) {
		h->gso_type = meta->gso_type == NET_GSO_TCPV4 ? VIRTIO_NET_HDR_GSO_TCPV4
							       : VIRTIO_NET_HDR_GSO_TCPV6;
		h->gso_size = meta->gso_size;
		/* hdr_len is a hint without VIRTIO_NET_F_GUEST_HDRLEN: the TCP
		 * header's real length when the header is readable here. */
		uint16_t hl = (uint16_t)(meta->csum_start + 20);
		const uint8_t *va = nicdrv_tx_va(frags[0].addr);
		if (va && frags[0].len >= (uint32_t)meta->csum_start + 13)
			hl = (uint16_t)(meta->csum_start + (va[meta->csum_start + 12] >> 4) * 4);
		h->hdr_len = hl;
	}
	struct virtq_desc *t = (struct virtq_desc *)(slot + TX_TABLE_OFF);
	t[0] = (struct virtq_desc){ dma_x(sdma), v->hdr_bytes, VIRTQ_DESC_F_NEXT, 1 };
	for (unsigned int i = 0; i < nfrags; i++)
		t[i + 1] = (struct virtq_desc){ dma_x(frags[i].addr), frags[i].len,
						i + 1 < nfrags ? VIRTQ_DESC_F_NEXT : 0,
						(uint16_t)(i + 2) };
	v->txq.desc[id] = (struct virtq_desc){ dma_x(sdma) + TX_TABLE_OFF,
					       (uint32_t)((nfrags + 1) * sizeof(struct virtq_desc)),
					       VIRTQ_DESC_F_INDIRECT, 0 };
	v->tx[id] = (struct vnet_tx){ done, arg, len, true };
	v->tx_inflight++;
	virtq_push(&v->txq, (uint16_t)id);
	return 0;
}

static const struct nic_ops vnet_ops = { .xmit = vnet_xmit };

/* Transmit completions; false if the budget ran out. */
static bool reap_tx(struct vnet *v)
{
	for (unsigned int n = 0; n < BUDGET; n++) {
		uint16_t pend = virtq_used_pending(&v->txq);
		if (pend == 0)
			return true;
		if (pend > v->txq.size || pend > v->tx_inflight) {
			vnet_fail(v, "transmit used index runs ahead", pend, v->tx_inflight);
			return true;
		}
		uint32_t id, len;
		virtq_pop_used(&v->txq, &id, &len);
		if (id >= v->nr_tx || !v->tx[id].busy) {
			vnet_fail(v, "transmit id not in flight", id, v->nr_tx);
			return true;
		}
		struct vnet_tx *t = &v->tx[id];
		t->busy = false;
		v->tx_free[v->nr_tx_free++] = (uint16_t)id;
		v->tx_inflight--;
		v->nic.stats.tx_frames++;
		v->nic.stats.tx_bytes += t->len;
		if (t->done)
			t->done(t->arg);
		if (v->drv.stopped)
			return true;
	}
	return false;
}

/* Received frames; false if the budget ran out. */
static bool reap_rx(struct vnet *v)
{
	struct net_frame *f = &v->frame;
	bool done = false;

	for (unsigned int n = 0; n < BUDGET && !v->drv.stopped; n++) {
		uint16_t pend = virtq_used_pending(&v->rxq);
		if (pend == 0) {
			done = true;
			break;
		}
		if (pend > v->rxq.size) {
			vnet_fail(v, "receive used index runs ahead", pend, v->rxq.size);
			return true;
		}
		uint32_t id, len;
		virtq_peek_used(&v->rxq, 0, &id, &len);
		if (id >= v->nr_rx || !v->rx_posted[id]) {
			vnet_fail(v, "receive id not posted", id, v->nr_rx);
			return true;
		}
		if (len < v->hdr_bytes || len > RX_BUF_BYTES) {
			vnet_fail(v, "receive length outside the buffer", id, len);
			return true;
		}
		const struct virtio_net_hdr *h = (const struct virtio_net_hdr *)v->rx_va[id];
		unsigned int nbufs = v->mrg_rxbuf ? h->num_buffers : 1;
		if (nbufs == 0 || nbufs > NET_FRAGS_MAX) {
			vnet_fail(v, "receive frame of impossible buffer count", id, nbufs);
			return true;
		}
		if (pend < nbufs) {
			done = true;  /* the rest of the frame comes with a later interrupt */
			break;
		}
		memset(&f->meta, 0, sizeof(f->meta));
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
			f->meta.flags |= NET_META_CSUM_BLANK;
			f->meta.csum_start = h->csum_start;
			f->meta.csum_offset = h->csum_offset;
		} else if (h->flags & VIRTIO_NET_HDR_F_DATA_VALID) {
			f->meta.flags |= NET_META_CSUM_OK;
		}
		f->len = 0;
		f->nfrags = 0;
		uint16_t ids[NET_FRAGS_MAX];
		for (unsigned int b = 0; b < nbufs; b++) {
			uint32_t bid, blen;
			virtq_peek_used(&v->rxq, (uint16_t)b, &bid, &blen);
			if (bid >= v->nr_rx || !v->rx_posted[bid] || blen > RX_BUF_BYTES ||
			    (b > 0 && bid == id)) {
				vnet_fail(v, "merged receive buffer invalid", bid, blen);
				return true;
			}
			ids[b] = (uint16_t)bid;
			v->rx_posted[bid] = false;  /* also catches an id given twice */
			unsigned int skip = b == 0 ? v->hdr_bytes : 0;
			if (blen > skip) {
				struct net_frag *fr = &f->frags[f->nfrags++];
				fr->kind = NET_FRAG_LOCAL;
				fr->offset = 0;
				fr->len = (uint16_t)(blen - skip);
				fr->va = v->rx_va[bid] + skip;
				f->len += blen - skip;
			}
		}
		v->rxq.used_seen = (uint16_t)(v->rxq.used_seen + nbufs);
		if (f->len < ETH_HLEN) {
			v->nic.stats.rx_errors++;
		} else {
			(void)net_frame_load_hdr(f);
			nic_input(&v->nic, f);
		}
		if (v->drv.stopped)
			return true;
		for (unsigned int b = 0; b < nbufs; b++)
			rx_post(v, ids[b]);
		virtq_notify(&v->rxq);
	}
	return done || v->drv.stopped;
}

static void read_link(struct vnet *v)
{
	bool up = true;

	if (v->vp.features & (1ull << VIRTIO_NET_F_STATUS))
		up = mmio_read16(v->vp.device_cfg + VNET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP;
	nic_set_link(&v->nic, up);
}

static bool pending_cond(void *ctx)
{
	return ((struct vnet *)ctx)->pending != 0;
}

static void vnet_thread(void *arg)
{
	struct vnet *v = arg;

	for (;;) {
		waitq_wait_until(&v->wq, pending_cond, v, 0);
		uint32_t what = __atomic_exchange_n(&v->pending, 0, __ATOMIC_RELAXED);
		v->drv.wakeups++;
		if (v->drv.stopped)
			continue;
		if (what & PEND_CONFIG)
			read_link(v);
		bool tx_done = reap_tx(v);
		bool rx_done = reap_rx(v);
		if (!tx_done || !rx_done) {
			/* Budget spent: let others run, then come back. */
			__atomic_fetch_or(&v->pending, PEND_QUEUE, __ATOMIC_RELAXED);
			thread_yield();
		}
	}
}

static void features_text(struct vnet *v)
{
	static const struct { unsigned int bit; const char *name; } names[] = {
		{ VIRTIO_NET_F_CSUM, "CSUM" }, { VIRTIO_NET_F_GUEST_CSUM, "GUEST_CSUM" },
		{ VIRTIO_NET_F_MAC, "MAC" }, { VIRTIO_NET_F_HOST_TSO4, "HOST_TSO4" },
		{ VIRTIO_NET_F_HOST_TSO6, "HOST_TSO6" }, { VIRTIO_NET_F_MRG_RXBUF, "MRG_RXBUF" },
		{ VIRTIO_NET_F_STATUS, "STATUS" }, { VIRTIO_F_INDIRECT_DESC, "INDIRECT_DESC" },
	};
	size_t o = 0;

	v->drv.offloads[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (v->vp.features & (1ull << names[i].bit))
			o += (size_t)ksnprintf(v->drv.offloads + o, sizeof(v->drv.offloads) - o,
					       "%s%s", o ? " " : "", names[i].name);
}

static int vnet_probe(struct pci_dev *d)
{
	struct vnet *v = kzalloc(sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	if ((rc = virtio_pci_init(&v->vp, d)))
		goto err_free;
	uint64_t want = 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS |
			1ull << VIRTIO_NET_F_MRG_RXBUF | 1ull << VIRTIO_NET_F_CSUM |
			1ull << VIRTIO_NET_F_GUEST_CSUM | 1ull << VIRTIO_NET_F_HOST_TSO4 |
			1ull << VIRTIO_NET_F_HOST_TSO6 | 1ull << VIRTIO_F_INDIRECT_DESC;
	if ((rc = virtio_pci_negotiate(&v->vp, want)))
		goto err_free;
	uint64_t f = v->vp.features;
	if (!(f & (1ull << VIRTIO_F_INDIRECT_DESC))) {
		klog("virtio-net: device lacks indirect descriptors, which keel needs\n");
		rc = -ENODEV;
		goto err_reset;
	}
	/* VERSION_1: the header always has num_buffers (5.1.6). */
	v->hdr_bytes = sizeof(struct virtio_net_hdr);
	v->mrg_rxbuf = f & (1ull << VIRTIO_NET_F_MRG_RXBUF);

	v->vec[0] = (struct vnet_vec){ v, PEND_CONFIG };
	v->vec[1] = (struct vnet_vec){ v, PEND_QUEUE };
	void *ctxs[2] = { &v->vec[0], &v->vec[1] };
	if ((rc = pci_irq_setup(d, &v->vp.irqs, 2, vnet_interrupt, ctxs)))
		goto err_reset;
	bool msix = v->vp.irqs.mode == PCI_IRQ_MSIX;
	/* One MSI-X vector: config changes and queues share it. */
	uint16_t cfg_vec = msix ? 0 : 0xffff;
	uint16_t q_vec = msix ? (v->vp.irqs.nvec > 1 ? 1 : 0) : 0xffff;
	if (msix && v->vp.irqs.nvec == 1)
		v->vec[0].what = PEND_CONFIG | PEND_QUEUE;
	if ((rc = virtio_pci_set_config_vector(&v->vp, cfg_vec)))
		goto err_irq;
	if ((rc = virtio_pci_setup_queue(&v->vp, &v->rxq, RXQ, RX_MAX, q_vec)))
		goto err_irq;
	if ((rc = virtio_pci_setup_queue(&v->vp, &v->txq, TXQ, TX_MAX, q_vec)))
		goto err_rxq;

	v->nr_rx = MIN((unsigned int)v->rxq.size, (unsigned int)RX_MAX);
	for (unsigned int i = 0; i < v->nr_rx; i += PAGE_SIZE / RX_BUF_BYTES) {
		void *va;
		dma_addr_t dma;
		if ((rc = dma_alloc_page(&va, &dma)))
			goto err_bufs;
		for (unsigned int j = 0; j < PAGE_SIZE / RX_BUF_BYTES && i + j < v->nr_rx; j++)
			v->rx_va[i + j] = (uint8_t *)va + j * RX_BUF_BYTES;
	}
	v->nr_tx = MIN((unsigned int)v->txq.size, (unsigned int)TX_MAX);
	for (unsigned int p = 0; p * (PAGE_SIZE / TX_SLOT_BYTES) < v->nr_tx; p++) {
		void *va;
		if ((rc = dma_alloc_page(&va, &v->tx_dma[p])))
			goto err_bufs;
		v->tx_page[p] = va;
	}
	for (unsigned int i = 0; i < v->nr_tx; i++)
		v->tx_free[v->nr_tx_free++] = (uint16_t)(v->nr_tx - 1 - i);
	for (unsigned int i = 0; i < v->nr_rx; i++)
		rx_post(v, i);

	struct nic *n = &v->nic;
	n->model = "virtio-net";
	n->pci = d;
	if (f & (1ull << VIRTIO_NET_F_MAC)) {
		for (int i = 0; i < ETH_ALEN; i++)
			n->mac[i] = mmio_read8(v->vp.device_cfg + VNET_CFG_MAC + i);
	} else {
		/* No MAC from the device: a locally administered one from the slot. */
		uint8_t mac[ETH_ALEN] = { 0x02, 0x6b, 0x65, d->bus, d->slot, d->fn };
		memcpy(n->mac, mac, ETH_ALEN);
	}
	if (f & (1ull << VIRTIO_NET_F_CSUM))
		n->features |= NIC_F_TX_CSUM;
	if ((f & (1ull << VIRTIO_NET_F_CSUM)) && (f & (1ull << VIRTIO_NET_F_HOST_TSO4)))
		n->features |= NIC_F_TSO4;
	if ((f & (1ull << VIRTIO_NET_F_CSUM)) && (f & (1ull << VIRTIO_NET_F_HOST_TSO6)))
		n->features |= NIC_F_TSO6;
	if (f & (1ull << VIRTIO_NET_F_GUEST_CSUM))
		n->features |= NIC_F_RX_CSUM;
	n->mtu = NET_MTU;
	n->max_tx_frags = NET_FRAGS_MAX;
	n->ops = &vnet_ops;
	n->priv = v;
	v->drv.irqs = &v->vp.irqs;
	features_text(v);
	d->driver_data = v;
	virtio_pci_driver_ok(&v->vp);
	virtq_notify(&v->rxq);
	n->link_up = !(f & (1ull << VIRTIO_NET_F_STATUS)) ||
		     (mmio_read16(v->vp.device_cfg + VNET_CFG_STATUS) & VIRTIO_NET_S_LINK_UP);
	if ((rc = nic_register(n)))
		goto err_running;
	ksnprintf(v->thread_name, sizeof(v->thread_name), "%s-virtio", n->name);
	if (!thread_create(v->thread_name, vnet_thread, v)) {
		vnet_fail(v, "no thread", 0, 0);
		return 0;  /* registered: the NIC stays listed, stopped */
	}
	char bdf[16];
	pci_format_bdf(d, bdf, sizeof(bdf));
	klog("virtio-net: %s: %s, %u rx / %u tx entries, %s (%u vectors), features %s\n", bdf,
	     n->name, v->nr_rx, v->nr_tx, pci_irq_mode_name(v->vp.irqs.mode), v->vp.irqs.nvec,
	     v->drv.offloads);
	return 0;

err_running:
	d->driver_data = NULL;
err_bufs:
	virtio_pci_reset(&v->vp);
	for (unsigned int i = 0; i < v->nr_rx; i += PAGE_SIZE / RX_BUF_BYTES)
		if (v->rx_va[i])
			dma_free_page(v->rx_va[i]);
	for (unsigned int p = 0; p < ARRAY_SIZE(v->tx_page); p++)
		if (v->tx_page[p])
			dma_free_page(v->tx_page[p]);
	virtio_pci_free_queue(&v->txq);
err_rxq:
	virtio_pci_reset(&v->vp);
	virtio_pci_free_queue(&v->rxq);
err_irq:
	pci_irq_teardown(d, &v->vp.irqs);
err_reset:
	virtio_pci_reset(&v->vp);
err_free:
	kfree(v);
	return rc;
}

/* Poweroff/reboot: the device is reset, so it no longer reads or writes memory. */
static void vnet_shutdown(struct pci_dev *d)
{
	struct vnet *v = d->driver_data;

	if (!v || v->drv.stopped)
		return;
	v->drv.stopped = true;
	virtio_pci_reset(&v->vp);
	pci_disable_bus_master(d);
	tx_drop_all(v);
	klog("virtio-net: %s: device reset, stopped\n", v->nic.name);
}

const struct pci_driver virtio_net_driver = {
	.name = "virtio-net",
	.match = vnet_match,
	.probe = vnet_probe,
	.shutdown = vnet_shutdown,
};

/*
 * netback's data path: a vif's tx rings (guest to switch) and rx rings
 * (switch to guest), per xen/io/netif.h.
 *
 * tx: each packet's slots are copied out of the shared ring once, checked by
 * netif_tx_parse (pure, netif_tx.c), described as a frame of the guest's
 * grants and handed to the bridge; every port copies what it takes before
 * net_port_input returns, so the requests are answered right after and no
 * tx grant is ever held or mapped.
 * rx: a frame for the guest is grant-copied straight into the rx buffers it
 * posted (from another guest's tx grant, or from dom0 memory), one
 * hypercall per frame; responses sit in the slots of the requests they
 * answer, as netfront requires.  A frame that finds too few posted buffers
 * waits in a bounded backlog (vif.h).
 */
#include <arch/io.h>
#include <keel/evtchn.h>
#include <keel/gnttab.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/offload.h>
#include <lib/printf.h>
#include "vif.h"


#define LAT_GUEST_MAX_NS 100000000ull     /* longer: the guest was idle, not turning round */

/* The guests' turnaround (our rx event to their next tx event), a moving
 * average over every vif: how long a deferred tx event may wait (below). */
static uint64_t turnaround_avg_ns;

static void lat_add(uint64_t *sum, uint64_t *max, uint64_t *n, uint64_t d)
{
	*sum += d;
	if (d > *max)
		*max = d;
	(*n)++;
}

/* An event from the guest: tx (it sent; with one channel for both, any
 * event) or rx (it posted rx buffers we asked for). */
static void queue_mark(struct vif_queue *q, bool tx)
{
	struct vif_lat *l = &q->vif->lat;
	uint64_t now = time_now_ns();

	if (tx) {
		l->tx_events++;
		if (q->rx_notify_ns) {
			uint64_t d = now - q->rx_notify_ns;
			if (d < LAT_GUEST_MAX_NS) {
				lat_add(&l->guest_ns, &l->guest_max_ns, &l->nr_guest, d);
				turnaround_avg_ns = turnaround_avg_ns - turnaround_avg_ns / 8 + d / 8;
			}
			q->rx_notify_ns = 0;
		}
	} else {
		l->rx_events++;
	}
	if (!q->kick)
		q->kick_ns = now;
	q->kick = true;
	waitq_wake_all(&q->vif->dev.wq);
}

static void queue_event(evtchn_port_t port, void *ctx)
{
	(void)port;
	queue_mark(ctx, true);
}

static void queue_event_rx(evtchn_port_t port, void *ctx)
{
	(void)port;
	queue_mark(ctx, false);
}

int vif_connect_queue(struct vif *v, struct vif_queue *q, grant_ref_t tx_ref,
		      grant_ref_t rx_ref, evtchn_port_t fe_tx, evtchn_port_t fe_rx)
{
	int rc = gnttab_map_refs(v->dev.domid, &tx_ref, 1, false, &q->tx_va, &q->tx_handle, NULL);
	if (rc)
		return rc;
	rc = gnttab_map_refs(v->dev.domid, &rx_ref, 1, false, &q->rx_va, &q->rx_handle, NULL);
	if (rc)
		goto err_unmap_tx;
	BACK_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_va, PAGE_SIZE);
	BACK_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_va, PAGE_SIZE);
	rc = evtchn_bind_interdomain(v->dev.domid, fe_tx, queue_event, q, &q->tx_port);
	if (rc)
		goto err_unmap_rx;
	if (fe_rx == fe_tx) {
		q->rx_port = q->tx_port;
	} else {
		rc = evtchn_bind_interdomain(v->dev.domid, fe_rx, queue_event_rx, q, &q->rx_port);
		if (rc)
			goto err_close_tx;
	}
	/* One bucket for the vif, however many queues it has: rate= limits
	 * the vif (Linux gives each queue the whole rate). */
	if (q->index == 0)
		netif_credit_init(&v->credit, v->params.rate_bytes, v->params.rate_interval_us * 1000,
				  time_now_ns());
	q->connected = true;
	q->kick = true;
	return 0;
err_close_tx:
	evtchn_close(q->tx_port);
err_unmap_rx:
	gnttab_unmap_refs(q->rx_va, &q->rx_handle, 1);
err_unmap_tx:
	gnttab_unmap_refs(q->tx_va, &q->tx_handle, 1);
	q->tx_va = q->rx_va = NULL;
	return rc;
}

static void rxq_drop_all(struct vif_queue *q)
{
	while (q->rxq_head) {
		struct vif_rxq_frame *fr = q->rxq_head;
		q->rxq_head = fr->next;
		kfree(fr);
	}
	q->rxq_tail = NULL;
	q->rxq_frames = q->rxq_bytes = 0;
}

void vif_disconnect_queue(struct vif_queue *q)
{
	if (!q->tx_va)
		return;
	q->connected = false;
	q->tx_owed = false;
	timer_cancel(&q->vif->owed_timer);
	if (q->rx_port != q->tx_port)
		evtchn_close(q->rx_port);
	evtchn_close(q->tx_port);
	/* Nothing else of the guest is mapped: tx grants are copied, never
	 * held, so the rings can go at once. */
	if (gnttab_unmap_refs(q->tx_va, &q->tx_handle, 1) ||
	    gnttab_unmap_refs(q->rx_va, &q->rx_handle, 1))
		vif_log(q->vif, "a ring page would not unmap");
	q->tx_va = q->rx_va = NULL;
	rxq_drop_all(q);
}

/* ---- tx: guest to switch ---- */

static void tx_respond(struct vif_queue *q, uint16_t id, int16_t status)
{
	netif_tx_response_t rsp = { .id = id, .status = status };

	memcpy(RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt), &rsp, sizeof(rsp));
	q->tx.rsp_prod_pvt++;
}

/*
 * The tx event (the sender's "your packets are sent", which lets netfront
 * free them) is deferred when the same pass woke a receiving guest: with
 * both woken at once, Xen may run the sender first, to free a buffer,
 * while the receiver -- the one on the frame's path -- waits.  The event
 * then goes with the next event to that guest (its rx event, a later tx
 * event), or when the owed timer fires.  The responses themselves are
 * pushed at once: netfront also collects them whenever it transmits.
 * The timer's wait is twice the guests' average turnaround (rx event to their next
 * frame: 1.5-4 ms under QEMU TCG, tens of us on hardware), so that a reply
 * or an ACK usually carries the event, within TX_OWED_MIN_NS..MAX_NS (a
 * sender that waits for its tx events to send more, TCP's small queues,
 * waits no longer).  The timer is armed lazily (never pushed back, never
 * cancelled but at disconnect): deferring costs no timer hypercall per pass.
 */
#define TX_OWED_MIN_NS 200000ull
#define TX_OWED_MAX_NS 4000000ull

static unsigned int rx_events_sent;      /* rx events sent by rx_flush (ever) */

static void tx_owed_send(struct vif_queue *q)
{
	if (q->tx_owed) {
		q->tx_owed = false;
		if (q->connected)
			evtchn_notify(q->tx_port);
	}
}

static void owed_timer_fn(void *ctx)
{
	struct vif *v = ctx;

	for (unsigned int i = 0; i < v->nqueues; i++)
		tx_owed_send(&v->queues[i]);
}

static void tx_push(struct vif_queue *q, bool defer)
{
	int notify;

	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
	q->vif->lat.tx_push++;
	if (!notify)
		return;
	q->vif->lat.tx_notify++;
	if (defer) {
		q->vif->lat.tx_deferred++;
		q->tx_owed = true;
		if (!q->vif->owed_timer.armed)
			timer_arm(&q->vif->owed_timer,
				  time_now_ns() + MIN(MAX(2 * turnaround_avg_ns, TX_OWED_MIN_NS),
						      TX_OWED_MAX_NS));
		return;
	}
	q->tx_owed = false;
	evtchn_notify(q->tx_port);
}

static void rate_timer_fn(void *ctx)
{
	struct vif *v = ctx;

	v->rate_blocked = false;
	waitq_wake_all(&v->dev.wq);
}

/* Credit-based limit (rate=, netif_credit): true if a packet of len bytes
 * may go now; else the timer is armed for when it may. */
static bool rate_allows(struct vif *v, uint32_t len)
{
	uint64_t when = netif_credit_take(&v->credit, len, time_now_ns());

	if (!when)
		return true;
	v->stats.tx_rate_waits++;
	v->rate_blocked = true;
	timer_arm(&v->rate_timer, when);
	return false;
}

/*
 * A tx pass takes packets in batches of TXB_PACKETS: each packet's slots are
 * parsed from a private copy and its frame described (the guest's grants);
 * then one GNTTABOP_copy reads every frame's header and checks every other
 * grant the frame names (one byte each); then the frames go to the bridge
 * inside one net_batch (so each receiving guest gets one copy hypercall
 * and one event for the burst); only then are the requests answered, when
 * nothing reads the guest's tx grants any more.
 *
 * A frame one of whose grants cannot be read is answered NETIF_RSP_ERROR in
 * every slot, as Linux answers a packet whose grant map fails: the check
 * before forwarding finds a bad ref in any fragment (nothing is sent), and
 * a port whose own copy from the grants fails later (the guest took a
 * grant back meanwhile) says so through frame->source_failed, which is read
 * before the answers are written.  The batch area is static: a pass never
 * sleeps (SMP: per-CPU).
 */
#define TXB_PACKETS 32
#define TXB_ANSWERS (NETIF_TX_SLOTS_MAX + NETIF_TX_EXTRAS_MAX)
#define TXB_OPS 128

static struct {
	struct net_frame frames[TXB_PACKETS];
	struct {
		uint16_t ids[TXB_ANSWERS];
		bool extra[TXB_ANSWERS];
		uint8_t n;
		int16_t status;
		bool send;                       /* a frame to forward */
		bool source_failed;              /* a port could not read its grants */
	} ans[TXB_PACKETS];
	struct gnttab_copy ops[TXB_OPS];         /* header reads and grant checks */
	uint8_t op_packet[TXB_OPS];
	unsigned int nops;
} txb;

/* Where the one-byte grant checks land (read by nobody). */
static uint8_t tx_probe_sink;

/* Runs the queued header reads and grant checks; a failed one fails its
 * packet. */
static void txb_copy(void)
{
	if (txb.nops && gnttab_copy(txb.ops, txb.nops))
		for (unsigned int o = 0; o < txb.nops; o++)
			if (txb.ops[o].status != GNTST_okay)
				txb.ans[txb.op_packet[o]].status = NETIF_RSP_ERROR;
	txb.nops = 0;
}

/* Queues a copy of len bytes of grant fragment fr (from byte off) into
 * dom0 memory at dst (not crossing a page), for packet i. */
static void txb_read(unsigned int i, const struct net_frag *fr, uint32_t off, void *dst,
		     uint32_t len)
{
	if (txb.nops == TXB_OPS)
		txb_copy();
	struct gnttab_copy *op = &txb.ops[txb.nops];
	uintptr_t d = (uintptr_t)dst;

	memset(op, 0, sizeof(*op));
	op->source.u.ref = fr->grant.ref;
	op->source.domid = fr->grant.dom;
	op->source.offset = (uint16_t)(fr->offset + off);
	op->flags = GNTCOPY_source_gref;
	op->dest.u.gmfn = mfn_x(virt_to_mfn(dst));
	op->dest.domid = DOMID_SELF;
	op->dest.offset = (uint16_t)(d & (PAGE_SIZE - 1));
	op->len = (uint16_t)len;
	txb.op_packet[txb.nops++] = (uint8_t)i;
}

/* Reads each frame's first bytes into its hdr and checks that every other
 * fragment's grant can be read: as few hypercalls as the ops fill. */
static void tx_load_headers(unsigned int npk)
{
	for (unsigned int i = 0; i < npk; i++) {
		struct net_frame *f = &txb.frames[i];
		if (!txb.ans[i].send)
			continue;
		f->hdr_len = (uint16_t)(f->len < NET_HDR_MAX ? f->len : NET_HDR_MAX);
		/* The fragments the header spans. */
		unsigned int hfrags = 0;
		for (uint32_t got = 0; hfrags < f->nfrags && got < f->hdr_len; hfrags++)
			got += f->frags[hfrags].len;
		if (hfrags > 2 || ((uintptr_t)f->hdr & (PAGE_SIZE - 1)) + f->hdr_len > PAGE_SIZE) {
			/* A header in more than two pieces, or a hdr buffer across a
			 * page: read it the slow way. */
			if (net_frame_load_hdr(f))
				txb.ans[i].status = NETIF_RSP_ERROR;
		} else {
			uint32_t got = 0;
			for (unsigned int k = 0; k < hfrags; k++) {
				const struct net_frag *fr = &f->frags[k];
				uint32_t n = MIN(f->hdr_len - got, (uint32_t)fr->len);
				txb_read(i, fr, 0, f->hdr + got, n);
				got += n;
			}
		}
		/* The body's grants: one byte of each, so that a bad ref behind a
		 * good header fails the frame here, before anyone gets it. */
		for (unsigned int k = hfrags; k < f->nfrags; k++)
			txb_read(i, &f->frags[k], 0, &tx_probe_sink, 1);
	}
	txb_copy();
}

/* Takes up to VIF_TX_BUDGET packets; true if more are waiting.  kick_ns:
 * when the guest's event came (0: none; for the latency figures). */
static bool tx_pass(struct vif *v, struct vif_queue *q, uint64_t kick_ns)
{
	struct vif_lat *l = &v->lat;
	union netif_tx_slot slots[NETIF_TX_SLOTS_MAX + NETIF_TX_EXTRAS_MAX];
	struct netif_tx_packet *pkt = &v->tx_pkt;
	unsigned int taken = 0, npk = 0;
	bool more = false, stop = false;

	while (!stop) {
		uint64_t t0 = time_now_ns();
		npk = 0;
		while (npk < TXB_PACKETS && taken < VIF_TX_BUDGET) {
			RING_IDX prod = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
			RING_IDX pending = prod - q->tx.req_cons;
			if (pending > RING_SIZE(&q->tx)) {
				vif_fail(v, "impossible tx ring indices");
				return false;
			}
			if (pending == 0) {
				/* Ask for an event at the next request, then look again. */
				q->tx.sring->req_event = q->tx.req_cons + 1;
				mb();
				if (__atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE) ==
				    q->tx.req_cons) {
					stop = true;
					break;
				}
				continue;
			}
			unsigned int avail = pending < ARRAY_SIZE(slots) ? pending : ARRAY_SIZE(slots);
			for (unsigned int i = 0; i < avail; i++)
				memcpy(&slots[i], RING_GET_REQUEST(&q->tx, q->tx.req_cons + i),
				       sizeof(slots[i]));
			int rc = netif_tx_parse(slots, avail, &v->tx_lim, pkt);
			if (rc == -EAGAIN) {
				if (avail == ARRAY_SIZE(slots)) {
					vif_fail(v, "endless tx fragment chain");
					return false;
				}
				/* The rest of the packet is not pushed yet. */
				q->tx.sring->req_event = prod + 1;
				mb();
				if (__atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE) == prod) {
					stop = true;
					break;
				}
				continue;
			}
			if (rc == -EPROTO || (rc && pkt->nslots == 0)) {
				vif_fail(v, netif_tx_reason_name(pkt->reason));
				return false;
			}
			if (rc == 0 && !rate_allows(v, pkt->len)) {
				v->rate_pending = true;
				stop = true;
				break;
			}
			q->tx.req_cons += pkt->nslots;
			taken++;
			struct net_frame *f = &txb.frames[npk];
			typeof(txb.ans[0]) *a = &txb.ans[npk++];
			a->n = (uint8_t)pkt->nanswers;
			for (unsigned int i = 0; i < pkt->nanswers; i++) {
				a->ids[i] = pkt->answers[i].id;
				a->extra[i] = pkt->answers[i].extra;
			}
			a->status = NETIF_RSP_OKAY;
			a->send = false;
			a->source_failed = false;
			if (rc) {
				v->stats.tx_errors++;
				vif_log(v, "tx packet dropped: %s", netif_tx_reason_name(pkt->reason));
				a->status = NETIF_RSP_ERROR;
				continue;
			}
			if (pkt->mcast_add || pkt->mcast_del)
				continue; /* a filter update, not a frame: all multicast floods */
			f->len = pkt->len;
			f->nfrags = 0;
			f->meta = pkt->meta;
			f->source_failed = &a->source_failed;
			for (unsigned int i = 0; i < pkt->nfrags; i++) {
				if (!pkt->frags[i].len)
					continue;
				struct net_frag *fr = &f->frags[f->nfrags++];
				fr->kind = NET_FRAG_GRANT;
				fr->offset = pkt->frags[i].offset;
				fr->len = pkt->frags[i].len;
				fr->grant.dom = v->dev.domid;
				fr->grant.ref = pkt->frags[i].gref;
			}
			a->send = true;
		}
		if (taken == VIF_TX_BUDGET && !stop) {
			more = stop = true;
			l->tx_budget_stops++;
		}
		if (!npk)
			break;
		uint64_t t1 = time_now_ns();
		tx_load_headers(npk);
		uint64_t t2 = time_now_ns();
		net_batch_begin();
		for (unsigned int i = 0; i < npk; i++) {
			struct net_frame *f = &txb.frames[i];
			if (!txb.ans[i].send)
				continue;
			if (txb.ans[i].status != NETIF_RSP_OKAY) {
				vif_log(v, "tx packet dropped: its grant cannot be read");
				v->stats.tx_errors++;
				continue;
			}
			if ((f->meta.flags & NET_META_CSUM_BLANK) &&
			    offload_csum_setup(f->hdr, f->hdr_len, f->len, &f->meta, false)) {
				vif_log(v, "tx packet dropped: checksum offload on a frame that is not "
					   "TCP/UDP over IP");
				txb.ans[i].status = NETIF_RSP_ERROR;
				v->stats.tx_errors++;
				continue;
			}
			l->tx_size[f->len <= 128 ? 0 : f->len <= 1514 ? 1 : f->len <= 16384 ? 2 : 3]++;
			net_port_input(&v->port, f);
		}
		uint64_t t3 = time_now_ns();
		unsigned int woke = rx_events_sent;
		net_batch_end();
		uint64_t t4 = time_now_ns();
		/* Every copy from the guest's tx grants is done: answer. */
		for (unsigned int i = 0; i < npk; i++) {
			typeof(txb.ans[0]) *a = &txb.ans[i];
			const struct net_frame *f = &txb.frames[i];
			if (a->send && a->status == NETIF_RSP_OKAY && a->source_failed) {
				vif_log(v, "tx packet answered with an error: a port could not copy "
					   "from its grants");
				a->status = NETIF_RSP_ERROR;
				v->stats.tx_errors++;
			} else if (a->send && a->status == NETIF_RSP_OKAY) {
				v->stats.tx_packets++;
				v->stats.tx_bytes += f->len;
				v->stats.tx_gso += (f->meta.flags & NET_META_GSO) != 0;
				v->stats.tx_csum_blank += (f->meta.flags & NET_META_CSUM_BLANK) != 0;
			}
			for (unsigned int k = 0; k < a->n; k++)
				tx_respond(q, a->ids[k], a->extra[k] ? NETIF_RSP_NULL : a->status);
		}
		tx_push(q, rx_events_sent != woke);
		uint64_t t5 = time_now_ns();
		l->parse_ns += t1 - t0;
		l->hdr_ns += t2 - t1;
		l->fwd_ns += t3 - t2;
		l->flush_ns += t4 - t3;
		l->answer_ns += t5 - t4;
		l->nr_batch++;
		l->nr_frames += npk;
		if (kick_ns) {
			lat_add(&l->e2e_ns, &l->e2e_max_ns, &l->nr_e2e, t5 - kick_ns);
			kick_ns = 0;
		}
		if (v->dev.phase != BACKDEV_CONNECTED)
			return false;
	}
	return more;
}

/* ---- rx: switch to guest ---- */

static unsigned int data_slots(uint32_t len)
{
	return (len + PAGE_SIZE - 1) / PAGE_SIZE;
}

/* The source side of a copy op for byte `off` of fragment fr. */
static void copy_source(struct gnttab_copy *op, const struct net_frag *fr, uint32_t off)
{
	if (fr->kind == NET_FRAG_GRANT) {
		op->source.u.ref = fr->grant.ref;
		op->source.domid = fr->grant.dom;
		op->source.offset = (uint16_t)(fr->offset + off);
		op->flags |= GNTCOPY_source_gref;
	} else {
		uintptr_t va = (uintptr_t)fr->va + off;
		op->source.u.gmfn = mfn_x(virt_to_mfn((const void *)va));
		op->source.domid = DOMID_SELF;
		op->source.offset = (uint16_t)(va & (PAGE_SIZE - 1));
	}
}

/*
 * Frames for guests are copied in batches: rx_build reserves a frame's rx
 * slots and appends its copy ops to `rxb`; rx_flush does every op of the
 * batch in one GNTTABOP_copy, writes the responses and notifies each ring
 * once.  A vif's tx pass forwards its frames inside net_batch_begin/end, so
 * a burst from one guest costs one hypercall for all the receivers; frames
 * that do not come from a tx batch (a NIC's, the IP stack's, a backlog's)
 * are flushed at once.  The batch lives in one static area: it is filled
 * and flushed without sleeping, so with cooperative threads no two users
 * interleave (with SMP it becomes per-CPU).
 */
#define RXB_OPS 512
#define RXB_RECS 64

struct rx_rec {
	struct vif *v;
	struct vif_queue *q;
	RING_IDX first;                          /* ring index of its first slot */
	uint16_t ids[VIF_RX_SLOTS_MAX];
	uint8_t need, ndata;
	bool gso;
	uint16_t op_first, nops;
	uint32_t len;
	struct net_meta meta;
	bool *source_failed;                     /* the frame's (a sender's answer) */
};

static struct {
	struct gnttab_copy ops[RXB_OPS];
	unsigned int nops;
	struct rx_rec recs[RXB_RECS];
	unsigned int nrecs;
} rxb;

static void rx_write_responses(const struct rx_rec *r, bool failed)
{
	struct vif_queue *q = r->q;
	uint16_t csum_flags = 0;

	if (r->meta.flags & NET_META_CSUM_BLANK)
		csum_flags = NETRXF_csum_blank | NETRXF_data_validated;
	else if (r->meta.flags & NET_META_CSUM_OK)
		csum_flags = NETRXF_data_validated;
	for (unsigned int i = 0, k = 0; i < r->need; i++) {
		netif_rx_response_t *rsp = RING_GET_RESPONSE(&q->rx, r->first + i);
		if (r->gso && i == 1) {
			netif_extra_info_t extra;
			memset(&extra, 0, sizeof(extra));
			extra.type = XEN_NETIF_EXTRA_TYPE_GSO;
			extra.u.gso.size = r->meta.gso_size;
			extra.u.gso.type = r->meta.gso_type == NET_GSO_TCPV6 ? XEN_NETIF_GSO_TYPE_TCPV6
									     : XEN_NETIF_GSO_TYPE_TCPV4;
			memcpy(rsp, &extra, sizeof(extra));
			continue;
		}
		netif_rx_response_t out = { .id = r->ids[i], .offset = 0 };
		uint32_t bytes = r->len - k * PAGE_SIZE < PAGE_SIZE ? r->len - k * PAGE_SIZE : PAGE_SIZE;
		out.flags = (k + 1 < r->ndata ? NETRXF_more_data : 0);
		if (k == 0)
			out.flags |= csum_flags | (r->gso ? NETRXF_extra_info : 0);
		out.status = failed ? NETIF_RSP_ERROR : (int16_t)bytes;
		memcpy(rsp, &out, sizeof(out));
		k++;
	}
	q->rx.rsp_prod_pvt = r->first + r->need;
}

/*
 * A copy from a sending guest's grant into a receiving guest's rx buffer
 * failed: whose grant was it?  GNTTABOP_copy's status does not say, so read
 * one byte of the source alone; if that fails too, the sender's frame is
 * bad and its vif answers it with an error.
 */
static void rx_blame_source(const struct rx_rec *r, const struct gnttab_copy *failed)
{
	static uint8_t sink;
	struct gnttab_copy op;

	if (!r->source_failed || *r->source_failed || !(failed->flags & GNTCOPY_source_gref))
		return;
	memset(&op, 0, sizeof(op));
	op.source = failed->source;
	op.flags = GNTCOPY_source_gref;
	op.dest.u.gmfn = mfn_x(virt_to_mfn(&sink));
	op.dest.domid = DOMID_SELF;
	op.dest.offset = (uint16_t)((uintptr_t)&sink & (PAGE_SIZE - 1));
	op.len = 1;
	if (gnttab_copy(&op, 1))
		*r->source_failed = true;
}

/* Copies every frame of the batch, answers and notifies. */
static void rx_flush(void)
{
	if (!rxb.nrecs)
		return;
	bool any_failed = rxb.nops && gnttab_copy(rxb.ops, rxb.nops) != 0;
	for (unsigned int i = 0; i < rxb.nrecs; i++) {
		struct rx_rec *r = &rxb.recs[i];
		bool failed = false;
		for (unsigned int o = 0; any_failed && o < r->nops; o++)
			if (rxb.ops[r->op_first + o].status != GNTST_okay) {
				failed = true;
				rx_blame_source(r, &rxb.ops[r->op_first + o]);
			}
		rx_write_responses(r, failed);
		if (failed) {
			r->v->stats.rx_copy_errors++;
		} else {
			r->v->stats.rx_packets++;
			r->v->stats.rx_bytes += r->len;
			r->v->stats.rx_gso += r->gso;
		}
		r->q->rx_touched = true;
	}
	/* One push and at most one event per ring for the whole batch. */
	for (unsigned int i = 0; i < rxb.nrecs; i++) {
		struct vif_queue *q = rxb.recs[i].q;
		if (!q->rx_touched)
			continue;
		q->rx_touched = false;
		int notify;
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
		rxb.recs[i].v->lat.rx_push++;
		if (notify) {
			rxb.recs[i].v->lat.rx_notify++;
			q->rx_notify_ns = time_now_ns();
			rx_events_sent++;
			evtchn_notify(q->rx_port);
			if (q->tx_port == q->rx_port)
				q->tx_owed = false;      /* one channel: that event was it */
			else
				tx_owed_send(q);
		}
	}
	rxb.nops = rxb.nrecs = 0;
}

/*
 * Reserves frame f's slots in the guest's posted rx buffers and queues its
 * copy in the batch: 0 queued (or dropped for a reason counted), -EAGAIN
 * not enough buffers posted yet, -EPROTO the ring is broken (the vif was
 * failed), -EMSGSIZE a frame this guest cannot take.
 */
static int rx_build(struct vif *v, struct vif_queue *q, const struct net_frame *f)
{
	bool gso = (f->meta.flags & NET_META_GSO) != 0;
	unsigned int ndata = data_slots(f->len), need = ndata + (gso ? 1 : 0);

	if (need > VIF_RX_SLOTS_MAX || (ndata > 1 && !v->fe_sg) || f->len == 0)
		return -EMSGSIZE;
	/* Room for the worst case: one op per slot and per fragment. */
	if (rxb.nrecs == RXB_RECS || rxb.nops + ndata + f->nfrags > RXB_OPS)
		rx_flush();
	RING_IDX prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
	RING_IDX avail = prod - q->rx.req_cons;
	if (avail > RING_SIZE(&q->rx)) {
		vif_fail(v, "impossible rx ring indices");
		return -EPROTO;
	}
	if (avail < need) {
		/* Ask for an event once enough buffers are posted. */
		q->rx.sring->req_event = q->rx.req_cons + need;
		mb();
		prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
		if (prod - q->rx.req_cons < need) {
			v->lat.rx_nobuf++;
			return -EAGAIN;
		}
	}
	struct rx_rec *r = &rxb.recs[rxb.nrecs];
	netif_rx_request_t reqs[VIF_RX_SLOTS_MAX];
	for (unsigned int i = 0; i < need; i++) {
		memcpy(&reqs[i], RING_GET_REQUEST(&q->rx, q->rx.req_cons + i), sizeof(reqs[i]));
		r->ids[i] = reqs[i].id;
	}
	r->v = v;
	r->q = q;
	r->first = q->rx.req_cons;
	r->need = (uint8_t)need;
	r->ndata = (uint8_t)ndata;
	r->gso = gso;
	r->len = f->len;
	r->meta = f->meta;
	r->source_failed = f->source_failed;
	r->op_first = (uint16_t)rxb.nops;

	/* Copy ops: data slot k (ring slot k, or k+1 after the GSO extra)
	 * takes bytes k*4096 .. of the frame, from as many fragments. */
	unsigned int fi = 0, nops = 0;
	uint32_t foff = 0;
	for (unsigned int k = 0; k < ndata; k++) {
		const netif_rx_request_t *req = &reqs[k == 0 || !gso ? k : k + 1];
		uint32_t room = f->len - k * PAGE_SIZE < PAGE_SIZE ? f->len - k * PAGE_SIZE : PAGE_SIZE;
		uint32_t doff = 0;
		while (room && fi < f->nfrags) {
			const struct net_frag *fr = &f->frags[fi];
			uint32_t n = fr->len - foff < room ? fr->len - foff : room;
			struct gnttab_copy *op = &rxb.ops[rxb.nops + nops++];
			memset(op, 0, sizeof(*op));
			copy_source(op, fr, foff);
			op->dest.u.ref = req->gref;
			op->dest.domid = v->dev.domid;
			op->dest.offset = (uint16_t)doff;
			op->flags |= GNTCOPY_dest_gref;
			op->len = (uint16_t)n;
			room -= n;
			doff += n;
			foff += n;
			if (foff == fr->len) {
				fi++;
				foff = 0;
			}
		}
	}
	r->nops = (uint16_t)nops;
	rxb.nops += nops;
	rxb.nrecs++;
	q->rx.req_cons += need;
	return 0;
}

/* A frame now (built and flushed at once). */
static int rx_put(struct vif *v, struct vif_queue *q, const struct net_frame *f)
{
	int rc = rx_build(v, q, f);
	rx_flush();
	return rc;
}

static bool all_granted(const struct net_frame *f)
{
	for (unsigned int i = 0; i < f->nfrags; i++)
		if (f->frags[i].kind != NET_FRAG_GRANT)
			return false;
	return true;
}

static int rxq_add(struct vif *v, struct vif_queue *q, const struct net_frame *f)
{
	if (q->rxq_frames >= VIF_RXQ_FRAMES || q->rxq_bytes + f->len > VIF_RXQ_BYTES) {
		v->stats.rx_dropped_full++;
		return -ENOBUFS;
	}
	struct vif_rxq_frame *fr = kmalloc(sizeof(*fr) + f->len);
	if (!fr) {
		v->stats.rx_dropped_full++;
		return -ENOBUFS;
	}
	if (net_frame_read(f, 0, fr->data, f->len)) {
		kfree(fr);
		return -EIO;
	}
	fr->next = NULL;
	fr->queued_ns = time_now_ns();
	fr->meta = f->meta;
	fr->len = f->len;
	if (q->rxq_tail)
		q->rxq_tail->next = fr;
	else
		q->rxq_head = fr;
	q->rxq_tail = fr;
	q->rxq_frames++;
	q->rxq_bytes += f->len;
	v->stats.rx_queued++;
	return 0;
}

/* Sends what the backlog holds while the guest has buffers; drops what is
 * too old.  True if frames remain. */
static bool rxq_drain(struct vif *v, struct vif_queue *q)
{
	struct net_frame *f = &v->rx_frame;
	uint64_t now = time_now_ns();

	while (q->rxq_head && q->connected) {
		struct vif_rxq_frame *fr = q->rxq_head;
		if (now - fr->queued_ns <= VIF_RXQ_MAX_AGE_NS) {
			net_frame_local(f, fr->data, fr->len, &fr->meta);
			int rc = rx_put(v, q, f);
			if (rc == -EAGAIN)
				return true;
			if (rc == -EPROTO)
				return false;
			lat_add(&v->lat.rxq_ns, &v->lat.rxq_max_ns, &v->lat.nr_rxq,
				time_now_ns() - fr->queued_ns);
		} else {
			v->stats.rx_dropped_old++;
		}
		q->rxq_head = fr->next;
		if (!q->rxq_head)
			q->rxq_tail = NULL;
		q->rxq_frames--;
		q->rxq_bytes -= fr->len;
		kfree(fr);
	}
	return false;
}

static struct vif_queue *pick_queue(struct vif *v, const struct net_frame *f)
{
	if (v->nqueues <= 1)
		return &v->queues[0];
	/* One flow stays on one queue: hash the IPv4 addresses and ports. */
	uint32_t h = 0;
	for (unsigned int i = 26; i < 38 && i < f->hdr_len; i++)
		h = h * 31 + f->hdr[i];
	return &v->queues[h % v->nqueues];
}

static int vif_deliver(struct net_port *p, const struct net_frame *f)
{
	struct vif *v = p->priv;
	struct vif_queue *q = pick_queue(v, f);

	if (!q->connected || v->dev.phase != BACKDEV_CONNECTED)
		return -ENETDOWN;
	if (q->rxq_head) {
		/* Keep the order: behind what already waits. */
		int rc = rxq_add(v, q, f);
		waitq_wake_all(&v->dev.wq);
		return rc;
	}
	int rc;
	if (net_batch_active() && all_granted(f)) {
		/* The sender's grants stay valid until net_batch_end. */
		rc = rx_build(v, q, f);
		if (rc == 0)
			net_batch_defer(p);
	} else {
		rc = rx_put(v, q, f);
	}
	if (rc == -EAGAIN) {
		rc = rxq_add(v, q, f);
		waitq_wake_all(&v->dev.wq);
	}
	return rc;
}

static void vif_flush(struct net_port *p)
{
	(void)p;
	rx_flush();
}

const struct net_port_ops vif_port_ops = { .deliver = vif_deliver, .flush = vif_flush };

bool vif_has_work(struct vif *v)
{
	/* A failed vif (Closing) still has its rings mapped and its channels
	 * bound until the frontend closes: its events are no work, or the vif
	 * thread would find "work" that vif_do_io refuses and never sleep. */
	if (v->dev.phase != BACKDEV_CONNECTED)
		return false;
	if (v->rate_pending && !v->rate_blocked)
		return true;
	for (unsigned int i = 0; i < v->nqueues; i++)
		if (v->queues[i].connected && v->queues[i].kick)
			return true;
	return false;
}

bool vif_has_backlog(struct vif *v)
{
	for (unsigned int i = 0; i < v->nqueues; i++)
		if (v->queues[i].rxq_head)
			return true;
	return false;
}

bool vif_do_io(struct vif *v)
{
	bool more = false;

	if (v->dev.phase != BACKDEV_CONNECTED)
		return false;
	if (!v->rate_blocked)
		v->rate_pending = false;
	for (unsigned int i = 0; i < v->nqueues; i++) {
		struct vif_queue *q = &v->queues[i];
		if (!q->connected)
			continue;
		uint64_t kick_ns = q->kick ? q->kick_ns : 0;
		q->kick = false;
		if (kick_ns)
			lat_add(&v->lat.wake_ns, &v->lat.wake_max_ns, &v->lat.nr_wake,
				time_now_ns() - kick_ns);
		/* A backlog left waits for buffers: the rx event wakes us. */
		if (q->rxq_head)
			rxq_drain(v, q);
		if (v->dev.phase != BACKDEV_CONNECTED)
			return false;
		if (!v->rate_blocked && tx_pass(v, q, kick_ns))
			more = true;
		if (v->dev.phase != BACKDEV_CONNECTED)
			return false;
	}
	return more;
}

void vif_rate_init(struct vif *v)
{
	v->rate_timer.fn = rate_timer_fn;
	v->rate_timer.ctx = v;
	v->owed_timer.fn = owed_timer_fn;
	v->owed_timer.ctx = v;
}

/* us with one decimal from a sum of ns over n. */
static void lat_us(char *buf, size_t len, uint64_t sum, uint64_t n)
{
	uint64_t t = n ? sum / n / 100 : 0;

	ksnprintf(buf, len, "%llu.%llu", (unsigned long long)(t / 10), (unsigned long long)(t % 10));
}

void vif_lat_show(const char *name, const struct vif_lat *l)
{
	char a[6][24];
	uint64_t b = l->nr_batch;

	kprintf("%s latency, us (average; max):\n", name);
	lat_us(a[0], 24, l->wake_ns, l->nr_wake);
	lat_us(a[1], 24, l->wake_max_ns, 1);
	lat_us(a[2], 24, l->e2e_ns, l->nr_e2e);
	lat_us(a[3], 24, l->e2e_max_ns, 1);
	kprintf("  tx: event->thread %s; %s (%llu); event->answered %s; %s (%llu)\n", a[0], a[1],
		(unsigned long long)l->nr_wake, a[2], a[3], (unsigned long long)l->nr_e2e);
	lat_us(a[0], 24, l->parse_ns, b);
	lat_us(a[1], 24, l->hdr_ns, b);
	lat_us(a[2], 24, l->fwd_ns, b);
	lat_us(a[3], 24, l->flush_ns, b);
	lat_us(a[4], 24, l->answer_ns, b);
	kprintf("  tx batch: parse %s, hdr-copy %s, switch %s, rx-copy+notify %s, answer %s "
		"(%llu batches, %llu.%02llu frames each; %llu ended at the budget)\n", a[0], a[1], a[2],
		a[3], a[4], (unsigned long long)b, (unsigned long long)(b ? l->nr_frames / b : 0),
		(unsigned long long)(b ? l->nr_frames * 100 / b % 100 : 0),
		(unsigned long long)l->tx_budget_stops);
	lat_us(a[0], 24, l->rxq_ns, l->nr_rxq);
	lat_us(a[1], 24, l->rxq_max_ns, 1);
	lat_us(a[2], 24, l->guest_ns, l->nr_guest);
	lat_us(a[3], 24, l->guest_max_ns, 1);
	kprintf("  rx: no-buffers %llu, backlog wait %s; %s (%llu); guest turnaround %s; %s (%llu)\n",
		(unsigned long long)l->rx_nobuf, a[0], a[1], (unsigned long long)l->nr_rxq, a[2], a[3],
		(unsigned long long)l->nr_guest);
	kprintf("  events from guest: tx %llu, rx %llu; to guest: rx %llu of %llu pushes, tx %llu of "
		"%llu (%llu deferred); tx sizes <=128 %llu, <=1514 %llu, <=16K %llu, more %llu\n",
		(unsigned long long)l->tx_events, (unsigned long long)l->rx_events,
		(unsigned long long)l->rx_notify, (unsigned long long)l->rx_push,
		(unsigned long long)l->tx_notify, (unsigned long long)l->tx_push,
		(unsigned long long)l->tx_deferred, (unsigned long long)l->tx_size[0], (unsigned long long)l->tx_size[1],
		(unsigned long long)l->tx_size[2], (unsigned long long)l->tx_size[3]);
}

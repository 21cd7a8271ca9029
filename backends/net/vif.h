/*
 * netback's private state, shared by the control path (xenbus.c: xenstore
 * nodes, XenbusState, connect and disconnect) and the data path (io.c: the
 * tx and rx rings, grant copies, responses, the switch port).
 *
 * Threads and locking: each vif has one thread ("netback.DOMID.DEVID", the
 * device core's, include/keel/backdev.h) that reads its tx rings, drains
 * its rx backlog and follows xenstore.  Frames
 * for the guest arrive in whichever thread forwards them (another vif's, a
 * NIC's, the IP stack's) through the port's deliver; threads are
 * cooperative and forwarding never sleeps, so deliver and the vif thread
 * never interleave.  Upcall context (the event channels) only sets `kick`
 * and wakes `dev.wq`.
 *
 * Memory a guest can make dom0 keep: its rx backlog (frames for it that
 * found no posted rx buffer), at most VIF_RXQ_FRAMES frames and
 * VIF_RXQ_BYTES bytes, each dropped after VIF_RXQ_MAX_AGE_NS.  Nothing else
 * grows with what a guest does: tx frames are forwarded before their
 * requests are answered, and no guest page stays mapped but the rings.
 */
#ifndef BACKENDS_NET_VIF_H
#define BACKENDS_NET_VIF_H

#include <keel/backdev.h>
#include <keel/netback.h>
#include <keel/netif_tx.h>
#include <keel/sync.h>
#include <xen/event_channel.h>

#define VIF_MAX_QUEUES 4                     /* multi-queue-max-queues */
#define VIF_TX_BUDGET 64                     /* tx packets per queue per pass */
#define VIF_RXQ_FRAMES 256                   /* rx backlog bound (frames) */
#define VIF_RXQ_BYTES (1024 * 1024)          /* rx backlog bound (bytes) */
#define VIF_RXQ_MAX_AGE_NS 2000000000ull     /* a backlog frame older: dropped */
#define VIF_RX_SLOTS_MAX 20                  /* rx slots one frame may take */

/* A frame waiting for the guest to post rx buffers: a dom0 copy. */
struct vif_rxq_frame {
	struct vif_rxq_frame *next;
	uint64_t queued_ns;
	struct net_meta meta;
	uint32_t len;
	uint8_t data[];
};

struct vif;

struct vif_queue {
	struct vif *vif;
	unsigned int index;
	bool connected;
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	void *tx_va, *rx_va;
	grant_handle_t tx_handle, rx_handle;
	evtchn_port_t tx_port, rx_port;          /* equal without split channels */
	bool kick;                               /* an event came (upcall) */
	bool rx_touched;                         /* responses written in this rx flush */
	/* rx backlog */
	struct vif_rxq_frame *rxq_head, *rxq_tail;
	uint32_t rxq_frames, rxq_bytes;
	uint64_t kick_ns, rx_notify_ns;          /* io.c's latency marks (struct vif_lat) */
	bool tx_owed;                            /* tx responses pushed, their event deferred */
};

struct vif_stats {
	uint64_t tx_packets, tx_bytes, tx_errors, tx_rate_waits, tx_gso, tx_csum_blank;
	uint64_t rx_packets, rx_bytes, rx_queued, rx_dropped_full, rx_dropped_old, rx_gso;
	uint64_t rx_copy_errors;
};

struct vif {
	struct backdev dev;                      /* domid, devid, paths, thread, phase */
	struct netback_params params;

	/* Negotiated with the frontend at connect. */
	unsigned int nqueues;
	bool fe_sg, fe_gso4, fe_gso6, fe_csum, fe_ipv6_csum, fe_rx_notify;
	struct netif_tx_limits tx_lim;
	struct vif_queue queues[VIF_MAX_QUEUES];

	struct net_port port;                    /* on params.bridge */
	bool port_added;

	struct netif_credit credit;              /* rate= on the guest's tx, all queues */
	struct timer rate_timer;
	bool rate_blocked;                       /* waiting for the credit timer */
	bool rate_pending;                       /* tx left on the ring for credit */
	struct vif_stats stats;

	/* Scratch of the vif thread and of deliver (never both at once: threads
	 * are cooperative and neither sleeps while using them). */
	struct netif_tx_packet tx_pkt;
	struct net_frame rx_frame;
	struct vif_lat lat;                      /* io.c's latency breakdown */
	struct timer owed_timer;                 /* sends deferred tx events (io.c) */
};

/* io.c */
int vif_connect_queue(struct vif *v, struct vif_queue *q, grant_ref_t tx_ref,
		      grant_ref_t rx_ref, evtchn_port_t fe_tx, evtchn_port_t fe_rx);
void vif_disconnect_queue(struct vif_queue *q);
/* One pass over every queue's tx ring and rx backlog; true if work remains. */
bool vif_do_io(struct vif *v);
bool vif_has_work(struct vif *v);
bool vif_has_backlog(struct vif *v);
void vif_rate_init(struct vif *v);
extern const struct net_port_ops vif_port_ops;

/* A guest's mistake fails the vif (backdev_fail: `error`, Closing, port
 * down). */
static inline void vif_fail(struct vif *v, const char *why)
{
	backdev_fail(&v->dev, why);
}

/* "netback: vifD.N: ...", at most one a second per vif (backdev_log). */
#define vif_log(v, ...) backdev_log(&(v)->dev, __VA_ARGS__)

#endif

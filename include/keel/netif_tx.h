/*
 * netback's transmit request walk (backends/net/netif_tx.c): reads one
 * packet's ring slots -- the first request, its extra-info chain and its
 * fragment requests, as xen/io/netif.h ("Guest transmit") lays them out --
 * checks them and says what the packet is.  Pure: netback's ring code copies
 * the slots out of the shared ring ONCE into a local array and hands that
 * copy here, so nothing checked here can change under the check (the XSA-39
 * class).  It neither maps grants nor writes responses.
 *
 * What is refused, and how (Linux netback's split, xenvif_count_requests,
 * xenvif_get_extras, xenvif_set_skb_gso):
 *   dropped (-EINVAL, answer each request NETIF_RSP_ERROR, the vif lives on):
 *     total size under ETH_HLEN or over lim->max_packet_bytes; a fragment
 *     larger than what the first request's size leaves; more data slots than
 *     lim->max_slots (but no more than lim->fatal_slots); a GSO packet
 *     without NETTXF_csum_blank; an extra type given twice;
 *   fatal (-EPROTO, out->fatal: the frontend is broken or hostile, fail the
 *     vif; nothing is answered):
 *     more data slots than lim->fatal_slots; a slot whose offset + length
 *     passes the end of its 4096-byte page; an extra-info chain longer than
 *     NETIF_TX_EXTRAS_MAX or with a type that is not XEN_NETIF_EXTRA_TYPE_*;
 *     GSO with size 0 or a type other than TCPv4/TCPv6 or not negotiated.
 *   incomplete (-EAGAIN): the packet's chain runs past the `avail` slots
 *     given; nothing consumed, call again when the frontend has pushed more.
 *     Since a complete packet takes at most lim->fatal_slots +
 *     NETIF_TX_EXTRAS_MAX slots, a caller passing at least that many never
 *     sees -EAGAIN for a chain that is really endless: that is fatal.
 */
#ifndef KEEL_NETIF_TX_H
#define KEEL_NETIF_TX_H

#include <lib/base.h>
#include <keel/net.h>

/* xen/io/ring.h leaves the barriers to its includer; only ring code uses
 * them (see include/keel/blkif.h for the same). */
#ifndef xen_mb
#define xen_mb() __asm__ volatile("mfence" ::: "memory")
#define xen_rmb() __asm__ volatile("" ::: "memory")
#define xen_wmb() __asm__ volatile("" ::: "memory")
#endif
#include <xen/io/netif.h>

#define NETIF_TX_PAGE_BYTES 4096
/*
 * Data slots per packet, the first request included.  netif.h promises a
 * frontend 18 (XEN_NETIF_NR_SLOTS_MIN); Linux netback drops a packet with
 * more than XEN_NETBK_LEGACY_SLOTS_MAX (18) slots after the first and fails
 * the vif past fatal_skb_slots (20) after the first: the same bounds here.
 */
#define NETIF_TX_DEFAULT_MAX_SLOTS (1 + 18)
#define NETIF_TX_DEFAULT_FATAL_SLOTS (1 + 20)
/* Room in struct netif_tx_packet: lim->fatal_slots may be at most this. */
#define NETIF_TX_SLOTS_MAX 32
/* One extra of each type at most: GSO, MCAST_ADD, MCAST_DEL, HASH. */
#define NETIF_TX_EXTRAS_MAX (XEN_NETIF_EXTRA_TYPE_MAX - 1)
/* Largest packet: the request's 16-bit size (XEN_NETIF_MAX_TX_SIZE). */
#define NETIF_TX_DEFAULT_MAX_PACKET_BYTES XEN_NETIF_MAX_TX_SIZE

/* One 12-byte tx ring slot: a request, or an extra info in its place. */
union netif_tx_slot {
	struct netif_tx_request req;
	struct netif_extra_info extra;
};

/* What netback offered this frontend (and its own bounds). */
struct netif_tx_limits {
	unsigned int max_slots;         /* data slots per packet; more: dropped */
	unsigned int fatal_slots;       /* more than this: fatal; <= NETIF_TX_SLOTS_MAX */
	uint32_t max_packet_bytes;      /* first request's size, at most */
	bool gso_tcpv4;                 /* feature-gso-tcpv4 offered */
	bool gso_tcpv6;                 /* feature-gso-tcpv6 offered */
};

/* Fills *lim with Linux's defaults and both GSO types offered. */
void netif_tx_limits_default(struct netif_tx_limits *lim);

/* One data slot of the packet: bytes offset..offset+len of page gref. */
struct netif_tx_frag {
	grant_ref_t gref;
	uint16_t offset;
	uint16_t len;                   /* may be 0 (the request is still answered) */
	uint16_t id;
};

/* One response to write, in ring order: every consumed slot gets one. */
struct netif_tx_answer {
	uint16_t id;                    /* the request's id (0 for an extra) */
	bool extra;                     /* an extra-info slot: NETIF_RSP_NULL */
};

/* Why a packet was refused (for the caller's rate-limited log). */
enum netif_tx_reason {
	NETIF_TX_OK = 0,
	NETIF_TX_TOO_SHORT,             /* size < ETH_HLEN */
	NETIF_TX_TOO_BIG,               /* size > max_packet_bytes */
	NETIF_TX_FRAG_OVERSIZE,         /* fragments sum past the first size */
	NETIF_TX_TOO_MANY_SLOTS,        /* > max_slots */
	NETIF_TX_GSO_NO_CSUM,           /* GSO without csum_blank */
	NETIF_TX_EXTRA_DUPLICATE,       /* an extra type given twice */
	/* fatal from here on */
	NETIF_TX_FATAL_SLOTS,           /* > fatal_slots */
	NETIF_TX_FATAL_CROSS_PAGE,      /* offset + len > 4096 */
	NETIF_TX_FATAL_EXTRA_TYPE,      /* extra type 0 or unknown */
	NETIF_TX_FATAL_EXTRA_CHAIN,     /* more extras than NETIF_TX_EXTRAS_MAX */
	NETIF_TX_FATAL_GSO,             /* GSO size 0, bad or not negotiated type */
	NETIF_TX_REASON_COUNT,
};

/* A short lower-case phrase for reason r ("fragment past its page"). */
const char *netif_tx_reason_name(enum netif_tx_reason r);

struct netif_tx_packet {
	unsigned int nslots;            /* ring slots consumed (data + extras) */
	enum netif_tx_reason reason;
	bool fatal;
	uint32_t len;                   /* total packet bytes (the first size) */
	struct net_meta meta;           /* flags, gso_type/size; csum_start/offset 0 */
	unsigned int nfrags;            /* data slots, the first one first */
	struct netif_tx_frag frags[NETIF_TX_SLOTS_MAX];
	unsigned int nanswers;          /* == nslots */
	struct netif_tx_answer answers[NETIF_TX_SLOTS_MAX + NETIF_TX_EXTRAS_MAX];
	/* A request carrying MCAST_ADD/DEL is a filter update, not a frame
	 * (netif.h "feature-multicast-control"): its data is not sent. */
	bool mcast_add, mcast_del;
	uint8_t mcast_add_addr[ETH_ALEN], mcast_del_addr[ETH_ALEN];
	bool hash_set;                  /* XEN_NETIF_EXTRA_TYPE_HASH given */
	uint8_t hash_type, hash_algorithm;
	uint32_t hash_value;
};

/*
 * Walks the packet that starts at slots[0], reading at most `avail` slots
 * (a private copy of the ring).  Returns:
 *   0        a good packet: out describes it; answer each of out->answers
 *            (NETIF_RSP_OKAY, or NETIF_RSP_NULL for extras) once it is sent.
 *   -EINVAL  a malformed packet to drop: out->nslots slots are consumed,
 *            out->answers lists them (NETIF_RSP_ERROR, NULL for extras),
 *            out->reason says why.
 *   -EPROTO  the frontend broke the protocol: out->fatal, out->reason;
 *            fail the vif.
 *   -EAGAIN  the packet does not end within avail slots: nothing consumed.
 * Also -EINVAL with out->nslots == 0 if lim is unusable (fatal_slots past
 * NETIF_TX_SLOTS_MAX or under max_slots, max_slots 0).  Never sleeps.
 */
int netif_tx_parse(const union netif_tx_slot *slots, unsigned int avail,
		   const struct netif_tx_limits *lim, struct netif_tx_packet *out);

/*
 * A vif's credit-based rate limit (xl-network-configuration(5) `rate=`,
 * e.g. 100KB/s@20ms): a token bucket that gains per_interval_bytes at each
 * interval boundary, up to burst_bytes, and that each packet draws its size
 * from.  burst_bytes is one interval's credit, or the largest packet when
 * that is more: a 64 KiB GSO packet under a small credit waits until enough
 * intervals have passed (as Linux netback's max_burst lets it), never goes
 * on one interval's credit.  So from any moment t0 on, at most
 * burst_bytes + per_interval_bytes * (1 + (t - t0) / interval) bytes pass
 * by time t.  Pure; the caller keeps the time and the lock.
 */
struct netif_credit {
	uint64_t per_interval_bytes;    /* 0: no limit */
	uint64_t interval_ns;
	uint64_t burst_bytes;           /* most credit ever held */
	uint64_t bytes;                 /* credit held now */
	uint64_t stamp_ns;              /* start of the current interval */
};

/* Starts the bucket at now_ns holding one interval's credit.  bytes 0 or
 * interval_ns 0: no limit. */
void netif_credit_init(struct netif_credit *c, uint64_t bytes, uint64_t interval_ns,
		       uint64_t now_ns);

/* A packet of len bytes at now_ns: 0 if it may go (its credit is taken),
 * else the time (ns, > now_ns) at which the bucket will hold enough. */
uint64_t netif_credit_take(struct netif_credit *c, uint32_t len, uint64_t now_ns);

/*
 * Where a vif's frames spend their time in netback (io.c fills it per vif,
 * `netback-stats` prints it), summed in ns with counts, so that averages and
 * the worst case can be read.  tx is the guest sending, rx the guest
 * receiving:
 *   wake      the guest's tx event (upcall) until the vif thread reads the
 *             ring (dom0 scheduled by Xen, then the vif thread by keel);
 *   a tx batch (up to 32 packets of one ring), per stage: parse (slots
 *             copied out of the ring and checked), hdr (one GNTTABOP_copy of
 *             the headers and grant checks), fwd (switch: source checks,
 *             learning, lookup, building the receivers' copy ops), flush
 *             (the receivers' GNTTABOP_copy, rx responses, their events),
 *             answer (tx responses pushed, the sender's event);
 *   e2e       the guest's tx event until the first batch it caused is
 *             answered (its frames are in the receivers' rings by then);
 *   rxq       a frame that found too few rx buffers posted: time it waited
 *             in the backlog until copied;
 *   guest     our rx event to this guest until its next tx event (the
 *             guest's turnaround: Xen scheduling it, its stack, its
 *             netfront, the event back), only gaps under 100 ms.
 */
struct vif_lat {
	uint64_t wake_ns, wake_max_ns, nr_wake;
	uint64_t parse_ns, hdr_ns, fwd_ns, flush_ns, answer_ns, nr_batch, nr_frames;
	uint64_t e2e_ns, e2e_max_ns, nr_e2e;
	uint64_t rxq_ns, rxq_max_ns, nr_rxq;
	uint64_t guest_ns, guest_max_ns, nr_guest;
	uint64_t rx_push, rx_notify;            /* rx ring pushes / of them with an event */
	uint64_t tx_push, tx_notify;            /* tx ring pushes / with an event */
	uint64_t tx_deferred;                   /* of those events, deferred (io.c) */
	uint64_t rx_nobuf;                      /* a frame found too few rx buffers */
	uint64_t tx_budget_stops;               /* a pass ended at VIF_TX_BUDGET */
	uint64_t rx_events, tx_events;          /* the guest's events (split channels) */
	uint64_t tx_size[4];                    /* tx frames <=128, <=1514, <=16K, larger */
};

/* Prints vif `name`'s breakdown (netback-stats; kernel only). */
void vif_lat_show(const char *name, const struct vif_lat *l);

#endif

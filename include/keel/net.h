/*
 * keel's network core: frames, switch ports and bridges (net/).
 *
 * A frame moving through keel is described, not copied: its bytes are a
 * list of fragments, each either a piece of a dom0 page (NET_FRAG_LOCAL) or
 * a piece of another domain's granted page (NET_FRAG_GRANT: a netfront tx
 * buffer).  Only the first bytes (the Ethernet, IP and TCP/UDP headers) are
 * copied into the frame's own `hdr`, so the switch can decide where the
 * frame goes; the payload moves once, from its source fragment straight
 * into the destination (a grant copy into a receiving guest's rx buffer, a
 * copy into a NIC's tx buffer, or into an lwIP pbuf).
 *
 * Threads: keel's threads are cooperative, so a frame is forwarded to the
 * end (every port's deliver has returned) before the forwarding thread
 * gives up the CPU.  A port's deliver must therefore be done with the
 * frame's fragments when it returns: copy what it keeps.  Nothing here may
 * be called from upcall context.
 */
#ifndef KEEL_NET_H
#define KEEL_NET_H

#include <lib/base.h>
#include <xen/xen.h>
#include <xen/grant_table.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define NET_HDR_MAX 128        /* bytes of a frame copied into frame->hdr */
#define NET_FRAGS_MAX 20       /* fragments in one frame (64 KiB GSO + header) */
#define NET_FRAME_MAX 65550    /* largest frame (GSO: 64 KiB + Ethernet header) */
#define NET_MTU 1500

enum net_frag_kind {
	NET_FRAG_LOCAL = 1,     /* dom0 memory: va, never crossing a page */
	NET_FRAG_GRANT = 2,     /* a grant of domain dom: bytes offset..offset+len */
};

struct net_frag {
	uint8_t kind;
	uint16_t offset;        /* GRANT: byte offset in the granted page */
	uint16_t len;
	union {
		const void *va;                                    /* LOCAL */
		struct { domid_t dom; grant_ref_t ref; } grant;     /* GRANT */
	};
};

/* Offload state of a frame (the meanings of netif.h's flags and GSO). */
#define NET_META_CSUM_BLANK 0x1 /* L4 checksum not filled in: csum_start/offset say where */
#define NET_META_CSUM_OK    0x2 /* checksum verified (or frame from a trusted source) */
#define NET_META_GSO        0x4 /* one big TCP frame to cut at gso_size */

#define NET_GSO_TCPV4 1
#define NET_GSO_TCPV6 2

struct net_meta {
	uint16_t flags;
	uint16_t csum_start;    /* CSUM_BLANK: from the frame's start */
	uint16_t csum_offset;   /* CSUM_BLANK: from csum_start */
	uint8_t gso_type;       /* GSO: NET_GSO_* */
	uint16_t gso_size;      /* GSO: TCP payload bytes per segment */
};

struct net_frame {
	uint32_t len;                   /* total bytes */
	uint16_t nfrags;
	uint16_t hdr_len;               /* min(len, NET_HDR_MAX) bytes in hdr */
	struct net_meta meta;
	struct net_frag frags[NET_FRAGS_MAX];
	uint8_t hdr[NET_HDR_MAX];       /* copy of the frame's first hdr_len bytes */
	/* A port that fails to copy from the frame's grants sets *source_failed
	 * (when not NULL: a guest's tx frame), so that the sending vif answers
	 * the frame with an error.  Ports that copy later than their deliver
	 * (a net_batch's deferred copies) must do so before net_batch_end
	 * returns. */
	bool *source_failed;
};

/* Ethernet header fields read from frame->hdr (hdr_len >= ETH_HLEN). */
static inline const uint8_t *net_dst(const struct net_frame *f) { return f->hdr; }
static inline const uint8_t *net_src(const struct net_frame *f) { return f->hdr + 6; }
static inline uint16_t net_ethertype(const struct net_frame *f)
{
	return (uint16_t)(f->hdr[12] << 8 | f->hdr[13]);
}

/*
 * Copies len bytes of the frame from byte `from` to dst (dom0 memory), by
 * memcpy for local fragments and GNTTABOP_copy for granted ones.  0, -EINVAL
 * past the end, or the grant copy's errno (then *f->source_failed is set).
 */
int net_frame_read(const struct net_frame *f, uint32_t from, void *dst, uint32_t len);
/* Fills f->hdr from the fragments (after they are set). 0 or -errno. */
int net_frame_load_hdr(struct net_frame *f);
/* Describes len bytes of dom0 memory at buf as frame f (LOCAL fragments cut
 * at page ends; hdr filled; no source_failed), with meta (NULL: none).
 * len <= NET_FRAME_MAX. */
void net_frame_local(struct net_frame *f, const uint8_t *buf, uint32_t len,
		     const struct net_meta *meta);

/* ---- switch ports ---- */

struct net_port;

struct net_port_stats {
	uint64_t rx_frames, rx_bytes;   /* into the switch from this port */
	uint64_t tx_frames, tx_bytes;   /* out of the switch to this port */
	uint64_t rx_dropped;            /* refused on the way in (bad, spoofed, no room) */
	uint64_t tx_dropped;            /* could not be delivered (no room, port down) */
	uint64_t spoofed;               /* of rx_dropped: source MAC/IP not the vif's */
};

enum net_port_kind { NET_PORT_UPLINK = 1, NET_PORT_VIF = 2, NET_PORT_HOST = 3 };

struct net_port_ops {
	/*
	 * Takes a copy of frame f towards this port's device (a guest's rx
	 * ring, a NIC, dom0's IP stack).  Done with f's fragments on return.
	 * 0 delivered (or queued), -ENOBUFS/-EAGAIN dropped for lack of room,
	 * another -errno dropped for a reason.  The bridge counts.
	 */
	int (*deliver)(struct net_port *p, const struct net_frame *f);
	/*
	 * Optional: finishes what deliver deferred (net_batch_defer) while a
	 * batch was open.  Called once per batch by net_batch_end.
	 */
	void (*flush)(struct net_port *p);
};

/* Port capabilities: what a port can receive as is. */
#define NET_PORT_CAN_CSUM_BLANK 0x1     /* takes CSUM_BLANK frames (else the bridge fills) */
#define NET_PORT_CAN_GSO_TCPV4  0x2     /* takes GSO frames whole */
#define NET_PORT_CAN_GSO_TCPV6  0x4

struct net_port {
	char name[16];                  /* vif3.0, eth0, keel0 */
	enum net_port_kind kind;
	unsigned int caps;              /* NET_PORT_CAN_* */
	const struct net_port_ops *ops;
	void *priv;                     /* the port owner's */
	/* Anti-spoofing (vifs with mac= / ip=): frames in from this port with
	 * another source are dropped and counted in stats.spoofed. */
	bool lock_mac;
	uint8_t mac[ETH_ALEN];
	uint32_t n_ips;
	uint32_t ips[4];                /* IPv4, network byte order */
	bool up;
	struct net_port_stats stats;
	/* Owned by the bridge. */
	struct net_bridge *bridge;
	bool batch_queued;
	struct net_port *batch_next;
	uint16_t index;
	struct net_port *next;
};

/*
 * Puts port p on bridge `bridge` (made, host-only, if there is none of
 * that name).  p is filled by the caller (name, kind, caps, ops, priv,
 * anti-spoofing fields); it must stay valid until net_port_remove.
 * 0, -EINVAL (bad name), -EEXIST (name taken), -ENOSPC (bridge full).
 */
int net_port_add(const char *bridge, struct net_port *p);
/* Takes p off its bridge and forgets every MAC learnt on it. */
void net_port_remove(struct net_port *p);

/*
 * A frame arrives from port `from`: checks its source (anti-spoofing),
 * learns its source MAC, and delivers it to the destination's port, or to
 * every other port for broadcast, multicast and unknown destinations.
 * Fills checksums and cuts GSO frames for ports that cannot take them.
 * Counts on both sides.  Thread context.
 */
void net_port_input(struct net_port *from, struct net_frame *f);

/*
 * Batches.  A port that brings many frames at once (a vif's tx pass)
 * brackets them with net_batch_begin/end and keeps every GRANT fragment of
 * them valid until net_batch_end returns; a port's deliver may then queue
 * its copies (net_batch_defer) and do them all in its flush, one hypercall
 * for the whole burst.  LOCAL fragments are never deferred (their buffers
 * are reused as soon as deliver returns).  Batches do not nest.
 */
void net_batch_begin(void);
void net_batch_end(void);
bool net_batch_active(void);
void net_batch_defer(struct net_port *p);

/* ---- bridges ---- */

/* Boot: makes xenbr0 (its uplink joins when the first NIC registers). */
void net_init(void);

struct net_bridge;
/* The bridge of that name, or NULL. */
struct net_bridge *net_bridge_find(const char *name);
/* Makes an empty bridge (no uplink). 0, -EEXIST, -EINVAL, -ENOMEM. */
int net_bridge_create(const char *name);
/* Prints `brctl show`. */
void net_bridge_show(void);
/* Prints `brctl showmacs NAME` and the bridge's forwarding counters; -ENOENT. */
int net_bridge_showmacs(const char *name);
/* Prints `ip -s link`-style lines: each bridge, each port with its counters. */
void net_link_show(void);

#endif

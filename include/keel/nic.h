/*
 * The NIC API (drivers/net/): what a network card driver (virtio-net,
 * e1000) gives the rest of keel, and what the switch's uplink port
 * (net/uplink.c) and dom0's IP stack use.
 *
 * Transmit: a scatter list of machine addresses plus offload metadata;
 * the caller keeps the buffers until the driver calls done().  Receive:
 * the driver posts its own buffers (dom0 pages) to the device and hands
 * each received frame, as LOCAL fragments of those buffers, to nic->rx;
 * the buffers are reposted when rx returns (rx copies what it keeps).
 *
 * Context: xmit, rx and done run in thread context (the driver's own
 * thread, woken by its interrupt, or the caller's); never in upcall
 * context.  Threads are cooperative, so none of these needs a lock
 * against the others, only against the driver's interrupt handler.
 */
#ifndef KEEL_NIC_H
#define KEEL_NIC_H

#include <keel/dma.h>
#include <keel/net.h>
#include <lib/base.h>

struct pci_dev;
struct nic;

struct nic_tx_frag {
	dma_addr_t addr;
	uint32_t len;
};

/* What the device does itself (set by the driver after negotiation). */
#define NIC_F_TX_CSUM 0x1       /* fills a CSUM_BLANK frame's L4 checksum */
#define NIC_F_TSO4    0x2       /* cuts NET_GSO_TCPV4 frames */
#define NIC_F_TSO6    0x4       /* cuts NET_GSO_TCPV6 frames */
#define NIC_F_RX_CSUM 0x8       /* marks received frames whose checksum it checked */

struct nic_ops {
	/*
	 * Queues one frame of nfrags pieces (nfrags <= nic->max_tx_frags) with
	 * its offload state (meta->flags CSUM_BLANK only if NIC_F_TX_CSUM,
	 * GSO only if the matching NIC_F_TSO*).  done(arg) is called once the
	 * device has finished reading every piece (or the frame was dropped).
	 * 0 queued; -EAGAIN the tx ring is full (done is not called); -ENETDOWN
	 * link down; -EINVAL bad request.
	 */
	int (*xmit)(struct nic *n, const struct nic_tx_frag *frags, unsigned int nfrags,
		    const struct net_meta *meta, void (*done)(void *arg), void *arg);
};

struct nic_stats {
	uint64_t rx_frames, rx_bytes, rx_errors, rx_dropped;   /* dropped: no owner / no buffer */
	uint64_t tx_frames, tx_bytes, tx_errors, tx_busy;      /* busy: -EAGAIN returned */
	uint64_t irqs;
};

struct nic {
	char name[16];                  /* eth0, eth1 ... (given by nic_register) */
	const char *model;              /* "virtio-net", "e1000" */
	struct pci_dev *pci;
	uint8_t mac[ETH_ALEN];
	bool link_up;
	uint32_t features;              /* NIC_F_* */
	uint16_t mtu;                   /* largest frame payload without GSO (1500) */
	uint16_t max_tx_frags;
	const struct nic_ops *ops;
	void *priv;                     /* the driver's */
	struct nic_stats stats;
	/* Set by the owner (the uplink port) before the driver delivers. */
	void (*rx)(struct nic *n, struct net_frame *f);
	void (*link_changed)(struct nic *n);
	void *owner;
	struct nic *next;
};

/*
 * Registers a probed, working NIC under the next free name (eth0, eth1...)
 * and tells the switch (the first NIC becomes xenbr0's uplink).  The driver
 * fills every field above `stats` first.  0 or -errno.
 */
int nic_register(struct nic *n);
/* Called by a driver for each received frame (thread context): hands it to
 * the owner, or counts it dropped if there is none. */
void nic_input(struct nic *n, struct net_frame *f);
/* Called by a driver when the link state changed. */
void nic_set_link(struct nic *n, bool up);
struct nic *nic_find(const char *name);
struct nic *nic_first(void);

#endif

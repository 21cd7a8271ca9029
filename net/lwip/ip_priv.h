/*
 * Between net/ip.c (the interface and the net-ip thread) and
 * net/commands_ip.c (ip, ping, net-bench): both call lwIP, always with
 * ip_lock() held, so that a thread that sleeps in the middle of an lwIP
 * call (none should; a switch port could) never lets another in.
 */
#ifndef KEEL_NET_IP_PRIV_H
#define KEEL_NET_IP_PRIV_H

#include <lib/base.h>

#include "lwip/netif.h"

enum ip_mode { IP_MODE_OFF, IP_MODE_DHCP, IP_MODE_STATIC };

struct ip_stats {
	uint64_t rx_frames, rx_bytes;       /* IPv4/ARP frames for keel from the switch */
	uint64_t rx_gso_cut;                /* GSO frames cut into segments here */
	uint64_t rx_queue_full;             /* dropped: input queue full */
	uint64_t rx_no_pbuf;                /* dropped: no pool buffer */
	uint64_t rx_bad;                    /* dropped: too long or unreadable */
	uint64_t tx_frames, tx_bytes;       /* handed to the switch */
	uint64_t tx_dropped;                /* too long, or the port is not joined */
	uint64_t tx_bounced;                /* copied whole: too many pieces */
	uint32_t queue_max;                 /* deepest the input queue got */
};

struct ip_state {
	enum ip_mode mode;
	bool started;                       /* the interface exists (lwIP is up) */
	bool joined;                        /* keel's port is on xenbr0 */
	bool mac_from_nic;
	char nic_name[16];
	uint64_t lease_ns;                  /* when DHCP bound (system time), 0 before */
	struct ip_stats stats;
};

extern struct ip_state ip_state;

void ip_lock(void);
void ip_unlock(void);
/* Wakes the net-ip thread (after something that set an lwIP timeout). */
void ip_kick(void);
/* keel's interface; only valid once ip_state.started. */
struct netif *ip_netif(void);

#endif

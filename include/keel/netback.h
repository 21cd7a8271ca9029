/*
 * netback: keel's PV network backend (backends/net/), serving each guest
 * vif per xen/io/netif.h and joining it to a bridge as a switch port.  The
 * toolstack calls these; the backend runs one thread per vif.
 *
 * A vif's life: netback_attach() writes the backend and frontend xenstore
 * directories as libxl does and goes to InitWait; the guest's netfront
 * connects (its tx/rx rings and event channels, per queue); the vif's port
 * goes up on its bridge.  netback_detach() or netback_domain_gone() take it
 * down.  Frames are never held across a guest's grant: a tx frame is copied
 * to wherever it goes before its request is answered.
 */
#ifndef KEEL_NETBACK_H
#define KEEL_NETBACK_H

#include <keel/net.h>
#include <lib/base.h>
#include <xen/xen.h>

struct netback_params {
	uint32_t devid;                 /* the vif's handle: vif<domid>.<devid> */
	uint8_t mac[ETH_ALEN];          /* the guest's MAC */
	bool lock_mac;                  /* mac= was given: drop other sources */
	char bridge[16];                /* "xenbr0" unless the spec named one */
	uint32_t n_ips;                 /* ip=: IPv4 sources allowed (0: any) */
	uint32_t ips[4];                /* network byte order */
	uint64_t rate_bytes;            /* rate=: credit per interval (0: unlimited) */
	uint64_t rate_interval_us;
};

/*
 * Creates vif params->devid for domain domid.  -errno with *why a static
 * message for the caller to print: -EEXIST the devid is taken, -EINVAL a bad
 * bridge name, -ENOMEM.  Thread context; may sleep.
 */
int netback_attach(domid_t domid, const struct netback_params *params, const char **why);

/* Asks the guest to let go of the vif (Closing), waits up to timeout_ns,
 * then removes it.  -ENOENT if there is none; -ETIMEDOUT if the guest kept
 * it (still removed when force). */
int netback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force);

/* The domain is gone: every vif of it is taken off its bridge and removed. */
void netback_domain_gone(domid_t domid);

/* Prints `xl network-list` lines for the domain's vifs. */
void netback_list(domid_t domid);

/* The devid of the vif with this MAC in domid, or -ENOENT. */
int netback_find_mac(domid_t domid, const uint8_t mac[ETH_ALEN]);

/* Prints per-vif counters (the `netback-stats` command). */
void netback_show_stats(void);

#endif

/*
 * Which NIC is the uplink of which bridge: keel's `uplinks=` boot option
 * (net/uplinks.c, pure: built for the host's unit tests and fuzzer).
 *
 *   uplinks=eth0:xenbr0,eth1:xenbr1   eth0 joins xenbr0, eth1 joins xenbr1
 *   uplinks=eth0:xenbr0+eth1:xenbr1   the same ('+' as well as ',': QEMU's
 *                                     -initrd splits modules at commas)
 *   uplinks=none                      no NIC joins any bridge
 *   (option absent)                   the first NIC joins xenbr0
 *
 * NIC names are keel's (eth0, eth1 ... in PCI order, as `nic` lists them).
 * A NIC is the uplink of at most one bridge and a bridge has at most one
 * uplink (keel's switch forwards to one port per destination; two uplinks
 * on one bridge would loop frames between two wires without STP).
 */
#ifndef KEEL_UPLINKS_H
#define KEEL_UPLINKS_H

#include <lib/base.h>

#define UPLINKS_MAX 8
#define UPLINK_NAME_MAX 16      /* with the NUL, as net_port/nic names */

struct uplink_map {
	bool given;             /* the option was on the command line */
	unsigned int n;
	struct {
		char nic[UPLINK_NAME_MAX];
		char bridge[UPLINK_NAME_MAX];
	} e[UPLINKS_MAX];
};

/*
 * Parses the option's value into map (cleared first; given set).  Returns 0
 * or -EINVAL with *why naming the fault (a static string); on error map
 * holds no entry, so a bad option leaves every NIC off the bridges rather
 * than guessing.
 */
int uplink_map_parse(const char *s, struct uplink_map *map, const char **why);

/*
 * The bridge NIC nic_name joins, or NULL for none.  index is the NIC's
 * position (0 for eth0): without the option the first NIC joins xenbr0.
 */
const char *uplink_map_bridge(const struct uplink_map *map, const char *nic_name,
			      unsigned int index);

/* The option's text (kernel: net/uplink.c, filled by kernel/main.c's table). */
#define UPLINKS_OPT_MAX 200
extern char uplinks_opt[UPLINKS_OPT_MAX];

/* Bridge and port names: 1-15 of [A-Za-z0-9_.-] (the switch checks its names with it). */
bool uplink_valid_name(const char *s, size_t len);

#endif

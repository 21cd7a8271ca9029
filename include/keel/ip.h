/*
 * dom0's own IP address (net/ip.c): an lwIP interface that is keel's port
 * (NET_PORT_HOST) on bridge xenbr0, configured by DHCP or from keel's
 * command line (`ip=ADDR/LEN gw=ADDR dns=ADDR`, `ip=none`).
 *
 * Addresses here are IPv4 in network byte order (the first octet in the
 * lowest byte), as lwIP and the wire have them.  The parsers are pure
 * (net/lwip/ipcfg.c) and build for the host's unit tests.
 */
#ifndef KEEL_IP_H
#define KEEL_IP_H

#include <lib/base.h>

/* ---- pure helpers (net/lwip/ipcfg.c) ---- */

/* "a.b.c.d", each 0-255 in decimal without leading zeros (0 alone is
 * fine).  0 or -EINVAL. */
int ip_parse_addr(const char *s, uint32_t *addr);
/* "a.b.c.d/len", len 0-32.  0 or -EINVAL. */
int ip_parse_cidr(const char *s, uint32_t *addr, unsigned int *len);
/* The netmask of a prefix length (network byte order); len <= 32. */
uint32_t ip_prefix_mask(unsigned int len);
/* The prefix length of a contiguous netmask, or -EINVAL. */
int ip_mask_len(uint32_t mask);
/* Writes "a.b.c.d" (at least 16 bytes). Returns buf. */
char *ip_format(char *buf, size_t size, uint32_t addr);
/*
 * Checks a static configuration: addr is a usable host address of its
 * /len subnet (not 0.0.0.0, loopback, multicast, or the subnet's network
 * or broadcast address when len < 31); gw (0 = none) is a host of that
 * subnet other than addr.  0, -EINVAL (addr), -ERANGE (gw off the subnet or unusable).
 */
int ip_check_static(uint32_t addr, unsigned int len, uint32_t gw);

/* ---- the running stack (net/ip.c) ---- */

/* keel's command line: filled by the option table in kernel/main.c. */
#define IP_OPT_MAX 40
extern char ip_opt_ip[IP_OPT_MAX];      /* "ADDR/LEN", "none", "dhcp" or empty */
extern char ip_opt_gw[IP_OPT_MAX];
extern char ip_opt_dns[IP_OPT_MAX];

/* Checks the options (a bad one is reported and ignored) and starts the
 * `net-ip` thread, which joins xenbr0 once the NICs are probed.  Boot,
 * thread context.  (Not ip_init: lwIP's headers define that name.) */
void keel_ip_init(void);

#endif

/*
 * Software offloads of the switch (net/offload.c), on a frame held whole in
 * one dom0 buffer: completing a checksum a guest left blank, cutting a GSO
 * TCP frame into MSS-sized frames for a port that cannot take it whole, and
 * the anti-spoofing check of a vif's source MAC and IPv4 addresses.  Pure:
 * no allocation, no I/O; every header length is checked against the
 * frame's before it is read, so any bytes a guest sends are safe input.
 *
 * Checksum convention (netif.h NETTXF_csum_blank, Linux CHECKSUM_PARTIAL):
 * a blank frame's L4 checksum field already holds the sum of the IP
 * pseudo-header (folded, not complemented), so the full checksum is the
 * complement of the one's-complement sum from csum_start to the frame's
 * end; csum_offset is where the field sits after csum_start (16 for TCP,
 * 6 for UDP).
 */
#ifndef KEEL_OFFLOAD_H
#define KEEL_OFFLOAD_H

#include <lib/base.h>
#include <keel/net.h>

#define ETH_P_IPV4 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define IPPROTO_TCP_NUM 6
#define IPPROTO_UDP_NUM 17

/* One's-complement sum of len bytes at buf added to sum (RFC 1071), not
 * folded; bytes are taken in network order, an odd last byte padded. */
uint32_t offload_csum_add(uint32_t sum, const void *buf, size_t len);
/* Folds a sum to 16 bits and complements it: the value a checksum field holds. */
uint16_t offload_csum_fold(uint32_t sum);

/*
 * Completes the checksum of a CSUM_BLANK frame in place: the complement of
 * the sum of buf[csum_start..len), stored big-endian at csum_start +
 * csum_offset (0 is stored as 0xffff, which means the same and keeps UDP's
 * "no checksum" value out).  0, or -EINVAL when csum_start + csum_offset + 2
 * > len.
 */
int offload_fill_csum(uint8_t *buf, uint32_t len, uint16_t csum_start, uint16_t csum_offset);

/* Where a frame's IP and TCP/UDP headers are (offload_parse_l4). */
struct offload_l4 {
	uint16_t ethertype;     /* ETH_P_IPV4 or ETH_P_IPV6 */
	uint16_t l3_off;        /* IP header, from the frame's start */
	uint16_t l3_len;        /* IPv4: ihl * 4 (options included); IPv6: 40 */
	uint8_t proto;          /* IPPROTO_TCP_NUM or IPPROTO_UDP_NUM */
	uint16_t l4_off;        /* TCP/UDP header */
	uint16_t l4_hdr_len;    /* TCP: doff * 4; UDP: 8 */
	uint32_t end;           /* end of the IP packet (IP length; <= frame len) */
};

/*
 * Finds the TCP or UDP header of an Ethernet frame carrying IPv4 (options
 * allowed, not a fragment) or IPv6 (no extension headers): hdr holds the
 * frame's first hdr_len bytes, frame_len is its whole length.  0, -EINVAL
 * (a header runs past the bytes given or lengths disagree), or -EOPNOTSUPP
 * (not IPv4/IPv6 TCP/UDP, an IPv4 fragment, IPv6 extension headers).
 */
int offload_parse_l4(const uint8_t *hdr, uint32_t hdr_len, uint32_t frame_len,
		     struct offload_l4 *out);

/*
 * For a CSUM_BLANK frame from a guest, which names no csum_start: sets
 * m->csum_start/csum_offset from its headers (as Linux netback's
 * skb_checksum_setup does).  With write_pseudo, also stores the
 * pseudo-header sum into the frame's checksum field (for frontends that
 * left it zero).  hdr is the frame's start (hdr_len bytes of it; must be
 * writable for write_pseudo).  0 or offload_parse_l4's errors.
 */
int offload_csum_setup(uint8_t *hdr, uint32_t hdr_len, uint32_t frame_len, struct net_meta *m,
		       bool write_pseudo);

/* Receives one segment; its bytes are valid only during the call.
 * Returns 0 to go on or -errno to stop. */
typedef int (*offload_emit_fn)(void *ctx, const uint8_t *seg, uint32_t len);

/*
 * Cuts a GSO TCP frame (Ethernet + IPv4 or IPv6 + TCP + payload) into
 * frames of at most gso_size payload bytes, each built in scratch and
 * handed to emit.  In each segment: IPv4 total length, ID (the first's +
 * i), header checksum; IPv6 payload length; TCP sequence number (+ i *
 * gso_size), FIN and PSH only on the last, CWR only on the first, and a
 * full TCP checksum (whatever the input's field held).  Bytes past the IP
 * length (padding) are dropped.  gso_type is NET_GSO_TCPV4/NET_GSO_TCPV6
 * and must match the frame.  Returns the number of segments emitted (a
 * frame with no more than gso_size payload gives one), -EINVAL for a
 * malformed frame or gso_size 0, -EOPNOTSUPP as offload_parse_l4, -ENOSPC
 * when scratch cannot hold headers + gso_size, or emit's error.
 */
int offload_segment_tcp(const uint8_t *frame, uint32_t len, uint8_t gso_type, uint16_t gso_size,
			uint8_t *scratch, uint32_t scratch_len, offload_emit_fn emit, void *ctx);

/*
 * Anti-spoofing for a frame from a vif with mac= and/or ip=: mac (NULL: no
 * MAC lock) must be the Ethernet source and an ARP frame's sender MAC; with
 * n_ips > 0 (ips[] IPv4 in network byte order), an IPv4 frame's source
 * address and an ARP frame's sender address must be one of ips.  ARP other
 * than Ethernet/IPv4 is refused when either lock is on.
 * Exceptions, as Xen's vif scripts allow: a DHCP client's 0.0.0.0 (UDP 68
 * to 67) and ARP probes from 0.0.0.0.  VLAN-tagged frames are refused when
 * ips are set (they would carry IPv4 past the check).  Other ethertypes
 * (IPv6 among them) pass.  0, -EPERM (spoofed) or -EINVAL (too short to
 * read the fields checked).
 */
int offload_check_src(const uint8_t *frame, uint32_t len, const uint8_t *mac,
		      const uint32_t *ips, unsigned int n_ips);

#endif

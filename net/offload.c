/*
 * Software checksum and segmentation offloads, and the anti-spoofing check
 * (include/keel/offload.h).  Works on one contiguous frame in dom0 memory;
 * the switch gathers a frame's fragments there first when a port needs it.
 * Header layouts: RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293 (TCP),
 * RFC 826 (ARP); checksums RFC 1071.
 */
#include <keel/offload.h>

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

uint32_t offload_csum_add(uint32_t sum, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint64_t s = sum;

	while (len >= 2) {
		s += get16(p);
		p += 2;
		len -= 2;
	}
	if (len)
		s += (uint32_t)p[0] << 8;
	/* Keep the sum in 32 bits without losing carries. */
	while (s >> 32)
		s = (s & 0xffffffff) + (s >> 32);
	return (uint32_t)s;
}

uint16_t offload_csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int offload_fill_csum(uint8_t *buf, uint32_t len, uint16_t csum_start, uint16_t csum_offset)
{
	uint32_t field = (uint32_t)csum_start + csum_offset;
	uint16_t c;

	if (field + 2 > len)
		return -EINVAL;
	/* The field (the pseudo-header sum) is summed along with the rest. */
	c = offload_csum_fold(offload_csum_add(0, buf + csum_start, len - csum_start));
	put16(buf + field, c ? c : 0xffff);
	return 0;
}

int offload_parse_l4(const uint8_t *hdr, uint32_t hdr_len, uint32_t frame_len,
		     struct offload_l4 *out)
{
	const uint8_t *ip = hdr + ETH_HLEN;
	uint32_t ip_total, l4;

	memset(out, 0, sizeof(*out));
	if (hdr_len > frame_len)
		hdr_len = frame_len;
	if (hdr_len < ETH_HLEN)
		return -EINVAL;
	out->ethertype = get16(hdr + 12);
	out->l3_off = ETH_HLEN;
	if (out->ethertype == ETH_P_IPV4) {
		uint32_t ihl;

		if (hdr_len < ETH_HLEN + 20 || (ip[0] >> 4) != 4)
			return -EINVAL;
		ihl = (ip[0] & 15) * 4u;
		ip_total = get16(ip + 2);
		if (ihl < 20 || ETH_HLEN + ihl > hdr_len || ip_total < ihl ||
		    ETH_HLEN + ip_total > frame_len)
			return -EINVAL;
		/* More fragments, or a fragment offset: not a whole segment. */
		if (get16(ip + 6) & 0x3fff)
			return -EOPNOTSUPP;
		out->l3_len = (uint16_t)ihl;
		out->proto = ip[9];
	} else if (out->ethertype == ETH_P_IPV6) {
		if (hdr_len < ETH_HLEN + 40 || (ip[0] >> 4) != 6)
			return -EINVAL;
		ip_total = 40u + get16(ip + 4);
		if (ETH_HLEN + ip_total > frame_len)
			return -EINVAL;
		out->l3_len = 40;
		out->proto = ip[6];     /* next header: extension headers refused below */
	} else {
		return -EOPNOTSUPP;
	}
	out->end = ETH_HLEN + ip_total;
	l4 = ETH_HLEN + out->l3_len;
	out->l4_off = (uint16_t)l4;
	if (out->proto == IPPROTO_TCP_NUM) {
		uint32_t doff;

		if (l4 + 20 > hdr_len || l4 + 20 > out->end)
			return -EINVAL;
		doff = (uint32_t)(hdr[l4 + 12] >> 4) * 4;
		if (doff < 20 || l4 + doff > hdr_len || l4 + doff > out->end)
			return -EINVAL;
		out->l4_hdr_len = (uint16_t)doff;
	} else if (out->proto == IPPROTO_UDP_NUM) {
		if (l4 + 8 > out->end)
			return -EINVAL;
		out->l4_hdr_len = 8;
	} else {
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Sum of the TCP/UDP pseudo-header (RFC 9293 3.1, RFC 8200 8.1). */
static uint32_t pseudo_sum(const uint8_t *frame, const struct offload_l4 *l, uint32_t l4_len)
{
	const uint8_t *ip = frame + l->l3_off;
	uint32_t s;

	if (l->ethertype == ETH_P_IPV4)
		s = offload_csum_add(0, ip + 12, 8);            /* source, destination */
	else
		s = offload_csum_add(0, ip + 8, 32);
	s += l->proto;
	s += l4_len & 0xffff;
	s += l4_len >> 16;
	return s;
}

int offload_csum_setup(uint8_t *hdr, uint32_t hdr_len, uint32_t frame_len, struct net_meta *m,
		       bool write_pseudo)
{
	struct offload_l4 l;
	uint16_t field;
	int rc = offload_parse_l4(hdr, hdr_len, frame_len, &l);

	if (rc)
		return rc;
	field = l.proto == IPPROTO_TCP_NUM ? 16 : 6;
	if ((uint32_t)l.l4_off + field + 2 > hdr_len)
		return -EINVAL;
	m->csum_start = l.l4_off;
	m->csum_offset = field;
	if (write_pseudo) {
		uint32_t s = pseudo_sum(hdr, &l, l.end - l.l4_off);

		/* Not complemented: the partial sum the field holds. */
		put16(hdr + l.l4_off + field, (uint16_t)~offload_csum_fold(s));
	}
	return 0;
}

int offload_segment_tcp(const uint8_t *frame, uint32_t len, uint8_t gso_type, uint16_t gso_size,
			uint8_t *scratch, uint32_t scratch_len, offload_emit_fn emit, void *ctx)
{
	struct offload_l4 l;
	uint32_t hdrs, payload, seq, nseg;
	uint16_t id = 0;
	int rc;

	if (gso_size == 0)
		return -EINVAL;
	rc = offload_parse_l4(frame, len, len, &l);
	if (rc)
		return rc;
	if (l.proto != IPPROTO_TCP_NUM)
		return -EOPNOTSUPP;
	if ((gso_type == NET_GSO_TCPV4) != (l.ethertype == ETH_P_IPV4) ||
	    (gso_type != NET_GSO_TCPV4 && gso_type != NET_GSO_TCPV6))
		return -EINVAL;
	hdrs = (uint32_t)l.l4_off + l.l4_hdr_len;
	payload = l.end - hdrs;
	if (scratch_len < hdrs + (payload < gso_size ? payload : gso_size))
		return -ENOSPC;
	nseg = payload ? (payload + gso_size - 1) / gso_size : 1;
	seq = get32(frame + l.l4_off + 4);
	if (l.ethertype == ETH_P_IPV4)
		id = get16(frame + l.l3_off + 4);

	for (uint32_t i = 0; i < nseg; i++) {
		uint32_t off = i * gso_size;
		uint32_t n = payload - off < gso_size ? payload - off : gso_size;
		uint32_t seg_len = hdrs + n;
		uint8_t *ip = scratch + l.l3_off, *tcp = scratch + l.l4_off;
		uint8_t flags;

		memcpy(scratch, frame, hdrs);
		memcpy(scratch + hdrs, frame + hdrs + off, n);
		if (l.ethertype == ETH_P_IPV4) {
			put16(ip + 2, (uint16_t)(seg_len - l.l3_off));
			put16(ip + 4, (uint16_t)(id + i));
			put16(ip + 10, 0);
			put16(ip + 10, offload_csum_fold(offload_csum_add(0, ip, l.l3_len)));
		} else {
			put16(ip + 4, (uint16_t)(seg_len - l.l3_off - 40));
		}
		put32(tcp + 4, seq + off);
		/* Flags byte 13: CWR 0x80, PSH 0x08, FIN 0x01 (RFC 9293, 3168). */
		flags = tcp[13];
		if (i + 1 < nseg)
			flags &= (uint8_t)~(0x08 | 0x01);
		if (i > 0)
			flags &= (uint8_t)~0x80;
		tcp[13] = flags;
		put16(tcp + 16, 0);
		put16(tcp + 16, offload_csum_fold(offload_csum_add(
			pseudo_sum(scratch, &l, seg_len - l.l4_off), tcp, seg_len - l.l4_off)));
		rc = emit(ctx, scratch, seg_len);
		if (rc)
			return rc;
	}
	return (int)nseg;
}

static bool ip_allowed(const uint8_t *addr, const uint32_t *ips, unsigned int n_ips)
{
	for (unsigned int i = 0; i < n_ips; i++)
		if (!memcmp(addr, &ips[i], 4))
			return true;
	return false;
}

int offload_check_src(const uint8_t *frame, uint32_t len, const uint8_t *mac,
		      const uint32_t *ips, unsigned int n_ips)
{
	static const uint8_t any[4];
	uint16_t type;

	if (len < ETH_HLEN)
		return -EINVAL;
	if (mac && memcmp(frame + 6, mac, ETH_ALEN))
		return -EPERM;
	type = get16(frame + 12);
	if (type == ETH_P_ARP && (mac || n_ips)) {
		/* Ethernet/IPv4 ARP: htype 1, ptype 0x0800, hlen 6, plen 4;
		 * sender MAC at 8, sender IP at 14.  A lie there poisons the
		 * other hosts' ARP caches as well as a forged source would. */
		const uint8_t *arp = frame + ETH_HLEN;

		if (len < ETH_HLEN + 28)
			return -EINVAL;
		if (get16(arp) != 1 || get16(arp + 2) != ETH_P_IPV4 || arp[4] != 6 || arp[5] != 4)
			return -EPERM;
		if (mac && memcmp(arp + 8, mac, ETH_ALEN))
			return -EPERM;
		/* An ARP probe (RFC 5227) says 0.0.0.0. */
		if (n_ips && !ip_allowed(arp + 14, ips, n_ips) && memcmp(arp + 14, any, 4))
			return -EPERM;
		return 0;
	}
	if (!n_ips)
		return 0;
	if (type == ETH_P_IPV4) {
		const uint8_t *ip = frame + ETH_HLEN;
		uint32_t ihl;

		if (len < ETH_HLEN + 20)
			return -EINVAL;
		if (ip_allowed(ip + 12, ips, n_ips))
			return 0;
		/* A DHCP client has no address yet: 0.0.0.0, UDP 68 -> 67. */
		ihl = (ip[0] & 15) * 4u;
		if (!memcmp(ip + 12, any, 4) && ip[9] == IPPROTO_UDP_NUM && ihl >= 20 &&
		    len >= ETH_HLEN + ihl + 4 && get16(ip + ihl) == 68 && get16(ip + ihl + 2) == 67)
			return 0;
		return -EPERM;
	}
	if (type == ETH_P_8021Q || type == ETH_P_8021AD)
		return -EPERM;
	return 0;
}

/*
 * Software offloads on real frames: checksums are verified by this file's
 * own checksum code (a plain byte loop, not the module's), segments are
 * reassembled and compared with the original payload.
 */
#include "harness.h"
#include <keel/offload.h>

/* ---- an independent checksum verifier ---- */

static uint32_t sum_bytes(const uint8_t *p, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i++)
		s += (i & 1) ? p[i] : (uint32_t)p[i] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	return (uint16_t)s;
}

/* True when the L4 checksum of the IPv4/IPv6 packet at ip verifies. */
static bool l4_ok(const uint8_t *frame, size_t frame_len)
{
	const uint8_t *ip = frame + 14;
	uint32_t s;
	size_t l4off, l4len;
	uint8_t proto;
	if ((ip[0] >> 4) == 4) {
		size_t ihl = (ip[0] & 15) * 4u;
		size_t tot = (size_t)(ip[2] << 8 | ip[3]);
		l4off = 14 + ihl;
		l4len = tot - ihl;
		proto = ip[9];
		s = sum_bytes(ip + 12, 8);
	} else {
		l4off = 54;
		l4len = (size_t)(ip[4] << 8 | ip[5]);
		proto = ip[6];
		s = sum_bytes(ip + 8, 32);
	}
	if (l4off + l4len > frame_len)
		return false;
	s += proto + (uint32_t)l4len;
	s += sum_bytes(frame + l4off, l4len);
	return fold(s) == 0xffff;
}

static bool ipv4_hdr_ok(const uint8_t *frame)
{
	const uint8_t *ip = frame + 14;
	return fold(sum_bytes(ip, (ip[0] & 15) * 4u)) == 0xffff;
}

/* ---- frame builders ---- */

static uint8_t frame[70000];
static uint8_t payload_ref[70000];

static void eth(uint8_t *f, uint16_t type)
{
	memcpy(f, "\x00\x16\x3e\x00\x00\x02\x00\x16\x3e\x00\x00\x01", 12);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

/* Ethernet + IPv4 (ihl words) + TCP (doff words) + n payload bytes. */
static size_t tcp4(unsigned ihl, unsigned doff, size_t n, uint8_t flags)
{
	uint8_t *ip = frame + 14, *tcp;
	memset(frame, 0, 14 + 60 + 60);
	eth(frame, 0x0800);
	ip[0] = (uint8_t)(0x40 | ihl);
	size_t tot = ihl * 4 + doff * 4 + n;
	ip[2] = (uint8_t)(tot >> 8); ip[3] = (uint8_t)tot;
	ip[4] = 0x12; ip[5] = 0x34;     /* id */
	ip[6] = 0x40;                   /* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, "\x0a\x00\x00\x05\x0a\x00\x00\x06", 8);
	for (unsigned i = 20; i < ihl * 4; i++)
		ip[i] = 1;              /* NOP options */
	tcp = ip + ihl * 4;
	tcp[0] = 0x9c; tcp[1] = 0x40; tcp[2] = 0x00; tcp[3] = 0x50;
	memcpy(tcp + 4, "\xff\xff\xf0\x00", 4);       /* seq near the wrap */
	memcpy(tcp + 8, "\x00\x00\x00\x01", 4);
	tcp[12] = (uint8_t)(doff << 4);
	tcp[13] = flags;
	tcp[14] = 0xff; tcp[15] = 0xff;
	for (unsigned i = 20; i < doff * 4; i++)
		tcp[i] = 1;
	for (size_t i = 0; i < n; i++)
		payload_ref[i] = tcp[doff * 4 + i] = (uint8_t)(i * 7 + 3);
	return 14 + tot;
}

static size_t tcp6(size_t n, uint8_t flags)
{
	uint8_t *ip = frame + 14, *tcp = frame + 54;
	memset(frame, 0, 54 + 20);
	eth(frame, 0x86dd);
	ip[0] = 0x60;
	size_t pl = 20 + n;
	ip[4] = (uint8_t)(pl >> 8); ip[5] = (uint8_t)pl;
	ip[6] = 6;
	ip[7] = 64;
	for (int i = 0; i < 16; i++) {
		ip[8 + i] = (uint8_t)(0xfd + i);
		ip[24 + i] = (uint8_t)(0x20 + i);
	}
	tcp[3] = 80;
	memcpy(tcp + 4, "\x00\x00\x10\x00", 4);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	for (size_t i = 0; i < n; i++)
		payload_ref[i] = tcp[20 + i] = (uint8_t)(i * 13 + 1);
	return 54 + pl;
}

/* Puts the pseudo-header sum into the L4 field as netfront leaves it. */
static void blank_pseudo(size_t len, size_t l4off, size_t field)
{
	const uint8_t *ip = frame + 14;
	uint32_t s;
	size_t l4len = len - l4off;
	if ((ip[0] >> 4) == 4) {
		s = sum_bytes(ip + 12, 8);
		s += ip[9];
	} else {
		s = sum_bytes(ip + 8, 32);
		s += ip[6];
	}
	s += (uint32_t)l4len;
	uint16_t p = fold(s);
	frame[l4off + field] = (uint8_t)(p >> 8);
	frame[l4off + field + 1] = (uint8_t)p;
}

/* ---- tests ---- */

TEST(rfc1071_example)
{
	static const uint8_t b[] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };
	CHECK_EQ(fold(offload_csum_add(0, b, sizeof(b))), 0xddf2);
	CHECK_EQ(offload_csum_fold(offload_csum_add(0, b, sizeof(b))), 0x220d);
	/* Odd length: the last byte is the high half of a word. */
	CHECK_EQ(offload_csum_add(0, b, 3), 0x0001 + 0xf200);
	/* Carries survive a large buffer of 0xff. */
	static uint8_t ff[65536];
	memset(ff, 0xff, sizeof(ff));
	CHECK_EQ(offload_csum_fold(offload_csum_add(0, ff, sizeof(ff))), 0);
}

TEST(fill_csum_tcp4)
{
	size_t len = tcp4(5, 5, 1001, 0x18);
	frame[14 + 20 + 16] = frame[14 + 20 + 17] = 0;
	blank_pseudo(len, 34, 16);
	CHECK(!l4_ok(frame, len));
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 34, 16), 0);
	CHECK(l4_ok(frame, len));
}

TEST(fill_csum_udp6)
{
	uint8_t *ip = frame + 14, *udp = frame + 54;
	memset(frame, 0, 200);
	eth(frame, 0x86dd);
	ip[0] = 0x60;
	ip[5] = 8 + 33;
	ip[6] = 17;
	ip[8] = 0xfe; ip[9] = 0x80; ip[23] = 1;
	ip[24] = 0xff; ip[25] = 0x02; ip[39] = 1;
	udp[1] = 68; udp[3] = 67; udp[5] = 8 + 33;
	for (int i = 0; i < 33; i++)
		udp[8 + i] = (uint8_t)(0xa0 + i);
	size_t len = 54 + 8 + 33;
	blank_pseudo(len, 54, 6);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 54, 6), 0);
	CHECK(l4_ok(frame, len));
	CHECK(udp[6] || udp[7]);
	/* Make the sum come out as zero: a payload word grows by the checksum
	 * (one's-complement add), then the field must read 0xffff, not 0
	 * (which would mean "no checksum" to a UDP receiver). */
	uint16_t c = (uint16_t)(udp[6] << 8 | udp[7]);
	uint32_t w = (uint32_t)(udp[8] << 8 | udp[9]) + c;
	w = (w & 0xffff) + (w >> 16);
	udp[8] = (uint8_t)(w >> 8); udp[9] = (uint8_t)w;
	blank_pseudo(len, 54, 6);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 54, 6), 0);
	CHECK_EQ(udp[6] << 8 | udp[7], 0xffff);
	CHECK(l4_ok(frame, len));
}

TEST(fill_csum_bounds)
{
	size_t len = tcp4(5, 5, 0, 0x10);          /* 54 bytes */
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 34, 18), 0);   /* 34+18+2 = 54 */
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 34, 19), -EINVAL);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 60, 0), -EINVAL);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, 0xffff, 0xffff), -EINVAL);
	CHECK_EQ(offload_fill_csum(frame, 1, 0, 0), -EINVAL);
}

TEST(csum_setup_finds_field)
{
	struct net_meta m = { .flags = NET_META_CSUM_BLANK };
	size_t len = tcp4(7, 8, 300, 0x18);         /* IP and TCP options */
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, true), 0);
	CHECK_EQ(m.csum_start, 14 + 28);
	CHECK_EQ(m.csum_offset, 16);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, m.csum_start, m.csum_offset), 0);
	CHECK(l4_ok(frame, len));
	/* IPv6 TCP. */
	len = tcp6(500, 0x10);
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, true), 0);
	CHECK_EQ(m.csum_start, 54);
	CHECK_EQ(offload_fill_csum(frame, (uint32_t)len, m.csum_start, m.csum_offset), 0);
	CHECK(l4_ok(frame, len));
	/* Not IP / not TCP-UDP / fragments: not supported; truncated: invalid. */
	len = tcp4(5, 5, 10, 0);
	frame[12] = 0x08; frame[13] = 0x06;
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, false), -EOPNOTSUPP);
	len = tcp4(5, 5, 10, 0);
	frame[14 + 9] = 1;                          /* ICMP */
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, false), -EOPNOTSUPP);
	len = tcp4(5, 5, 10, 0);
	frame[14 + 6] = 0x20;                       /* more fragments */
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, false), -EOPNOTSUPP);
	len = tcp4(5, 5, 10, 0);
	CHECK_EQ(offload_csum_setup(frame, 40, (uint32_t)len, &m, false), -EINVAL);
	frame[14] = 0x44;                           /* ihl 4 */
	CHECK_EQ(offload_csum_setup(frame, 128, (uint32_t)len, &m, false), -EINVAL);
}

struct segs {
	int n;
	size_t total_payload;
	uint8_t data[70000];
	uint32_t seq0;
	int fail_at;
	char why[100];
};

static int collect(void *ctx, const uint8_t *seg, uint32_t len)
{
	struct segs *s = ctx;
	const uint8_t *ip = seg + 14;
	bool v4 = (ip[0] >> 4) == 4;
	size_t l4 = v4 ? 14 + (ip[0] & 15) * 4u : 54;
	const uint8_t *tcp = seg + l4;
	size_t hl = (tcp[12] >> 4) * 4u;
	uint32_t seq = (uint32_t)tcp[4] << 24 | (uint32_t)tcp[5] << 16 | (uint32_t)tcp[6] << 8 | tcp[7];
	if (s->fail_at == s->n)
		return -EIO;
	if (v4) {
		size_t tot = (size_t)(ip[2] << 8 | ip[3]);
		if (tot != len - 14 || !ipv4_hdr_ok(seg) ||
		    (size_t)(ip[4] << 8 | ip[5]) != 0x1234u + (unsigned)s->n)
			snprintf(s->why, sizeof(s->why), "seg %d: bad IPv4 header", s->n);
	} else if ((size_t)(ip[4] << 8 | ip[5]) != len - 54) {
		snprintf(s->why, sizeof(s->why), "seg %d: bad IPv6 length", s->n);
	}
	if (!l4_ok(seg, len))
		snprintf(s->why, sizeof(s->why), "seg %d: bad TCP checksum", s->n);
	if (s->n == 0)
		s->seq0 = seq;
	else if (seq != (uint32_t)(s->seq0 + s->total_payload))
		snprintf(s->why, sizeof(s->why), "seg %d: seq %u", s->n, seq);
	memcpy(s->data + s->total_payload, tcp + hl, len - l4 - hl);
	s->total_payload += len - l4 - hl;
	/* Keep the flags of each segment in its data copy's shadow. */
	s->data[69000 + s->n] = tcp[13];
	s->n++;
	return 0;
}

static struct segs sg;
static uint8_t scratch[70000];

TEST(segment_tcp4_with_options)
{
	size_t n = 1448 * 3 + 100;
	size_t len = tcp4(6, 8, n, 0x80 | 0x10 | 0x08 | 0x01);  /* CWR ACK PSH FIN */
	memset(&sg, 0, sizeof(sg));
	sg.fail_at = -1;
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1448, scratch,
				     sizeof(scratch), collect, &sg), 4);
	CHECK_STR(sg.why, "");
	CHECK_EQ(sg.n, 4);
	CHECK_EQ(sg.total_payload, n);
	CHECK(!memcmp(sg.data, payload_ref, n));
	CHECK_EQ(sg.seq0, 0xfffff000u);             /* wraps in segment 3 */
	CHECK_EQ(sg.data[69000], 0x80 | 0x10);      /* first: CWR, no PSH/FIN */
	CHECK_EQ(sg.data[69001], 0x10);
	CHECK_EQ(sg.data[69002], 0x10);
	CHECK_EQ(sg.data[69003], 0x10 | 0x08 | 0x01);
}

TEST(segment_tcp6)
{
	size_t n = 65000;
	size_t len = tcp6(n, 0x18);
	memset(&sg, 0, sizeof(sg));
	sg.fail_at = -1;
	int rc = offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV6, 1440, scratch,
				     sizeof(scratch), collect, &sg);
	CHECK_EQ(rc, (int)((n + 1439) / 1440));
	CHECK_STR(sg.why, "");
	CHECK_EQ(sg.total_payload, n);
	CHECK(!memcmp(sg.data, payload_ref, n));
	CHECK_EQ(sg.data[69000], 0x10);
	CHECK_EQ(sg.data[69000 + rc - 1], 0x18);
}

TEST(segment_small_and_padding)
{
	/* Payload under gso_size: one segment with a full checksum. */
	size_t len = tcp4(5, 5, 100, 0x18);
	memset(&sg, 0, sizeof(sg));
	sg.fail_at = -1;
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1448, scratch,
				     sizeof(scratch), collect, &sg), 1);
	CHECK_STR(sg.why, "");
	/* Bytes past the IP length are not payload. */
	memset(&sg, 0, sizeof(sg));
	sg.fail_at = -1;
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len + 10, NET_GSO_TCPV4, 50, scratch,
				     sizeof(scratch), collect, &sg), 2);
	CHECK_EQ(sg.total_payload, 100);
	CHECK_STR(sg.why, "");
}

static int count_only(void *ctx, const uint8_t *seg, uint32_t len)
{
	(void)seg; (void)len;
	(*(int *)ctx)++;
	return 0;
}

TEST(segment_refuses_malformed)
{
	int calls = 0;
	size_t len = tcp4(5, 5, 3000, 0x10);
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 0, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV6, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, 7, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1000, scratch,
				     1000, count_only, &calls), -ENOSPC);
	/* IP length past the frame. */
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len - 1, NET_GSO_TCPV4, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	/* TCP header longer than what is there. */
	len = tcp4(5, 5, 10, 0x10);
	frame[14 + 20 + 12] = 0xf0;                 /* doff 15: 60 bytes > 30 */
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	frame[14 + 20 + 12] = 0x40;                 /* doff 4 */
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	/* IPv4 header length past the frame, and under 20. */
	len = tcp4(5, 5, 0, 0x10);
	frame[14] = 0x4f;
	CHECK_EQ(offload_segment_tcp(frame, 60, NET_GSO_TCPV4, 1000, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	/* UDP is not TCP. */
	len = tcp4(5, 5, 100, 0x10);
	frame[14 + 9] = 17;
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 50, scratch,
				     sizeof(scratch), count_only, &calls), -EOPNOTSUPP);
	/* A truncated frame. */
	CHECK_EQ(offload_segment_tcp(frame, 20, NET_GSO_TCPV4, 50, scratch,
				     sizeof(scratch), count_only, &calls), -EINVAL);
	CHECK_EQ(calls, 0);
	/* The emitter's error stops the walk. */
	len = tcp4(5, 5, 5000, 0x10);
	memset(&sg, 0, sizeof(sg));
	sg.fail_at = 2;
	CHECK_EQ(offload_segment_tcp(frame, (uint32_t)len, NET_GSO_TCPV4, 1000, scratch,
				     sizeof(scratch), collect, &sg), -EIO);
	CHECK_EQ(sg.n, 2);
}

/* ---- anti-spoofing ---- */

static const uint8_t vif_mac[6] = { 0x00, 0x16, 0x3e, 0x00, 0x00, 0x01 };

static uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint32_t v;
	uint8_t x[4] = { a, b, c, d };
	memcpy(&v, x, 4);
	return v;
}

static size_t arp(const uint8_t *sha, const uint8_t *spa)
{
	memset(frame, 0, 60);
	eth(frame, 0x0806);
	uint8_t *a = frame + 14;
	a[1] = 1; a[2] = 0x08; a[4] = 6; a[5] = 4; a[7] = 1;
	memcpy(a + 8, sha, 6);
	memcpy(a + 14, spa, 4);
	return 42;
}

TEST(check_src)
{
	uint32_t ips[2] = { ip4(10, 0, 0, 5), ip4(10, 0, 0, 7) };
	size_t len = tcp4(5, 5, 10, 0x10);           /* from 10.0.0.5, MAC ..:01 */
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), 0);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, NULL, ips, 2), 0);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips + 1, 1), -EPERM);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, NULL, 0), 0);
	frame[11] = 0x02;                           /* another source MAC */
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, NULL, ips, 2), 0);
	/* DHCP discover from 0.0.0.0:68 to :67 passes; other 0.0.0.0 traffic does not. */
	len = tcp4(5, 5, 10, 0x10);
	memset(frame + 14 + 12, 0, 4);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	frame[14 + 9] = 17;
	frame[34] = 0; frame[35] = 68; frame[36] = 0; frame[37] = 67;
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), 0);
	frame[35] = 69;
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	/* ARP: sender IP and MAC. */
	len = arp(vif_mac, (const uint8_t *)"\x0a\x00\x00\x07");
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), 0);
	len = arp(vif_mac, (const uint8_t *)"\x0a\x00\x00\x08");
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	len = arp(vif_mac, (const uint8_t *)"\x00\x00\x00\x00");   /* probe */
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), 0);
	len = arp((const uint8_t *)"\x00\x16\x3e\x00\x00\x09", (const uint8_t *)"\x0a\x00\x00\x07");
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	CHECK_EQ(offload_check_src(frame, 41, vif_mac, ips, 2), -EINVAL);
	/* With a MAC lock only, the ARP sender MAC is still checked. */
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, NULL, 0), -EPERM);
	len = arp(vif_mac, (const uint8_t *)"\x0a\x00\x00\x63");
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, NULL, 0), 0);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, NULL, NULL, 0), 0);
	frame[14 + 3] = 0xdd;                       /* ptype IPv6: not ARP we know */
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, NULL, 0), -EPERM);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, NULL, NULL, 0), 0);
	/* VLAN tags refused when IPs are locked; IPv6 passes. */
	len = tcp4(5, 5, 10, 0x10);
	frame[12] = 0x81; frame[13] = 0x00;
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), -EPERM);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, NULL, 0), 0);
	len = tcp6(10, 0x10);
	CHECK_EQ(offload_check_src(frame, (uint32_t)len, vif_mac, ips, 2), 0);
	/* Too short. */
	CHECK_EQ(offload_check_src(frame, 13, vif_mac, NULL, 0), -EINVAL);
	len = tcp4(5, 5, 10, 0x10);
	CHECK_EQ(offload_check_src(frame, 33, vif_mac, ips, 2), -EINVAL);
}

static const struct test_case tests[] = {
	T(rfc1071_example),
	T(fill_csum_tcp4),
	T(fill_csum_udp6),
	T(fill_csum_bounds),
	T(csum_setup_finds_field),
	T(segment_tcp4_with_options),
	T(segment_tcp6),
	T(segment_small_and_padding),
	T(segment_refuses_malformed),
	T(check_src),
};
RUN_TESTS(tests)

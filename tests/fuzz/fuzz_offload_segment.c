/*
 * GSO segmentation, checksum setup and anti-spoofing on arbitrary frames.
 * fuzz-srcs: net/offload.c
 * Invariants: segmentation never reads or writes out of bounds; each
 * segment fits scratch and carries at most gso_size payload bytes; their
 * payloads put together are the original's; every segment's IPv4 header
 * and TCP checksums verify (checked here with a separate byte loop).
 */
#include <stdlib.h>
#include <string.h>
#include <keel/offload.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

struct ctx {
	const uint8_t *payload;         /* the original's TCP payload */
	size_t payload_len, done;
	uint32_t max_payload;
	uint32_t scratch_len;
};

static int check_seg(void *p, const uint8_t *seg, uint32_t len)
{
	struct ctx *c = p;
	const uint8_t *ip = seg + 14;
	size_t l4, l4len;
	uint32_t s;

	if (len > c->scratch_len)
		abort();
	if ((ip[0] >> 4) == 4) {
		size_t ihl = (ip[0] & 15) * 4u;
		if (fold(sum_bytes(ip, ihl)) != 0xffff || (size_t)(ip[2] << 8 | ip[3]) != len - 14u)
			abort();
		l4 = 14 + ihl;
		s = sum_bytes(ip + 12, 8) + ip[9];
	} else {
		if ((size_t)(ip[4] << 8 | ip[5]) != len - 54u)
			abort();
		l4 = 54;
		s = sum_bytes(ip + 8, 32) + ip[6];
	}
	l4len = len - l4;
	s += (uint32_t)l4len + sum_bytes(seg + l4, l4len);
	if (fold(s) != 0xffff)
		abort();
	size_t hl = (seg[l4 + 12] >> 4) * 4u;
	size_t n = l4len - hl;
	if (n > c->max_payload || c->done + n > c->payload_len ||
	    memcmp(seg + l4 + hl, c->payload + c->done, n))
		abort();
	c->done += n;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[70000], scratch[70000];
	struct offload_l4 l;
	struct net_meta m;
	uint32_t ips[2];

	if (size < 8 || size - 4 > sizeof(frame))
		return 0;
	uint8_t gso_type = data[0] & 1 ? NET_GSO_TCPV6 : NET_GSO_TCPV4;
	uint16_t gso_size = (uint16_t)(data[1] | data[2] << 8);
	uint32_t scratch_len = data[3] & 0x80 ? (uint32_t)(data[3] & 0x7f) * 64 : sizeof(scratch);
	uint32_t len = (uint32_t)(size - 4);
	memcpy(frame, data + 4, len);
	/* Help the fuzzer past the headers' magic numbers. */
	if ((data[0] & 2) && len >= 14 + 40) {
		frame[12] = gso_type == NET_GSO_TCPV4 ? 0x08 : 0x86;
		frame[13] = gso_type == NET_GSO_TCPV4 ? 0x00 : 0xdd;
		frame[14] = (uint8_t)((gso_type == NET_GSO_TCPV4 ? 0x40 : 0x60) | (frame[14] & 15));
		if (gso_type == NET_GSO_TCPV4) {
			frame[14 + 9] = 6;
			frame[14 + 6] &= 0xc0;
			uint32_t tot = len - 14;
			frame[16] = (uint8_t)(tot >> 8); frame[17] = (uint8_t)tot;
		} else {
			frame[14 + 6] = 6;
			uint32_t pl = len - 54;
			frame[18] = (uint8_t)(pl >> 8); frame[19] = (uint8_t)pl;
		}
	}

	/* Checksum setup must agree with the parser and stay in bounds. */
	if (offload_csum_setup(frame, len < 128 ? len : 128, len, &m, data[0] & 4) == 0 &&
	    (uint32_t)m.csum_start + m.csum_offset + 2 > len)
		abort();

	memcpy(ips, frame, len >= 8 ? 8 : len);
	int rc = offload_check_src(frame, len, data[0] & 8 ? frame + 6 : data, ips, (data[0] >> 6) % 3u);
	if (rc != 0 && rc != -EPERM && rc != -EINVAL)
		abort();

	int prc = offload_parse_l4(frame, len, len, &l);
	struct ctx c = { .scratch_len = scratch_len, .max_payload = gso_size };
	if (prc == 0 && l.proto == IPPROTO_TCP_NUM) {
		c.payload = frame + l.l4_off + l.l4_hdr_len;
		c.payload_len = l.end - l.l4_off - l.l4_hdr_len;
	}
	rc = offload_segment_tcp(frame, len, gso_type, gso_size, scratch, scratch_len, check_seg, &c);
	if (rc > 0) {
		if (prc != 0 || c.done != c.payload_len)
			abort();
		if (c.payload_len && (size_t)rc != (c.payload_len + gso_size - 1) / gso_size)
			abort();
	} else if (rc != -EINVAL && rc != -EOPNOTSUPP && rc != -ENOSPC) {
		abort();
	}
	return 0;
}

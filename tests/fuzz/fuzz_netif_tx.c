/*
 * netback's tx request walk against arbitrary ring contents and limits.
 * fuzz-srcs: backends/net/netif_tx.c
 * Invariants: an accepted packet's fragments stay within their pages, add up
 * to its size and number no more than negotiated; a refused one consumes
 * only slots it was given and answers each; the verdict depends only on the
 * slots the packet spans (more slots after it change nothing).
 * The same bytes also drive a rate= credit bucket (netif_credit): whatever
 * the packet sizes and times, what it lets pass from the start never
 * exceeds its burst plus one interval's credit per interval begun, and a
 * refusal names a later time.
 */
#include <stdlib.h>
#include <string.h>
#include <keel/netif_tx.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct netif_tx_packet *a, const struct netif_tx_packet *b)
{
	if (a->nslots != b->nslots || a->reason != b->reason || a->fatal != b->fatal ||
	    a->nfrags != b->nfrags || a->len != b->len ||
	    memcmp(a->frags, b->frags, a->nfrags * sizeof(a->frags[0])))
		abort();
}

static void fuzz_credit(const uint8_t *data, size_t size)
{
	struct netif_credit c;
	uint64_t per = 1 + (data[0] | (uint64_t)data[1] << 8) * (data[2] % 16 + 1);
	uint64_t iv = (1 + data[3] % 100) * 1000000ull, t = 5, sent = 0;

	netif_credit_init(&c, per, iv, t);
	for (size_t i = 4; i + 3 <= size; i += 3) {
		uint32_t len = data[i] | (uint32_t)data[i + 1] << 8;
		t += (uint64_t)data[i + 2] * 997 * 1000;
		uint64_t when = netif_credit_take(&c, len, t);
		if (when) {
			if (when <= t || netif_credit_take(&c, len, when) != 0)
				abort();
			t = when;
		}
		sent += MIN((uint64_t)len, c.burst_bytes);
		if (sent > c.burst_bytes + per * (1 + (t - 5) / iv))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static union netif_tx_slot slots[64];
	static struct netif_tx_packet pkt, again;
	struct netif_tx_limits lim;

	if (size < 4)
		return 0;
	fuzz_credit(data, size);
	netif_tx_limits_default(&lim);
	lim.max_slots = 1 + data[0] % NETIF_TX_SLOTS_MAX;
	lim.fatal_slots = lim.max_slots + data[1] % (NETIF_TX_SLOTS_MAX - lim.max_slots + 1);
	lim.gso_tcpv4 = data[2] & 1;
	lim.gso_tcpv6 = data[2] & 2;
	if (data[2] & 4)
		lim.max_packet_bytes = 1514;
	unsigned int avail = data[3];
	data += 4;
	size -= 4;
	size_t n = size / sizeof(slots[0]);
	if (n > 64)
		n = 64;
	memset(slots, 0, sizeof(slots));
	memcpy(slots, data, n * sizeof(slots[0]));
	if (avail > n)
		avail = (unsigned int)n;

	int rc = netif_tx_parse(slots, avail, &lim, &pkt);
	switch (rc) {
	case -EAGAIN:
		if (pkt.nslots || pkt.nanswers)
			abort();
		/* More slots can only make it complete or refuse it. */
		return 0;
	case -EPROTO:
		if (!pkt.fatal || pkt.reason < NETIF_TX_FATAL_SLOTS)
			abort();
		return 0;
	case 0:
	case -EINVAL:
		break;
	default:
		abort();
	}
	if (pkt.fatal || pkt.nslots < 1 || pkt.nslots > avail || pkt.nanswers != pkt.nslots ||
	    pkt.nfrags < 1 || pkt.nfrags > lim.fatal_slots)
		abort();
	if ((rc == 0) != (pkt.reason == NETIF_TX_OK))
		abort();
	/* Slot for slot: data answers carry the request ids, extras are NULL. */
	unsigned int f = 0;
	for (unsigned int i = 0; i < pkt.nanswers; i++) {
		if (pkt.answers[i].extra)
			continue;
		if (f >= pkt.nfrags || pkt.answers[i].id != pkt.frags[f].id)
			abort();
		f++;
	}
	if (f != pkt.nfrags)
		abort();
	if (rc == 0) {
		uint32_t sum = 0;
		for (unsigned int i = 0; i < pkt.nfrags; i++) {
			if ((uint32_t)pkt.frags[i].offset + pkt.frags[i].len > NETIF_TX_PAGE_BYTES)
				abort();
			sum += pkt.frags[i].len;
		}
		if (sum != pkt.len || pkt.nfrags > lim.max_slots || pkt.len > lim.max_packet_bytes)
			abort();
		if (!pkt.mcast_add && !pkt.mcast_del && pkt.len < ETH_HLEN)
			abort();
		if (pkt.meta.flags & NET_META_GSO) {
			if (!pkt.meta.gso_size || !(pkt.meta.flags & NET_META_CSUM_BLANK))
				abort();
			if (!(pkt.meta.gso_type == NET_GSO_TCPV4 && lim.gso_tcpv4) &&
			    !(pkt.meta.gso_type == NET_GSO_TCPV6 && lim.gso_tcpv6))
				abort();
		}
	}
	/* The same verdict from exactly the slots it consumed, and from all. */
	if (netif_tx_parse(slots, pkt.nslots, &lim, &again) != rc)
		abort();
	check_same(&pkt, &again);
	if (netif_tx_parse(slots, (unsigned int)n, &lim, &again) != rc)
		abort();
	check_same(&pkt, &again);
	return 0;
}

/* netback's tx request walk: what a netfront, well-behaved or hostile, can put on the ring. */
#include "harness.h"
#include <keel/netif_tx.h>

static union netif_tx_slot ring[64];
static unsigned int nring;
static struct netif_tx_packet pkt;

static void reset(void)
{
	memset(ring, 0, sizeof(ring));
	nring = 0;
}

static void req(grant_ref_t gref, uint16_t offset, uint16_t flags, uint16_t id, uint16_t size)
{
	ring[nring++].req = (struct netif_tx_request){ .gref = gref, .offset = offset,
						       .flags = flags, .id = id, .size = size };
}

static void extra(uint8_t type, uint8_t flags)
{
	union netif_tx_slot *s = &ring[nring++];
	s->extra.type = type;
	s->extra.flags = flags;
}

static void gso(uint16_t size, uint8_t type, uint8_t flags)
{
	extra(XEN_NETIF_EXTRA_TYPE_GSO, flags);
	ring[nring - 1].extra.u.gso.size = size;
	ring[nring - 1].extra.u.gso.type = type;
}

static struct netif_tx_limits lim(void)
{
	struct netif_tx_limits l;
	netif_tx_limits_default(&l);
	return l;
}

static int parse(void)
{
	struct netif_tx_limits l = lim();
	return netif_tx_parse(ring, nring, &l, &pkt);
}

TEST(single_slot)
{
	reset();
	req(7, 100, NETTXF_data_validated, 42, 60);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.nslots, 1);
	CHECK_EQ(pkt.len, 60);
	CHECK_EQ(pkt.nfrags, 1);
	CHECK_EQ(pkt.frags[0].gref, 7);
	CHECK_EQ(pkt.frags[0].offset, 100);
	CHECK_EQ(pkt.frags[0].len, 60);
	CHECK_EQ(pkt.frags[0].id, 42);
	CHECK_EQ(pkt.nanswers, 1);
	CHECK_EQ(pkt.answers[0].id, 42);
	CHECK(!pkt.answers[0].extra);
	CHECK_EQ(pkt.meta.flags, NET_META_CSUM_OK);
	CHECK(!pkt.fatal);
}

TEST(fragments_first_size_is_total)
{
	reset();
	req(1, 0, NETTXF_more_data, 1, 3000);       /* total */
	req(2, 10, NETTXF_more_data, 2, 1000);
	req(3, 4000, 0, 3, 96);                     /* ends exactly at 4096 */
	req(99, 0, 0, 99, 60);                      /* the next packet: not read */
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.nslots, 3);
	CHECK_EQ(pkt.nfrags, 3);
	CHECK_EQ(pkt.frags[0].len, 3000 - 1000 - 96);
	CHECK_EQ(pkt.frags[1].len, 1000);
	CHECK_EQ(pkt.frags[1].offset, 10);
	CHECK_EQ(pkt.frags[2].len, 96);
	CHECK_EQ(pkt.frags[2].gref, 3);
	CHECK_EQ(pkt.answers[2].id, 3);
	CHECK_EQ(pkt.len, 3000);
}

TEST(fragments_larger_than_total_dropped)
{
	reset();
	req(1, 0, NETTXF_more_data, 1, 100);
	req(2, 0, NETTXF_more_data, 2, 80);
	req(3, 0, 0, 3, 21);                        /* 80 + 21 > 100 */
	CHECK_EQ(parse(), -EINVAL);
	CHECK(!pkt.fatal);
	CHECK_EQ(pkt.reason, NETIF_TX_FRAG_OVERSIZE);
	CHECK_EQ(pkt.nslots, 3);                    /* all consumed, each answered */
	CHECK_EQ(pkt.nanswers, 3);
	CHECK_EQ(pkt.answers[0].id, 1);
	CHECK_EQ(pkt.answers[2].id, 3);
	/* Exactly the total is fine (an empty first slot). */
	reset();
	req(1, 4096, NETTXF_more_data, 1, 100);
	req(2, 0, 0, 2, 100);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.frags[0].len, 0);
}

TEST(cross_page_is_fatal)
{
	reset();
	req(1, 4000, 0, 1, 97);                     /* 4000 + 97 > 4096 */
	CHECK_EQ(parse(), -EPROTO);
	CHECK(pkt.fatal);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_CROSS_PAGE);
	reset();
	req(1, 0, NETTXF_more_data, 1, 200);
	req(2, 4095, 0, 2, 2);
	CHECK_EQ(parse(), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_CROSS_PAGE);
	/* The first slot's own length is what counts, not the total. */
	reset();
	req(1, 4000, NETTXF_more_data, 1, 5000);
	req(2, 0, 0, 2, 4000);                      /* first holds 1000: 4000+1000 > 4096 */
	CHECK_EQ(parse(), -EPROTO);
	reset();
	req(1, 3000, NETTXF_more_data, 1, 5000);
	req(2, 0, 0, 2, 4000);                      /* first holds 1000: fits */
	CHECK_EQ(parse(), 0);
	/* An offset past the page, even with size 0. */
	reset();
	req(1, 0, NETTXF_more_data, 1, 100);
	req(2, 4097, 0, 2, 0);
	CHECK_EQ(parse(), -EPROTO);
	/* A later fatal slot wins over an earlier drop. */
	reset();
	req(1, 0, NETTXF_more_data, 1, 100);
	req(2, 0, NETTXF_more_data, 2, 200);        /* oversize: drop */
	req(3, 4000, 0, 3, 200);                    /* cross page: fatal */
	CHECK_EQ(parse(), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_CROSS_PAGE);
}

static void chain(unsigned int n)
{
	reset();
	req(1, 0, n > 1 ? NETTXF_more_data : 0, 0, (uint16_t)(100 * n));
	for (unsigned int k = 1; k < n; k++)
		req(100 + k, 0, k + 1 < n ? NETTXF_more_data : 0, (uint16_t)k, 100);
}

TEST(slot_limits)
{
	chain(NETIF_TX_DEFAULT_MAX_SLOTS);          /* 19 data slots: Linux takes them */
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.nfrags, NETIF_TX_DEFAULT_MAX_SLOTS);
	CHECK_EQ(pkt.frags[0].len, 100);
	chain(NETIF_TX_DEFAULT_MAX_SLOTS + 1);      /* dropped, not fatal */
	CHECK_EQ(parse(), -EINVAL);
	CHECK_EQ(pkt.reason, NETIF_TX_TOO_MANY_SLOTS);
	CHECK_EQ(pkt.nslots, NETIF_TX_DEFAULT_MAX_SLOTS + 1);
	chain(NETIF_TX_DEFAULT_FATAL_SLOTS);
	CHECK_EQ(parse(), -EINVAL);
	CHECK(!pkt.fatal);
	chain(NETIF_TX_DEFAULT_FATAL_SLOTS + 1);    /* fatal */
	CHECK_EQ(parse(), -EPROTO);
	CHECK(pkt.fatal);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_SLOTS);
	/* A smaller negotiated limit. */
	struct netif_tx_limits l = lim();
	l.max_slots = 2;
	l.fatal_slots = 3;
	chain(3);
	CHECK_EQ(netif_tx_parse(ring, nring, &l, &pkt), -EINVAL);
	chain(4);
	CHECK_EQ(netif_tx_parse(ring, nring, &l, &pkt), -EPROTO);
	/* Unusable limits refused. */
	l.fatal_slots = NETIF_TX_SLOTS_MAX + 1;
	CHECK_EQ(netif_tx_parse(ring, nring, &l, &pkt), -EINVAL);
	CHECK_EQ(pkt.nslots, 0);
}

TEST(endless_chain_needs_more_then_fatal)
{
	/* An endless chain: every slot says more_data. */
	reset();
	for (unsigned int k = 0; k < 40; k++)
		req(k, 0, NETTXF_more_data, (uint16_t)k, 100);
	struct netif_tx_limits l = lim();
	for (unsigned int avail = 0; avail < NETIF_TX_DEFAULT_FATAL_SLOTS; avail++) {
		CHECK_EQ(netif_tx_parse(ring, avail, &l, &pkt), -EAGAIN);
		CHECK_EQ(pkt.nslots, 0);
	}
	/* fatal_slots slots all saying more_data: the packet cannot end well. */
	CHECK_EQ(netif_tx_parse(ring, NETIF_TX_DEFAULT_FATAL_SLOTS, &l, &pkt), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_SLOTS);
	CHECK_EQ(netif_tx_parse(ring, 40, &l, &pkt), -EPROTO);
	/* A short, well-formed chain cut off by avail: incomplete, then whole. */
	reset();
	req(1, 0, NETTXF_more_data | NETTXF_extra_info | NETTXF_csum_blank, 1, 2000);
	gso(1448, XEN_NETIF_GSO_TYPE_TCPV4, 0);
	req(2, 0, 0, 2, 1000);
	CHECK_EQ(netif_tx_parse(ring, 1, &l, &pkt), -EAGAIN);
	CHECK_EQ(netif_tx_parse(ring, 2, &l, &pkt), -EAGAIN);
	CHECK_EQ(netif_tx_parse(ring, 3, &l, &pkt), 0);
}

TEST(sizes)
{
	reset();
	req(1, 0, 0, 1, ETH_HLEN - 1);
	CHECK_EQ(parse(), -EINVAL);
	CHECK_EQ(pkt.reason, NETIF_TX_TOO_SHORT);
	CHECK_EQ(pkt.nslots, 1);
	reset();
	req(1, 0, 0, 1, ETH_HLEN);
	CHECK_EQ(parse(), 0);
	reset();
	req(1, 0, 0, 1, 0);
	CHECK_EQ(parse(), -EINVAL);
	/* A smaller negotiated maximum (say, MTU-sized frames only). */
	struct netif_tx_limits l = lim();
	l.max_packet_bytes = 1514;
	reset();
	req(1, 0, NETTXF_more_data, 1, 1515);
	req(2, 0, 0, 2, 1000);
	CHECK_EQ(netif_tx_parse(ring, nring, &l, &pkt), -EINVAL);
	CHECK_EQ(pkt.reason, NETIF_TX_TOO_BIG);
	CHECK_EQ(pkt.nslots, 2);
	/* The largest the wire can say: 65535 bytes in 16 slots. */
	reset();
	req(1, 0, NETTXF_more_data, 1, 65535);
	for (int k = 0; k < 15; k++)
		req(2, 0, k < 14 ? NETTXF_more_data : 0, 2, 4096);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.frags[0].len, 4095);
}

TEST(gso_extra)
{
	reset();
	req(1, 0, NETTXF_more_data | NETTXF_extra_info | NETTXF_csum_blank | NETTXF_data_validated,
	    1, 3000);
	gso(1448, XEN_NETIF_GSO_TYPE_TCPV6, 0);
	req(2, 0, 0, 2, 2000);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.nslots, 3);
	CHECK_EQ(pkt.nfrags, 2);
	CHECK_EQ(pkt.frags[1].gref, 2);
	CHECK_EQ(pkt.meta.flags, NET_META_GSO | NET_META_CSUM_BLANK);
	CHECK_EQ(pkt.meta.gso_type, NET_GSO_TCPV6);
	CHECK_EQ(pkt.meta.gso_size, 1448);
	/* Answers in ring order: the request, a NULL for the extra, the fragment. */
	CHECK_EQ(pkt.nanswers, 3);
	CHECK(!pkt.answers[0].extra);
	CHECK(pkt.answers[1].extra);
	CHECK_EQ(pkt.answers[2].id, 2);
}

TEST(gso_rules)
{
	/* Size zero: fatal. */
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 100);
	gso(0, XEN_NETIF_GSO_TYPE_TCPV4, 0);
	CHECK_EQ(parse(), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_GSO);
	/* Unknown type: fatal. */
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 100);
	gso(1000, XEN_NETIF_GSO_TYPE_NONE, 0);
	CHECK_EQ(parse(), -EPROTO);
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 100);
	gso(1000, 3, 0);
	CHECK_EQ(parse(), -EPROTO);
	/* A type not offered: fatal. */
	struct netif_tx_limits l = lim();
	l.gso_tcpv6 = false;
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 100);
	gso(1000, XEN_NETIF_GSO_TYPE_TCPV6, 0);
	CHECK_EQ(netif_tx_parse(ring, nring, &l, &pkt), -EPROTO);
	/* GSO without csum_blank: dropped. */
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_data_validated, 1, 100);
	gso(1000, XEN_NETIF_GSO_TYPE_TCPV4, 0);
	CHECK_EQ(parse(), -EINVAL);
	CHECK_EQ(pkt.reason, NETIF_TX_GSO_NO_CSUM);
	CHECK_EQ(pkt.nslots, 2);
	CHECK(pkt.answers[1].extra);
}

TEST(extra_chain)
{
	/* GSO, then HASH chained with FLAG_MORE. */
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_csum_blank, 1, 100);
	gso(500, XEN_NETIF_GSO_TYPE_TCPV4, XEN_NETIF_EXTRA_FLAG_MORE);
	extra(XEN_NETIF_EXTRA_TYPE_HASH, 0);
	ring[nring - 1].extra.u.hash.type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
	ring[nring - 1].extra.u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
	memcpy(ring[nring - 1].extra.u.hash.value, "\x78\x56\x34\x12", 4);
	req(50, 0, 0, 50, 60);                      /* the next packet */
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.nslots, 3);
	CHECK(pkt.hash_set);
	CHECK_EQ(pkt.hash_value, 0x12345678);
	CHECK_EQ(pkt.hash_type, _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP);
	CHECK_EQ(pkt.meta.gso_size, 500);
	/* Type 0 and types past the last: fatal. */
	reset();
	req(1, 0, NETTXF_extra_info, 1, 100);
	extra(XEN_NETIF_EXTRA_TYPE_NONE, 0);
	CHECK_EQ(parse(), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_EXTRA_TYPE);
	reset();
	req(1, 0, NETTXF_extra_info, 1, 100);
	extra(XEN_NETIF_EXTRA_TYPE_MAX, 0);
	CHECK_EQ(parse(), -EPROTO);
	/* A repeated type: dropped, all slots consumed. */
	reset();
	req(1, 0, NETTXF_extra_info | NETTXF_more_data, 1, 100);
	extra(XEN_NETIF_EXTRA_TYPE_HASH, XEN_NETIF_EXTRA_FLAG_MORE);
	extra(XEN_NETIF_EXTRA_TYPE_HASH, 0);
	req(2, 0, 0, 2, 50);
	CHECK_EQ(parse(), -EINVAL);
	CHECK_EQ(pkt.reason, NETIF_TX_EXTRA_DUPLICATE);
	CHECK_EQ(pkt.nslots, 4);
	CHECK_EQ(pkt.answers[3].id, 2);
	/* An extra chain that never ends: fatal after NETIF_TX_EXTRAS_MAX. */
	reset();
	req(1, 0, NETTXF_extra_info, 1, 100);
	for (int k = 0; k < 10; k++)
		extra((uint8_t)(2 + k % 3), XEN_NETIF_EXTRA_FLAG_MORE);
	CHECK_EQ(parse(), -EPROTO);
	CHECK_EQ(pkt.reason, NETIF_TX_FATAL_EXTRA_CHAIN);
	/* The chain cut off by avail: incomplete. */
	struct netif_tx_limits l = lim();
	CHECK_EQ(netif_tx_parse(ring, 3, &l, &pkt), -EAGAIN);
	/* Extra flags on the request's data slots mean nothing: flags on a
	 * fragment request are NETTXF_more_data only. */
}

TEST(mcast_control)
{
	reset();
	req(1, 0, NETTXF_extra_info, 1, 0);         /* a dummy request, no frame */
	extra(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
	memcpy(ring[nring - 1].extra.u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
	CHECK_EQ(parse(), 0);
	CHECK(pkt.mcast_add);
	CHECK(!pkt.mcast_del);
	CHECK_EQ(pkt.mcast_add_addr[0], 0x01);
	CHECK_EQ(pkt.mcast_add_addr[5], 0x01);
	CHECK_EQ(pkt.nslots, 2);
	reset();
	req(1, 0, NETTXF_extra_info, 1, 0);
	extra(XEN_NETIF_EXTRA_TYPE_MCAST_DEL, 0);
	CHECK_EQ(parse(), 0);
	CHECK(pkt.mcast_del);
}

TEST(csum_flags)
{
	reset();
	req(1, 0, NETTXF_csum_blank, 1, 100);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.meta.flags, NET_META_CSUM_BLANK);
	CHECK_EQ(pkt.meta.csum_start, 0);           /* left for the caller */
	reset();
	req(1, 0, 0, 1, 100);
	CHECK_EQ(parse(), 0);
	CHECK_EQ(pkt.meta.flags, 0);
}

TEST(reason_names)
{
	for (int r = 0; r < NETIF_TX_REASON_COUNT; r++)
		CHECK(netif_tx_reason_name((enum netif_tx_reason)r) != NULL &&
		      strlen(netif_tx_reason_name((enum netif_tx_reason)r)) > 1);
	CHECK_STR(netif_tx_reason_name(NETIF_TX_REASON_COUNT), "?");
}

#define MS 1000000ull

TEST(credit_unlimited)
{
	struct netif_credit c;
	netif_credit_init(&c, 0, 20 * MS, 5);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(netif_credit_take(&c, 65535, 5), 0);
	netif_credit_init(&c, 1000, 0, 5);
	CHECK_EQ(netif_credit_take(&c, 65535, 5), 0);
}

TEST(credit_interval_refill)
{
	struct netif_credit c;
	uint64_t t = 1000 * MS;
	/* 100KB/s@20ms: 2000 bytes per interval. */
	netif_credit_init(&c, 2000, 20 * MS, t);
	CHECK_EQ(netif_credit_take(&c, 1500, t), 0);
	CHECK_EQ(netif_credit_take(&c, 500, t + MS), 0);
	/* Empty: the next byte waits for the next interval. */
	CHECK_EQ(netif_credit_take(&c, 1, t + 2 * MS), t + 20 * MS);
	CHECK_EQ(netif_credit_take(&c, 1, t + 19 * MS), t + 20 * MS);
	CHECK_EQ(netif_credit_take(&c, 1500, t + 20 * MS), 0);
	/* 500 left: 1500 more waits one interval. */
	CHECK_EQ(netif_credit_take(&c, 1500, t + 21 * MS), t + 40 * MS);
}

TEST(credit_big_packet_waits_for_enough_intervals)
{
	struct netif_credit c;
	uint64_t t = 0;
	netif_credit_init(&c, 2000, 20 * MS, t);
	CHECK(c.burst_bytes >= 65535);
	CHECK_EQ(netif_credit_take(&c, 2000, t), 0);
	/* A 64 KiB GSO packet from an empty bucket: ceil(65535 / 2000) = 33
	 * intervals, never one interval's worth. */
	uint64_t when = netif_credit_take(&c, 65535, t);
	CHECK_EQ(when, 33 * 20 * MS);
	CHECK_EQ(netif_credit_take(&c, 65535, when - 1), when);
	CHECK_EQ(netif_credit_take(&c, 65535, when), 0);
	CHECK(netif_credit_take(&c, 1, when) > when);
}

TEST(credit_idle_fills_to_burst_only)
{
	struct netif_credit c;
	netif_credit_init(&c, 2000, 20 * MS, 0);
	/* An hour idle: the bucket holds burst_bytes, no more. */
	uint64_t t = 3600000 * MS;
	CHECK_EQ(netif_credit_take(&c, 0, t), 0);
	CHECK_EQ(c.bytes, c.burst_bytes);
	CHECK_EQ(netif_credit_take(&c, (uint32_t)c.burst_bytes, t), 0);
	CHECK(netif_credit_take(&c, 1, t) > t);
	/* A credit bigger than a packet is its own burst. */
	netif_credit_init(&c, 1000000, 50 * MS, 0);
	CHECK_EQ(c.burst_bytes, 1000000);
	/* Times far apart: no overflow in the refill. */
	netif_credit_init(&c, UINT64_MAX / 4, 1, 0);
	CHECK_EQ(netif_credit_take(&c, 100, UINT64_MAX / 2), 0);
}

/* A greedy sender of mixed sizes, sending whenever the bucket lets it:
 * over 10 s it gets the rate, within the burst, never more. */
TEST(credit_long_run_bound)
{
	static const uint32_t sizes[] = { 1514, 65535, 60, 9000, 32000, 1514 };
	struct netif_credit c;
	const uint64_t per = 2000, iv = 20 * MS, end = 10000 * MS;
	uint64_t t = 0, sent = 0;
	unsigned int k = 0;

	netif_credit_init(&c, per, iv, 0);
	while (t <= end) {
		uint64_t when = netif_credit_take(&c, sizes[k % 6], t);
		if (when) {
			CHECK(when > t);
			t = when;
			continue;
		}
		sent += sizes[k++ % 6];
		uint64_t bound = c.burst_bytes + per * (1 + t / iv);
		CHECK(sent <= bound);
	}
	/* 100 KB/s for 10 s: at least the rate minus one burst. */
	CHECK(sent + c.burst_bytes >= per * (end / iv));
}

static const struct test_case tests[] = {
	T(single_slot),
	T(fragments_first_size_is_total),
	T(fragments_larger_than_total_dropped),
	T(cross_page_is_fatal),
	T(slot_limits),
	T(endless_chain_needs_more_then_fatal),
	T(sizes),
	T(gso_extra),
	T(gso_rules),
	T(extra_chain),
	T(mcast_control),
	T(csum_flags),
	T(reason_names),
	T(credit_unlimited),
	T(credit_interval_refill),
	T(credit_big_packet_waits_for_enough_intervals),
	T(credit_idle_fills_to_burst_only),
	T(credit_long_run_bound),
};
RUN_TESTS(tests)

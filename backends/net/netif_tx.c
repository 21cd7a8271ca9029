/*
 * The tx request walk of netback (include/keel/netif_tx.h): one packet's
 * slots, read from the backend's private copy of the ring, checked against
 * xen/io/netif.h's "Guest transmit" layout and the negotiated limits.  It
 * owns the checks; mapping grants and writing responses are the caller's.
 *
 * The walk reads the whole packet before it judges it: a packet that is
 * merely malformed must still be consumed to its last slot (each request
 * then gets its NETIF_RSP_ERROR), while anything fatal anywhere in it
 * fails the vif, whatever came first.
 */
#include <keel/netif_tx.h>

static const char *const reason_names[NETIF_TX_REASON_COUNT] = {
	[NETIF_TX_OK] = "ok",
	[NETIF_TX_TOO_SHORT] = "packet shorter than an Ethernet header",
	[NETIF_TX_TOO_BIG] = "packet larger than allowed",
	[NETIF_TX_FRAG_OVERSIZE] = "fragments larger than the packet",
	[NETIF_TX_TOO_MANY_SLOTS] = "too many slots",
	[NETIF_TX_GSO_NO_CSUM] = "GSO packet without checksum offload",
	[NETIF_TX_EXTRA_DUPLICATE] = "extra info type repeated",
	[NETIF_TX_FATAL_SLOTS] = "slot count past the fatal limit",
	[NETIF_TX_FATAL_CROSS_PAGE] = "slot data past its page",
	[NETIF_TX_FATAL_EXTRA_TYPE] = "invalid extra info type",
	[NETIF_TX_FATAL_EXTRA_CHAIN] = "extra info chain too long",
	[NETIF_TX_FATAL_GSO] = "invalid GSO size or type",
};

const char *netif_tx_reason_name(enum netif_tx_reason r)
{
	if ((unsigned int)r >= NETIF_TX_REASON_COUNT)
		return "?";
	return reason_names[r];
}

void netif_tx_limits_default(struct netif_tx_limits *lim)
{
	*lim = (struct netif_tx_limits){
		.max_slots = NETIF_TX_DEFAULT_MAX_SLOTS,
		.fatal_slots = NETIF_TX_DEFAULT_FATAL_SLOTS,
		.max_packet_bytes = NETIF_TX_DEFAULT_MAX_PACKET_BYTES,
		.gso_tcpv4 = true,
		.gso_tcpv6 = true,
	};
}

/* Keeps the first non-fatal reason: the one the log shows. */
static void drop(struct netif_tx_packet *out, enum netif_tx_reason r)
{
	if (out->reason == NETIF_TX_OK)
		out->reason = r;
}

static int fatal(struct netif_tx_packet *out, enum netif_tx_reason r)
{
	out->reason = r;
	out->fatal = true;
	return -EPROTO;
}

static bool in_page(uint32_t offset, uint32_t len)
{
	return offset <= NETIF_TX_PAGE_BYTES && len <= NETIF_TX_PAGE_BYTES - offset;
}

/* Records one extra-info slot (already known to lie within avail). */
static int take_extra(const struct netif_extra_info *e, const struct netif_tx_limits *lim,
		      unsigned int *seen, struct netif_tx_packet *out)
{
	if (e->type == XEN_NETIF_EXTRA_TYPE_NONE || e->type >= XEN_NETIF_EXTRA_TYPE_MAX)
		return fatal(out, NETIF_TX_FATAL_EXTRA_TYPE);
	if (*seen & (1u << e->type)) {
		/* Linux lets the later one win; a repeat means a confused
		 * frontend, so this packet is dropped. */
		drop(out, NETIF_TX_EXTRA_DUPLICATE);
		return 0;
	}
	*seen |= 1u << e->type;
	switch (e->type) {
	case XEN_NETIF_EXTRA_TYPE_GSO:
		if (e->u.gso.size == 0)
			return fatal(out, NETIF_TX_FATAL_GSO);
		if (e->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV4 && lim->gso_tcpv4)
			out->meta.gso_type = NET_GSO_TCPV4;
		else if (e->u.gso.type == XEN_NETIF_GSO_TYPE_TCPV6 && lim->gso_tcpv6)
			out->meta.gso_type = NET_GSO_TCPV6;
		else
			return fatal(out, NETIF_TX_FATAL_GSO);
		out->meta.flags |= NET_META_GSO;
		out->meta.gso_size = e->u.gso.size;
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_ADD:
		out->mcast_add = true;
		memcpy(out->mcast_add_addr, e->u.mcast.addr, ETH_ALEN);
		break;
	case XEN_NETIF_EXTRA_TYPE_MCAST_DEL:
		out->mcast_del = true;
		memcpy(out->mcast_del_addr, e->u.mcast.addr, ETH_ALEN);
		break;
	case XEN_NETIF_EXTRA_TYPE_HASH:
		out->hash_set = true;
		out->hash_type = e->u.hash.type;
		out->hash_algorithm = e->u.hash.algorithm;
		out->hash_value = (uint32_t)e->u.hash.value[0] | (uint32_t)e->u.hash.value[1] << 8 |
				  (uint32_t)e->u.hash.value[2] << 16 |
				  (uint32_t)e->u.hash.value[3] << 24;
		break;
	}
	return 0;
}

int netif_tx_parse(const union netif_tx_slot *slots, unsigned int avail,
		   const struct netif_tx_limits *lim, struct netif_tx_packet *out)
{
	struct netif_tx_request first;
	unsigned int i = 0, seen = 0;
	uint32_t rest = 0;      /* bytes in the slots after the first */
	int rc;

	memset(out, 0, sizeof(*out));
	if (lim->max_slots == 0 || lim->fatal_slots > NETIF_TX_SLOTS_MAX ||
	    lim->fatal_slots < lim->max_slots)
		return -EINVAL;
	if (avail == 0)
		return -EAGAIN;

	/* Each field is read from our copy once; `first` is a copy too. */
	first = slots[0].req;
	out->len = first.size;
	out->answers[out->nanswers++] = (struct netif_tx_answer){ .id = first.id };
	out->frags[out->nfrags++] = (struct netif_tx_frag){
		.gref = first.gref, .offset = first.offset, .id = first.id };
	i = 1;

	/* The extra-info chain: NETTXF_extra_info on the first request, then
	 * XEN_NETIF_EXTRA_FLAG_MORE on each extra. */
	if (first.flags & NETTXF_extra_info) {
		bool more = true;

		while (more) {
			struct netif_extra_info e;

			if (out->nanswers - 1 >= NETIF_TX_EXTRAS_MAX)
				return fatal(out, NETIF_TX_FATAL_EXTRA_CHAIN);
			if (i >= avail)
				goto incomplete;
			e = slots[i].extra;
			rc = take_extra(&e, lim, &seen, out);
			if (rc)
				return rc;
			out->answers[out->nanswers++] = (struct netif_tx_answer){ .extra = true };
			more = e.flags & XEN_NETIF_EXTRA_FLAG_MORE;
			i++;
		}
	}

	/* The fragment requests: each names its own size, which comes out of
	 * the total the first request gave. */
	if (first.flags & NETTXF_more_data) {
		bool more = true;

		while (more) {
			struct netif_tx_request r;

			if (out->nfrags >= lim->fatal_slots)
				return fatal(out, NETIF_TX_FATAL_SLOTS);
			if (i >= avail)
				goto incomplete;
			if (out->nfrags >= lim->max_slots)
				drop(out, NETIF_TX_TOO_MANY_SLOTS);
			r = slots[i].req;
			if (!in_page(r.offset, r.size))
				return fatal(out, NETIF_TX_FATAL_CROSS_PAGE);
			if (rest > first.size || r.size > first.size - rest)
				drop(out, NETIF_TX_FRAG_OVERSIZE);
			rest += r.size;
			out->frags[out->nfrags++] = (struct netif_tx_frag){
				.gref = r.gref, .offset = r.offset, .len = r.size, .id = r.id };
			out->answers[out->nanswers++] = (struct netif_tx_answer){ .id = r.id };
			more = r.flags & NETTXF_more_data;
			i++;
		}
	}
	out->nslots = i;
	ASSERT(out->nanswers == out->nslots);

	/* The first slot holds what the fragments leave of the total; its
	 * length is only known when they fit in it. */
	if (rest <= first.size) {
		out->frags[0].len = (uint16_t)(first.size - rest);
		if (!in_page(first.offset, out->frags[0].len))
			return fatal(out, NETIF_TX_FATAL_CROSS_PAGE);
	}

	if (first.flags & NETTXF_csum_blank)
		out->meta.flags |= NET_META_CSUM_BLANK;
	else if (first.flags & NETTXF_data_validated)
		out->meta.flags |= NET_META_CSUM_OK;
	if ((out->meta.flags & NET_META_GSO) && !(out->meta.flags & NET_META_CSUM_BLANK))
		drop(out, NETIF_TX_GSO_NO_CSUM);
	/* A multicast filter update carries no frame worth checking. */
	if (!out->mcast_add && !out->mcast_del && first.size < ETH_HLEN)
		drop(out, NETIF_TX_TOO_SHORT);
	if (first.size > lim->max_packet_bytes)
		drop(out, NETIF_TX_TOO_BIG);
	return out->reason == NETIF_TX_OK ? 0 : -EINVAL;

incomplete:
	/* Nothing consumed: the caller retries with more slots. */
	out->nslots = 0;
	out->nanswers = 0;
	out->nfrags = 0;
	out->reason = NETIF_TX_OK;
	return -EAGAIN;
}

/* ---- rate= credit ---- */

void netif_credit_init(struct netif_credit *c, uint64_t bytes, uint64_t interval_ns,
		       uint64_t now_ns)
{
	memset(c, 0, sizeof(*c));
	if (!bytes || !interval_ns)
		return;
	c->per_interval_bytes = bytes;
	c->interval_ns = interval_ns;
	c->burst_bytes = bytes > NETIF_TX_DEFAULT_MAX_PACKET_BYTES ? bytes
								 : NETIF_TX_DEFAULT_MAX_PACKET_BYTES;
	c->bytes = bytes;
	c->stamp_ns = now_ns;
}

uint64_t netif_credit_take(struct netif_credit *c, uint32_t len, uint64_t now_ns)
{
	if (!c->per_interval_bytes)
		return 0;
	if (now_ns >= c->stamp_ns + c->interval_ns) {
		uint64_t n = (now_ns - c->stamp_ns) / c->interval_ns;
		/* Enough intervals to fill the bucket from empty: full (and no
		 * product to overflow). */
		if (n > c->burst_bytes / c->per_interval_bytes)
			c->bytes = c->burst_bytes;
		else
			c->bytes = MIN(c->bytes + n * c->per_interval_bytes, c->burst_bytes);
		c->stamp_ns += n * c->interval_ns;
	}
	/* No packet is bigger than the bucket; should one be, it waits for a
	 * full bucket and empties it. */
	uint64_t need = MIN((uint64_t)len, c->burst_bytes);
	if (need <= c->bytes) {
		c->bytes -= need;
		return 0;
	}
	uint64_t intervals = (need - c->bytes + c->per_interval_bytes - 1) / c->per_interval_bytes;
	return c->stamp_ns + intervals * c->interval_ns;
}

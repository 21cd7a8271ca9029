/*
 * Host tests of the xenstore ring transport (xenstored/xsring.c) with the
 * real store behind it: a guest (this file) writes requests into a ring
 * page and reads what the server put back, and misbehaves: impossible
 * indices, partial headers, oversized lengths, indices moved between our
 * loads, a guest that never reads its replies, one that refills for ever.
 */
#include <lib/base.h>
#include <keel/xenstored.h>
#include <xen/io/xs_wire.h>

#include "../../xenstored/internal.h"
#include "harness.h"

static struct xenstore_domain_interface *ring;
static unsigned loads;
static void (*meddle)(XENSTORE_RING_IDX *p);

static XENSTORE_RING_IDX guest_load(const XENSTORE_RING_IDX *p)
{
	XENSTORE_RING_IDX v = __atomic_load_n(p, __ATOMIC_RELAXED);

	loads++;
	if (meddle)
		meddle((XENSTORE_RING_IDX *)p);
	return v;
}

#define XSRING_LOAD_IDX(p) guest_load(p)
#include "../../xenstored/xsring.c"

static struct xs_store *store;
static struct xs_conn *conn;
static const struct xsring_budget big = { 1000000, 1 << 30 };

static void setup(void)
{
	if (store)
		xs_store_free(store);
	free(ring);
	ring = calloc(1, sizeof(*ring));
	xsring_init(ring);
	store = xs_store_new();
	conn = xs_conn_new(store, 5);
	xs_write(store, "/local/domain/5/name", "five", 4);
	xs_set_perms(store, "/local/domain/5", &(struct xs_perm){ 5, 0 }, 1);
	xs_set_perms(store, "/local/domain/5/name", &(struct xs_perm){ 5, 0 }, 1);
	loads = 0;
	meddle = NULL;
}

static void teardown(void)
{
	xs_store_free(store);
	store = NULL;
}

/* The guest's side of req[]: as much of s as fits; returns how much. */
static size_t guest_put(const void *s, size_t n)
{
	size_t i = 0;

	while (i < n && ring->req_prod - ring->req_cons < XENSTORE_RING_SIZE) {
		ring->req[MASK_XENSTORE_IDX(ring->req_prod)] = ((const char *)s)[i++];
		ring->req_prod++;
	}
	return i;
}

static size_t request(char *buf, uint32_t type, uint32_t req_id, const char *payload,
		      size_t len)
{
	struct xsd_sockmsg h = { type, req_id, 0, (uint32_t)len };

	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), payload, len);
	return sizeof(h) + len;
}

/* The guest reads one whole reply from rsp[] if there is one. */
static bool guest_reply(struct xsd_sockmsg *h, char *body)
{
	char *p = (char *)h;

	if (ring->rsp_prod - ring->rsp_cons < sizeof(*h))
		return false;
	for (size_t i = 0; i < sizeof(*h); i++)
		p[i] = ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons + i)];
	if (ring->rsp_prod - ring->rsp_cons < sizeof(*h) + h->len)
		return false;
	for (size_t i = 0; i < h->len; i++)
		body[i] = ring->rsp[MASK_XENSTORE_IDX(ring->rsp_cons + sizeof(*h) + i)];
	body[h->len] = '\0';
	ring->rsp_cons += (XENSTORE_RING_IDX)(sizeof(*h) + h->len);
	return true;
}

TEST(round_trip_and_features)
{
	struct xsring_result res;
	struct xsd_sockmsg h;
	char buf[64], body[XENSTORE_PAYLOAD_MAX + 1];

	setup();
	CHECK_EQ(ring->server_features, XENSTORE_SERVER_FEATURE_ERROR);
	CHECK_EQ(ring->error, XENSTORE_ERROR_NONE);
	guest_put(buf, request(buf, XS_READ, 42, "name", 5));
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
	CHECK_EQ(res.in_bytes, sizeof(h) + 5);
	CHECK(guest_reply(&h, body));
	CHECK_EQ(h.type, XS_READ);
	CHECK_EQ(h.req_id, 42);
	CHECK_STR(body, "five");
	CHECK_EQ(res.out_bytes, sizeof(h) + 4);
	teardown();
}

TEST(indices_wrap_around)
{
	struct xsring_result res;
	struct xsd_sockmsg h;
	char buf[64], body[XENSTORE_PAYLOAD_MAX + 1];

	setup();
	ring->req_cons = ring->req_prod = 0xfffffff8u;
	ring->rsp_cons = ring->rsp_prod = 0xfffffffcu;
	for (int i = 0; i < 3; i++) {
		guest_put(buf, request(buf, XS_READ, (uint32_t)i, "name", 5));
		CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
		CHECK(guest_reply(&h, body));
		CHECK_STR(body, "five");
	}
	teardown();
}

TEST(impossible_indices)
{
	struct xsring_result res;
	char buf[64];

	setup();
	ring->req_cons = 0;
	ring->req_prod = XENSTORE_RING_SIZE + 1;
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), -EINVAL);
	CHECK_EQ(ring->req_cons, 0); /* untouched */
	CHECK_EQ(xsring_error_code(-EINVAL), XENSTORE_ERROR_RINGIDX);
	setup();
	ring->req_cons = 100;
	ring->req_prod = 99; /* behind: 0xffffffff bytes "available" */
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), -EINVAL);
	setup();
	guest_put(buf, request(buf, XS_READ, 1, "name", 5));
	ring->rsp_cons = 5000; /* the guest "read" what was never written */
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), -EINVAL);
	CHECK_EQ(ring->rsp_prod, 0);
	xsring_set_error(ring, xsring_error_code(-EINVAL));
	CHECK_EQ(ring->error, XENSTORE_ERROR_RINGIDX);
	teardown();
}

/* Each index is loaded once per look, however the guest moves it. */
static void push_prod_far(XENSTORE_RING_IDX *p)
{
	if (p == &ring->req_prod)
		ring->req_prod += 100000;
}

TEST(indices_loaded_once)
{
	struct xsring_pos pos;
	char buf[64];

	setup();
	guest_put(buf, request(buf, XS_READ, 1, "name", 5));
	meddle = push_prod_far;
	CHECK_EQ(xsring_req_avail(ring, &pos), 0);
	CHECK_EQ(loads, 2);
	CHECK_EQ(pos.avail, sizeof(struct xsd_sockmsg) + 5);
	/* The snapshot, not the moved index, decides what is taken. */
	xsring_req_take(ring, &pos, buf, pos.avail);
	CHECK_EQ(ring->req_cons, sizeof(struct xsd_sockmsg) + 5);
	CHECK_EQ(loads, 2);
	teardown();
}

TEST(partial_header_then_rest)
{
	struct xsring_result res;
	struct xsd_sockmsg h;
	char buf[64], body[XENSTORE_PAYLOAD_MAX + 1];
	size_t n = request(buf, XS_READ, 9, "name", 5);

	setup();
	guest_put(buf, 7);
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
	CHECK_EQ(res.in_bytes, 7);
	CHECK(!guest_reply(&h, body));
	guest_put(buf + 7, n - 7);
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
	CHECK(guest_reply(&h, body));
	CHECK_STR(body, "five");
	teardown();
}

TEST(oversized_length_stops_ring)
{
	struct xsring_result res;
	struct xsd_sockmsg h = { XS_READ, 1, 0, XENSTORE_PAYLOAD_MAX + 1 };

	setup();
	guest_put(&h, sizeof(h));
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), -E2BIG);
	CHECK_EQ(xsring_error_code(-E2BIG), XENSTORE_ERROR_PROTO);
	/* Sticky: nothing more is taken. */
	guest_put("xxxx", 4);
	CHECK_EQ(xsring_serve(ring, conn, &big, &res), -E2BIG);
	CHECK_EQ(res.in_bytes, 0);
	teardown();
}

/* A guest that writes requests and never reads a reply: dom0 stops reading
 * it once its output is at the cap, and its requests wait in its ring. */
TEST(guest_never_reads)
{
	struct xsring_result res;
	char buf[64];
	size_t n = request(buf, XS_DIRECTORY, 1, "/", 2);
	struct xs_quota q;
	int i, blocked = 0;

	setup();
	xs_store_get_quota(store, &q);
	for (i = 0; i < 100000 && !blocked; i++) {
		while (XENSTORE_RING_SIZE - (ring->req_prod - ring->req_cons) >= n)
			guest_put(buf, n);
		CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
		blocked = res.blocked;
	}
	CHECK(blocked);
	/* From now on nothing is taken, however often we look. */
	for (i = 0; i < 1000; i++) {
		while (XENSTORE_RING_SIZE - (ring->req_prod - ring->req_cons) >= n)
			guest_put(buf, n);
		CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
		CHECK(res.blocked);
		CHECK_EQ(res.in_bytes, 0);
	}
	CHECK_EQ(xs_conn_error(conn), 0);
	CHECK(ring->req_prod - ring->req_cons > XENSTORE_RING_SIZE - n);
	CHECK_EQ(ring->rsp_prod - ring->rsp_cons, XENSTORE_RING_SIZE);
	/* What dom0 keeps for it: the output cap plus at most one reply. */
	CHECK(conn->out_bytes <= q.output_bytes + sizeof(struct xsd_sockmsg) +
				 XENSTORE_PAYLOAD_MAX);
	/* Once the guest reads, it is served again. */
	for (i = 0; i < 1000; i++) {
		ring->rsp_cons = ring->rsp_prod;
		CHECK_EQ(xsring_serve(ring, conn, &big, &res), 0);
		if (res.in_bytes)
			break;
	}
	CHECK(i < 1000);
	teardown();
}

/* A ring full of requests is served a budget at a time. */
TEST(budget_per_pass)
{
	const struct xsring_budget small = { 4, 1 << 20 };
	struct xsring_result res;
	struct xsd_sockmsg h;
	char buf[64], body[XENSTORE_PAYLOAD_MAX + 1];
	size_t n = request(buf, XS_READ, 1, "name", 5);
	int replies = 0, passes = 0;

	setup();
	while (guest_put(buf, n) == n)
		;
	do {
		CHECK_EQ(xsring_serve(ring, conn, &small, &res), 0);
		passes++;
		while (guest_reply(&h, body))
			replies++;
		CHECK(res.in_bytes <= 4 * n + n);
	} while (res.more);
	CHECK_EQ(replies, XENSTORE_RING_SIZE / n);
	CHECK(passes >= replies / 4);
	/* A guest trickling bytes of one message is bounded by bytes too. */
	{
		const struct xsring_budget tiny = { 100, 8 };
		struct xsd_sockmsg big_h = { XS_WRITE, 1, 0, 1000 };

		guest_put(&big_h, sizeof(big_h));
		CHECK_EQ(xsring_serve(ring, conn, &tiny, &res), 0);
		CHECK_EQ(res.in_bytes, 8);
		CHECK(res.more);
	}
	teardown();
}

static const struct test_case tests[] = {
	T(round_trip_and_features),
	T(indices_wrap_around),
	T(impossible_indices),
	T(indices_loaded_once),
	T(partial_header_then_rest),
	T(oversized_length_stops_ring),
	T(guest_never_reads),
	T(budget_per_pass),
};
RUN_TESTS(tests)

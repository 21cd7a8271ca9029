/*
 * Host tests of the console ring protocol (backends/console/ring.c).  The
 * source is compiled in here unchanged, with its one hook defined: every load
 * of a shared index goes through guest_load(), which counts loads per index
 * and lets a fake guest rewrite indices right after we loaded them.
 */
#include <lib/base.h>
#include <xen/io/console.h>
#include "harness.h"

enum { IN_CONS, IN_PROD, OUT_CONS, OUT_PROD, NR_IDX };

static struct xencons_interface *ring;
static unsigned int loads[NR_IDX];
/* When set, runs after each index load, as a guest racing with us would. */
static void (*meddle)(XENCONS_RING_IDX *loaded);

static int idx_of(const XENCONS_RING_IDX *p)
{
	if (p == &ring->in_cons)
		return IN_CONS;
	if (p == &ring->in_prod)
		return IN_PROD;
	if (p == &ring->out_cons)
		return OUT_CONS;
	if (p == &ring->out_prod)
		return OUT_PROD;
	abort();
}

static XENCONS_RING_IDX guest_load(XENCONS_RING_IDX *p)
{
	XENCONS_RING_IDX v = __atomic_load_n(p, __ATOMIC_RELAXED);

	loads[idx_of(p)]++;
	if (meddle)
		meddle(p);
	return v;
}

#define CONSRING_LOAD_IDX(p) guest_load(p)
#include "../../backends/console/ring.c"

/* A fresh ring of exactly the ABI size, so ASan sees any stray byte. */
static void setup(void)
{
	free(ring);
	ring = calloc(1, sizeof(*ring));
	memset(loads, 0, sizeof(loads));
	meddle = NULL;
}

/* The guest's side of out[]: hvc_xen's write, trusting itself. */
static void guest_put(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ring->out[MASK_XENCONS_IDX(ring->out_prod + i, ring->out)] = s[i];
	ring->out_prod += (XENCONS_RING_IDX)n;
}

/* The guest's side of in[]: takes up to max bytes. */
static size_t guest_take(char *buf, size_t max)
{
	size_t n = 0;

	while (n < max && ring->in_cons != ring->in_prod)
		buf[n++] = ring->in[MASK_XENCONS_IDX(ring->in_cons++, ring->in)];
	return n;
}

TEST(out_empty)
{
	char buf[16];
	size_t got = 99;

	setup();
	ring->out_cons = ring->out_prod = 1234;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(ring->out_cons, 1234);
}

TEST(out_normal)
{
	char buf[64];
	size_t got;

	setup();
	guest_put("hello, dom0\n", 12);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 12);
	CHECK(memcmp(buf, "hello, dom0\n", 12) == 0);
	CHECK_EQ(ring->out_cons, 12);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 0);
}

TEST(out_bounded_by_max)
{
	char buf[8];
	size_t got;

	setup();
	guest_put("0123456789", 10);
	CHECK_EQ(consring_out_read(ring, buf, 4, &got), 0);
	CHECK_EQ(got, 4);
	CHECK(memcmp(buf, "0123", 4) == 0);
	CHECK_EQ(ring->out_cons, 4);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 6);
	CHECK(memcmp(buf, "456789", 6) == 0);
	CHECK_EQ(consring_out_read(ring, buf, 0, &got), 0);
	CHECK_EQ(got, 0);
}

TEST(out_wraps_around_the_array)
{
	char buf[64];
	size_t got;

	setup();
	ring->out_cons = ring->out_prod = sizeof(ring->out) - 5;
	guest_put("abcdefghij", 10);
	CHECK(memcmp(&ring->out[0], "fghij", 5) == 0);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 10);
	CHECK(memcmp(buf, "abcdefghij", 10) == 0);
	CHECK_EQ(ring->out_cons, sizeof(ring->out) + 5);
}

TEST(out_wraps_the_32bit_index)
{
	char buf[64];
	size_t got;

	setup();
	ring->out_cons = ring->out_prod = 0xfffffff0u;
	guest_put("0123456789abcdefghijklmnopqrstuv", 32);
	CHECK_EQ(ring->out_prod, 0x10);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 32);
	CHECK(memcmp(buf, "0123456789abcdefghijklmnopqrstuv", 32) == 0);
	CHECK_EQ(ring->out_cons, 0x10);
}

TEST(out_full_ring)
{
	static char data[sizeof(ring->out)], buf[sizeof(ring->out) + 16];
	size_t got;

	setup();
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	ring->out_cons = ring->out_prod = 100;
	guest_put(data, sizeof(data));
	CHECK_EQ(ring->out_prod - ring->out_cons, sizeof(ring->out));
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, sizeof(ring->out));
	CHECK(memcmp(buf, data, sizeof(data)) == 0);
	CHECK_EQ(ring->out_cons, ring->out_prod);
}

TEST(out_prod_far_ahead_is_rejected)
{
	char buf[16] = "untouched";
	size_t got = 99;

	setup();
	ring->out_cons = 10;
	ring->out_prod = 10 + sizeof(ring->out) + 1;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), -EINVAL);
	CHECK_EQ(got, 0);
	CHECK_EQ(ring->out_cons, 10);
	CHECK_STR(buf, "untouched");
	ring->out_prod = 0x7fffffff;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), -EINVAL);
}

TEST(out_prod_behind_cons_is_rejected)
{
	char buf[16];
	size_t got = 99;

	setup();
	ring->out_cons = 500;
	ring->out_prod = 499;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), -EINVAL);
	CHECK_EQ(got, 0);
	CHECK_EQ(ring->out_cons, 500);
}

TEST(out_loads_each_index_once)
{
	char buf[64];
	size_t got;

	setup();
	guest_put("abc", 3);
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	CHECK_EQ(loads[OUT_CONS], 1);
	CHECK_EQ(loads[OUT_PROD], 1);
	CHECK_EQ(loads[IN_CONS] + loads[IN_PROD], 0);
	/* Also on the error path. */
	ring->out_prod = ring->out_cons - 1;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), -EINVAL);
	CHECK_EQ(loads[OUT_CONS], 2);
	CHECK_EQ(loads[OUT_PROD], 2);
}

/* Right after our last load, the guest makes both indices absurd. */
static void scramble_out(XENCONS_RING_IDX *loaded)
{
	if (loaded != &ring->out_prod)
		return;
	ring->out_prod = ring->out_cons + 0x40000000u;
	ring->out_cons = 0xdeadbeef;
}

TEST(out_indices_changing_after_load)
{
	char buf[64];
	size_t got;

	setup();
	ring->out_cons = ring->out_prod = 40;
	guest_put("stable", 6);
	meddle = scramble_out;
	CHECK_EQ(consring_out_read(ring, buf, sizeof(buf), &got), 0);
	meddle = NULL;
	/* Only the values loaded first count: 6 bytes, cons moved to 46. */
	CHECK_EQ(got, 6);
	CHECK(memcmp(buf, "stable", 6) == 0);
	CHECK_EQ(ring->out_cons, 46);
}

TEST(in_normal)
{
	char buf[16];
	size_t put = 99;

	setup();
	CHECK_EQ(consring_in_write(ring, "ls -l\n", 6, &put), 0);
	CHECK_EQ(put, 6);
	CHECK_EQ(ring->in_prod, 6);
	CHECK_EQ(ring->in_cons, 0);
	CHECK_EQ(guest_take(buf, sizeof(buf)), 6);
	CHECK(memcmp(buf, "ls -l\n", 6) == 0);
	CHECK_EQ(consring_in_write(ring, "", 0, &put), 0);
	CHECK_EQ(put, 0);
	CHECK_EQ(ring->in_prod, 6);
}

TEST(in_wraps_around)
{
	char buf[16];
	size_t put;

	setup();
	ring->in_cons = ring->in_prod = 0xffffffffu - 2; /* array and index both wrap */
	CHECK_EQ(consring_in_write(ring, "wrapped", 7, &put), 0);
	CHECK_EQ(put, 7);
	CHECK_EQ(ring->in_prod, 4);
	CHECK_EQ(guest_take(buf, sizeof(buf)), 7);
	CHECK(memcmp(buf, "wrapped", 7) == 0);
}

TEST(in_full_ring_takes_nothing)
{
	static char data[sizeof(ring->in)];
	size_t put;

	setup();
	memset(data, 'x', sizeof(data));
	ring->in_cons = ring->in_prod = 77;
	CHECK_EQ(consring_in_write(ring, data, sizeof(data), &put), 0);
	CHECK_EQ(put, sizeof(ring->in));
	CHECK_EQ(consring_in_write(ring, "y", 1, &put), 0);
	CHECK_EQ(put, 0);
	CHECK_EQ(ring->in_prod, 77 + sizeof(ring->in));
}

TEST(in_partial_when_nearly_full)
{
	static char data[sizeof(ring->in)];
	char buf[32];
	size_t put;

	setup();
	memset(data, 'x', sizeof(data));
	CHECK_EQ(consring_in_write(ring, data, sizeof(data) - 10, &put), 0);
	CHECK_EQ(consring_in_write(ring, "0123456789abcdef", 16, &put), 0);
	CHECK_EQ(put, 10);
	ring->in_cons += sizeof(data) - 10; /* the guest read the x's */
	CHECK_EQ(guest_take(buf, sizeof(buf)), 10);
	CHECK(memcmp(buf, "0123456789", 10) == 0);
}

TEST(in_hostile_indices_are_rejected)
{
	static struct xencons_interface before;
	size_t put = 99;

	setup();
	ring->in_cons = 10;
	ring->in_prod = 10 + sizeof(ring->in) + 1; /* more queued than fits */
	before = *ring;
	CHECK_EQ(consring_in_write(ring, "a", 1, &put), -EINVAL);
	CHECK_EQ(put, 0);
	CHECK(memcmp(&before, ring, sizeof(before)) == 0);
	ring->in_prod = 9; /* prod behind cons */
	before = *ring;
	CHECK_EQ(consring_in_write(ring, "a", 1, &put), -EINVAL);
	CHECK(memcmp(&before, ring, sizeof(before)) == 0);
	CHECK_EQ(loads[IN_CONS], 2);
	CHECK_EQ(loads[IN_PROD], 2);
	CHECK_EQ(loads[OUT_CONS] + loads[OUT_PROD], 0);
}

/* Right after we load in_cons, the guest claims it consumed more than was
 * ever produced, which would make the free space look huge. */
static void scramble_in(XENCONS_RING_IDX *loaded)
{
	if (loaded == &ring->in_cons)
		ring->in_cons = ring->in_prod + 5000;
}

TEST(in_indices_changing_after_load)
{
	static char data[sizeof(ring->in) * 2];
	size_t put;

	setup();
	memset(data, 'z', sizeof(data));
	ring->in_cons = 0;
	ring->in_prod = sizeof(ring->in) - 3; /* room for 3 */
	meddle = scramble_in;
	CHECK_EQ(consring_in_write(ring, data, sizeof(data), &put), 0);
	meddle = NULL;
	CHECK_EQ(put, 3);
	CHECK_EQ(ring->in_prod, sizeof(ring->in));
	CHECK_EQ(loads[IN_CONS], 1);
	CHECK_EQ(loads[IN_PROD], 1);
}

/* Random traffic both ways from random starting indices, checked against
 * the byte streams each side meant to send. */
TEST(random_traffic_matches_streams)
{
	static char sent[1 << 16], seen[1 << 16], typed[1 << 16], taken[1 << 16];
	size_t n_sent = 0, n_seen = 0, n_typed = 0, n_taken = 0;
	uint32_t seed = 12345;

	setup();
	ring->out_cons = ring->out_prod = 0xfffff000u;
	ring->in_cons = ring->in_prod = 0xffffff00u;
	for (size_t i = 0; i < sizeof(sent); i++)
		sent[i] = typed[i] = (char)(i * 31 + (i >> 8));
	while (n_seen < sizeof(seen) || n_taken < sizeof(taken)) {
		seed = seed * 1103515245u + 12345u;
		size_t k = (seed >> 8) % 700;
		size_t got, put;
		switch ((seed >> 20) % 4) {
		case 0: /* guest writes what fits */
			k = MIN(k, sizeof(ring->out) - (ring->out_prod - ring->out_cons));
			k = MIN(k, sizeof(sent) - n_sent);
			guest_put(sent + n_sent, k);
			n_sent += k;
			break;
		case 1:
			CHECK_EQ(consring_out_read(ring, seen + n_seen,
						   MIN(k, sizeof(seen) - n_seen), &got), 0);
			n_seen += got;
			break;
		case 2:
			CHECK_EQ(consring_in_write(ring, typed + n_typed,
						   MIN(k, sizeof(typed) - n_typed), &put), 0);
			n_typed += put;
			break;
		case 3:
			n_taken += guest_take(taken + n_taken, MIN(k, sizeof(taken) - n_taken));
			break;
		}
		CHECK(ring->out_prod - ring->out_cons <= sizeof(ring->out));
		CHECK(ring->in_prod - ring->in_cons <= sizeof(ring->in));
	}
	CHECK(memcmp(sent, seen, sizeof(seen)) == 0);
	CHECK(memcmp(typed, taken, sizeof(taken)) == 0);
}

static const struct test_case tests[] = {
	T(out_empty),
	T(out_normal),
	T(out_bounded_by_max),
	T(out_wraps_around_the_array),
	T(out_wraps_the_32bit_index),
	T(out_full_ring),
	T(out_prod_far_ahead_is_rejected),
	T(out_prod_behind_cons_is_rejected),
	T(out_loads_each_index_once),
	T(out_indices_changing_after_load),
	T(in_normal),
	T(in_wraps_around),
	T(in_full_ring_takes_nothing),
	T(in_partial_when_nearly_full),
	T(in_hostile_indices_are_rejected),
	T(in_indices_changing_after_load),
	T(random_traffic_matches_streams),
};

int main(void)
{
	int rc = run_tests(tests, ARRAY_SIZE(tests));

	free(ring);
	return rc;
}

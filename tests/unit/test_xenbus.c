/* The node reads every backend makes of a frontend's directory
 * (xenbus/xenbus.c), over the real store: what a hostile frontend can
 * write there must read as an error, never as a number it did not write. */
#include "harness.h"
#include <keel/xenbus.h>
#include <keel/xsd.h>

struct xs_store *xenstore;

static void put(const char *node, const char *val)
{
	char path[64];

	snprintf(path, sizeof(path), "/fe/%s", node);
	if (xs_write(xenstore, path, val, strlen(val)))
		abort();
}

TEST(read_uint_numbers)
{
	uint64_t x = 0;

	put("a", "12");
	CHECK_EQ(xenbus_read_uint("/fe", "a", &x), 0);
	CHECK_EQ(x, 12);
	put("a", "4294967295");
	CHECK_EQ(xenbus_read_uint("/fe", "a", &x), 0);
	CHECK_EQ(x, 4294967295ll);
	put("a", "0");
	CHECK_EQ(xenbus_read_uint("/fe", "a", &x), 0);
	CHECK_EQ(x, 0);
}

/* A caller keeps its default (multi-queue-num-queues 1, ring-page-order
 * 0) when the read fails: a failed read must not change it.  "5x" once
 * read as 5 with -EINVAL, and 5 queues or order 5 then passed the bound
 * checks, which only looked at successful reads. */
TEST(read_uint_garbage_leaves_out_alone)
{
	const char *bad[] = { "5x", "abc", "", "4 ", "0x10", "1.0" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint64_t x = 77;
		put("b", bad[i]);
		CHECK_EQ(xenbus_read_uint("/fe", "b", &x), -EINVAL);
		CHECK_EQ(x, 77);
	}
}

TEST(read_uint_missing)
{
	uint64_t x = 77;

	CHECK_EQ(xenbus_read_uint("/fe", "nosuch", &x), -ENOENT);
	CHECK_EQ(x, 77);
}

TEST(read_flag_exactly_one)
{
	put("f", "1");
	CHECK(xenbus_read_flag("/fe", "f"));
	put("f", "1x");
	CHECK(!xenbus_read_flag("/fe", "f"));
	put("f", "2");
	CHECK(!xenbus_read_flag("/fe", "f"));
	put("f", "0");
	CHECK(!xenbus_read_flag("/fe", "f"));
	CHECK(!xenbus_read_flag("/fe", "nosuch"));
}

TEST(read_state)
{
	put("state", "4");
	CHECK_EQ(xenbus_read_state("/fe"), XenbusStateConnected);
	put("state", "6");
	CHECK_EQ(xenbus_read_state("/fe"), XenbusStateClosed);
	put("state", "9");
	CHECK_EQ(xenbus_read_state("/fe"), XenbusStateUnknown);
	put("state", "5x");
	CHECK_EQ(xenbus_read_state("/fe"), XenbusStateUnknown);
	CHECK_EQ(xenbus_read_state("/nosuch"), XenbusStateUnknown);
}

TEST(set_state_and_printf)
{
	char *val;
	size_t len;

	CHECK_EQ(xenbus_set_state("/be", XenbusStateInitWait), 0);
	CHECK_EQ(xs_read(xenstore, "/be/state", &val, &len), 0);
	CHECK_STR(val, "2");
	free(val);
	CHECK_EQ(xenbus_printf("/be", "error", "%s %u", "bad", 7u), 0);
	CHECK_EQ(xs_read(xenstore, "/be/error", &val, &len), 0);
	CHECK_STR(val, "bad 7");
	free(val);
}

static const struct test_case tests[] = {
	T(read_uint_numbers), T(read_uint_garbage_leaves_out_alone), T(read_uint_missing),
	T(read_flag_exactly_one), T(read_state), T(set_state_and_printf),
};

int main(void)
{
	xenstore = xs_store_new();
	if (!xenstore)
		return 1;
	return run_tests(tests, ARRAY_SIZE(tests));
}

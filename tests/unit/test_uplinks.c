/* Host tests of net/uplinks.c: the uplinks= boot option (which NIC joins which bridge). */
#include <keel/uplinks.h>
#include "harness.h"

TEST(default_is_first_nic_on_xenbr0)
{
	struct uplink_map m = { 0 };
	CHECK_STR(uplink_map_bridge(&m, "eth0", 0), "xenbr0");
	CHECK(uplink_map_bridge(&m, "eth1", 1) == NULL);
}

TEST(parses_pairs)
{
	struct uplink_map m;
	const char *why;
	CHECK_EQ(uplink_map_parse("eth0:xenbr0,eth1:xenbr1", &m, &why), 0);
	CHECK_EQ(m.n, 2);
	CHECK_STR(uplink_map_bridge(&m, "eth0", 0), "xenbr0");
	CHECK_STR(uplink_map_bridge(&m, "eth1", 1), "xenbr1");
	CHECK(uplink_map_bridge(&m, "eth2", 2) == NULL);
	/* '+' separates as ',' does (QEMU's -initrd cannot pass a comma). */
	CHECK_EQ(uplink_map_parse("eth0:xenbr0+eth1:xenbr1", &m, &why), 0);
	CHECK_EQ(m.n, 2);
	CHECK_STR(uplink_map_bridge(&m, "eth1", 1), "xenbr1");
	/* Any order, any bridge: eth1 alone on xenbr0 leaves eth0 unjoined. */
	CHECK_EQ(uplink_map_parse("eth1:xenbr0", &m, &why), 0);
	CHECK(uplink_map_bridge(&m, "eth0", 0) == NULL);
	CHECK_STR(uplink_map_bridge(&m, "eth1", 1), "xenbr0");
}

TEST(none_joins_nothing)
{
	struct uplink_map m;
	const char *why;
	CHECK_EQ(uplink_map_parse("none", &m, &why), 0);
	CHECK(uplink_map_bridge(&m, "eth0", 0) == NULL);
}

TEST(refuses_malformed)
{
	static const char *bad[] = { "", "eth0", "eth0:", ":xenbr0", "eth0:xenbr0,",
				     ",eth0:xenbr0", "eth0:xenbr0,,eth1:xenbr1", "eth0:xen br0",
				     "eth0:xenbr0:x", "eth0:xenbr0,eth0:xenbr1",
				     "eth0:xenbr0,eth1:xenbr0", "eth0:abcdefghijklmnop",
				     "eth0:a,eth1:b,eth2:c,eth3:d,eth4:e,eth5:f,eth6:g,eth7:h,eth8:i",
				     "none,eth0:xenbr0", "eth0:xenbr0+", "eth0:xenbr0,+eth1:xenbr1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct uplink_map m;
		const char *why = NULL;
		if (uplink_map_parse(bad[i], &m, &why) != -EINVAL || !why || m.n != 0 ||
		    uplink_map_bridge(&m, "eth0", 0) != NULL) {
			printf("FAIL %s: '%s' accepted\n", test_current, bad[i]);
			test_failed_now = 1;
			return;
		}
	}
}

TEST(longest_names_fit)
{
	struct uplink_map m;
	const char *why;
	CHECK_EQ(uplink_map_parse("abcdefghijklmno:ABCDEFGHIJKLMNO", &m, &why), 0);
	CHECK_STR(uplink_map_bridge(&m, "abcdefghijklmno", 3), "ABCDEFGHIJKLMNO");
}

static const struct test_case tests[] = {
	T(default_is_first_nic_on_xenbr0), T(parses_pairs), T(none_joins_nothing),
	T(refuses_malformed), T(longest_names_fit),
};
RUN_TESTS(tests)

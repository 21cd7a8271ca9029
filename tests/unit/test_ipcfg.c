/* Host tests of net/lwip/ipcfg.c: address and prefix parsing, masks, static checks. */
#include <keel/ip.h>
#include "harness.h"

/* Network order from four octets (x86: the first octet is the lowest byte). */
static uint32_t A(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return a | b << 8 | c << 16 | (uint32_t)d << 24;
}

TEST(parses_dotted_quads)
{
	uint32_t a = 0;
	CHECK_EQ(ip_parse_addr("10.0.2.15", &a), 0);
	CHECK_EQ(a, A(10, 0, 2, 15));
	CHECK_EQ(ip_parse_addr("255.255.255.255", &a), 0);
	CHECK_EQ(a, 0xffffffffu);
	CHECK_EQ(ip_parse_addr("0.0.0.0", &a), 0);
	CHECK_EQ(a, 0);
}

TEST(refuses_malformed_addresses)
{
	static const char *bad[] = { "", "10", "10.0.2", "10.0.2.", "10.0.2.15.", "10.0.2.256",
				     "10.0.2.1500", "10.00.2.1", "010.0.2.1", "10.0.2.15/24",
				     "a.b.c.d", "10..2.15", " 10.0.2.15", "10.0.2.15 ",
				     "-1.0.0.0", "10.0.2.0x1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t a = 0x12345678;
		if (ip_parse_addr(bad[i], &a) != -EINVAL || a != 0x12345678) {
			printf("FAIL %s: '%s' accepted\n", test_current, bad[i]);
			test_failed_now = 1;
			return;
		}
	}
}

TEST(parses_prefixes)
{
	uint32_t a;
	unsigned int len = 99;
	CHECK_EQ(ip_parse_cidr("10.0.2.20/24", &a, &len), 0);
	CHECK_EQ(a, A(10, 0, 2, 20));
	CHECK_EQ(len, 24);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/0", &a, &len), 0);
	CHECK_EQ(len, 0);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/32", &a, &len), 0);
	CHECK_EQ(len, 32);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/33", &a, &len), -EINVAL);
	CHECK_EQ(ip_parse_cidr("192.168.1.1", &a, &len), -EINVAL);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/", &a, &len), -EINVAL);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/24x", &a, &len), -EINVAL);
	CHECK_EQ(ip_parse_cidr("192.168.1.1/024", &a, &len), -EINVAL);
}

TEST(masks_and_lengths)
{
	CHECK_EQ(ip_prefix_mask(0), 0);
	CHECK_EQ(ip_prefix_mask(8), A(255, 0, 0, 0));
	CHECK_EQ(ip_prefix_mask(24), A(255, 255, 255, 0));
	CHECK_EQ(ip_prefix_mask(25), A(255, 255, 255, 128));
	CHECK_EQ(ip_prefix_mask(32), 0xffffffffu);
	for (unsigned int l = 0; l <= 32; l++)
		CHECK_EQ(ip_mask_len(ip_prefix_mask(l)), (int)l);
	CHECK_EQ(ip_mask_len(A(255, 0, 255, 0)), -EINVAL);
	CHECK_EQ(ip_mask_len(A(0, 0, 0, 255)), -EINVAL);
}

TEST(formats)
{
	char buf[16];
	CHECK_STR(ip_format(buf, sizeof(buf), A(10, 0, 2, 15)), "10.0.2.15");
	CHECK_STR(ip_format(buf, sizeof(buf), 0xffffffffu), "255.255.255.255");
}

TEST(static_checks)
{
	CHECK_EQ(ip_check_static(A(10, 0, 2, 20), 24, A(10, 0, 2, 2)), 0);
	CHECK_EQ(ip_check_static(A(10, 0, 2, 20), 24, 0), 0);
	CHECK_EQ(ip_check_static(A(10, 0, 2, 0), 24, 0), -EINVAL);       /* network */
	CHECK_EQ(ip_check_static(A(10, 0, 2, 255), 24, 0), -EINVAL);     /* broadcast */
	CHECK_EQ(ip_check_static(A(10, 0, 2, 255), 31, 0), 0);           /* /31: both hosts */
	CHECK_EQ(ip_check_static(0, 24, 0), -EINVAL);
	CHECK_EQ(ip_check_static(A(127, 0, 0, 1), 8, 0), -EINVAL);
	CHECK_EQ(ip_check_static(A(224, 0, 0, 1), 24, 0), -EINVAL);
	CHECK_EQ(ip_check_static(A(10, 0, 2, 20), 24, A(10, 0, 3, 2)), -ERANGE);  /* off subnet */
	CHECK_EQ(ip_check_static(A(10, 0, 2, 20), 24, A(10, 0, 2, 20)), -ERANGE); /* itself */
	CHECK_EQ(ip_check_static(A(10, 0, 2, 20), 24, A(10, 0, 2, 255)), -ERANGE);
}

static const struct test_case tests[] = {
	T(parses_dotted_quads), T(refuses_malformed_addresses), T(parses_prefixes),
	T(masks_and_lengths), T(formats), T(static_checks),
};
RUN_TESTS(tests)

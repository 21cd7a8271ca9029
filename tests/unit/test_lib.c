/* Host tests for lib/: printf engine, boot command line, log ring, range allocator. */
#include <lib/base.h>
#include <lib/cmdline.h>
#include <lib/logring.h>
#include <lib/printf.h>
#include <lib/range_alloc.h>

#include "harness.h"

/* keel's printf must agree with libc's for every format it supports. */
#define SAME(...) \
	do { \
		char a_[128], b_[128]; \
		int na_ = ksnprintf(a_, sizeof(a_), __VA_ARGS__); \
		int nb_ = snprintf(b_, sizeof(b_), __VA_ARGS__); \
		CHECK_STR(a_, b_); \
		CHECK_EQ(na_, nb_); \
	} while (0)

TEST(printf_matches_libc)
{
	SAME("%d %i %u", -42, 7, 3000000000u);
	SAME("%x %X %#x %#o %o", 0xbeef, 0xbeef, 0x1f, 8, 8);
	SAME("[%5d] [%-5d] [%05d] [%+d] [% d]", 42, 42, 42, 42, 42);
	SAME("[%.3d] [%8.3d] [%-8.3x]", 7, 7, 255);
	SAME("%lld %llu %llx", -9223372036854775807LL - 1, 18446744073709551615ULL, 1ULL << 63);
	SAME("%ld %lu %zu %zd", -1L, 123456789UL, (size_t)99, (ssize_t)-99);
	SAME("%hd %hhu", (short)-3, (unsigned char)250);
	SAME("[%s] [%10s] [%-10s] [%.2s] [%*s]", "abc", "abc", "abc", "abc", 6, "x");
	SAME("%c%c %% %5c", 'o', 'k', 'z');
	SAME("%p", (void *)0x1234);
	SAME("%.0d|%3.0d", 0, 0);
	SAME("%-*d|", 6, -3);
}

TEST(printf_truncates_and_counts)
{
	char buf[8];
	int n = ksnprintf(buf, sizeof(buf), "%s", "hello world");
	CHECK_EQ(n, 11);
	CHECK_STR(buf, "hello w");
	n = ksnprintf(NULL, 0, "%d", 12345);
	CHECK_EQ(n, 5);
	CHECK_EQ(ksnprintf(buf, 1, "abc"), 3);
	CHECK_EQ(buf[0], 0);
}

struct opts {
	bool quiet;
	uint64_t level;
	char name[8];
	int errors;
	char last[256];
};

static void report(void *ctx, const char *msg)
{
	struct opts *o = ctx;
	o->errors++;
	snprintf(o->last, sizeof(o->last), "%s", msg);
}

static int parse(const char *line, struct opts *o)
{
	const struct cmdline_opt table[] = {
		{ "quiet", CMDLINE_BOOL, &o->quiet, 0, 0, 0, "" },
		{ "level", CMDLINE_UINT, &o->level, 0, 1, 7, "" },
		{ "name", CMDLINE_STRING, o->name, sizeof(o->name), 0, 0, "" },
	};
	return cmdline_parse(line, table, 3, report, o);
}

TEST(cmdline_good_options)
{
	struct opts o = { 0 };
	CHECK_EQ(parse("  quiet level=5 name='a b'  ", &o), 0);
	CHECK(o.quiet);
	CHECK_EQ(o.level, 5);
	CHECK_STR(o.name, "a b");
	CHECK_EQ(parse("quiet=off level=0x7", &o), 0);
	CHECK(!o.quiet);
	CHECK_EQ(o.level, 7);
}

TEST(cmdline_bad_options_reported_rest_applied)
{
	struct opts o = { 0 };
	o.level = 3;
	CHECK_EQ(parse("level=banana bogus=1 quiet", &o), 2);
	CHECK(o.quiet);         /* the good word still applies */
	CHECK_EQ(o.level, 3);   /* the bad one left the default */
	CHECK(strstr(o.last, "unknown option 'bogus'"));
	memset(&o, 0, sizeof(o));
	CHECK_EQ(parse("level=9", &o), 1);
	CHECK(strstr(o.last, "out of range"));
	CHECK_EQ(parse("level=", &o), 1);
	CHECK_EQ(parse("name=toolongvalue", &o), 1);
	CHECK(strstr(o.last, "longer than"));
	CHECK_EQ(parse("quiet=maybe", &o), 1);
	CHECK_EQ(parse("name='unterminated", &o), 1);
	CHECK(strstr(o.last, "unterminated quote"));
	CHECK_EQ(parse("level=99999999999999999999999", &o), 1);
	CHECK_EQ(o.errors, 6);
}

TEST(cmdline_huge_word)
{
	struct opts o = { 0 };
	char line[2000];
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = 0;
	CHECK_EQ(parse(line, &o), 1);
	CHECK(strstr(o.last, "longer than"));
}

TEST(logring_keeps_newest)
{
	char store[16], out[64];
	struct logring r;
	uint64_t pos = 0;

	logring_init(&r, store, sizeof(store));
	logring_write(&r, "hello ", 6);
	CHECK_EQ(logring_read(&r, &pos, out, sizeof(out)), 6);
	CHECK(!memcmp(out, "hello ", 6));
	logring_write(&r, "0123456789abcdefXYZ", 19); /* longer than the ring */
	CHECK_EQ(logring_tail(&r), 25 - 16);
	CHECK_EQ(logring_read(&r, &pos, out, sizeof(out)), 16); /* pos skipped ahead */
	CHECK(!memcmp(out, "3456789abcdefXYZ", 16));
	CHECK_EQ(pos, 25);
	CHECK_EQ(logring_read(&r, &pos, out, sizeof(out)), 0);
	logring_write(&r, "ab", 2); /* wraps around the end */
	CHECK_EQ(logring_read(&r, &pos, out, 1), 1);
	CHECK_EQ(out[0], 'a');
	CHECK_EQ(logring_read(&r, &pos, out, 8), 1);
	CHECK_EQ(out[0], 'b');
}

TEST(range_alloc_first_fit_and_align)
{
	uint64_t bits[RANGE_ALLOC_BITMAP_BYTES(300) / 8];
	struct range_alloc r;
	uint64_t a, b, c;

	range_init(&r, 1000, 300, bits);
	CHECK_EQ(r.free, 0);
	CHECK_EQ(range_alloc(&r, 1, 1, &a), -ENOMEM);
	range_free(&r, 1010, 290);
	CHECK_EQ(r.free, 290);
	CHECK_EQ(range_alloc(&r, 10, 1, &a), 0);
	CHECK_EQ(a, 1010);
	CHECK_EQ(range_alloc(&r, 5, 16, &b), 0);
	CHECK_EQ(b % 16, 0);
	CHECK(b >= 1020);
	CHECK(range_is_used(&r, b + 4));
	CHECK(!range_is_used(&r, b + 5));
	range_free(&r, a, 10);
	CHECK_EQ(range_alloc(&r, 200, 1, &c), 0);
	CHECK_EQ(range_alloc(&r, 200, 1, &c), -ENOMEM);
	CHECK_EQ(range_alloc(&r, 0, 1, &c), -ENOMEM);
	CHECK_EQ(range_alloc(&r, 1, 3, &c), -ENOMEM); /* align not a power of two */
}

TEST(range_alloc_exhaust_and_refill)
{
	uint64_t bits[RANGE_ALLOC_BITMAP_BYTES(130) / 8];
	struct range_alloc r;
	uint64_t got[130], x;

	range_init(&r, 0, 130, bits);
	range_free(&r, 0, 130);
	for (int i = 0; i < 130; i++)
		CHECK_EQ(range_alloc(&r, 1, 1, &got[i]), 0);
	CHECK_EQ(range_alloc(&r, 1, 1, &x), -ENOMEM);
	for (int i = 0; i < 130; i += 2)
		range_free(&r, got[i], 1);
	CHECK_EQ(r.free, 65);
	CHECK_EQ(range_alloc(&r, 2, 1, &x), -ENOMEM); /* fragmented: no run of 2 */
	range_reserve(&r, got[0], 1);
	CHECK_EQ(r.free, 64);
	for (int i = 2; i < 130; i += 2)
		CHECK_EQ(range_alloc(&r, 1, 1, &x), 0);
	CHECK_EQ(r.free, 0);
}

TEST(range_alloc_below_limit)
{
	uint64_t bits[RANGE_ALLOC_BITMAP_BYTES(200) / 8];
	struct range_alloc r;
	uint64_t x;

	range_init(&r, 100, 200, bits);
	range_free(&r, 150, 150);
	CHECK_EQ(range_alloc_below(&r, 1, 150, &x), -ENOMEM); /* all below 150 is used */
	CHECK_EQ(range_alloc_below(&r, 10, 160, &x), 0);
	CHECK_EQ(x, 150);
	CHECK_EQ(range_alloc_below(&r, 1, 160, &x), -ENOMEM); /* run would end past 160 */
	CHECK_EQ(range_alloc_below(&r, 1, 161, &x), 0);
	CHECK_EQ(x, 160);
	CHECK_EQ(range_alloc_below(&r, 1, 50, &x), -ENOMEM); /* limit below the base */
}

TEST(range_take_highest_descends_and_skips_used)
{
	uint64_t bits[RANGE_ALLOC_BITMAP_BYTES(300) / 8];
	struct range_alloc r;
	uint64_t out[8];

	range_init(&r, 1000, 300, bits);
	range_free(&r, 1000, 10);
	range_free(&r, 1290, 3);
	CHECK_EQ(range_take_highest(&r, out, 4), 4);
	CHECK_EQ(out[0], 1292);
	CHECK_EQ(out[1], 1291);
	CHECK_EQ(out[2], 1290);
	CHECK_EQ(out[3], 1009); /* across 280 used units */
	CHECK(range_is_used(&r, 1290));
	CHECK_EQ(r.free, 9);
	CHECK_EQ(range_take_highest(&r, out, 8), 8);
	CHECK_EQ(r.free, 1);
	CHECK_EQ(range_take_highest(&r, out, 8), 1);
	CHECK_EQ(out[0], 1000);
	CHECK_EQ(range_take_highest(&r, out, 8), 0);
}

static const struct test_case tests[] = {
	T(range_alloc_below_limit), T(range_take_highest_descends_and_skips_used),
	T(printf_matches_libc), T(printf_truncates_and_counts), T(cmdline_good_options),
	T(cmdline_bad_options_reported_rest_applied), T(cmdline_huge_word),
	T(logring_keeps_newest), T(range_alloc_first_fit_and_align),
	T(range_alloc_exhaust_and_refill),
};
RUN_TESTS(tests)

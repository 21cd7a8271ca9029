/*
 * A tiny host unit-test harness.  A test file defines test functions with
 * TEST(name), lists them in a TESTS table and calls run_tests(); every test
 * prints one "PASS name" or "FAIL name: why" line, which tests/run.sh counts.
 */
#ifndef KEEL_TEST_HARNESS_H
#define KEEL_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(void);
};

static int test_failed_now;
static const char *test_current;

#define TEST(name) static void name(void)
#define T(name) { #name, name }

#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			printf("FAIL %s: %s:%d: %s\n", test_current, __FILE__, \
			       __LINE__, #cond); \
			test_failed_now = 1; \
			return; \
		} \
	} while (0)

#define CHECK_EQ(a, b) \
	do { \
		long long va_ = (long long)(a), vb_ = (long long)(b); \
		if (va_ != vb_) { \
			printf("FAIL %s: %s:%d: %s == %lld, expected %lld\n", \
			       test_current, __FILE__, __LINE__, #a, va_, vb_); \
			test_failed_now = 1; \
			return; \
		} \
	} while (0)

#define CHECK_STR(a, b) \
	do { \
		const char *sa_ = (a), *sb_ = (b); \
		if (!sa_ || !sb_ || strcmp(sa_, sb_) != 0) { \
			printf("FAIL %s: %s:%d: %s == \"%s\", expected \"%s\"\n", \
			       test_current, __FILE__, __LINE__, #a, \
			       sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)"); \
			test_failed_now = 1; \
			return; \
		} \
	} while (0)

static inline int run_tests(const struct test_case *tests, size_t n)
{
	int failed = 0;

	for (size_t i = 0; i < n; i++) {
		test_current = tests[i].name;
		test_failed_now = 0;
		tests[i].fn();
		if (test_failed_now)
			failed++;
		else
			printf("PASS %s\n", tests[i].name);
	}
	return failed ? 1 : 0;
}

#define RUN_TESTS(table) \
	int main(void) { return run_tests(table, sizeof(table) / sizeof(table[0])); }

#endif

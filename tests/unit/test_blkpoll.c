/* blkback's poll-or-sleep decision: a fast disk keeps being polled, a slow
 * one stops costing poll windows and is probed again now and then. */
#include "harness.h"
#include <keel/blkpoll.h>

TEST(fast_disk_keeps_polling)
{
	struct vbd_poll p = { 0 };
	vbd_poll_init(&p);
	for (int i = 0; i < 1000; i++) {
		CHECK(vbd_poll_wanted(&p));
		vbd_poll_result(&p, true);
	}
	CHECK_EQ(p.hits, 1000);
	CHECK_EQ(p.credit, VBD_POLL_CREDIT_MAX);
	/* One slow request among fast ones does not stop it. */
	vbd_poll_result(&p, false);
	CHECK(vbd_poll_wanted(&p));
}

TEST(slow_disk_stops_after_two_misses)
{
	struct vbd_poll p = { 0 };
	vbd_poll_init(&p);
	CHECK(vbd_poll_wanted(&p));
	vbd_poll_result(&p, false);
	/* A new vbd's credit is one miss deep. */
	CHECK(!vbd_poll_wanted(&p));
	vbd_poll_init(&p);
	vbd_poll_result(&p, true);          /* credit 5 */
	vbd_poll_result(&p, false);         /* 1 */
	CHECK(vbd_poll_wanted(&p));
	vbd_poll_result(&p, false);         /* -3 */
	CHECK(!vbd_poll_wanted(&p));
}

/* A vbd whose disk missed twice: its credit is spent. */
static struct vbd_poll spent(void)
{
	struct vbd_poll p = { 0 };
	vbd_poll_init(&p);
	vbd_poll_result(&p, false);
	vbd_poll_result(&p, false);
	return p;
}

TEST(spent_credit_probes_every_retry_passes)
{
	struct vbd_poll p = spent();
	unsigned polled = 0;
	for (int i = 0; i < VBD_POLL_RETRY * 10; i++) {
		if (vbd_poll_wanted(&p)) {
			polled++;
			vbd_poll_result(&p, false);  /* still slow */
		}
	}
	CHECK_EQ(polled, 10);
	CHECK_EQ(p.skips, (uint64_t)VBD_POLL_RETRY * 10 - 10);
	/* The credit stays spent: misses while stopped cost nothing more,
	 * so one probe that hits is enough to come back. */
	CHECK(p.credit <= 0);
	CHECK(p.credit > -2 * VBD_POLL_MISS_COST);
}

TEST(probe_hit_resumes_polling)
{
	struct vbd_poll p = spent();
	int i = 0;
	while (!vbd_poll_wanted(&p))
		i++;
	CHECK_EQ(i, VBD_POLL_RETRY - 1);
	vbd_poll_result(&p, true);
	CHECK_EQ(p.credit, VBD_POLL_CREDIT_START);
	for (int k = 0; k < 5; k++)
		CHECK(vbd_poll_wanted(&p));
}

static const struct test_case tests[] = {
	T(fast_disk_keeps_polling), T(slow_disk_stops_after_two_misses),
	T(spent_credit_probes_every_retry_passes), T(probe_hit_resumes_polling),
};

int main(void)
{
	return run_tests(tests, ARRAY_SIZE(tests));
}

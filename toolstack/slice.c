/*
 * Slicing long toolstack work.  keel's threads are cooperative: a create that
 * decompresses a kernel for seconds, or copies and maps a 1 GiB domain,
 * would keep xenstored, the console backend and the reaper from running and
 * every other guest's xenstore requests would wait for it.  Such loops call
 * toolstack_slice() often (every chunk, every few hundred pages); it yields
 * once TOOLSTACK_SLICE_NS have passed since the CPU was last given back.
 *
 * It also keeps the longest stretch seen between two slice points of one
 * uninterrupted run (no thread switch in between), which `domain-times` and
 * the create log line report: the worst a guest can be kept waiting by it.
 */
#include <keel/kernel.h>
#include <keel/toolstack.h>

static uint64_t last_ns;         /* when a slice point last gave the CPU back */
static uint64_t last_switches;   /* the scheduler's switch count then */
static uint64_t longest_ns;
static uint64_t yields;
static void *prev_site;          /* the slice point called just before */
static unsigned int reported;    /* long stretches logged since the last reset */

/*
 * A stretch this long is logged with the slice points at both ends
 * (addr2line -e build/keel): the code between them ran that long without
 * letting xenstored or the console backend in.  At most SLICE_REPORT_MAX
 * lines per measured piece of work (toolstack_slice_stats with reset), and
 * then only a new longest.
 */
#define SLICE_REPORT_NS 20000000ULL
#define SLICE_REPORT_MAX 8

static void slice_point(void *site)
{
	struct sched_stats st;
	uint64_t now = time_now_ns();

	sched_get_stats(&st);
	/* Only a stretch in which no other thread ran is one slice. */
	if (st.switches == last_switches && last_ns) {
		uint64_t len = now - last_ns;
		bool longest = len > longest_ns;
		if (longest)
			longest_ns = len;
		if (len >= SLICE_REPORT_NS && (reported++ < SLICE_REPORT_MAX || longest))
			klog("toolstack: %llu ms without yielding, the last piece from the slice "
			     "point at %p to %p\n", (unsigned long long)(len / 1000000), prev_site,
			     site);
	}
	prev_site = site;
	if (st.switches != last_switches || now - last_ns >= TOOLSTACK_SLICE_NS) {
		if (now - last_ns >= TOOLSTACK_SLICE_NS) {
			yields++;
			thread_yield();
		}
		sched_get_stats(&st);
		last_switches = st.switches;
		last_ns = time_now_ns();
	}
}

void toolstack_slice(void)
{
	slice_point(__builtin_return_address(0));
}

void toolstack_slice_begin(void)
{
	struct sched_stats st;

	sched_get_stats(&st);
	last_switches = st.switches;
	last_ns = time_now_ns();
	prev_site = __builtin_return_address(0);
}

void toolstack_slice_stats(uint64_t *longest, uint64_t *nr_yields, bool reset)
{
	*longest = longest_ns;
	*nr_yields = yields;
	if (reset) {
		longest_ns = yields = 0;
		reported = 0;
	}
}

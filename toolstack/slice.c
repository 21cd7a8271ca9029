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

/* A stretch this long is logged with where it ended (addr2line -e build/keel). */
#define SLICE_REPORT_NS 50000000ULL

void toolstack_slice(void)
{
	struct sched_stats st;
	uint64_t now = time_now_ns();

	sched_get_stats(&st);
	/* Only a stretch in which no other thread ran is one slice. */
	if (st.switches == last_switches && now - last_ns > longest_ns && last_ns) {
		longest_ns = now - last_ns;
		if (longest_ns >= SLICE_REPORT_NS)
			klog("toolstack: %llu ms without yielding, up to the slice point called from %p\n",
			     (unsigned long long)(longest_ns / 1000000), __builtin_return_address(0));
	}
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

void toolstack_slice_begin(void)
{
	struct sched_stats st;

	sched_get_stats(&st);
	last_switches = st.switches;
	last_ns = time_now_ns();
}

void toolstack_slice_stats(uint64_t *longest, uint64_t *nr_yields, bool reset)
{
	*longest = longest_ns;
	*nr_yields = yields;
	if (reset)
		longest_ns = yields = 0;
}

/*
 * What lwIP (NO_SYS=1) asks of its platform: a millisecond clock, random
 * numbers (TCP initial sequence numbers, DHCP transaction ids, ephemeral
 * ports), diagnostics and assertions.  See include/arch/cc.h.
 */
#include <keel/kernel.h>

#include "lwip/sys.h"

u32_t sys_now(void)
{
	return (u32_t)(time_now_ns() / 1000000);
}

static uint64_t rand_state;

/* xorshift64*, seeded from the TSC and Xen's clock on first use.  Not for
 * secrets: it makes sequence numbers and ids hard to guess from outside,
 * which is all lwIP asks. */
uint32_t lwip_port_rand(void)
{
	if (!rand_state) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		rand_state = ((uint64_t)hi << 32 | lo) ^ time_wallclock_ns() ^ 0x9e3779b97f4a7c15ULL;
		if (!rand_state)
			rand_state = 1;
	}
	rand_state ^= rand_state >> 12;
	rand_state ^= rand_state << 25;
	rand_state ^= rand_state >> 27;
	return (uint32_t)((rand_state * 0x2545f4914f6cdd1dULL) >> 32);
}

void lwip_port_diag(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kprintf("lwip: %s", buf);
}

/* An lwIP assertion is a broken invariant inside lwIP itself (lwIP checks
 * what comes off the wire with its own tests and drops bad frames), so it
 * is handled as keel's own ASSERT is. */
void lwip_port_assert(const char *msg, const char *file, int line)
{
	assert_failed(msg, file, line);
}

void *lwip_port_calloc(size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return kzalloc(n * size);
}

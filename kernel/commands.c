/* keel's own console commands: memory, time, log, faults, power. */
#include <keel/commands.h>
#include <keel/evtchn.h>
#include <keel/gnttab.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/xenctl.h>
#include <keel/toolstack.h>

static int cmd_mem(int argc, char **argv)
{
	struct mm_stats st;
	struct heap_stats hs;
	struct gnttab_stats gs;
	struct xenabi_dominfo di;

	(void)argc;
	(void)argv;
	mm_get_stats(&st);
	heap_get_stats(&hs);
	gnttab_get_stats(&gs);
	uint64_t used = st.total_pages - st.free_pages;
	kprintf("dom0 pages     : %llu (%llu KiB)\n", (unsigned long long)st.total_pages,
		(unsigned long long)(st.total_pages * 4));
	if (xenctl_domain_info(0, &di) == 0)
		kprintf("  Xen's count  : %llu (getdomaininfo tot_pages)\n",
			(unsigned long long)di.tot_pages);
	kprintf("  at boot      : %llu (%llu KiB); given back to Xen: %llu (%llu KiB)\n",
		(unsigned long long)st.initial_pages, (unsigned long long)(st.initial_pages * 4),
		(unsigned long long)st.ballooned_pages, (unsigned long long)(st.ballooned_pages * 4));
	kprintf("free pages     : %llu (%llu KiB)\n", (unsigned long long)st.free_pages,
		(unsigned long long)(st.free_pages * 4));
	kprintf("used pages     : %llu (%llu KiB)\n", (unsigned long long)used,
		(unsigned long long)(used * 4));
	kprintf("  keel image   : %llu KiB\n", (unsigned long long)(st.image_pages * 4));
	kprintf("  boot data    : %llu KiB (Xen's p2m, start_info, page tables, boot module)\n",
		(unsigned long long)(st.boot_pages * 4));
	kprintf("  page tables  : %llu KiB added by keel (+%llu KiB reserved for the direct map)\n",
		(unsigned long long)(st.pagetable_pages * 4),
		(unsigned long long)(st.pt_reserved_pages * 4));
	kprintf("  heap         : %llu KiB in use, %llu KiB of slabs (%llu KiB empty), "
		"%llu KiB vmalloc-backed; %llu slab pages given back\n",
		(unsigned long long)(hs.in_use_bytes / 1024), (unsigned long long)(hs.slab_pages * 4),
		(unsigned long long)(hs.empty_slab_pages * 4),
		(unsigned long long)(hs.vmalloc_bytes / 1024),
		(unsigned long long)hs.slab_pages_returned);
	kprintf("  vmalloc      : %llu KiB (stacks, large buffers)\n",
		(unsigned long long)(st.vmalloc_pages * 4));
	struct kcache_stats kc;
	toolstack_kcache_stats(&kc);
	kprintf("  kernel cache : %llu KiB in %u decompressed kernels (bound %llu KiB; "
		"`kernel-cache drop` frees it)\n", (unsigned long long)(kc.bytes >> 10), kc.entries,
		(unsigned long long)(kc.bound_bytes >> 10));
	kprintf("vmap in use    : %llu pages\n", (unsigned long long)st.vmap_used_pages);
	kprintf("direct map     : %llu pages mapped so far\n", (unsigned long long)st.mapped_pages);
	kprintf("grants mapped  : %llu now (%llu maps, %llu refused; %llu unmaps, %llu refused; "
		"%llu copies, %llu failed)\n",
		(unsigned long long)gs.mapped_now, (unsigned long long)gs.map_ops,
		(unsigned long long)gs.map_failures, (unsigned long long)gs.unmap_ops,
		(unsigned long long)gs.unmap_failures, (unsigned long long)gs.copy_ops,
		(unsigned long long)gs.copy_failures);
	kprintf("grants given   : %llu entries of dom0's own table%s\n",
		(unsigned long long)gs.granted_now, gs.own_table ? "" : " (no table)");
	return 0;
}

static void print_duration(const char *label, uint64_t ns)
{
	uint64_t ms = ns / 1000000;
	kprintf("%s%llu.%03llu s\n", label, (unsigned long long)(ms / 1000),
		(unsigned long long)(ms % 1000));
}

static int cmd_uptime(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint64_t now = time_now_ns();
	print_duration("dom0 up    : ", now - boot_entry_ns);
	print_duration("Xen up     : ", now);
	uint64_t boot_us = (boot_prompt_ns - boot_entry_ns) / 1000;
	kprintf("dom0 boot  : %llu.%03llu ms from entry to prompt\n",
		(unsigned long long)(boot_us / 1000), (unsigned long long)(boot_us % 1000));
	return 0;
}

static int cmd_boottime(int argc, char **argv)
{
	uint64_t prev = boot_entry_ns;

	(void)argc;
	(void)argv;
	for (unsigned int i = 0; i < boot_phase_count; i++) {
		uint64_t us = (boot_phases[i].done_ns - prev) / 1000;
		kprintf("%-34s %6llu.%03llu ms\n", boot_phases[i].name,
			(unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
		prev = boot_phases[i].done_ns;
	}
	uint64_t us = (boot_prompt_ns - boot_entry_ns) / 1000;
	kprintf("%-34s %6llu.%03llu ms\n", "total: entry to prompt", (unsigned long long)(us / 1000),
		(unsigned long long)(us % 1000));
	return 0;
}

/* Days since 1970-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	uint64_t doe = (uint64_t)(z - era * 146097);
	uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	uint64_t mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int cmd_date(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	uint64_t ns = time_wallclock_ns();
	uint64_t secs = ns / 1000000000ULL;
	int64_t y;
	unsigned mo, d;
	civil_from_days((int64_t)(secs / 86400), &y, &mo, &d);
	uint64_t s = secs % 86400;
	kprintf("%04lld-%02u-%02u %02llu:%02llu:%02llu UTC\n", (long long)y, mo, d,
		(unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
		(unsigned long long)(s % 60));
	return 0;
}

static int cmd_dmesg(int argc, char **argv)
{
	char buf[256];
	uint64_t pos = 0;
	size_t n;

	(void)argc;
	(void)argv;
	/* Snapshot the end first: printing appends to the log we read. */
	char probe;
	uint64_t end = 0;
	while (log_read(&end, &probe, 1))
		;
	while (pos < end && (n = log_read(&pos, buf, MIN(sizeof(buf), (size_t)(end - pos)))))
		console_write(buf, n);
	return 0;
}

/* Behind a volatile pointer so the compiler cannot prove the write bogus. */
static volatile uint64_t *volatile fault_target = (volatile uint64_t *)0x10;

static int cmd_fault(int argc, char **argv)
{
	const char *kind = argc > 1 ? argv[1] : "pf";

	if (!strcmp(kind, "pf")) {
		kprintf("keel: test fault: writing to address 0x10\n");
		*fault_target = 1;
	} else if (!strcmp(kind, "ud")) {
		kprintf("keel: test fault: invalid opcode\n");
		__asm__ volatile("ud2");
	} else if (!strcmp(kind, "gp")) {
		kprintf("keel: test fault: non-canonical address\n");
		*(volatile uint64_t *)0x8000000000000000ULL = 1;
	} else if (!strcmp(kind, "panic")) {
		panic("test panic requested from the console");
	} else {
		kprintf("fault: unknown kind '%s' (pf, ud, gp, panic)\n", kind);
		return -EINVAL;
	}
	return 0;
}

static int cmd_reboot(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	power_reboot();
}

static int cmd_poweroff(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return power_off();
}

static int cmd_stats(int argc, char **argv)
{
	struct sched_stats s;

	(void)argc;
	(void)argv;
	sched_get_stats(&s);
	kprintf("threads        : %llu\n", (unsigned long long)s.threads);
	kprintf("switches       : %llu\n", (unsigned long long)s.switches);
	kprintf("preemptions    : %llu (of preemptible Xen calls)\n",
		(unsigned long long)s.preemptions);
	kprintf("blocks         : %llu\n", (unsigned long long)s.blocks);
	kprintf("event upcalls  : %llu\n", (unsigned long long)evtchn_upcall_count());
	unsigned int highest, bound = evtchn_bound_count(&highest);
	kprintf("event ports    : %u bound, highest %u\n", bound, highest);
	return 0;
}

#define MS3(ns) (unsigned long long)((ns) / 1000000), (unsigned long long)((ns) / 1000 % 1000)

/* Per-thread CPU use and the latest long runs; `threads reset` zeroes them. */
static int cmd_threads(int argc, char **argv)
{
	bool reset = argc == 2 && !strcmp(argv[1], "reset");
	struct sched_thread_info ti;
	struct sched_long_run lr[16];

	if (argc > 2 || (argc == 2 && !reset)) {
		kprintf("usage: threads [reset]\n");
		return -EINVAL;
	}
	kprintf("%-22s %8s %12s %12s %12s  %s\n", "thread", "runs", "cpu_ms", "longest_ms",
		"worst_wait_ms", "longest run (from -> to)");
	for (unsigned int i = 0; sched_thread_info(i, &ti, reset); i++)
		kprintf("%-22s %8llu %8llu.%03llu %8llu.%03llu %9llu.%03llu  %p -> %p\n", ti.name,
			(unsigned long long)ti.runs, MS3(ti.run_ns), MS3(ti.longest_run_ns),
			MS3(ti.worst_wait_ns), ti.longest_from, ti.longest_to);
	kprintf("idle (blocked in Xen): %llu.%03llu ms since boot\n", MS3(sched_idle_ns()));
	unsigned int n = sched_long_runs(lr, ARRAY_SIZE(lr), reset);
	for (unsigned int i = 0; i < n; i++)
		kprintf("long run: %s at %llu.%06llu s for %llu.%03llu ms, %llu upcalls (%p -> %p)\n", lr[i].name,
			(unsigned long long)(lr[i].start_ns / 1000000000ULL),
			(unsigned long long)(lr[i].start_ns / 1000 % 1000000), MS3(lr[i].ns),
			(unsigned long long)lr[i].upcalls, lr[i].from, lr[i].to);
	return 0;
}

static int cmd_sleep(int argc, char **argv)
{
	if (argc != 2) {
		kprintf("usage: sleep MILLISECONDS\n");
		return -EINVAL;
	}
	char *end;
	unsigned long ms = strtoul(argv[1], &end, 10);
	if (*end || end == argv[1] || ms > 3600000) {
		kprintf("sleep: '%s' is not a number of milliseconds (0-3600000)\n", argv[1]);
		return -EINVAL;
	}
	thread_sleep_ns((uint64_t)ms * 1000000);
	return 0;
}

const struct command kernel_commands[] = {
	{ "mem", cmd_mem, NULL, "dom0 memory: totals and what keel uses" },
	{ "uptime", cmd_uptime, NULL, "time since dom0 and Xen started" },
	{ "boottime", cmd_boottime, NULL, "how long each boot phase took" },
	{ "date", cmd_date, NULL, "wall-clock time (UTC)" },
	{ "dmesg", cmd_dmesg, NULL, "keel's log (Xen's: `xl dmesg`)" },
	{ "stats", cmd_stats, NULL, "scheduler and event counters" },
	{ "threads", cmd_threads, "[reset]", "CPU use per thread, the latest runs over 20 ms" },
	{ "sleep", cmd_sleep, "MS", "sleep for MS milliseconds" },
	{ "fault", cmd_fault, "[pf|ud|gp|panic]", "test: take a deliberate fault" },
	{ "reboot", cmd_reboot, NULL, "reboot the machine (`reboot NAME`: a domain)" },
	{ "poweroff", cmd_poweroff, NULL, "power the machine off (ACPI S5)" },
	{ NULL, NULL, NULL, NULL },
};

/*
 * kernel_start: keel's first C code, and the order in which subsystems come
 * up.  Xen enters with events masked and start_info in rsi (fact 13); the
 * idle loop at the end is where events are first enabled.
 */
#include <keel/evtchn.h>
#include <keel/gnttab.h>
#include <keel/hypercall.h>
#include <keel/ip.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/pci.h>
#include <keel/pci_irq.h>
#include <keel/net.h>
#include <keel/toolstack.h>
#include <keel/uplinks.h>
#include <keel/xenctl.h>
#include <keel/xsd.h>
#include <lib/cmdline.h>
#include <lib/decompress.h>

start_info_t *start_info;
struct shared_info *shared_info;
uint64_t boot_entry_ns, boot_prompt_ns;
struct boot_options boot_opts = { .loglevel = 6, .autostart = true };

/* shared_info is a machine frame Xen owns (fact 12): it is mapped over this
 * page of our image, whose own frame is simply no longer used. */
static char shared_info_page[PAGE_SIZE] __attribute__((aligned(PAGE_SIZE)));

/* Per-CPU block reached through %fs.  Offset 0x28 is where gcc-built code
 * (such as Debian's static libraries) expects the stack-protector canary. */
static struct {
	uint64_t self;
	uint64_t pad[4];
	uint64_t stack_canary;
} percpu0 __attribute__((aligned(64)));

/* Boot phases and when they finished, for the `boottime` command. */
struct boot_phase boot_phases[BOOT_PHASES_MAX];
unsigned int boot_phase_count;

void boot_phase_done(const char *name)
{
	if (boot_phase_count < BOOT_PHASES_MAX)
		boot_phases[boot_phase_count++] = (struct boot_phase){ name, time_now_ns() };
}

static const struct cmdline_opt options[] = {
	{ "quiet", CMDLINE_BOOL, &boot_opts.quiet, 0, 0, 0, "fewer boot messages" },
	{ "loglevel", CMDLINE_UINT, &boot_opts.loglevel, 0, 0, 7, "log verbosity 0-7" },
	{ "autostart", CMDLINE_BOOL, &boot_opts.autostart, 0, 0, 0,
	  "create the domains in /etc/xen/auto at boot" },
	{ "pci_nomsi", CMDLINE_BOOL, &pci_nomsi, 0, 0, 0,
	  "PCI devices use INTx, never MSI-X or MSI" },
	{ "test", CMDLINE_STRING, boot_opts.test, sizeof(boot_opts.test), 0, 0,
	  "test hook name" },
	{ "dom0_keep", CMDLINE_STRING, boot_opts.dom0_keep, sizeof(boot_opts.dom0_keep), 0, 0,
	  "memory dom0 keeps, the rest goes back to Xen (e.g. 512M; 0 or all: keep all)" },
	{ "ip", CMDLINE_STRING, ip_opt_ip, sizeof(ip_opt_ip), 0, 0,
	  "keel's own address on xenbr0: ADDR/LEN, dhcp (the default) or none" },
	{ "gw", CMDLINE_STRING, ip_opt_gw, sizeof(ip_opt_gw), 0, 0,
	  "default gateway with a static ip=" },
	{ "dns", CMDLINE_STRING, ip_opt_dns, sizeof(ip_opt_dns), 0, 0,
	  "DNS server for keel's own lookups (ping NAME)" },
	{ "uplinks", CMDLINE_STRING, uplinks_opt, sizeof(uplinks_opt), 0, 0,
	  "which NIC joins which bridge: NIC:BRIDGE[,NIC:BRIDGE...] ('+' for ',') or "
	  "none (default: the first NIC joins xenbr0)" },
};

/*
 * How much memory dom0 keeps.  With dom0_mem on Xen's command line the
 * administrator sized dom0 already: keep it all.  Without it Xen gives dom0
 * nearly the whole machine, and keel gives back everything above
 * DOM0_KEEP_DEFAULT_MIB, as a Linux dom0's balloon driver does down to its
 * target.  dom0_keep= on keel's command line overrides both.
 */
#define DOM0_KEEP_DEFAULT_MIB 256

static bool parse_size_pages(const char *s, uint64_t *pages)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (end == s)
		return false;
	switch (*end) {
	case 'g': case 'G': v <<= 30; end++; break;
	case 'm': case 'M': case 0: v <<= 20; if (*end) end++; break;
	case 'k': case 'K': v <<= 10; end++; break;
	default: return false;
	}
	if (*end)
		return false;
	*pages = v >> 12;
	return true;
}

static uint64_t dom0_keep_pages(void)
{
	static xen_commandline_t xen_cmdline;
	uint64_t pages;

	if (boot_opts.dom0_keep[0]) {
		if (!strcmp(boot_opts.dom0_keep, "all"))
			return 0;
		if (parse_size_pages(boot_opts.dom0_keep, &pages))
			return pages;
		klog("keel: dom0_keep=%s is not a size (e.g. 512M); using the default\n",
		     boot_opts.dom0_keep);
	}
	if (hyp_xen_version(XENVER_commandline, xen_cmdline) == 0 &&
	    (strstr(xen_cmdline, "dom0_mem=") == xen_cmdline ||
	     strstr(xen_cmdline, " dom0_mem=")))
		return 0;
	return (uint64_t)DOM0_KEEP_DEFAULT_MIB << 8;
}

/*
 * Debian's static decompressors are userspace code: they use the red zone,
 * which an event upcall pushed on the current stack would overwrite (fact
 * 15), so events stay masked while inside them (lib/decompress.c calls these
 * around every library call, in bounded chunks).
 */
static void decompress_enter(void)
{
	irq_disable();
}

static void decompress_leave(void)
{
	irq_enable();
}

static void report_option(void *ctx, const char *msg)
{
	(void)ctx;
	klog("keel: boot command line: %s\n", msg);
}

static void map_shared_info(start_info_t *si)
{
	long rc = hyp_update_va_mapping((unsigned long)shared_info_page,
					si->shared_info | 7, UVMF_INVLPG);
	if (rc) {
		console_puts("keel: cannot map shared_info, stopping\n");
		power_crash();
	}
	shared_info = (struct shared_info *)shared_info_page;
}

void kernel_start(start_info_t *si)
{
	start_info = si;
	map_shared_info(si);
	boot_entry_ns = time_now_ns();
	log_init();
	traps_init();
	boot_phase_done("shared_info, traps");

	percpu0.self = (uint64_t)&percpu0;
	percpu0.stack_canary = boot_entry_ns ^ 0x6b65656c6b65656cULL;
	hyp_set_segment_base(SEGBASE_FS, (unsigned long)&percpu0);

	cmdline_parse((const char *)si->cmd_line, options, ARRAY_SIZE(options),
		      report_option, NULL);
	boot_phase_done("command line");
	decompress_set_guard(decompress_enter, decompress_leave);
	mm_init(si, dom0_keep_pages());
	boot_phase_done("linear map, page allocator");
	heap_init();
	gnttab_init();
	evtchn_init();
	sched_init();
	time_init();
	console_init();
	xenctl_init(); /* which Xen: its domctl/sysctl layouts (xen/abi/) */
	boot_phase_done("heap, events, timers, console");
	bootarchive_init();
	boot_phase_done("boot archive");
	/* The shell is queued first so the prompt never waits for the domains
	 * /etc/xen/auto starts (their kernels may take seconds to decompress). */
	if (!thread_create("shell", shell_main, NULL))
		panic("cannot create the shell thread");
	if (mm_balloon_boot_pending() &&
	    !thread_create("balloon", mm_balloon_boot_release, NULL))
		panic("cannot create the balloon thread");
	xenstored_init();
	toolstack_init();
	boot_phase_done("xenstored, toolstack");
	net_init();
	keel_ip_init();
	pci_init();
	boot_phase_done("pci scan (drivers probe in a thread)");
	sched_run_idle();
}

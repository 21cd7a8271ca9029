/*
 * The xl-compatible commands that need no domain of keel's making: info,
 * list and dmesg.  Output formats follow Debian's xl 4.17 byte for byte
 * where an admin's scripts could tell (shared/reference/xl-output.txt).
 */
#include <keel/commands.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/xenctl.h>

#define MAX_LIST 128

static void kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(const char *key, const char *fmt, ...)
{
	char val[1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	kprintf("%-22s : %s\n", key, val);
}

static void sif_flags(char *out, size_t size, unsigned long flags)
{
	static const struct { unsigned long bit; const char *name; } names[] = {
		{ SIF_PRIVILEGED, "SIF_PRIVILEGED" }, { SIF_INITDOMAIN, "SIF_INITDOMAIN" },
		{ SIF_MULTIBOOT_MOD, "SIF_MULTIBOOT_MOD" },
		{ SIF_MOD_START_PFN, "SIF_MOD_START_PFN" }, { SIF_VIRT_P2M_4TOOLS, "SIF_VIRT_P2M_4TOOLS" },
	};
	size_t len = 0;

	out[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (flags & names[i].bit)
			len += snprintf(out + len, size - MIN(len, size), "%s%s", len ? " " : "",
					names[i].name);
	if (flags & SIF_PM_MASK)
		snprintf(out + len, size - MIN(len, size), "%sSIF_PM_MASK", len ? " " : "");
}

static int cmd_info(int argc, char **argv)
{
	struct xen_sysctl_physinfo pi;
	static char buf[1024];
	long ver = hyp_xen_version(XENVER_version, NULL);
	xen_extraversion_t extra = "";
	xen_capabilities_info_t caps = "";
	xen_changeset_info_t changeset = "";
	xen_compile_info_t ci;
	xen_platform_parameters_t pp = { 0 };
	uint32_t sched = 0;

	(void)argc;
	(void)argv;
	memset(&ci, 0, sizeof(ci));
	if (xenctl_physinfo(&pi)) {
		kprintf("info: XEN_SYSCTL_physinfo failed\n");
		return -EIO;
	}
	hyp_xen_version(XENVER_extraversion, extra);
	hyp_xen_version(XENVER_capabilities, caps);
	hyp_xen_version(XENVER_changeset, changeset);
	hyp_xen_version(XENVER_compile_info, &ci);
	hyp_xen_version(XENVER_platform_parameters, &pp);
	xenctl_sched_id(&sched);

	kv("host", "keel");
	kv("release", "0.1");
	kv("version", "keel 0.1 (Xen PV dom0 kernel)");
	kv("machine", "x86_64");
	kv("nr_cpus", "%u", pi.nr_cpus);
	kv("max_cpu_id", "%u", pi.max_cpu_id);
	kv("nr_nodes", "%u", pi.nr_nodes);
	kv("cores_per_socket", "%u", pi.cores_per_socket);
	kv("threads_per_core", "%u", pi.threads_per_core);
	kv("cpu_mhz", "%u.%03u", pi.cpu_khz / 1000, pi.cpu_khz % 1000);
	kv("hw_caps", "%08x:%08x:%08x:%08x:%08x:%08x:%08x:%08x", pi.hw_cap[0], pi.hw_cap[1],
	   pi.hw_cap[2], pi.hw_cap[3], pi.hw_cap[4], pi.hw_cap[5], pi.hw_cap[6], pi.hw_cap[7]);
	kv("virt_caps", "%s%s%s%s", (pi.capabilities & XEN_SYSCTL_PHYSCAP_pv) ? "pv" : "",
	   (pi.capabilities & XEN_SYSCTL_PHYSCAP_hvm) ? " hvm" : "",
	   (pi.capabilities & XEN_SYSCTL_PHYSCAP_gnttab_v1) ? " gnttab-v1" : "",
	   (pi.capabilities & XEN_SYSCTL_PHYSCAP_gnttab_v2) ? " gnttab-v2" : "");
	kv("total_memory", "%llu", (unsigned long long)(pi.total_pages * PAGE_SIZE >> 20));
	kv("free_memory", "%llu", (unsigned long long)(pi.free_pages * PAGE_SIZE >> 20));
	kv("sharing_freed_memory", "0");
	kv("sharing_used_memory", "0");
	kv("outstanding_claims", "%llu", (unsigned long long)(pi.outstanding_pages * PAGE_SIZE >> 20));
	kv("free_cpus", "0");
	kv("xen_major", "%ld", ver >> 16);
	kv("xen_minor", "%ld", ver & 0xffff);
	kv("xen_extra", "%s", extra);
	kv("xen_version", "%ld.%ld%s", ver >> 16, ver & 0xffff, extra);
	kv("xen_caps", "%s", caps);
	kv("xen_scheduler", "%s", sched == XEN_SCHEDULER_CREDIT2 ? "credit2"
				  : sched == XEN_SCHEDULER_CREDIT ? "credit"
				  : sched == XEN_SCHEDULER_RTDS ? "rtds"
				  : sched == XEN_SCHEDULER_ARINC653 ? "arinc653"
				  : sched == XEN_SCHEDULER_NULL ? "null" : "unknown");
	kv("xen_pagesize", "%ld", hyp_xen_version(XENVER_pagesize, NULL));
	kv("platform_params", "virt_start=0x%llx", (unsigned long long)pp.virt_start);
	kv("xen_changeset", "%s", changeset);
	struct xen_commandline_buf { xen_commandline_t line; } cl;
	memset(&cl, 0, sizeof(cl));
	hyp_xen_version(XENVER_commandline, cl.line);
	kv("xen_commandline", "%s", cl.line);
	kv("cc_compiler", "%s", ci.compiler);
	kv("cc_compile_by", "%s", ci.compile_by);
	kv("cc_compile_domain", "%s", ci.compile_domain);
	kv("cc_compile_date", "%s", ci.compile_date);
	/* keel's own view of itself as dom0 (start_info). */
	sif_flags(buf, sizeof(buf), start_info->flags);
	kv("dom0_start_info_flags", "0x%lx (%s)", (unsigned long)start_info->flags, buf);
	kv("dom0_nr_pages", "%lu", (unsigned long)start_info->nr_pages);
	kv("dom0_memory", "%lu", (unsigned long)(start_info->nr_pages * PAGE_SIZE >> 20));
	kv("dom0_modules", "%s (%lu bytes)", start_info->mod_len ? "1" : "0",
	   (unsigned long)start_info->mod_len);
	kv("dom0_cmdline", "%s", (const char *)start_info->cmd_line);
	kv("dom0_magic", "%.32s", start_info->magic);
	return 0;
}

static const char *domain_name(domid_t dom)
{
	return dom == 0 ? "Domain-0" : "(unnamed)";
}

static void state_string(uint32_t flags, char out[7])
{
	out[0] = (flags & XEN_DOMINF_running) ? 'r' : '-';
	out[1] = (flags & XEN_DOMINF_blocked) ? 'b' : '-';
	out[2] = (flags & XEN_DOMINF_paused) ? 'p' : '-';
	bool shut = flags & XEN_DOMINF_shutdown;
	unsigned int reason = (flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
	out[3] = shut && reason != SHUTDOWN_crash ? 's' : '-';
	out[4] = shut && reason == SHUTDOWN_crash ? 'c' : '-';
	out[5] = (flags & XEN_DOMINF_dying) ? 'd' : '-';
	out[6] = 0;
}

static int cmd_list(int argc, char **argv)
{
	static struct xen_domctl_getdomaininfo infos[MAX_LIST];
	uint32_t n;
	bool want_ns = argc > 1 && !strcmp(argv[1], "--cpu-ns");

	int rc = xenctl_domain_list(0, infos, MAX_LIST, &n);
	if (rc) {
		kprintf("list: getdomaininfolist failed: %d\n", rc);
		return rc;
	}
	kprintf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
	for (uint32_t i = 0; i < n; i++) {
		struct xen_domctl_getdomaininfo *d = &infos[i];
		char st[7];
		state_string(d->flags, st);
		uint64_t tenths = d->cpu_time / 100000000ULL;
		kprintf("%-40s %5u %5llu %5u     %s %8llu.%llu", domain_name(d->domain),
			d->domain, (unsigned long long)(d->tot_pages * PAGE_SIZE >> 20),
			d->nr_online_vcpus, st, (unsigned long long)(tenths / 10),
			(unsigned long long)(tenths % 10));
		if (want_ns)
			kprintf(" %llu", (unsigned long long)d->cpu_time);
		kprintf("\n");
	}
	return 0;
}

static int cmd_xen_dmesg(int argc, char **argv)
{
	static char buf[16384];
	uint32_t index = 0;
	bool clear = argc > 1 && !strcmp(argv[1], "-c");

	for (;;) {
		int n = xenctl_readconsole(buf, sizeof(buf), true, &index);
		if (n < 0) {
			kprintf("dmesg: readconsole failed: %d\n", n);
			return n;
		}
		if (n == 0)
			break;
		console_write(buf, (size_t)n);
	}
	if (clear) {
		struct xen_sysctl op = { .cmd = XEN_SYSCTL_readconsole };
		op.u.readconsole.clear = 1;
		op.u.readconsole.count = 0;
		set_xen_guest_handle(op.u.readconsole.buffer, buf);
		xenctl_sysctl(&op);
	}
	return 0;
}

const struct command xl_commands[] = {
	{ "info", cmd_info, NULL, "host and Xen information (as xl info)" },
	{ "list", cmd_list, "[--cpu-ns]", "list domains (as xl list)" },
	{ "dmesg", cmd_xen_dmesg, "[-c]", "Xen's console ring (as xl dmesg)" },
	{ NULL, NULL, NULL, NULL },
};

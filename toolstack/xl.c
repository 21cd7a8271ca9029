/*
 * The xl-compatible commands: info, list, dmesg, create, destroy, shutdown,
 * reboot, pause, unpause, console, vcpu-list, mem-set, domid, domname,
 * rename, uptime, and xenstore-{ls,read,write,rm}.  Output formats follow Debian's xl 4.17 byte for byte
 * where an admin's scripts could tell (shared/reference/xl-output.txt).
 */
#include <keel/commands.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/bootfs.h>
#include <keel/consback.h>
#include <keel/mm.h>
#include <keel/toolstack.h>
#include <keel/xenctl.h>
#include <keel/xsd.h>
#include <xen/sched.h>

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

/*
 * On a Xen whose domctl interface keel does not speak, domain commands say
 * so (xenctl_refusal()) instead of failing with a bare errno.
 */
static bool xen_refused(const char *cmd)
{
	const char *why = xenctl_refusal();

	if (why)
		kprintf("%s: %s\n", cmd, why);
	return why != NULL;
}

static int cmd_info(int argc, char **argv)
{
	struct xenabi_physinfo pi;
	static char buf[1024];
	long ver = hyp_xen_version(XENVER_version, NULL);
	xen_extraversion_t extra = "";
	xen_capabilities_info_t caps = "";
	xen_changeset_info_t changeset = "";
	xen_compile_info_t ci;
	xen_platform_parameters_t pp = { 0 };
	const char *sched = "unknown";

	(void)argc;
	(void)argv;
	memset(&ci, 0, sizeof(ci));
	memset(&pi, 0, sizeof(pi));
	int rc = xenctl_physinfo(&pi);
	if (rc && !xenctl_refusal()) { /* on a Xen keel does not speak: the version still */
		kprintf("info: XEN_SYSCTL_physinfo failed: %d\n", rc);
		return -EIO;
	}
	hyp_xen_version(XENVER_extraversion, extra);
	hyp_xen_version(XENVER_capabilities, caps);
	hyp_xen_version(XENVER_changeset, changeset);
	hyp_xen_version(XENVER_compile_info, &ci);
	hyp_xen_version(XENVER_platform_parameters, &pp);
	xenctl_sched_name(&sched);

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
	kv("virt_caps", "%s%s%s%s", (pi.capabilities & XENABI_PHYSCAP_pv) ? "pv" : "",
	   (pi.capabilities & XENABI_PHYSCAP_hvm) ? " hvm" : "",
	   (pi.capabilities & XENABI_PHYSCAP_gnttab_v1) ? " gnttab-v1" : "",
	   (pi.capabilities & XENABI_PHYSCAP_gnttab_v2) ? " gnttab-v2" : "");
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
	const struct xenabi *abi = xenctl_abi();
	if (abi)
		kv("xen_interface", "domctl 0x%x sysctl 0x%x (keel's Xen %s layouts)",
		   abi->domctl_version, abi->sysctl_version, abi->release);
	else
		kv("xen_interface", "none keel speaks: domain operations are refused");
	kv("xen_caps", "%s", caps);
	kv("xen_scheduler", "%s", sched);
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
	/* What dom0 holds now (the balloon may have changed it since boot). */
	struct mm_stats ms;
	mm_get_stats(&ms);
	kv("dom0_nr_pages", "%llu", (unsigned long long)ms.total_pages);
	kv("dom0_memory", "%llu", (unsigned long long)(ms.total_pages * PAGE_SIZE >> 20));
	kv("dom0_boot_pages", "%lu", (unsigned long)start_info->nr_pages);
	kv("dom0_modules", "%s (%lu bytes)", start_info->mod_len ? "1" : "0",
	   (unsigned long)start_info->mod_len);
	kv("dom0_cmdline", "%s", (const char *)start_info->cmd_line);
	kv("dom0_magic", "%.32s", start_info->magic);
	kv("xen_free_pages", "%llu", (unsigned long long)pi.free_pages);
	return 0;
}

/* keel's name for it, else the name in xenstore (a domain keel lost), else "(null)". */
static const char *domain_name(domid_t dom, char *buf, size_t size)
{
	const char *n = toolstack_domain_name(dom);
	char path[48], *val;
	size_t len;

	if (n)
		return n;
	snprintf(path, sizeof(path), "/local/domain/%u/name", dom);
	if (!xs_read(xenstore, path, &val, &len)) {
		snprintf(buf, size, "%.*s", (int)len, val);
		kfree(val);
		return buf;
	}
	return "(null)";
}

/* xl's six state letters: running, blocked, paused, shutdown, crashed, dying. */
static void state_string(uint32_t flags, char out[7])
{
	bool shut = flags & XENABI_DOMINF_shutdown;
	unsigned int reason = (flags >> XENABI_DOMINF_shutdownshift) & XENABI_DOMINF_shutdownmask;

	out[0] = (flags & XENABI_DOMINF_running) ? 'r' : '-';
	out[1] = (flags & XENABI_DOMINF_blocked) ? 'b' : '-';
	out[2] = (flags & XENABI_DOMINF_paused) ? 'p' : '-';
	/* As xl_list.c: 's' for any shutdown, 'c' when its reason is a crash. */
	out[3] = shut ? 's' : '-';
	out[4] = shut && reason == SHUTDOWN_crash ? 'c' : '-';
	out[5] = (flags & XENABI_DOMINF_dying) ? 'd' : '-';
	out[6] = 0;
}

/*
 * Seconds with one decimal, rounded as printf("%8.1f", ns / 1e9) does in xl
 * (half-way cases are vanishingly rare in nanoseconds; they round up).
 */
static void cpu_seconds(uint64_t ns, char *out, size_t size)
{
	uint64_t tenths = (ns + 50000000ULL) / 100000000ULL;

	snprintf(out, size, "%6llu.%llu", (unsigned long long)(tenths / 10),
		 (unsigned long long)(tenths % 10));
}

static int cmd_list(int argc, char **argv)
{
	if (xen_refused(argv[0]))
		return -ENOSYS;
	static struct xenabi_dominfo infos[MAX_LIST];
	uint32_t n;
	bool want_ns = argc > 1 && !strcmp(argv[1], "--cpu-ns");
	char name[64], secs[32];

	int rc = xenctl_domain_list(0, infos, MAX_LIST, &n);
	if (rc) {
		kprintf("list: getdomaininfolist failed: %d\n", rc);
		return rc;
	}
	/* xl_list.c's header and row formats, tabs included. */
	kprintf("Name                                        ID   Mem VCPUs\tState\tTime(s)\n");
	for (uint32_t i = 0; i < n; i++) {
		struct xenabi_dominfo *d = &infos[i];
		char st[7];
		state_string(d->flags, st);
		cpu_seconds(d->cpu_time, secs, sizeof(secs));
		/* Mem is current plus outstanding claims, in MiB (tot_pages). */
		uint64_t mem_mib = (d->tot_pages + d->outstanding_pages) * PAGE_SIZE >> 20;
		kprintf("%-40s %5u %5llu %5u     %s  %s", domain_name(d->domain, name, sizeof(name)),
			d->domain, (unsigned long long)mem_mib, d->nr_online_vcpus, st, secs);
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
		xenctl_clearconsole();
	}
	return 0;
}

/* Resolves argv[i] as NAME or ID, printing xl's complaint if unknown. */
static int resolve(const char *arg, domid_t *out)
{
	if (toolstack_resolve(arg, out)) {
		kprintf("%s is an invalid domain identifier (rc=-6)\n", arg);
		return -ENOENT;
	}
	return 0;
}

static int cmd_create(int argc, char **argv)
{
	bool attach = false;
	const char *file = NULL;
	domid_t domid;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-c"))
			attach = true;
		else if (argv[i][0] == '-') {
			kprintf("create: unknown option %s (usage: create [-c] FILE)\n", argv[i]);
			return -EINVAL;
		} else if (!file)
			file = argv[i];
		else {
			kprintf("create: one config file only (usage: create [-c] FILE)\n");
			return -EINVAL;
		}
	}
	if (!file) {
		kprintf("usage: create [-c] FILE\n");
		return -EINVAL;
	}
	/* As xl: a bare name is looked for in /etc/xen too. */
	char path[256];
	const void *data;
	size_t size;
	snprintf(path, sizeof(path), "%s", file);
	if (file[0] != '/' && (!bootarchive_mounted() ||
			       bootfs_lookup(&boot_fs, file, &data, &size)))
		snprintf(path, sizeof(path), "/etc/xen/%s", file);
	int rc = toolstack_create(path[0] == '/' ? path : file, NULL, &domid);
	if (rc)
		return rc;
	if (attach)
		consback_attach(domid);
	return 0;
}

/* A decimal domid, or -EINVAL. */
static int parse_domid(const char *arg, domid_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (end == arg || *end || v >= DOMID_FIRST_RESERVED)
		return -EINVAL;
	*out = (domid_t)v;
	return 0;
}

static int cmd_destroy(int argc, char **argv)
{
	if (xen_refused(argv[0]))
		return -ENOSYS;
	domid_t domid;

	if (argc != 2) {
		kprintf("usage: destroy NAME|ID\n");
		return -EINVAL;
	}
	/*
	 * An ID keel does not track (a domain a failed cleanup lost, or one
	 * something else made) is still destroyed if Xen lists it, as xl does.
	 */
	if (toolstack_resolve(argv[1], &domid) && !parse_domid(argv[1], &domid) && domid) {
		int rc = toolstack_destroy_untracked(domid);
		if (rc == -ESRCH) {
			kprintf("%s is an invalid domain identifier (rc=-6)\n", argv[1]);
			return -ENOENT;
		}
		if (rc)
			kprintf("destroy: domain %u: %s (%d)\n", domid, toolstack_strerror(rc), rc);
		else
			kprintf("destroy: domain %u was not one keel tracked; destroyed it in Xen\n",
				domid);
		return rc;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	if (domid == 0) {
		kprintf("destroy: cannot destroy Domain-0\n");
		return -EPERM;
	}
	return toolstack_destroy(domid);
}

/* shutdown and reboot: ask the guest through control/shutdown. */
static int request_shutdown(int argc, char **argv, const char *what)
{
	if (xen_refused(argv[0]))
		return -ENOSYS;
	bool wait = false;
	const char *target = NULL;
	domid_t domid;
	char path[64];

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-w"))
			wait = true;
		else if (!target)
			target = argv[i];
	}
	if (!target) {
		kprintf("usage: %s [-w] NAME|ID\n", argv[0]);
		return -EINVAL;
	}
	if (resolve(target, &domid))
		return -ENOENT;
	if (domid == 0) {
		kprintf("%s: use `%s` for the host itself\n", argv[0],
			!strcmp(what, "reboot") ? "reboot" : "poweroff");
		return -EPERM;
	}
	kprintf("%s domain %u\n", !strcmp(what, "reboot") ? "Rebooting" : "Shutting down",
		domid);
	snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", domid);
	int rc = xsd_printf(path, "%s", what);
	if (rc) {
		kprintf("%s: cannot write %s: %d\n", argv[0], path, rc);
		return rc;
	}
	if (!wait)
		return 0;
	kprintf("Waiting for 1 domains\n");
	unsigned int reason;
	if (!toolstack_wait_gone(domid, 120ULL * 1000000000ULL)) {
		kprintf("Timed out after 120 s waiting for domain %u\n", domid);
		return -ETIMEDOUT;
	}
	struct domain *d = toolstack_domain_by_id(domid);
	if (d)
		reason = d->shutdown_reason;
	else
		reason = !strcmp(what, "reboot") ? SHUTDOWN_reboot : SHUTDOWN_poweroff;
	kprintf("Domain %u has been shut down, reason code %u\n", domid, reason);
	return 0;
}

static int cmd_shutdown(int argc, char **argv)
{
	return request_shutdown(argc, argv, "poweroff");
}

static int cmd_reboot_dom(int argc, char **argv)
{
	return request_shutdown(argc, argv, "reboot");
}

static int pause_common(int argc, char **argv, bool pause)
{
	if (xen_refused(argv[0]))
		return -ENOSYS;
	domid_t domid;

	if (argc != 2) {
		kprintf("usage: %s NAME|ID\n", argv[0]);
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	int rc = pause ? domain_pause(domid) : domain_unpause(domid);
	if (rc)
		kprintf("%s: failed: %d\n", argv[0], rc);
	return rc;
}

static int cmd_pause(int argc, char **argv)
{
	return pause_common(argc, argv, true);
}

static int cmd_unpause(int argc, char **argv)
{
	return pause_common(argc, argv, false);
}

static int cmd_console(int argc, char **argv)
{
	domid_t domid;

	if (argc != 2) {
		kprintf("usage: console NAME|ID\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	int rc = consback_attach(domid);
	if (rc == -ENOENT)
		kprintf("console: domain %u has no console keel serves\n", domid);
	return rc;
}

/*
 * The buffered console output of a domain, as xenconsoled's guest log; with
 * BYTES, only its last BYTES (scripts poll it without reading 64 KiB each time).
 */
static int cmd_console_log(int argc, char **argv)
{
	domid_t domid;
	char buf[512];
	uint64_t pos = 0;
	size_t n;
	unsigned long tail = 0;

	if (argc < 2 || argc > 3) {
		kprintf("usage: console-log NAME|ID [BYTES]\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	if (argc == 3) {
		char *end;
		tail = strtoul(argv[2], &end, 10);
		if (*end || end == argv[2] || tail == 0 || tail > 65536) {
			kprintf("console-log: '%s' is not a byte count (1-65536)\n", argv[2]);
			return -EINVAL;
		}
	}
	if (!tail) {
		while ((n = consback_read_log(domid, &pos, buf, sizeof(buf))) > 0)
			console_write(buf, n);
		kprintf("\n");
		return 0;
	}
	/* Keep the last tail bytes in a ring, then print them in order. */
	char *ring = kmalloc(tail);
	size_t head = 0, held = 0;
	if (!ring)
		return -ENOMEM;
	while ((n = consback_read_log(domid, &pos, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < n; i++) {
			ring[head] = buf[i];
			head = (head + 1) % tail;
		}
		held = MIN(held + n, (size_t)tail);
	}
	size_t start = (head + tail - held) % tail;
	size_t first = MIN(held, (size_t)tail - start);
	console_write(ring + start, first);
	console_write(ring, held - first);
	kfree(ring);
	kprintf("\n");
	return 0;
}

/* Waits for TEXT in a domain's console output (keel's, for scripts and tests). */
static int cmd_console_wait(int argc, char **argv)
{
	domid_t domid;
	unsigned long secs = 60;

	if (argc < 3 || argc > 4) {
		kprintf("usage: console-wait NAME|ID TEXT [SECONDS]\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	if (argc == 4) {
		char *end;
		secs = strtoul(argv[3], &end, 10);
		if (*end || end == argv[3] || secs == 0 || secs > 3600) {
			kprintf("console-wait: '%s' is not a number of seconds (1-3600)\n", argv[3]);
			return -EINVAL;
		}
	}
	uint64_t t0 = time_now_ns();
	if (!consback_wait_output(domid, argv[2], secs * 1000000000ULL)) {
		kprintf("console-wait: timeout after %lu s\n", secs);
		return -ETIMEDOUT;
	}
	uint64_t now = time_now_ns();
	uint64_t us = (now - t0) / 1000;
	kprintf("console-wait: found after %llu.%03llu ms", (unsigned long long)(us / 1000),
		(unsigned long long)(us % 1000));
	struct domain *d = toolstack_domain_by_id(domid);
	if (d) {
		us = (now - d->create_ns) / 1000;
		kprintf(" (%llu.%03llu ms after its create began)", (unsigned long long)(us / 1000),
			(unsigned long long)(us % 1000));
	}
	kprintf("\n");
	return 0;
}

/* keel's own: when a domain's create began, was unpaused, first printed. */
static int cmd_domain_times(int argc, char **argv)
{
	domid_t domid;
	uint64_t first;

	if (argc != 2) {
		kprintf("usage: domain-times NAME|ID\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	struct domain *d = toolstack_domain_by_id(domid);
	if (!d) {
		kprintf("domain-times: not a domain keel created\n");
		return -ENOENT;
	}
#define US(ns) (unsigned long long)((ns) / 1000)
	kprintf("build_us            : %llu\n", US(d->build.build_ns));
	kprintf("create_to_unpause_us: %llu\n", US(d->started_ns - d->create_ns));
	kprintf("build_longest_slice_us: %llu (%llu yields)\n", US(d->longest_slice_ns),
		(unsigned long long)d->slice_yields);
	if (!consback_first_output_ns(domid, &first))
		kprintf("create_to_first_console_byte_us: %llu\n", US(first - d->create_ns));
	else
		kprintf("create_to_first_console_byte_us: none yet\n");
#undef US
	return 0;
}

/* keel's own: in-process xenstore operation rates (dom0's toolstack path). */
static int cmd_xs_bench(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000;
	char path[64], *val, **names;
	size_t len;
	unsigned int cnt;

	if (n == 0 || n > 10000000) {
		kprintf("usage: xs-bench [N] (1..10000000)\n");
		return -EINVAL;
	}
	for (unsigned int i = 0; i < 16; i++) {
		snprintf(path, sizeof(path), "/keel-bench/k%u", i);
		xs_write(xenstore, path, "v", 1);
	}
	uint64_t t0 = time_now_ns();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/keel-bench/k%lu", i % 16);
		xs_write(xenstore, path, "value", 5);
	}
	uint64_t t1 = time_now_ns();
	for (unsigned long i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/keel-bench/k%lu", i % 16);
		if (!xs_read(xenstore, path, &val, &len))
			kfree(val);
	}
	uint64_t t2 = time_now_ns();
	for (unsigned long i = 0; i < n; i++) {
		if (!xs_directory(xenstore, "/keel-bench", &names, &cnt))
			kfree(names);
	}
	uint64_t t3 = time_now_ns();
	xs_store_run_pending(xenstore);
	xs_rm(xenstore, "/keel-bench");
	kprintf("xenstore_write_ops_per_s : %llu\n", (unsigned long long)(n * 1000000000ULL / (t1 - t0 + 1)));
	kprintf("xenstore_read_ops_per_s  : %llu\n", (unsigned long long)(n * 1000000000ULL / (t2 - t1 + 1)));
	kprintf("xenstore_dir_ops_per_s   : %llu (16 entries)\n",
		(unsigned long long)(n * 1000000000ULL / (t3 - t2 + 1)));
	return 0;
}

static int print_kcache_entry(void *ctx, const char *path, uint64_t bytes, unsigned int refs)
{
	(void)ctx;
	kprintf("  %-40s %8llu KiB%s\n", path, (unsigned long long)(bytes >> 10),
		refs ? " (in use)" : "");
	return 0;
}

/* keel's own: the decompressed-kernel cache, and dropping it. */
static int cmd_kernel_cache(int argc, char **argv)
{
	struct kcache_stats st;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "drop"))) {
		kprintf("usage: kernel-cache [drop]\n");
		return -EINVAL;
	}
	if (argc == 2) {
		uint64_t freed = toolstack_kcache_shrink(~0ULL);
		kprintf("kernel-cache: freed %llu KiB\n", (unsigned long long)(freed >> 10));
	}
	toolstack_kcache_stats(&st);
	kprintf("kernel cache: %u kernels, %llu KiB of %llu KiB bound, %llu dropped since boot\n",
		st.entries, (unsigned long long)(st.bytes >> 10),
		(unsigned long long)(st.bound_bytes >> 10), (unsigned long long)st.drops);
	toolstack_kcache_list(print_kcache_entry, NULL);
	return 0;
}

static int cmd_vcpu_list(int argc, char **argv)
{
	if (xen_refused(argv[0]))
		return -ENOSYS;
	static struct xenabi_dominfo infos[MAX_LIST];
	uint32_t n;
	domid_t only = DOMID_INVALID;

	if (argc > 1 && resolve(argv[1], &only))
		return -ENOENT;
	char name[64];

	if (xenctl_domain_list(0, infos, MAX_LIST, &n))
		return -EIO;
	kprintf("Name                                ID  VCPU   CPU State   Time(s) Affinity (Hard / Soft)\n");
	for (uint32_t i = 0; i < n; i++) {
		if (only != DOMID_INVALID && infos[i].domain != only)
			continue;
		for (uint32_t v = 0; v <= infos[i].max_vcpu_id; v++) {
			struct xenabi_vcpuinfo vinfo, *vi = &vinfo;
			if (xenctl_vcpu_info(infos[i].domain, v, vi))
				continue;
			uint64_t tenths = vi->cpu_time / 100000000ULL;
			char cpu[8];
			if (vi->online)
				snprintf(cpu, sizeof(cpu), "%u", vi->cpu);
			else
				snprintf(cpu, sizeof(cpu), "-");
			kprintf("%-32s %5u %5u %5s   %c%c-  %7llu.%llu  all / all\n",
				domain_name(infos[i].domain, name, sizeof(name)), infos[i].domain, v, cpu,
				vi->running ? 'r' : '-', vi->blocked ? 'b' : '-',
				(unsigned long long)(tenths / 10), (unsigned long long)(tenths % 10));
		}
	}
	return 0;
}

/* "256", "256m", "1g", "262144k": xl's size syntax; MiB by default. */
static int parse_mem_kib(const char *s, uint64_t *kib)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	if (end == s)
		return -EINVAL;
	switch (*end) {
	case 0: case 'm': case 'M': v *= 1024; break;
	case 'g': case 'G': v *= 1024 * 1024; break;
	case 'k': case 'K': break;
	case 'b': case 'B': v /= 1024; break;
	default: return -EINVAL;
	}
	if (*end && end[1])
		return -EINVAL;
	*kib = v;
	return 0;
}

static int cmd_mem_set(int argc, char **argv)
{
	domid_t domid;
	uint64_t kib;
	char path[64];

	if (argc != 3) {
		kprintf("usage: mem-set NAME|ID MEM (e.g. 256m)\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	if (parse_mem_kib(argv[2], &kib) || kib == 0) {
		kprintf("mem-set: invalid memory size: %s\n", argv[2]);
		return -EINVAL;
	}
	if (domid == 0) {
		/* dom0 is keel: the balloon acts now, as Linux's balloon driver
		 * would on the target node that xl writes. */
		uint64_t now_pages;
		int rc = mm_balloon_set(kib / 4, &now_pages);
		snprintf(path, sizeof(path), "/local/domain/0/memory/target");
		xsd_printf(path, "%llu", (unsigned long long)(now_pages * 4));
		if (rc)
			kprintf("mem-set: dom0 reached %llu KiB of %llu KiB: %s\n",
				(unsigned long long)(now_pages * 4), (unsigned long long)kib,
				rc == -EBUSY ? "the boot-time give-back is still running"
				: kib / 4 < now_pages ? "not enough free dom0 memory to give back"
						      : "Xen has no more memory for dom0");
		return rc;
	}
	struct domain *d = toolstack_domain_by_id(domid);
	if (d && kib > d->cfg.maxmem_mib * 1024) {
		kprintf("mem-set: %llu KiB is above the domain's maxmem (%llu MiB)\n",
			(unsigned long long)kib, (unsigned long long)d->cfg.maxmem_mib);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "/local/domain/%u/memory/target", domid);
	return xsd_printf(path, "%llu", (unsigned long long)kib);
}

static int cmd_domid(int argc, char **argv)
{
	domid_t domid;

	if (argc != 2) {
		kprintf("usage: domid NAME\n");
		return -EINVAL;
	}
	if (!strcmp(argv[1], "Domain-0"))
		domid = 0;
	else {
		struct domain *d = toolstack_domain_by_name(argv[1]);
		if (!d) {
			kprintf("Can't get domid of domain name '%s', maybe this domain does not exist.\n",
				argv[1]);
			return -ENOENT;
		}
		domid = d->domid;
	}
	kprintf("%u\n", domid);
	return 0;
}

static int cmd_domname(int argc, char **argv)
{
	char *end;

	if (argc != 2) {
		kprintf("usage: domname ID\n");
		return -EINVAL;
	}
	unsigned long id = strtoul(argv[1], &end, 10);
	const char *n = (*end || end == argv[1]) ? NULL : toolstack_domain_name((domid_t)id);
	if (!n) {
		kprintf("Can't get domain name of domain id '%s', maybe this domain does not exist.\n",
			argv[1]);
		return -ENOENT;
	}
	kprintf("%s\n", n);
	return 0;
}

static int cmd_rename(int argc, char **argv)
{
	domid_t domid;
	char path[96];

	if (argc != 3) {
		kprintf("usage: rename NAME|ID NEWNAME\n");
		return -EINVAL;
	}
	if (resolve(argv[1], &domid))
		return -ENOENT;
	struct domain *d = toolstack_domain_by_id(domid);
	if (!d) {
		kprintf("rename: Domain-0 keeps its name\n");
		return -EPERM;
	}
	if (!strcmp(argv[2], "Domain-0") || toolstack_domain_by_name(argv[2])) {
		kprintf("libxl: error: Domain with name \"%s\" already exists.\n", argv[2]);
		return -EEXIST;
	}
	if (!argv[2][0] || strlen(argv[2]) >= sizeof(d->name) || strchr(argv[2], '/')) {
		kprintf("rename: invalid name '%s'\n", argv[2]);
		return -EINVAL;
	}
	snprintf(d->name, sizeof(d->name), "%s", argv[2]);
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	xsd_printf(path, "%s", d->name);
	snprintf(path, sizeof(path), "/vm/%s/name", d->uuid_str);
	xsd_printf(path, "%s", d->name);
	return 0;
}

static int cmd_xl_uptime(int argc, char **argv)
{
	uint64_t now = time_now_ns();

	(void)argc;
	(void)argv;
	kprintf("Name                                ID Uptime\n");
	uint64_t s = (now - boot_entry_ns) / 1000000000ULL;
	kprintf("%-32s %5u %2llu:%02llu:%02llu\n", "Domain-0", 0, (unsigned long long)(s / 3600),
		(unsigned long long)(s / 60 % 60), (unsigned long long)(s % 60));
	for (struct domain *d = toolstack_domains(); d; d = d->next) {
		s = (now - d->started_ns) / 1000000000ULL;
		kprintf("%-32s %5u %2llu:%02llu:%02llu\n", d->name, d->domid,
			(unsigned long long)(s / 3600), (unsigned long long)(s / 60 % 60),
			(unsigned long long)(s % 60));
	}
	return 0;
}

static void ls_node(const char *path, int depth)
{
	char **names;
	unsigned int n;
	char child[1024];

	if (depth > 16 || xs_directory(xenstore, path, &names, &n))
		return;
	for (unsigned int i = 0; i < n; i++) {
		snprintf(child, sizeof(child), "%s%s%s", path, strcmp(path, "/") ? "/" : "", names[i]);
		char *val = NULL;
		size_t len = 0;
		xs_read(xenstore, child, &val, &len);
		struct xs_perm *perms = NULL;
		unsigned int np = 0;
		char ptxt[64] = "";
		if (!xs_get_perms(xenstore, child, &perms, &np)) {
			size_t o = 0;
			for (unsigned int k = 0; k < np && o + 8 < sizeof(ptxt); k++)
				o += snprintf(ptxt + o, sizeof(ptxt) - o, "%s%c%u", k ? "," : "",
					      "nrwb"[perms[k].perm & 3], perms[k].domid);
			kfree(perms);
		}
		kprintf("%s = \"%.*s\"   (%s)\n", child, (int)MIN(len, (size_t)200),
			val ? val : "", ptxt);
		kfree(val);
		ls_node(child, depth + 1);
	}
	kfree(names);
}

static int cmd_xenstored_stats(int argc, char **argv)
{
	struct xsd_stats st;

	(void)argc;
	(void)argv;
	xsd_get_stats(&st);
	kprintf("ring_request_bytes     : %llu\n", (unsigned long long)st.ring_requests_bytes);
	kprintf("ring_resets            : %llu\n", (unsigned long long)st.ring_resets);
	kprintf("release_domain_events  : %llu\n", (unsigned long long)st.release_events);
	kprintf("passes                 : %llu\n", (unsigned long long)st.passes);
	kprintf("passes_over_budget     : %llu\n", (unsigned long long)st.passes_over_budget);
	kprintf("passes_blocked         : %llu\n", (unsigned long long)st.passes_blocked);
	kprintf("watch_events_dropped   : %llu\n", (unsigned long long)st.watch_events_dropped);
	kprintf("local_events_dropped   : %llu\n", (unsigned long long)st.local_events_dropped);
	kprintf("commit_errors          : %llu\n", (unsigned long long)st.commit_errors);
	kprintf("log_suppressed         : %llu\n", (unsigned long long)st.log_suppressed);
	kprintf("domains_dying          : %llu\n", (unsigned long long)st.dying);
	kprintf("worst_event_wait_us    : %llu\n", (unsigned long long)(st.worst_event_wait_ns / 1000));
	kprintf("events_waited_20ms     : %llu\n", (unsigned long long)st.events_waited_20ms);
	return 0;
}

static int cmd_xs_ls(int argc, char **argv)
{
	ls_node(argc > 1 ? argv[1] : "/", 0);
	return 0;
}

static int cmd_xs_read(int argc, char **argv)
{
	char *val;
	size_t len;

	if (argc != 2) {
		kprintf("usage: xenstore-read PATH\n");
		return -EINVAL;
	}
	int rc = xs_read(xenstore, argv[1], &val, &len);
	if (rc) {
		kprintf("xenstore-read: couldn't read path %s (%d)\n", argv[1], rc);
		return rc;
	}
	kprintf("%.*s\n", (int)len, val);
	kfree(val);
	return 0;
}

static int cmd_xs_write(int argc, char **argv)
{
	if (argc != 3) {
		kprintf("usage: xenstore-write PATH VALUE\n");
		return -EINVAL;
	}
	int rc = xs_write(xenstore, argv[1], argv[2], strlen(argv[2]));
	if (rc)
		kprintf("xenstore-write: could not write path %s (%d)\n", argv[1], rc);
	return rc;
}

static int cmd_xs_rm(int argc, char **argv)
{
	if (argc != 2) {
		kprintf("usage: xenstore-rm PATH\n");
		return -EINVAL;
	}
	int rc = xs_rm(xenstore, argv[1]);
	if (rc)
		kprintf("xenstore-rm: could not remove path %s (%d)\n", argv[1], rc);
	return rc;
}

/* One domain's credit2 row (xl sched-credit2's columns). */
static int credit2_row(domid_t dom)
{
	uint16_t weight, cap;
	char name[64];
	int rc = xenctl_credit2_domain(dom, false, &weight, &cap);

	if (rc) {
		kprintf("sched-credit2: domain %u: Xen refused the credit2 query (%d)\n", dom, rc);
		return rc;
	}
	kprintf("%-33s %4u %6u %4u\n", domain_name(dom, name, sizeof(name)), dom, weight, cap);
	return 0;
}

static int credit2_pool_line(void)
{
	uint32_t rl;
	int rc = xenctl_credit2_ratelimit(0, false, &rl);

	if (rc)
		kprintf("Cpupool Pool-0: [sched params unavailable]\n");
	else
		kprintf("Cpupool Pool-0: ratelimit=%uus\n", rl);
	return rc;
}

static bool number_arg(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end || v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/*
 * xl sched-credit2: the pool's rate limit (-s [-r US]) and domains' weight
 * and cap (-d DOM [-w W] [-c C]).  keel has one cpupool, Pool-0.
 */
static int cmd_sched_credit2(int argc, char **argv)
{
	const char *dom = NULL, *pool = NULL;
	bool opt_s = false, opt_r = false, opt_w = false, opt_c = false;
	uint32_t rl = 0, weight = 0, cap = 0;

	if (xen_refused(argv[0]))
		return -ENOSYS;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(a, "-d") || !strcmp(a, "-w") || !strcmp(a, "-c") ||
			     !strcmp(a, "-r") || !strcmp(a, "-p");
		if (!strcmp(a, "-s")) {
			opt_s = true;
			continue;
		}
		if (!takes) {
			kprintf("sched-credit2: unknown argument '%s' (usage: sched-credit2 [-d DOM "
				"[-w WEIGHT] [-c CAP]] [-s [-r RATELIMIT_US]] [-p POOL])\n", a);
			return -EINVAL;
		}
		if (!v) {
			kprintf("sched-credit2: %s needs a value\n", a);
			return -EINVAL;
		}
		i++;
		bool ok = true;
		if (!strcmp(a, "-d"))
			dom = v;
		else if (!strcmp(a, "-p"))
			pool = v;
		else if (!strcmp(a, "-r"))
			ok = opt_r = number_arg(v, 500000, &rl);
		else if (!strcmp(a, "-w"))
			ok = opt_w = number_arg(v, 65535, &weight) && weight > 0;
		else
			ok = opt_c = number_arg(v, 65535, &cap);
		if (!ok) {
			kprintf("sched-credit2: %s '%s': %s\n", a, v,
				!strcmp(a, "-r") ? "0 (none) or 100..500000 us"
				: !strcmp(a, "-w") ? "a weight 1..65535"
				: "a percentage of one CPU, 0 for no cap");
			return -EINVAL;
		}
	}
	if (pool && strcmp(pool, "Pool-0") && strcmp(pool, "0")) {
		kprintf("unknown cpupool '%s'\n", pool);
		return -ENOENT;
	}
	if (pool && (dom || opt_w || opt_c)) {
		kprintf("Specifying a cpupool is not allowed with other options.\n");
		return -EINVAL;
	}
	if (!dom && (opt_w || opt_c)) {
		kprintf("Must specify a domain.\n");
		return -EINVAL;
	}
	if (opt_r && !opt_s) {
		kprintf("sched-credit2: -r needs -s (the pool's parameters)\n");
		return -EINVAL;
	}
	if (opt_s) {
		if (!opt_r)
			return credit2_pool_line() ? -EIO : 0;
		int rc = xenctl_credit2_ratelimit(0, true, &rl);
		if (rc) {
			kprintf("sched-credit2: Xen refused ratelimit %u us for Pool-0 (%d)\n", rl, rc);
			return -EIO;
		}
		return 0;
	}
	if (dom) {
		domid_t id;
		if (resolve(dom, &id))
			return -ENOENT;
		if (!opt_w && !opt_c) {
			kprintf("%-33s %4s %6s %4s\n", "Name", "ID", "Weight", "Cap");
			return credit2_row(id) ? -EIO : 0;
		}
		uint16_t w, c;
		int rc = xenctl_credit2_domain(id, false, &w, &c);
		if (!rc) {
			if (opt_w)
				w = (uint16_t)weight;
			if (opt_c)
				c = (uint16_t)cap;
			rc = xenctl_credit2_domain(id, true, &w, &c);
		}
		if (rc) {
			kprintf("sched-credit2: Xen refused weight/cap for domain %u (%d)\n", id, rc);
			return -EIO;
		}
		return 0;
	}
	static struct xenabi_dominfo infos[MAX_LIST];
	uint32_t n;
	credit2_pool_line();
	kprintf("%-33s %4s %6s %4s\n", "Name", "ID", "Weight", "Cap");
	if (xenctl_domain_list(0, infos, MAX_LIST, &n))
		return -EIO;
	for (uint32_t i = 0; i < n; i++)
		credit2_row(infos[i].domain);
	return 0;
}

const struct command xl_commands[] = {
	{ "info", cmd_info, NULL, "host and Xen information (as xl info)" },
	{ "list", cmd_list, "[--cpu-ns]", "list domains (as xl list)" },
	{ "dmesg", cmd_xen_dmesg, "[-c]", "Xen's console ring (as xl dmesg)" },
	{ "create", cmd_create, "[-c] FILE", "create a domain from an xl.cfg file" },
	{ "destroy", cmd_destroy, "NAME|ID", "destroy a domain at once" },
	{ "shutdown", cmd_shutdown, "[-w] NAME|ID", "ask a domain to power off" },
	{ "reboot", cmd_reboot_dom, "[-w] NAME|ID", "ask a domain to reboot (`xl reboot`)" },
	{ "pause", cmd_pause, "NAME|ID", "pause a domain" },
	{ "unpause", cmd_unpause, "NAME|ID", "unpause a domain" },
	{ "console", cmd_console, "NAME|ID", "attach to a domain's console (Ctrl-] leaves)" },
	{ "console-log", cmd_console_log, "NAME|ID [BYTES]", "print a domain's buffered console output (its last BYTES)" },
	{ "console-wait", cmd_console_wait, "NAME|ID TEXT [S]", "wait for TEXT on a domain's console" },
	{ "domain-times", cmd_domain_times, "NAME|ID", "create, unpause and first-output times" },
	{ "kernel-cache", cmd_kernel_cache, "[drop]", "decompressed guest kernels kept (drop: free them)" },
	{ "xs-bench", cmd_xs_bench, "[N]", "in-process xenstore operations per second" },
	{ "vcpu-list", cmd_vcpu_list, "[NAME|ID]", "list virtual CPUs" },
	{ "sched-credit2", cmd_sched_credit2, "[-d DOM [-w W] [-c CAP]] [-s [-r US]]",
	  "credit2 scheduler: pool rate limit, domain weight and cap" },
	{ "mem-set", cmd_mem_set, "NAME|ID MEM", "set a domain's memory target" },
	{ "domid", cmd_domid, "NAME", "a domain's ID" },
	{ "domname", cmd_domname, "ID", "a domain's name" },
	{ "rename", cmd_rename, "NAME|ID NEW", "rename a domain" },
	{ "uptime", cmd_xl_uptime, NULL, "domains' uptimes (as xl uptime)" },
	{ "xenstored-stats", cmd_xenstored_stats, NULL, "xenstored counters" },
	{ "xenstore-ls", cmd_xs_ls, "[PATH]", "list xenstore (with permissions)" },
	{ "xenstore-read", cmd_xs_read, "PATH", "read a xenstore node" },
	{ "xenstore-write", cmd_xs_write, "PATH VALUE", "write a xenstore node" },
	{ "xenstore-rm", cmd_xs_rm, "PATH", "remove a xenstore node" },
	{ NULL, NULL, NULL, NULL },
};

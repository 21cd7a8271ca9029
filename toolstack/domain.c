/*
 * The toolstack's domains: what libxl keeps for each guest keel created, and
 * their lifecycle.
 *
 *   create:  config (toolstack/xlcfg.c) -> kernel image (cached, decompressed
 *            once per file) -> builder -> xenstore tree as libxl writes it ->
 *            xenstored and console backend connected -> unpause.
 *   death:   VIRQ_DOM_EXC wakes the reaper thread, which reads every domain's
 *            state from Xen and applies on_poweroff / on_reboot / on_crash:
 *            destroy (clean up, free), restart (clean up, create again from
 *            the kept config), preserve (leave it shut down).
 *   cleanup: console backend and xenstore connection first (they hold
 *            foreign mappings of the guest's pages), then the xenstore
 *            subtree, @releaseDomain, and XEN_DOMCTL_destroydomain, which
 *            returns the memory to Xen.
 *
 * All of this runs in thread context (the shell, the reaper, xendomains).
 */
#include <keel/blkback.h>
#include <keel/bootfs.h>
#include <keel/builder.h>
#include <keel/consback.h>
#include <keel/evtchn.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/toolstack.h>
#include <keel/xenctl.h>
#include <keel/xlcfg.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <xen/sched.h>

#define KCACHE_SLOTS 4

struct kcache_entry {
	char path[256];
	const void *file;          /* the bootfs bytes it was parsed from */
	struct kimage ki;
	bool used;
};

static struct domain *domains;
static struct kcache_entry kcache[KCACHE_SLOTS];
static struct waitq reaper_wq;
static volatile bool reaper_kicked;
static uint64_t uuid_state;

/* ---- lookup ------------------------------------------------------------ */

struct domain *toolstack_domain_by_id(domid_t domid)
{
	for (struct domain *d = domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

struct domain *toolstack_domain_by_name(const char *name)
{
	for (struct domain *d = domains; d; d = d->next)
		if (!strcmp(d->name, name))
			return d;
	return NULL;
}

const char *toolstack_domain_name(domid_t domid)
{
	if (domid == 0)
		return "Domain-0";
	struct domain *d = toolstack_domain_by_id(domid);
	return d ? d->name : NULL;
}

/* NAME or numeric ID, as xl accepts either. */
int toolstack_resolve(const char *arg, domid_t *out)
{
	char *end;
	unsigned long v = strtoul(arg, &end, 10);

	if (end != arg && !*end && v < DOMID_FIRST_RESERVED) {
		if (v == 0 || toolstack_domain_by_id((domid_t)v)) {
			*out = (domid_t)v;
			return 0;
		}
	}
	if (!strcmp(arg, "Domain-0")) {
		*out = 0;
		return 0;
	}
	struct domain *d = toolstack_domain_by_name(arg);
	if (d) {
		*out = d->domid;
		return 0;
	}
	return -ENOENT;
}

/* ---- kernel image cache -------------------------------------------------- */

/* A decompressed kernel is kept per file: the next create of it is cheap. */
static const struct kimage *kernel_image(const char *path, const void *file, size_t size,
					 int *err)
{
	static unsigned int next_victim;

	for (unsigned int i = 0; i < KCACHE_SLOTS; i++)
		if (kcache[i].used && kcache[i].file == file && !strcmp(kcache[i].path, path))
			return &kcache[i].ki;
	struct kcache_entry *e = &kcache[next_victim++ % KCACHE_SLOTS];
	if (e->used) {
		kimage_free(&e->ki);
		e->used = false;
	}
	uint64_t t0 = time_now_ns();
	*err = kimage_parse(&e->ki, file, size, 0);
	if (*err)
		return NULL;
	uint64_t us = (time_now_ns() - t0) / 1000;
	klog("toolstack: %s: %s kernel, %zu -> %zu bytes in %llu.%03llu ms (kept for the next create)\n",
	     path, e->ki.bzimage ? "bzImage" : "ELF", size, e->ki.elf_bytes,
	     (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->file = file;
	e->used = true;
	return &e->ki;
}

/* ---- uuids ------------------------------------------------------------- */

static void make_uuid(uint8_t out[16])
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uuid_state ^= ((uint64_t)hi << 32 | lo) + 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < 16; i += 8) {
		/* splitmix64: good enough to make names unique, not secrets. */
		uint64_t z = (uuid_state += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		memcpy(out + i, &z, 8);
	}
	out[6] = (out[6] & 0x0f) | 0x40; /* version 4 */
	out[8] = (out[8] & 0x3f) | 0x80; /* RFC 4122 variant */
}

static void uuid_string(const uint8_t u[16], char out[37])
{
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
		 u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
		 u[14], u[15]);
}

/* ---- xenstore tree ------------------------------------------------------- */

/* What libxl writes for a PV guest (shared/reference/xenstore-libxl-pv-guest.txt). */
static int write_xenstore(struct domain *d)
{
	char p[128], vm[64];
	domid_t n = d->domid;
	const struct build_result *br = &d->build;
	int rc = 0;

#define W(path_fmt, ...) \
	do { \
		snprintf(p, sizeof(p), path_fmt, n); \
		rc |= xsd_printf(p, __VA_ARGS__); \
	} while (0)
#define GUEST_OWNED(path_fmt) \
	do { \
		snprintf(p, sizeof(p), path_fmt, n); \
		rc |= xs_mkdir(xenstore, p); \
		rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, 0); \
	} while (0)

	snprintf(vm, sizeof(vm), "/vm/%s", d->uuid_str);
	snprintf(p, sizeof(p), "/local/domain/%u", n);
	rc |= xs_mkdir(xenstore, p);
	rc |= xsd_set_owner(p, 0, XS_PERM_NONE, n, XS_PERM_READ);
	/* Children inherit "n0,rN": dom0 owns them, the guest reads them. */
	W("/local/domain/%u/name", "%s", d->name);
	W("/local/domain/%u/domid", "%u", n);
	W("/local/domain/%u/vm", "%s", vm);
	W("/local/domain/%u/memory/static-max", "%llu",
	  (unsigned long long)(d->cfg.maxmem_mib * 1024));
	W("/local/domain/%u/memory/target", "%llu", (unsigned long long)(d->cfg.memory_mib * 1024));
	W("/local/domain/%u/memory/videoram", "0");
	W("/local/domain/%u/cpu/0/availability", "online");
	for (unsigned int v = 1; v < d->cfg.maxvcpus; v++) {
		snprintf(p, sizeof(p), "/local/domain/%u/cpu/%u/availability", n, v);
		rc |= xsd_printf(p, "%s", v < d->cfg.vcpus ? "online" : "offline");
	}
	W("/local/domain/%u/store/port", "%u", br->store_port);
	W("/local/domain/%u/store/ring-ref", "%llu", (unsigned long long)br->store_mfn);
	W("/local/domain/%u/console/backend", "/local/domain/0/backend/console/%u/0", n);
	W("/local/domain/%u/console/limit", "1048576");
	W("/local/domain/%u/console/output", "pty");
	W("/local/domain/%u/console/port", "%u", br->console_port);
	W("/local/domain/%u/console/ring-ref", "%llu", (unsigned long long)br->console_mfn);
	W("/local/domain/%u/console/type", "xenconsoled");
	W("/local/domain/%u/console/backend-id", "0");
	snprintf(p, sizeof(p), "/local/domain/%u/console/backend-id", n);
	rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, XS_PERM_READ);
	W("/local/domain/%u/control/platform-feature-multiprocessor-suspend", "1");
	W("/local/domain/%u/control/platform-feature-xs_reset_watches", "1");
	W("/local/domain/%u/control/shutdown", "%s", "");
	snprintf(p, sizeof(p), "/local/domain/%u/control/shutdown", n);
	rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, 0);
	/* Guest-owned, pre-created as libxl does: Linux writes its features here. */
	static const char *const features[] = { "feature-poweroff", "feature-reboot",
						"feature-suspend" };
	for (size_t f = 0; f < ARRAY_SIZE(features); f++) {
		snprintf(p, sizeof(p), "/local/domain/%u/control/%s", n, features[f]);
		rc |= xsd_printf(p, "%s", "");
		rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, 0);
	}
	W("/local/domain/%u/control/sysrq", "%s", "");
	snprintf(p, sizeof(p), "/local/domain/%u/control/sysrq", n);
	rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, 0);
	W("/local/domain/%u/device/suspend/event-channel", "%s", "");
	snprintf(p, sizeof(p), "/local/domain/%u/device/suspend/event-channel", n);
	rc |= xsd_set_owner(p, n, XS_PERM_NONE, 0, 0);
	GUEST_OWNED("/local/domain/%u/data");
	GUEST_OWNED("/local/domain/%u/drivers");
	GUEST_OWNED("/local/domain/%u/feature");
	GUEST_OWNED("/local/domain/%u/attr");
	GUEST_OWNED("/local/domain/%u/error");

	/* The console backend's half, as xenconsoled's. */
	snprintf(p, sizeof(p), "/local/domain/0/backend/console/%u/0", n);
	rc |= xs_mkdir(xenstore, p);
	rc |= xsd_set_owner(p, 0, XS_PERM_NONE, n, XS_PERM_READ);
	W("/local/domain/0/backend/console/%u/0/frontend", "/local/domain/%u/console", n);
	W("/local/domain/0/backend/console/%u/0/frontend-id", "%u", n);
	W("/local/domain/0/backend/console/%u/0/online", "1");
	W("/local/domain/0/backend/console/%u/0/protocol", "vt100");
	W("/local/domain/0/backend/console/%u/0/state", "1");

	/* /vm/UUID and /libxl/N */
	rc |= xs_mkdir(xenstore, vm);
	rc |= xsd_set_owner(vm, 0, XS_PERM_NONE, n, XS_PERM_READ);
	snprintf(p, sizeof(p), "%s/name", vm);
	rc |= xsd_printf(p, "%s", d->name);
	snprintf(p, sizeof(p), "%s/uuid", vm);
	rc |= xsd_printf(p, "%s", d->uuid_str);
	snprintf(p, sizeof(p), "%s/image/ostype", vm);
	rc |= xsd_printf(p, "linux");
	snprintf(p, sizeof(p), "%s/image/kernel", vm);
	rc |= xsd_printf(p, "%s", d->cfg.kernel);
	snprintf(p, sizeof(p), "%s/image/cmdline", vm);
	rc |= xsd_printf(p, "%s", d->cfg.cmdline);
	if (d->cfg.ramdisk) {
		snprintf(p, sizeof(p), "%s/image/ramdisk", vm);
		rc |= xsd_printf(p, "%s", d->cfg.ramdisk);
	}
	uint64_t wall = time_wallclock_ns();
	snprintf(p, sizeof(p), "%s/start_time", vm);
	rc |= xsd_printf(p, "%llu.%02llu", (unsigned long long)(wall / 1000000000ULL),
			 (unsigned long long)(wall % 1000000000ULL / 10000000ULL));
	W("/libxl/%u/type", "pv");
	W("/libxl/%u/dm-version", "qemu_xen");
	W("/libxl/%u/device/console/0/backend", "/local/domain/0/backend/console/%u/0", n);
	W("/libxl/%u/device/console/0/frontend", "/local/domain/%u/console", n);
	W("/libxl/%u/device/console/0/frontend-id", "%u", n);
	W("/libxl/%u/device/console/0/online", "1");
	W("/libxl/%u/device/console/0/protocol", "vt100");
	W("/libxl/%u/device/console/0/state", "1");
#undef W
#undef GUEST_OWNED
	return rc ? -EIO : 0;
}

static void remove_xenstore(struct domain *d)
{
	char p[96];

	snprintf(p, sizeof(p), "/local/domain/%u", d->domid);
	xs_rm(xenstore, p);
	snprintf(p, sizeof(p), "/vm/%s", d->uuid_str);
	xs_rm(xenstore, p);
	snprintf(p, sizeof(p), "/libxl/%u", d->domid);
	xs_rm(xenstore, p);
	snprintf(p, sizeof(p), "/local/domain/0/backend/console/%u", d->domid);
	xs_rm(xenstore, p);
}

/* ---- create -------------------------------------------------------------- */

static int lookup_file(const char *path, const void **data, size_t *size)
{
	if (!bootarchive_mounted())
		return -ENOENT;
	return bootfs_lookup(&boot_fs, path, data, size);
}

/* Builds and starts the domain described by d->cfg (d->name, uuid set). */
static int start_domain(struct domain *d, const char *cfg_path)
{
	const void *kfile, *rfile = NULL;
	size_t ksize, rsize = 0;
	char err[256];
	int rc;

	rc = lookup_file(d->cfg.kernel, &kfile, &ksize);
	if (rc) {
		kprintf("%s:%d: kernel file `%s' cannot be read from the boot archive (%d)\n",
			cfg_path, d->cfg.kernel_line, d->cfg.kernel, rc);
		return -ENOENT;
	}
	if (d->cfg.ramdisk) {
		rc = lookup_file(d->cfg.ramdisk, &rfile, &rsize);
		if (rc) {
			kprintf("%s:%d: ramdisk file `%s' cannot be read from the boot archive (%d)\n",
				cfg_path, d->cfg.ramdisk_line, d->cfg.ramdisk, rc);
			return -ENOENT;
		}
	}
	const struct kimage *ki = kernel_image(d->cfg.kernel, kfile, ksize, &rc);
	if (!ki) {
		kprintf("%s:%d: kernel `%s' is not a loadable PV kernel (%d)\n", cfg_path,
			d->cfg.kernel_line, d->cfg.kernel, rc);
		return rc;
	}
	struct build_spec spec = {
		.kernel = ki, .ramdisk = rfile, .ramdisk_bytes = rsize,
		.cmdline = d->cfg.cmdline, .memory_mib = d->cfg.memory_mib,
		.maxmem_mib = d->cfg.maxmem_mib, .vcpus = d->cfg.maxvcpus,
		.max_grant_frames = d->cfg.max_grant_frames,
		.max_maptrack_frames = d->cfg.max_maptrack_frames,
	};
	memcpy(spec.uuid, d->uuid, 16);
	d->create_ns = time_now_ns();
	rc = builder_build(&spec, &d->build, err, sizeof(err));
	if (rc) {
		kprintf("create: cannot build domain '%s': %s\n", d->name, err);
		return rc;
	}
	d->domid = d->build.domid;
	d->next = domains;
	domains = d;
	if ((rc = write_xenstore(d)))
		kprintf("create: domain %u: writing its xenstore entries failed\n", d->domid);
	if (!rc && (rc = xenstored_introduce(d->domid, d->build.store_mfn, d->build.store_port)))
		kprintf("create: domain %u: xenstore connection failed: %d\n", d->domid, rc);
	if (!rc && (rc = consback_connect(d->domid, d->build.console_mfn, d->build.console_port)))
		kprintf("create: domain %u: console backend failed: %d\n", d->domid, rc);
	if (!rc)
		rc = toolstack_attach_disks(d->domid, &d->cfg, cfg_path);
	if (!rc && (rc = domain_unpause(d->domid)))
		kprintf("create: domain %u: unpause failed: %d\n", d->domid, rc);
	if (rc) {
		toolstack_cleanup(d);
		return rc;
	}
	d->started_ns = time_now_ns();
#define MS(ns) (unsigned long long)((ns) / 1000000), (unsigned long long)((ns) / 1000 % 1000)
	klog("toolstack: domain %u '%s' started (%llu MiB): build %llu.%03llu ms = memory "
	     "%llu.%03llu + map %llu.%03llu + load %llu.%03llu + finish %llu.%03llu; to unpause "
	     "%llu.%03llu ms\n", d->domid, d->name, (unsigned long long)d->cfg.memory_mib,
	     MS(d->build.build_ns), MS(d->build.populate_ns), MS(d->build.map_ns),
	     MS(d->build.load_ns), MS(d->build.finish_ns), MS(d->started_ns - d->create_ns));
#undef MS
	return 0;
}

int toolstack_create(const char *path, const char *override_name, domid_t *out)
{
	const void *data;
	size_t size;
	char err[512];

	kprintf("Parsing config from %s\n", path);
	int rc = lookup_file(path, &data, &size);
	if (rc) {
		kprintf("Failed to read config file %s: %s\n", path,
			rc == -ENOENT ? "No such file or directory" : "cannot read");
		return rc;
	}
	struct domain *d = kzalloc(sizeof(*d));
	if (!d)
		return -ENOMEM;
	rc = xlcfg_parse(path, data, size, &d->cfg, err, sizeof(err));
	if (rc) {
		kprintf("%s\nFailed to parse config: Invalid argument\n", err);
		kfree(d);
		return rc;
	}
	snprintf(d->name, sizeof(d->name), "%s", override_name ? override_name : d->cfg.name);
	snprintf(d->cfg_path, sizeof(d->cfg_path), "%s", path);
	if (!strcmp(d->name, "Domain-0") || toolstack_domain_by_name(d->name)) {
		kprintf("libxl: error: Domain with name \"%s\" already exists.\n", d->name);
		xlcfg_free(&d->cfg);
		kfree(d);
		return -EEXIST;
	}
	if (d->cfg.uuid)
		memcpy(d->uuid, d->cfg.uuid_bytes, 16);
	else
		make_uuid(d->uuid);
	uuid_string(d->uuid, d->uuid_str);
	rc = start_domain(d, path);
	if (rc) {
		xlcfg_free(&d->cfg);
		kfree(d);
		return rc;
	}
	if (out)
		*out = d->domid;
	return 0;
}

/* ---- teardown ----------------------------------------------------------- */

void toolstack_cleanup(struct domain *d)
{
	/* Drop every mapping of the guest's pages before Xen frees them: the
	 * disks first, once the device is done with every page. */
	blkback_domain_gone(d->domid);
	consback_disconnect(d->domid);
	xenstored_release(d->domid);
	remove_xenstore(d);
	int rc = domain_destroy(d->domid);
	if (rc && rc != -ESRCH)
		klog("toolstack: destroying domain %u failed: %d\n", d->domid, rc);
	for (struct domain **pp = &domains; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	d->next = NULL;
	waitq_wake_all(&d->gone_wq);
}

static void free_domain(struct domain *d)
{
	xlcfg_free(&d->cfg);
	kfree(d);
}

int toolstack_destroy(domid_t domid)
{
	struct domain *d = toolstack_domain_by_id(domid);

	if (!d)
		return -ENOENT;
	toolstack_cleanup(d);
	free_domain(d);
	return 0;
}

/* A restart keeps the name, uuid and config and gets a new domid. */
static void restart(struct domain *d)
{
	struct domain *n = kzalloc(sizeof(*n));
	char path[sizeof(d->cfg_path)];

	toolstack_cleanup(d);
	if (!n) {
		free_domain(d);
		return;
	}
	n->cfg = d->cfg;
	memset(&d->cfg, 0, sizeof(d->cfg));
	memcpy(n->name, d->name, sizeof(n->name));
	memcpy(n->uuid, d->uuid, 16);
	memcpy(n->uuid_str, d->uuid_str, sizeof(n->uuid_str));
	memcpy(path, d->cfg_path, sizeof(path));
	memcpy(n->cfg_path, path, sizeof(path));
	n->restarts = d->restarts + 1;
	free_domain(d);
	if (n->restarts > 10) {
		klog("toolstack: '%s' restarted 10 times in a row; giving up\n", n->name);
		free_domain(n);
		return;
	}
	if (start_domain(n, path))
		free_domain(n);
	else
		klog("toolstack: '%s' restarted as domain %u\n", n->name, n->domid);
}

static enum xlcfg_action action_for(const struct domain *d, unsigned int reason)
{
	switch (reason) {
	case SHUTDOWN_poweroff:
		return d->cfg.on_poweroff;
	case SHUTDOWN_reboot:
		return d->cfg.on_reboot;
	case SHUTDOWN_watchdog:
		return d->cfg.on_watchdog;
	case SHUTDOWN_soft_reset:
		return d->cfg.on_soft_reset;
	default:
		return d->cfg.on_crash;
	}
}

/* Reads every domain's state from Xen and handles the ones that ended. */
static void reap(void)
{
	struct domain *d = domains;

	while (d) {
		struct domain *next = d->next;
		struct xen_domctl_getdomaininfo info;
		int rc = xenctl_domain_info(d->domid, &info);
		bool gone = rc == -ESRCH || (!rc && (info.flags & XEN_DOMINF_dying));
		bool shut = !rc && (info.flags & XEN_DOMINF_shutdown);
		if (gone) {
			klog("toolstack: domain %u '%s' disappeared\n", d->domid, d->name);
			d->shutdown_reason = SHUTDOWN_crash;
			toolstack_cleanup(d);
			free_domain(d);
		} else if (shut && !d->preserved) {
			unsigned int reason = (info.flags >> XEN_DOMINF_shutdownshift) &
					      XEN_DOMINF_shutdownmask;
			enum xlcfg_action act = action_for(d, reason);
			d->shutdown_reason = reason;
			klog("toolstack: domain %u '%s' shut down (reason %u): %s\n", d->domid,
			     d->name, reason, xlcfg_action_name(act));
			switch (act) {
			case XLCFG_ACTION_PRESERVE:
				d->preserved = true;
				waitq_wake_all(&d->gone_wq);
				break;
			case XLCFG_ACTION_RESTART:
			case XLCFG_ACTION_RENAME_RESTART:
			case XLCFG_ACTION_COREDUMP_RESTART:
				restart(d);
				break;
			default:
				toolstack_cleanup(d);
				free_domain(d);
				break;
			}
		}
		d = next;
	}
}

static bool reaper_has_work(void *ctx)
{
	(void)ctx;
	return reaper_kicked;
}

static void reaper_thread(void *unused)
{
	(void)unused;
	for (;;) {
		waitq_wait_until(&reaper_wq, reaper_has_work, NULL, 0);
		reaper_kicked = false;
		reap();
	}
}

/* VIRQ_DOM_EXC: some domain shut down or died.  Upcall context. */
static void dom_exc(evtchn_port_t port, void *ctx)
{
	(void)port;
	(void)ctx;
	reaper_kicked = true;
	waitq_wake_all(&reaper_wq);
}

/* ---- waiting ------------------------------------------------------------ */

struct gone_wait {
	domid_t domid;
};

static bool domain_gone_or_shut(void *ctx)
{
	struct gone_wait *w = ctx;
	struct domain *d = toolstack_domain_by_id(w->domid);
	return !d || d->preserved;
}

bool toolstack_wait_gone(domid_t domid, uint64_t timeout_ns)
{
	struct gone_wait w = { domid };
	struct domain *d = toolstack_domain_by_id(domid);

	if (!d)
		return true;
	return waitq_wait_until(&d->gone_wq, domain_gone_or_shut, &w, timeout_ns);
}

struct domain *toolstack_domains(void)
{
	return domains;
}

/* ---- boot ------------------------------------------------------------------ */

static int auto_one(void *ctx, const char *path, int err, const void *data, size_t size)
{
	(void)ctx;
	(void)data;
	(void)size;
	if (err) {
		klog("xendomains: %s: cannot read (%d)\n", path, err);
		return 0;
	}
	domid_t domid;
	if (!toolstack_create(path, NULL, &domid))
		klog("xendomains: started %s as domain %u\n", path, domid);
	return 0;
}

static void xendomains_thread(void *unused)
{
	(void)unused;
	bootfs_for_each_cfg(&boot_fs, BOOTFS_AUTO_DIR, auto_one, NULL);
}

void toolstack_init(void)
{
	evtchn_port_t port;

	if (evtchn_bind_virq(VIRQ_DOM_EXC, dom_exc, NULL, &port))
		klog("toolstack: cannot bind VIRQ_DOM_EXC: dead domains will not be reaped\n");
	thread_create("reaper", reaper_thread, NULL);
	if (boot_opts.autostart && bootarchive_mounted())
		thread_create("xendomains", xendomains_thread, NULL);
}

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
 *   host:    poweroff/reboot run shutdown_guests() first (a POWER_STAGE_GUESTS
 *            hook): every guest is asked to power off, waited for within a
 *            bound, reported with the end of its console, destroyed.
 *
 * All of this runs in thread context (the shell, the reaper, xendomains).
 * Threads are cooperative and create yields (toolstack_slice) while it
 * decompresses and builds, so two creates, a create and the reaper, or a
 * create and a shell destroy can interleave: the domain list is only changed
 * between yields, a kernel-cache entry a build copies from is pinned, and one
 * decompression runs at a time.  The Xen-side wrappers (domain_pause,
 * domain_destroy, ...) live here too.
 */
#include <keel/blkback.h>
#include <keel/netback.h>
#include <keel/bootfs.h>
#include <keel/builder.h>
#include <keel/consback.h>
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/toolstack.h>
#include <keel/xenctl.h>
#include <keel/xlcfg.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <xen/sched.h>

/*
 * Decompressed kernels are kept per file, so the next create of the same
 * kernel skips the decompression.  The cache is bounded (KCACHE_SLOTS
 * entries and a share of dom0's memory, least recently used dropped first),
 * counted in `mem`, and dropped whenever dom0 memory runs short: a create
 * that fails for dom0 memory drops every unpinned entry and tries again.
 * A build pins its entry (refs) for as long as it copies from it.
 */
#define KCACHE_SLOTS 4
/* Bound on the cache: this fraction of dom0's memory (3/8). */
#define KCACHE_SHARE_NUM 3
#define KCACHE_SHARE_DEN 8

struct kcache_entry {
	char path[256];
	const void *file;          /* the bootfs bytes it was parsed from */
	struct kimage ki;
	bool used;
	unsigned int refs;         /* builds copying from it right now */
	uint64_t last_use;         /* kcache_clock when last handed out */
};

static struct domain *domains;
static struct kcache_entry kcache[KCACHE_SLOTS];
static uint64_t kcache_clock;
static uint64_t kcache_drops_total;
static bool kcache_parsing;          /* one decompression at a time */
static struct waitq kcache_wq;
static struct waitq reaper_wq;
/* Woken whenever a teardown (toolstack_cleanup) has ended. */
static struct waitq teardown_wq;
/* Host shutdown under way: shut-down guests are kept for the hook, not restarted. */
static bool host_shutdown;
static volatile bool reaper_kicked;
static uint64_t uuid_state;

/* ---- Xen's side of a domain's life --------------------------------------- */

int domain_unpause(domid_t domid)
{
	return xenctl_unpausedomain(domid);
}

int domain_pause(domid_t domid)
{
	return xenctl_pausedomain(domid);
}

int domain_destroy(domid_t domid)
{
	int rc;

	/*
	 * Xen frees the domain's memory inside this call: about 300 ms for
	 * 1 GiB under TCG.  It continues the call itself (dom0 sees one call),
	 * stopping whenever an event is pending for dom0, so the call is made
	 * preemptible: the thread gives way there to whoever the event woke.
	 * -EAGAIN (the domctl lock busy) is retried after a yield.
	 */
	for (int tries = 0; tries < 1000; tries++) {
		thread_preemptible_begin();
		rc = xenctl_destroydomain(domid);
		thread_preemptible_end();
		if (rc != -EAGAIN)
			break;
		thread_yield();
	}
	return rc;
}

int domain_shutdown_xen(domid_t domid, unsigned int reason)
{
	struct sched_remote_shutdown op = { .domain_id = domid, .reason = reason };
	return (int)hyp_sched_op(SCHEDOP_remote_shutdown, &op);
}

const char *toolstack_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case -EPERM: return "operation not permitted";
	case -ENOENT: return "no such file or entry";
	case -ESRCH: return "no such domain";
	case -EIO: return "I/O error";
	case -E2BIG: return "too big";
	case -ENOEXEC: return "not an executable format keel knows";
	case -EAGAIN: return "try again";
	case -ENOMEM: return "out of memory";
	case -EACCES: return "permission denied";
	case -EFAULT: return "bad address";
	case -EBUSY: return "busy";
	case -EEXIST: return "already exists";
	case -EINVAL: return "invalid argument or data";
	case -EFBIG: return "too large";
	case -ENOSPC: return "no space left";
	case -ERANGE: return "out of range";
	case -ENOSYS: return "not implemented";
	case -EOPNOTSUPP: return "not supported";
	case -ETIMEDOUT: return "timed out";
	}
	return "error";
}

/* What a kimage_parse() error means for the admin. */
static const char *kimage_strerror(int err)
{
	switch (err) {
	case -ENOMEM: return "out of dom0 memory while decompressing it";
	case -EINVAL: return "corrupt, truncated or refused image (see dmesg)";
	case -ENOEXEC: return "not an ELF, bzImage or compressed ELF";
	case -EOPNOTSUPP: return "compressed with a format keel does not decode (bzip2, lzo)";
	case -EFBIG: return "too large";
	case -EBUSY: return "every kernel cache slot is in use by a build";
	}
	return toolstack_strerror(err);
}

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

static uint64_t kcache_entry_bytes(const struct kcache_entry *e)
{
	return e->used && e->ki.owned ? e->ki.elf_bytes : 0;
}

static uint64_t kcache_bound_bytes(void)
{
	struct mm_stats st;

	mm_get_stats(&st);
	return st.total_pages * PAGE_SIZE / KCACHE_SHARE_DEN * KCACHE_SHARE_NUM;
}

void toolstack_kcache_stats(struct kcache_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->bound_bytes = kcache_bound_bytes();
	for (unsigned int i = 0; i < KCACHE_SLOTS; i++) {
		if (!kcache[i].used)
			continue;
		out->entries++;
		out->bytes += kcache_entry_bytes(&kcache[i]);
	}
	out->drops = kcache_drops_total;
}

static void kcache_drop(struct kcache_entry *e)
{
	kimage_free(&e->ki);
	e->used = false;
	e->file = NULL;
	kcache_drops_total++;
}

/* The least recently used unpinned entry other than keep, or NULL. */
static struct kcache_entry *kcache_victim(const struct kcache_entry *keep)
{
	struct kcache_entry *v = NULL;

	for (unsigned int i = 0; i < KCACHE_SLOTS; i++) {
		struct kcache_entry *e = &kcache[i];
		if (e->used && !e->refs && e != keep && (!v || e->last_use < v->last_use))
			v = e;
	}
	return v;
}

uint64_t toolstack_kcache_shrink(uint64_t want_bytes)
{
	uint64_t freed = 0;
	struct kcache_entry *v;

	while (freed < want_bytes && (v = kcache_victim(NULL))) {
		freed += kcache_entry_bytes(v);
		klog("toolstack: dropped the cached kernel %s (%llu KiB)\n", v->path,
		     (unsigned long long)(kcache_entry_bytes(v) >> 10));
		kcache_drop(v);
	}
	return freed;
}

/* Drops entries (least recently used first, never keep) until within bound. */
static void kcache_trim(const struct kcache_entry *keep)
{
	uint64_t bound = kcache_bound_bytes();
	struct kcache_stats st;
	struct kcache_entry *v;

	for (;;) {
		toolstack_kcache_stats(&st);
		if (st.bytes <= bound || !(v = kcache_victim(keep)))
			break;
		kcache_drop(v);
	}
}

static bool kcache_idle(void *ctx)
{
	(void)ctx;
	return !kcache_parsing;
}

/*
 * The parsed (decompressed) kernel of path, pinned: release it with
 * kernel_image_put().  Decompression runs in slices (toolstack_slice via
 * decompress_set_yield); one at a time.  NULL with *err on failure.
 */
static struct kcache_entry *kernel_image_get(const char *path, const void *file, size_t size,
					     int *err)
{
	struct kcache_entry *e = NULL;

	waitq_wait_until(&kcache_wq, kcache_idle, NULL, 0);
	for (unsigned int i = 0; i < KCACHE_SLOTS; i++)
		if (kcache[i].used && kcache[i].file == file && !strcmp(kcache[i].path, path)) {
			kcache[i].refs++;
			kcache[i].last_use = ++kcache_clock;
			return &kcache[i];
		}
	/* A free slot, else the least recently used unpinned one. */
	for (unsigned int i = 0; i < KCACHE_SLOTS && !e; i++)
		if (!kcache[i].used)
			e = &kcache[i];
	if (!e && (e = kcache_victim(NULL)))
		kcache_drop(e);
	if (!e) {
		*err = -EBUSY; /* every slot pinned by a build in progress */
		return NULL;
	}
	kcache_parsing = true;
	memset(e, 0, sizeof(*e));
	snprintf(e->path, sizeof(e->path), "%s", path);
	e->file = file;
	e->used = true;   /* reserved; kimage empty until parsed */
	e->refs = 1;
	uint64_t t0 = time_now_ns();
	toolstack_slice_begin();
	*err = kimage_parse(&e->ki, file, size, 0);
	if (*err == -ENOMEM && toolstack_kcache_shrink(~0ULL)) {
		/* Dropped other kernels: try once more with their memory. */
		klog("toolstack: %s: out of memory decompressing; retrying after dropping the kernel cache\n",
		     path);
		*err = kimage_parse(&e->ki, file, size, 0);
	}
	kcache_parsing = false;
	waitq_wake_all(&kcache_wq);
	if (*err) {
		e->used = false;
		e->refs = 0;
		return NULL;
	}
	uint64_t us = (time_now_ns() - t0) / 1000;
	uint64_t longest, yields;
	toolstack_slice_stats(&longest, &yields, true);
	e->last_use = ++kcache_clock;
	klog("toolstack: %s: %s kernel, %zu -> %zu bytes in %llu.%03llu ms (kept for the next "
	     "create); longest slice %llu us, %llu yields\n",
	     path, e->ki.bzimage ? "bzImage" : "ELF", size, e->ki.elf_bytes,
	     (unsigned long long)(us / 1000), (unsigned long long)(us % 1000),
	     (unsigned long long)(longest / 1000), (unsigned long long)yields);
	kcache_trim(e);
	return e;
}

static void kernel_image_put(struct kcache_entry *e)
{
	ASSERT(e->refs > 0);
	e->refs--;
	/* Larger than the whole bound on its own: not kept. */
	if (!e->refs && kcache_entry_bytes(e) > kcache_bound_bytes()) {
		klog("toolstack: %s: %llu KiB decompressed is over the kernel cache's bound; not kept\n",
		     e->path, (unsigned long long)(kcache_entry_bytes(e) >> 10));
		kcache_drop(e);
	}
}

int toolstack_kcache_list(int (*fn)(void *ctx, const char *path, uint64_t bytes,
				    unsigned int refs), void *ctx)
{
	for (unsigned int i = 0; i < KCACHE_SLOTS; i++) {
		if (!kcache[i].used)
			continue;
		int rc = fn(ctx, kcache[i].path, kcache_entry_bytes(&kcache[i]), kcache[i].refs);
		if (rc)
			return rc;
	}
	return 0;
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

/* Failures of these steps are dom0 running out of memory, not Xen. */
static bool dom0_memory_step(enum builder_step step)
{
	return step == BUILD_STEP_P2M_ALLOC || step == BUILD_STEP_MAP ||
	       step == BUILD_STEP_VCPU_CONTEXT;
}

/* The edge: a build's -errno and step turned into xl-like words. */
static void print_build_error(const struct domain *d, int rc)
{
	const struct build_result *r = &d->build;

	kprintf("create: cannot build domain '%s': ", d->name);
	switch (r->failed_step) {
	case BUILD_STEP_CHECK_KERNEL:
		kprintf("the kernel is not built for xen-3.0\n");
		break;
	case BUILD_STEP_LAYOUT:
		if (rc == -E2BIG)
			kprintf("kernel, ramdisk and boot data need %llu MiB but the domain has %llu MiB\n",
				(unsigned long long)(r->boot_region_bytes >> 20),
				(unsigned long long)(r->nr_pages >> (20 - PAGE_SHIFT)));
		else
			kprintf("the kernel loads below its VIRT_BASE\n");
		break;
	case BUILD_STEP_P2M_ALLOC:
		kprintf("no dom0 memory for the P2M of %llu pages\n",
			(unsigned long long)r->nr_pages);
		break;
	case BUILD_STEP_POPULATE:
		kprintf("Xen has no memory for the domain (%llu of %llu pages given)\n",
			(unsigned long long)r->populated_pages, (unsigned long long)r->nr_pages);
		break;
	default:
		kprintf("%s failed: %s (%d)\n", builder_step_name(r->failed_step),
			toolstack_strerror(rc), rc);
		break;
	}
}

/* Builds and starts the domain described by d->cfg (d->name, uuid set). */
static int start_domain(struct domain *d, const char *cfg_path)
{
	const void *kfile, *rfile = NULL;
	size_t ksize, rsize = 0;
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
	struct kcache_entry *ke = kernel_image_get(d->cfg.kernel, kfile, ksize, &rc);
	if (!ke) {
		kprintf("%s:%d: kernel `%s' is not a loadable PV kernel: %s\n", cfg_path,
			d->cfg.kernel_line, d->cfg.kernel, kimage_strerror(rc));
		return rc;
	}
	struct build_spec spec = {
		.kernel = &ke->ki, .ramdisk = rfile, .ramdisk_bytes = rsize,
		.cmdline = d->cfg.cmdline, .memory_mib = d->cfg.memory_mib,
		.maxmem_mib = d->cfg.maxmem_mib, .vcpus = d->cfg.maxvcpus,
		.max_grant_frames = d->cfg.max_grant_frames,
		.max_maptrack_frames = d->cfg.max_maptrack_frames,
	};
	memcpy(spec.uuid, d->uuid, 16);
	d->create_ns = time_now_ns();
	toolstack_slice_begin();
	rc = builder_build(&spec, &d->build);
	if (rc == -ENOMEM && dom0_memory_step(d->build.failed_step) &&
	    toolstack_kcache_shrink(~0ULL)) {
		klog("toolstack: '%s': dom0 out of memory at %s; retrying after dropping the kernel "
		     "cache\n", d->name, builder_step_name(d->build.failed_step));
		rc = builder_build(&spec, &d->build);
	}
	kernel_image_put(ke);
	if (rc) {
		print_build_error(d, rc);
		return rc;
	}
	toolstack_slice_stats(&d->longest_slice_ns, &d->slice_yields, true);
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
	if (!rc)
		rc = toolstack_attach_vifs(d->domid, d->name, &d->cfg, cfg_path);
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
	     "%llu.%03llu ms; longest slice %llu.%03llu ms, %llu yields; %llu populate calls, "
	     "longest %llu.%03llu ms\n", d->domid, d->name,
	     (unsigned long long)d->cfg.memory_mib,
	     MS(d->build.build_ns), MS(d->build.populate_ns), MS(d->build.map_ns),
	     MS(d->build.load_ns), MS(d->build.finish_ns), MS(d->started_ns - d->create_ns),
	     MS(d->longest_slice_ns), (unsigned long long)d->slice_yields,
	     (unsigned long long)d->build.populate_calls, MS(d->build.populate_worst_call_ns));
#undef MS
	return 0;
}

int toolstack_create(const char *path, const char *override_name, domid_t *out)
{
	const void *data;
	size_t size;
	char err[512];

	kprintf("Parsing config from %s\n", path);
	if (xenctl_refusal()) {
		kprintf("create: %s\n", xenctl_refusal());
		return -ENOSYS;
	}
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
	/* As xl, a key it does not know is ignored; unlike xl, keel says so. */
	for (unsigned int i = 0; i < MIN(d->cfg.nr_unknown, (unsigned int)XLCFG_MAX_UNKNOWN_KEPT); i++)
		kprintf("WARNING: %s:%d: unknown parameter `%s' ignored\n", path,
			d->cfg.unknown[i].line, d->cfg.unknown[i].key);
	if (d->cfg.nr_unknown > XLCFG_MAX_UNKNOWN_KEPT)
		kprintf("WARNING: %s: %u more unknown parameters ignored\n", path,
			d->cfg.nr_unknown - XLCFG_MAX_UNKNOWN_KEPT);
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
	/* Everything below may sleep (in-flight I/O, the preemptible destroy):
	 * meanwhile the reaper skips d and other destroys wait for the end. */
	d->tearing_down = true;
	/* Drop every mapping of the guest's pages before Xen frees them: the
	 * disks first, once the device is done with every page. */
	blkback_domain_gone(d->domid);
	netback_domain_gone(d->domid);
	/* Between the steps, whoever events woke runs first (xenstored serving
	 * the other guests): together the steps take tens of ms. */
	thread_yield();
	consback_disconnect(d->domid);
	xenstored_release(d->domid);
	thread_yield();
	remove_xenstore(d);
	thread_yield();
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
	waitq_wake_all(&teardown_wq);
}

static bool teardown_over(void *ctx)
{
	struct domain *d = toolstack_domain_by_id(*(const domid_t *)ctx);

	return !d || !d->tearing_down;
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
	if (d->tearing_down) {
		/* The reaper (or another destroy) is at it: d is theirs to free. */
		waitq_wait_until(&teardown_wq, teardown_over, &domid, 0);
		return 0;
	}
	toolstack_cleanup(d);
	free_domain(d);
	return 0;
}

/*
 * A domain Xen has but keel does not track (lost by a failed cleanup, or
 * made by something else): its xenstore connection, console and subtree
 * are dropped if keel serves any, then Xen destroys it.
 */
int toolstack_destroy_untracked(domid_t domid)
{
	struct xenabi_dominfo info;
	char p[48];
	int rc = xenctl_domain_info(domid, &info);

	if (rc)
		return rc;
	if (info.domain != domid)
		return -ESRCH;
	consback_disconnect(domid);
	xenstored_release(domid);
	snprintf(p, sizeof(p), "/local/domain/%u", domid);
	xs_rm(xenstore, p);
	snprintf(p, sizeof(p), "/libxl/%u", domid);
	xs_rm(xenstore, p);
	snprintf(p, sizeof(p), "/local/domain/0/backend/console/%u", domid);
	xs_rm(xenstore, p);
	return domain_destroy(domid);
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

/*
 * Reads every domain's state from Xen and handles the ones that ended.
 * Handling one may sleep (teardown, restart), and meanwhile other threads
 * change the list, so the walk starts again from the head after each: a
 * handled domain has left the list or is preserved, so it ends.
 */
static void reap(void)
{
	struct domain *d = domains;

	while (d) {
		struct domain *next = d->next;
		struct xenabi_dominfo info;
		if (d->tearing_down) {
			d = next;
			continue;
		}
		int rc = xenctl_domain_info(d->domid, &info);
		bool gone = rc == -ESRCH || (!rc && (info.flags & XENABI_DOMINF_dying));
		bool shut = !rc && (info.flags & XENABI_DOMINF_shutdown);
		if (gone) {
			klog("toolstack: domain %u '%s' disappeared\n", d->domid, d->name);
			d->shutdown_reason = SHUTDOWN_crash;
			toolstack_cleanup(d);
			free_domain(d);
			next = domains;
		} else if (shut && !d->preserved && host_shutdown) {
			d->shutdown_reason = (info.flags >> XENABI_DOMINF_shutdownshift) &
					     XENABI_DOMINF_shutdownmask;
			d->preserved = true; /* the shutdown hook reports and destroys it */
			waitq_wake_all(&d->gone_wq);
		} else if (shut && !d->preserved) {
			unsigned int reason = (info.flags >> XENABI_DOMINF_shutdownshift) &
					      XENABI_DOMINF_shutdownmask;
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
				next = domains;
				break;
			default:
				toolstack_cleanup(d);
				free_domain(d);
				next = domains;
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

/* ---- host shutdown, as xendomains stop does -------------------------------- */

size_t toolstack_console_tail(domid_t domid, char *out, size_t size)
{
	char buf[256];
	uint64_t pos = 0;
	size_t n, head = 0, held = 0;

	if (size < 2)
		return 0;
	size--; /* room for the NUL */
	while ((n = consback_read_log(domid, &pos, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < n; i++) {
			out[head] = buf[i];
			head = (head + 1) % size;
		}
		held = MIN(held + n, size);
	}
	/* Rotate the ring so the oldest byte comes first. */
	size_t start = (head + size - held) % size;
	for (size_t r = 0; r < start; r++) {
		char c = out[0];
		memmove(out, out + 1, size - 1);
		out[size - 1] = c;
	}
	out[held] = 0;
	return held;
}

/*
 * Prints the last non-empty lines of a domain's console, each prefixed with
 * its name; the guest's control characters (escape sequences) become '?'.
 */
static void print_console_tail(const struct domain *d, unsigned int lines)
{
	char *tail = kmalloc(512);
	size_t len;

	if (!tail)
		return;
	len = toolstack_console_tail(d->domid, tail, 512);
	for (size_t i = 0; i < len; i++)
		if (tail[i] == '\r')
			tail[i] = '\n';
		else if ((unsigned char)tail[i] < 0x20 && tail[i] != '\n')
			tail[i] = '?';
		else if ((unsigned char)tail[i] >= 0x7f)
			tail[i] = '?';
	/* Walk back over lines lines that have something in them. */
	size_t start = len;
	unsigned int found = 0;
	while (start > 0 && found < lines) {
		size_t end = start;
		while (start > 0 && tail[start - 1] != '\n')
			start--;
		if (end > start)
			found++;
		if (found < lines && start > 0)
			start--;
	}
	char *line = tail + start;
	while (line < tail + len) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (*line)
			kprintf("  %s| %s\n", d->name, line);
		if (!nl)
			break;
		line = nl + 1;
	}
	kfree(tail);
}

static const char *shutdown_reason_name(unsigned int reason)
{
	switch (reason) {
	case SHUTDOWN_poweroff: return "poweroff";
	case SHUTDOWN_reboot: return "reboot";
	case SHUTDOWN_suspend: return "suspend";
	case SHUTDOWN_crash: return "crash";
	case SHUTDOWN_watchdog: return "watchdog";
	case SHUTDOWN_soft_reset: return "soft_reset";
	}
	return "unknown";
}

/*
 * POWER_STAGE_GUESTS: every guest is asked to power off through
 * control/shutdown, given TOOLSTACK_HOST_SHUTDOWN_WAIT_NS in all, reported
 * (with the end of its console) and destroyed; a guest that did not shut
 * down in time is destroyed too, and so is any domain Xen lists that keel
 * does not track.  No guest is restarted meanwhile (host_shutdown).
 */
static void shutdown_guests(void *ctx, enum power_action action)
{
	const uint32_t max_infos = 128;
	struct xenabi_dominfo *infos;
	unsigned int asked = 0, clean = 0, destroyed = 0;
	char path[64];
	uint32_t n;

	(void)ctx;
	(void)action;
	host_shutdown = true;
	for (struct domain *d = domains; d; d = d->next) {
		if (d->preserved)
			continue;
		snprintf(path, sizeof(path), "/local/domain/%u/control/shutdown", d->domid);
		if (xsd_printf(path, "%s", "poweroff")) {
			kprintf("xendomains: domain %u '%s': cannot write %s\n", d->domid, d->name,
				path);
			continue;
		}
		kprintf("xendomains: asked domain %u '%s' to shut down\n", d->domid, d->name);
		asked++;
	}
	if (asked)
		kprintf("xendomains: waiting up to %llu s for %u domain%s\n",
			(unsigned long long)(TOOLSTACK_HOST_SHUTDOWN_WAIT_NS / 1000000000ULL), asked,
			asked == 1 ? "" : "s");
	uint64_t deadline = time_now_ns() + TOOLSTACK_HOST_SHUTDOWN_WAIT_NS;
	for (;;) {
		/* Re-found each round: the reaper may free domains meanwhile. */
		struct domain *d = domains;
		while (d && d->preserved)
			d = d->next;
		uint64_t now = time_now_ns();
		if (!d || now >= deadline)
			break;
		toolstack_wait_gone(d->domid, deadline - now);
	}
	/* Let the console backend drain what the guests printed last. */
	thread_sleep_ns(200000000ULL);
	while (domains) {
		struct domain *d = domains;
		if (d->preserved) {
			kprintf("xendomains: domain %u '%s' shut down (%s); its console ends:\n",
				d->domid, d->name, shutdown_reason_name(d->shutdown_reason));
			clean++;
		} else {
			kprintf("xendomains: domain %u '%s' did not shut down in time; destroying it; "
				"its console ends:\n", d->domid, d->name);
			destroyed++;
		}
		print_console_tail(d, 3);
		toolstack_destroy(d->domid);
	}
	/* Whatever else Xen still runs (domains keel lost track of). */
	infos = kmalloc(max_infos * sizeof(*infos));
	if (infos && !xenctl_domain_list(1, infos, max_infos, &n)) {
		for (uint32_t i = 0; i < n; i++) {
			if (infos[i].domain == 0 || (infos[i].flags & XENABI_DOMINF_dying))
				continue;
			kprintf("xendomains: destroying domain %u, which keel did not track\n",
				infos[i].domain);
			toolstack_destroy_untracked(infos[i].domain);
			destroyed++;
		}
	}
	kfree(infos);
	kprintf("xendomains: %u domain%s shut down, %u destroyed\n", clean, clean == 1 ? "" : "s",
		destroyed);
}

static struct power_hook shutdown_hook = {
	.name = "xendomains (shut down every guest)",
	.stage = POWER_STAGE_GUESTS,
	.fn = shutdown_guests,
};

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

/* Decompressor buffers of 1 MiB and more: made in slices that yield. */
static void *decompress_big_alloc(size_t bytes)
{
	return kmalloc_sliced(bytes, toolstack_slice);
}

void toolstack_init(void)
{
	evtchn_port_t port;

	/* Decompression runs in toolstack threads only (kernel_image_get),
	 * one at a time: steps of about 4 ms, large buffers made in slices. */
	decompress_set_yield(toolstack_slice);
	decompress_set_clock(time_now_ns);
	decompress_set_big_alloc(decompress_big_alloc);
	power_register_shutdown_hook(&shutdown_hook);
	if (evtchn_bind_virq(VIRQ_DOM_EXC, dom_exc, NULL, &port))
		klog("toolstack: cannot bind VIRQ_DOM_EXC: dead domains will not be reaped\n");
	thread_create("reaper", reaper_thread, NULL);
	if (boot_opts.autostart && bootarchive_mounted())
		thread_create("xendomains", xendomains_thread, NULL);
}

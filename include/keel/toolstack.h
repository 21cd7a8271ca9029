/*
 * The toolstack's view of the domains keel created (toolstack/domain.c) and
 * the calls the xl-style commands make.  Thread context only; may sleep.
 */
#ifndef KEEL_TOOLSTACK_H
#define KEEL_TOOLSTACK_H

#include <keel/builder.h>
#include <keel/kernel.h>
#include <keel/xlcfg.h>

struct domain {
	domid_t domid;
	char name[64];
	uint8_t uuid[16];
	char uuid_str[37];
	char cfg_path[256];
	struct domain_config cfg;   /* kept for restarts */
	struct build_result build;
	uint64_t create_ns;         /* when create began (system time) */
	uint64_t started_ns;        /* when it was unpaused */
	uint64_t longest_slice_ns;  /* longest stretch its build ran without yielding */
	uint64_t slice_yields;      /* yields its build made */
	unsigned int restarts;
	unsigned int shutdown_reason;
	bool preserved;             /* shut down, kept by on_*=preserve */
	/* toolstack_cleanup under way (it sleeps: the destroy is preemptible);
	 * the reaper and other destroys leave the domain to it. */
	bool tearing_down;
	struct waitq gone_wq;       /* woken when it ends or is preserved */
	struct domain *next;
};

/* How long host poweroff/reboot waits for the guests to shut down. */
#define TOOLSTACK_HOST_SHUTDOWN_WAIT_NS (60ULL * 1000000000ULL)

/* Nanoseconds of work between two yields of toolstack_slice(). */
#define TOOLSTACK_SLICE_NS 2000000ULL

void toolstack_init(void);
/* Attaches every disk of cfg to domid through blkback; on error prints
 * "FILE:LINE: disk ...: why" and returns -errno (toolstack/xl_block.c). */
struct domain_config;
int toolstack_attach_disks(domid_t domid, const struct domain_config *cfg, const char *cfg_path);
/* Attaches the config's vifs (netback); errors printed with the file and line. */
int toolstack_attach_vifs(domid_t domid, const char *name, const struct domain_config *cfg,
			  const char *cfg_path);

/*
 * Long work (decompressing, copying, building, mapping) calls this between
 * small pieces: it yields to other threads once TOOLSTACK_SLICE_NS have
 * passed since the CPU was last given back.  Thread context; may sleep.
 */
void toolstack_slice(void);
/* Starts a slice now (call before a measured piece of work). */
void toolstack_slice_begin(void);
/* Longest uninterrupted stretch between two slice points, and yields made. */
void toolstack_slice_stats(uint64_t *longest_ns, uint64_t *yields, bool reset);

/* domctl and sched wrappers for a domain's lifecycle (toolstack/domain.c).
 * 0 or -errno; domain_destroy may sleep (it retries while Xen frees). */
int domain_unpause(domid_t domid);
int domain_pause(domid_t domid);
int domain_destroy(domid_t domid);
int domain_shutdown_xen(domid_t domid, unsigned int reason);

/* The decompressed-kernel cache (toolstack/domain.c). */
struct kcache_stats {
	uint64_t bytes;             /* decompressed kernels held */
	uint64_t bound_bytes;       /* the most it keeps (a share of dom0's memory) */
	unsigned int entries;
	uint64_t drops;             /* entries dropped since boot */
};
void toolstack_kcache_stats(struct kcache_stats *out);
/*
 * Frees cached kernels no build is using, least recently used first, until
 * want_bytes are freed or none is left; returns the bytes freed.  For dom0
 * memory pressure (a failing allocation's caller, or a heap shrinker).
 * Does not sleep.
 */
uint64_t toolstack_kcache_shrink(uint64_t want_bytes);
/* Calls fn for each cached kernel; stops at fn's first non-zero return. */
int toolstack_kcache_list(int (*fn)(void *ctx, const char *path, uint64_t bytes,
				    unsigned int refs), void *ctx);

/* "out of memory", "no such domain", ... for an -errno; never NULL. */
const char *toolstack_strerror(int err);
/*
 * xl create: parses the config at path (in the boot archive), builds and
 * starts the domain.  Prints xl-style messages; returns 0 or -errno.
 */
int toolstack_create(const char *path, const char *override_name, domid_t *out);
int toolstack_destroy(domid_t domid);
/* Destroys a domain Xen lists but keel does not track: -ESRCH if none. */
int toolstack_destroy_untracked(domid_t domid);
/* Tears a domain down (backends, xenstore, Xen) without freeing *d. */
void toolstack_cleanup(struct domain *d);
/*
 * The last size - 1 bytes of a domain's console log, NUL-terminated, in out;
 * returns their count.  Does not sleep.
 */
size_t toolstack_console_tail(domid_t domid, char *out, size_t size);
/* Waits until the domain is gone (or preserved); false on timeout. */
bool toolstack_wait_gone(domid_t domid, uint64_t timeout_ns);

struct domain *toolstack_domain_by_id(domid_t domid);
struct domain *toolstack_domain_by_name(const char *name);
/* "Domain-0", a domU's name, or NULL. */
const char *toolstack_domain_name(domid_t domid);
/* NAME or ID as xl accepts them: 0 or -ENOENT. */
int toolstack_resolve(const char *arg, domid_t *out);
struct domain *toolstack_domains(void);

#endif

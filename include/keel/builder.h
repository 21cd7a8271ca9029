/*
 * The x86_64 PV domain builder: what libxenguest does for `xl create`.  It
 * creates the domain in Xen, gives it memory, loads the kernel and ramdisk,
 * lays out start_info, the P2M list, the initial page tables, the xenstore
 * and console rings with their event channels, seeds the grant table, sets
 * vCPU 0's context — and leaves the domain paused for the caller to unpause.
 */
#ifndef KEEL_BUILDER_H
#define KEEL_BUILDER_H

#include <keel/kimage.h>
#include <lib/base.h>
#include <xen/event_channel.h>
#include <xen/xen.h>

struct build_spec {
	const struct kimage *kernel;   /* parsed, decompressed guest kernel */
	const void *ramdisk;           /* NULL for none */
	size_t ramdisk_bytes;
	const char *cmdline;
	uint64_t memory_mib;           /* initial allocation */
	uint64_t maxmem_mib;           /* balloon ceiling (>= memory_mib) */
	unsigned int vcpus;            /* max vCPUs; vCPU 0 starts */
	uint8_t uuid[16];
	int max_grant_frames;          /* -1: Xen's default */
	int max_maptrack_frames;
};

/* The step a build failed at, for the caller's message. */
enum builder_step {
	BUILD_STEP_NONE,
	BUILD_STEP_CHECK_KERNEL,    /* -ENOEXEC: not built for xen-3.0 */
	BUILD_STEP_LAYOUT,          /* -E2BIG: boot region larger than the domain */
	BUILD_STEP_CREATEDOMAIN,
	BUILD_STEP_MAX_VCPUS,
	BUILD_STEP_MAX_MEM,
	BUILD_STEP_P2M_ALLOC,       /* -ENOMEM: dom0 memory */
	BUILD_STEP_POPULATE,        /* -ENOMEM: Xen's memory (populated_pages given) */
	BUILD_STEP_MEMORY_MAP,
	BUILD_STEP_EVTCHN,
	BUILD_STEP_MAP,
	BUILD_STEP_LOAD_KERNEL,
	BUILD_STEP_PAGE_TABLES,
	BUILD_STEP_PIN,
	BUILD_STEP_SHARED_INFO,
	BUILD_STEP_GRANTS,
	BUILD_STEP_VCPU_CONTEXT,
	BUILD_STEP_HYPERCALL_PAGE,
};

struct build_result {
	domid_t domid;
	uint64_t store_mfn;
	evtchn_port_t store_port;      /* the guest's end */
	uint64_t console_mfn;
	evtchn_port_t console_port;    /* the guest's end */
	uint64_t nr_pages;
	uint64_t build_ns;             /* time the build took (keel's clock) */
	uint64_t populate_ns;          /* of which: createdomain + memory */
	uint64_t map_ns;               /* mapping the guest's boot region */
	uint64_t load_ns;              /* kernel, ramdisk, start_info, page tables */
	uint64_t finish_ns;            /* unmap, pin, grants, vCPU context */
	uint64_t populate_calls;       /* XENMEM_populate_physmap calls made */
	uint64_t populate_worst_call_ns; /* the longest of them */
	/* On failure: */
	enum builder_step failed_step;
	int failed_rc;                 /* the -errno returned */
	uint64_t populated_pages;      /* memory Xen gave before it ran out */
	uint64_t boot_region_bytes;    /* kernel, ramdisk, boot data and tables */
};

/*
 * Builds a paused domain.  Returns 0 with *res filled, or -errno with
 * res->failed_step saying where (builder_step_name() for a message); on
 * failure nothing is left behind (the half-built domain is destroyed).
 * May sleep: it calls toolstack_slice() between pieces of long work.
 */
int builder_build(const struct build_spec *spec, struct build_result *res);

/* "XEN_DOMCTL_createdomain", "mapping the guest's boot region", ...; never NULL. */
const char *builder_step_name(enum builder_step step);

#endif

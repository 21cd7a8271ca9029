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
};

/*
 * Builds a paused domain.  Returns 0 with *res filled, or -errno with a
 * one-line reason in err; on failure nothing is left behind (the half-built
 * domain is destroyed).  May sleep (long: it copies the kernel).
 */
int builder_build(const struct build_spec *spec, struct build_result *res, char *err,
		  size_t errlen);

/* domctl helpers shared with the toolstack.  0 or -errno. */
int domain_unpause(domid_t domid);
int domain_pause(domid_t domid);
int domain_destroy(domid_t domid);
int domain_shutdown_xen(domid_t domid, unsigned int reason);

#endif

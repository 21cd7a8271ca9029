/*
 * Xen's domctl and sysctl interfaces, one table per Xen release keel speaks.
 *
 * Xen changes the layout of its domctl and sysctl structures between
 * releases and says so by bumping XEN_DOMCTL_INTERFACE_VERSION and
 * XEN_SYSCTL_INTERFACE_VERSION; a call with any other version than the
 * running hypervisor's gets -EACCES before Xen reads anything else.  keel
 * therefore never uses those structures outside xen/abi/: each release has
 * one file there (xen/abi/v417.c, v420.c) compiled against that release's
 * own public headers (Debian's libxen-dev of bookworm and of trixie, see the
 * Makefile), with a compile-time check of every field keel relies on, and
 * exporting one struct xenabi.  The rest of keel sees only the neutral types
 * below, through the xenctl_* calls of <keel/xenctl.h>.
 *
 * Adding a release is a header fetch, one file in xen/abi/ and one row in
 * xenabi_releases[] (xen/xenctl.c).
 */
#ifndef KEEL_XENABI_H
#define KEEL_XENABI_H

#include <lib/base.h>
#include <xen/xen.h>

/*
 * Domain state bits of xenabi_dominfo.flags: the values of Xen's
 * XEN_DOMINF_* (each release's file checks they still are).
 */
#define XENABI_DOMINF_dying         (1u << 0)
#define XENABI_DOMINF_hvm_guest     (1u << 1)
#define XENABI_DOMINF_shutdown      (1u << 2)
#define XENABI_DOMINF_paused        (1u << 3)
#define XENABI_DOMINF_blocked       (1u << 4)
#define XENABI_DOMINF_running       (1u << 5)
#define XENABI_DOMINF_debugged      (1u << 6)
#define XENABI_DOMINF_shutdownshift 16
#define XENABI_DOMINF_shutdownmask  0xffu

/* XENABI_PHYSCAP_*: xenabi_physinfo.capabilities, Xen's XEN_SYSCTL_PHYSCAP_*. */
#define XENABI_PHYSCAP_hvm        (1u << 0)
#define XENABI_PHYSCAP_pv         (1u << 1)
#define XENABI_PHYSCAP_directio   (1u << 2)
#define XENABI_PHYSCAP_hap        (1u << 3)
#define XENABI_PHYSCAP_shadow     (1u << 4)
#define XENABI_PHYSCAP_iommu_hap_pt_share (1u << 5)
#define XENABI_PHYSCAP_vmtrace    (1u << 6)
#define XENABI_PHYSCAP_vpmu       (1u << 7)
#define XENABI_PHYSCAP_gnttab_v1  (1u << 8)
#define XENABI_PHYSCAP_gnttab_v2  (1u << 9)

/* What XEN_DOMCTL_getdomaininfo tells of a domain (the fields keel reads). */
struct xenabi_dominfo {
	domid_t domain;
	uint32_t flags; /* XENABI_DOMINF_* */
	uint64_t tot_pages;
	uint64_t max_pages;
	uint64_t outstanding_pages;
	uint64_t shared_info_frame; /* an mfn */
	uint64_t cpu_time;          /* ns */
	uint32_t nr_online_vcpus;
	uint32_t max_vcpu_id;
	uint32_t ssidref;
	uint32_t cpupool;
	xen_domain_handle_t handle;
};

/* XEN_DOMCTL_getvcpuinfo. */
struct xenabi_vcpuinfo {
	bool online, blocked, running;
	uint64_t cpu_time; /* ns */
	uint32_t cpu;
};

/* XEN_SYSCTL_physinfo (the fields keel reads). */
struct xenabi_physinfo {
	uint32_t threads_per_core, cores_per_socket, nr_cpus, max_cpu_id;
	uint32_t nr_nodes, max_node_id, cpu_khz;
	uint32_t capabilities; /* XENABI_PHYSCAP_* */
	uint64_t total_pages, free_pages, scrub_pages, outstanding_pages;
	uint32_t hw_cap[8];
};

/* XEN_DOMCTL_createdomain for a PV guest. */
struct xenabi_createdomain {
	xen_domain_handle_t handle;
	uint32_t max_vcpus;
	uint32_t max_evtchn_port;
	int32_t max_grant_frames;    /* < 0: Xen's default */
	int32_t max_maptrack_frames; /* < 0: Xen's default */
	uint32_t grant_version;      /* 1 for PV guests (fact 27) */
	uint32_t cpupool_id;
};

struct vcpu_guest_context;

/*
 * One Xen release's domctl/sysctl calls.  Every call returns 0 (or a count
 * where said) or Xen's negative errno, and may be made from any thread.
 */
struct xenabi {
	const char *release;     /* "4.17" */
	uint32_t domctl_version; /* the XEN_DOMCTL_INTERFACE_VERSION it speaks */
	uint32_t sysctl_version; /* the XEN_SYSCTL_INTERFACE_VERSION it speaks */

	/* A harmless call of each family (getdomaininfo of dom0, sched_id):
	 * -EACCES when Xen speaks another interface version. */
	int (*probe_domctl)(void);
	int (*probe_sysctl)(void);

	int (*createdomain)(const struct xenabi_createdomain *c, domid_t *domid);
	int (*max_vcpus)(domid_t domid, uint32_t max);
	int (*max_mem)(domid_t domid, uint64_t max_kib);
	int (*setvcpucontext)(domid_t domid, uint32_t vcpu, struct vcpu_guest_context *ctxt);
	int (*hypercall_init)(domid_t domid, uint64_t gmfn);
	int (*pausedomain)(domid_t domid);
	int (*unpausedomain)(domid_t domid);
	int (*destroydomain)(domid_t domid);
	/* Xen answers for the next domain up if domid is gone: the caller checks. */
	int (*getdomaininfo)(domid_t domid, struct xenabi_dominfo *out);
	int (*getvcpuinfo)(domid_t domid, uint32_t vcpu, struct xenabi_vcpuinfo *out);

	/* Up to max domains from first on; *n gets how many. */
	int (*getdomaininfolist)(domid_t first, struct xenabi_dominfo *out, uint32_t max,
				 uint32_t *n);
	int (*physinfo)(struct xenabi_physinfo *out);
	/* The scheduler's name ("credit2", ...), "unknown" for an id keel does not know. */
	int (*sched_name)(const char **name);
	/* Credit2's settings (XEN_SYSCTL/DOMCTL_scheduler_op): a cpupool's rate
	 * limit (us, 0: none), a domain's weight and cap; get, or set when set.
	 * Xen answers -EINVAL when the pool or domain runs another scheduler. */
	int (*credit2_ratelimit)(uint32_t pool, bool set, uint32_t *ratelimit_us);
	int (*credit2_domain)(domid_t domid, bool set, uint16_t *weight, uint16_t *cap);
	/* Returns the bytes read (>= 0); *index as XEN_SYSCTL_readconsole. */
	int (*readconsole)(char *buf, uint32_t size, bool incremental, uint32_t *index);
	int (*clearconsole)(void);
};

/*
 * The two raw hypercalls every table makes (xen/xenctl.c; the host unit test
 * has fakes): Xen's result for a struct xen_domctl / xen_sysctl.
 */
long xenabi_hypercall_domctl(void *op);
long xenabi_hypercall_sysctl(void *op);

extern const struct xenabi xenabi_v417;
extern const struct xenabi xenabi_v420;

#endif

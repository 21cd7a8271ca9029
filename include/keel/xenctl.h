/*
 * dom0's control-plane calls into Xen (domctl and sysctl), in the interface
 * of the Xen release keel finds at boot: xenctl_init() asks Xen its version
 * (XENVER_version) and which domctl and sysctl interface versions it accepts
 * (a wrong one gets -EACCES, fact 25), and picks that release's table
 * (<keel/xenabi.h>, xen/abi/).  Every call returns 0 or a negative errno;
 * none sleeps.  On a Xen keel does not speak each returns -ENOSYS and
 * xenctl_refusal() says why, for the caller to print.
 */
#ifndef KEEL_XENCTL_H
#define KEEL_XENCTL_H

#include <lib/base.h>
#include <keel/xenabi.h>

/*
 * Finds the running Xen's release and its table, and logs which ("xen:
 * Xen 4.20.4: domctl interface 0x17, sysctl 0x15 (keel's 4.20 layouts)") or
 * that keel does not speak it.  Boot, once, before any other xenctl call.
 */
void xenctl_init(void);
/* The table in use, or NULL on a Xen keel does not speak. */
const struct xenabi *xenctl_abi(void);
/* Xen's version as it gave it: "4.20.4" (major.minor plus XENVER_extraversion). */
const char *xenctl_xen_version(void);
/* NULL when keel speaks this Xen; else one sentence naming the Xen and what
 * keel speaks, without a trailing newline. */
const char *xenctl_refusal(void);

int xenctl_physinfo(struct xenabi_physinfo *out);
/* The scheduler's name: "credit2", "credit", ..., "unknown". */
int xenctl_sched_name(const char **name);
/* Credit2's pool rate limit and a domain's weight/cap (struct xenabi). */
int xenctl_credit2_ratelimit(uint32_t pool, bool set, uint32_t *ratelimit_us);
int xenctl_credit2_domain(domid_t dom, bool set, uint16_t *weight, uint16_t *cap);
/* Fills up to max entries starting at domid first; *n gets the count. */
int xenctl_domain_list(domid_t first, struct xenabi_dominfo *out, uint32_t max, uint32_t *n);
/* -ESRCH if dom does not exist. */
int xenctl_domain_info(domid_t dom, struct xenabi_dominfo *out);
int xenctl_vcpu_info(domid_t dom, uint32_t vcpu, struct xenabi_vcpuinfo *out);
/*
 * Reads Xen's console ring: from *index if incremental, else all of it.
 * Returns bytes written to buf (>= 0) or -errno; *index gets the new end.
 */
int xenctl_readconsole(char *buf, uint32_t size, bool incremental, uint32_t *index);
/* Empties Xen's console ring (xl dmesg -c). */
int xenctl_clearconsole(void);

/* A new PV domain: *domid gets its id. */
int xenctl_createdomain(const struct xenabi_createdomain *c, domid_t *domid);
int xenctl_max_vcpus(domid_t dom, uint32_t max);
int xenctl_max_mem(domid_t dom, uint64_t max_kib);
int xenctl_setvcpucontext(domid_t dom, uint32_t vcpu, struct vcpu_guest_context *ctxt);
int xenctl_hypercall_init(domid_t dom, uint64_t gmfn);
int xenctl_pausedomain(domid_t dom);
int xenctl_unpausedomain(domid_t dom);
/* One XEN_DOMCTL_destroydomain: -EAGAIN while Xen is still freeing. */
int xenctl_destroydomain(domid_t dom);

#endif

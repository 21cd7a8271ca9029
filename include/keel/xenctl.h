/*
 * dom0's control-plane calls into Xen: sysctl and domctl with the interface
 * versions of the headers we build against (Xen 4.17: both 0x15; any other
 * value gets -EACCES, fact 25).  All return 0 or a negative errno.
 */
#ifndef KEEL_XENCTL_H
#define KEEL_XENCTL_H

#include <lib/base.h>
#include <xen/domctl.h>
#include <xen/sysctl.h>

int xenctl_physinfo(struct xen_sysctl_physinfo *out);
int xenctl_sched_id(uint32_t *out);
/* Fills up to max entries starting at domid first; *n gets the count. */
int xenctl_domain_list(domid_t first, struct xen_domctl_getdomaininfo *out, uint32_t max,
		       uint32_t *n);
int xenctl_domain_info(domid_t dom, struct xen_domctl_getdomaininfo *out);
/*
 * Reads Xen's console ring: from *index if incremental, else all of it.
 * Returns bytes written to buf (>= 0) or -errno; *index gets the new end.
 */
int xenctl_readconsole(char *buf, uint32_t size, bool incremental, uint32_t *index);
int xenctl_domctl(struct xen_domctl *op);
int xenctl_sysctl(struct xen_sysctl *op);

#endif

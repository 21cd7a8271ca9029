/* sysctl/domctl wrappers (see include/keel/xenctl.h). */
#include <keel/hypercall.h>
#include <keel/xenctl.h>

int xenctl_sysctl(struct xen_sysctl *op)
{
	op->interface_version = XEN_SYSCTL_INTERFACE_VERSION;
	return (int)hyp_sysctl(op);
}

int xenctl_domctl(struct xen_domctl *op)
{
	op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
	return (int)hyp_domctl(op);
}

int xenctl_physinfo(struct xen_sysctl_physinfo *out)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_physinfo };
	int rc = xenctl_sysctl(&op);

	if (!rc)
		*out = op.u.physinfo;
	return rc;
}

int xenctl_sched_id(uint32_t *out)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_sched_id };
	int rc = xenctl_sysctl(&op);

	if (!rc)
		*out = op.u.sched_id.sched_id;
	return rc;
}

int xenctl_domain_list(domid_t first, struct xen_domctl_getdomaininfo *out, uint32_t max,
		       uint32_t *n)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_getdomaininfolist };

	op.u.getdomaininfolist.first_domain = first;
	op.u.getdomaininfolist.max_domains = max;
	set_xen_guest_handle(op.u.getdomaininfolist.buffer, out);
	int rc = xenctl_sysctl(&op);
	if (!rc)
		*n = op.u.getdomaininfolist.num_domains;
	return rc;
}

int xenctl_domain_info(domid_t dom, struct xen_domctl_getdomaininfo *out)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo, .domain = dom };
	int rc = xenctl_domctl(&op);

	if (!rc) {
		*out = op.u.getdomaininfo;
		if (out->domain != dom)
			return -ESRCH; /* Xen returns the next domain up */
	}
	return rc;
}

int xenctl_readconsole(char *buf, uint32_t size, bool incremental, uint32_t *index)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_readconsole };

	op.u.readconsole.incremental = incremental;
	op.u.readconsole.index = incremental ? *index : 0;
	op.u.readconsole.count = size;
	set_xen_guest_handle(op.u.readconsole.buffer, buf);
	int rc = xenctl_sysctl(&op);
	if (rc)
		return rc;
	if (index)
		*index = op.u.readconsole.index;
	return (int)op.u.readconsole.count;
}

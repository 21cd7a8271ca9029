/*
 * The domctl/sysctl calls of <keel/xenctl.h>: picks the running Xen's
 * release table at boot and forwards each call to it.  The layouts live in
 * xen/abi/ only.
 */
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/xenctl.h>

/* Newest first: the first whose interface versions Xen accepts is used. */
static const struct xenabi *const xenabi_releases[] = {
	&xenabi_v420,
	&xenabi_v417,
};

static const struct xenabi *abi;

long xenabi_hypercall_domctl(void *op)
{
	return hyp_domctl(op);
}

long xenabi_hypercall_sysctl(void *op)
{
	return hyp_sysctl(op);
}

static char xen_version[48];
static char refusal[256];

/*
 * Xen answers -EACCES to a domctl/sysctl of another interface version before
 * it reads anything else (xen/common/domctl.c), so a harmless call of each
 * family tells whether a table's layouts are the ones this Xen expects.
 * The release number alone would not do: a release keel has no row for may
 * still speak a known interface (interface versions change only when a
 * layout does), and one that does not must be refused whatever its number.
 */
static bool abi_accepted(const struct xenabi *a)
{
	return a->probe_domctl() != -EACCES && a->probe_sysctl() != -EACCES;
}

void xenctl_init(void)
{
	long ver = hyp_xen_version(XENVER_version, NULL);
	xen_extraversion_t extra;
	char names[96];
	size_t len = 0;

	memset(extra, 0, sizeof(extra));
	hyp_xen_version(XENVER_extraversion, extra);
	extra[sizeof(extra) - 1] = 0;
	snprintf(xen_version, sizeof(xen_version), "%ld.%ld%s", ver >> 16, ver & 0xffff, extra);

	/* The test hook plays a Xen keel does not speak (test_xen420.py). */
	bool pretend_unknown = !strcmp(boot_opts.test, "xenabi-none");
	names[0] = 0;
	for (size_t i = 0; i < ARRAY_SIZE(xenabi_releases); i++) {
		const struct xenabi *a = xenabi_releases[i];

		len += snprintf(names + len, sizeof(names) - MIN(len, sizeof(names)),
				"%s%s (domctl 0x%x)", i ? ", " : "", a->release,
				a->domctl_version);
		if (!abi && !pretend_unknown && abi_accepted(a))
			abi = a;
	}
	if (!abi) {
		snprintf(refusal, sizeof(refusal),
			 "Xen %s speaks none of the domctl/sysctl interfaces keel knows"
			 " (%s): domain operations are refused%s", xen_version, names,
			 pretend_unknown ? " (test=xenabi-none)" : "");
		klog("xen: %s\n", refusal);
		return;
	}
	char release[16];
	snprintf(release, sizeof(release), "%ld.%ld", ver >> 16, ver & 0xffff);
	klog("xen: Xen %s: domctl interface 0x%x, sysctl 0x%x (keel's Xen %s layouts%s)\n",
	     xen_version, abi->domctl_version, abi->sysctl_version, abi->release,
	     strcmp(release, abi->release) ? ", same interface versions" : "");
}

const struct xenabi *xenctl_abi(void)
{
	return abi;
}

const char *xenctl_xen_version(void)
{
	return xen_version;
}

const char *xenctl_refusal(void)
{
	return abi ? NULL : refusal;
}

#define CALL(fn, ...) (abi ? abi->fn(__VA_ARGS__) : -ENOSYS)

int xenctl_physinfo(struct xenabi_physinfo *out)
{
	return CALL(physinfo, out);
}

int xenctl_sched_name(const char **name)
{
	return CALL(sched_name, name);
}

int xenctl_credit2_ratelimit(uint32_t pool, bool set, uint32_t *ratelimit_us)
{
	return CALL(credit2_ratelimit, pool, set, ratelimit_us);
}

int xenctl_credit2_domain(domid_t dom, bool set, uint16_t *weight, uint16_t *cap)
{
	return CALL(credit2_domain, dom, set, weight, cap);
}

int xenctl_domain_list(domid_t first, struct xenabi_dominfo *out, uint32_t max, uint32_t *n)
{
	return CALL(getdomaininfolist, first, out, max, n);
}

int xenctl_domain_info(domid_t dom, struct xenabi_dominfo *out)
{
	int rc = CALL(getdomaininfo, dom, out);

	if (!rc && out->domain != dom)
		return -ESRCH; /* Xen returns the next domain up */
	return rc;
}

int xenctl_vcpu_info(domid_t dom, uint32_t vcpu, struct xenabi_vcpuinfo *out)
{
	return CALL(getvcpuinfo, dom, vcpu, out);
}

int xenctl_readconsole(char *buf, uint32_t size, bool incremental, uint32_t *index)
{
	return CALL(readconsole, buf, size, incremental, index);
}

int xenctl_clearconsole(void)
{
	return abi ? abi->clearconsole() : -ENOSYS;
}

int xenctl_createdomain(const struct xenabi_createdomain *c, domid_t *domid)
{
	return CALL(createdomain, c, domid);
}

int xenctl_max_vcpus(domid_t dom, uint32_t max)
{
	return CALL(max_vcpus, dom, max);
}

int xenctl_max_mem(domid_t dom, uint64_t max_kib)
{
	return CALL(max_mem, dom, max_kib);
}

int xenctl_setvcpucontext(domid_t dom, uint32_t vcpu, struct vcpu_guest_context *ctxt)
{
	return CALL(setvcpucontext, dom, vcpu, ctxt);
}

int xenctl_hypercall_init(domid_t dom, uint64_t gmfn)
{
	return CALL(hypercall_init, dom, gmfn);
}

int xenctl_pausedomain(domid_t dom)
{
	return CALL(pausedomain, dom);
}

int xenctl_unpausedomain(domid_t dom)
{
	return CALL(unpausedomain, dom);
}

int xenctl_destroydomain(domid_t dom)
{
	return CALL(destroydomain, dom);
}

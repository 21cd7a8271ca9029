/*
 * The domctl/sysctl calls of one Xen release, written once and compiled
 * once per release: each xen/abi/vNNN.c checks its release's layouts, then
 * includes this file after that release's <xen/domctl.h> and <xen/sysctl.h>
 * (the Makefile puts that release's public headers first on the include
 * path), with XENABI_RELEASE ("4.20") and XENABI_NAME (xenabi_v420) defined.
 * Pure: the hypercalls themselves are xenabi_hypercall_*() (xen/xenctl.c in
 * the kernel, fakes in tests/unit/test_xenabi.c).
 * The same field names thus land at each release's own offsets; nothing
 * here is a retyped layout.  Only xen/abi/ may include this file.
 */
#if !defined(XENABI_RELEASE) || !defined(XENABI_NAME)
#error "xen/abi/template.h is included by xen/abi/vNNN.c only"
#endif

#include <keel/xenabi.h>

/* keel's neutral flags are Xen's bits (xenabi.h): checked per release. */
_Static_assert(XEN_DOMINF_dying == XENABI_DOMINF_dying, "XEN_DOMINF_dying moved");
_Static_assert(XEN_DOMINF_hvm_guest == XENABI_DOMINF_hvm_guest, "XEN_DOMINF_hvm_guest moved");
_Static_assert(XEN_DOMINF_shutdown == XENABI_DOMINF_shutdown, "XEN_DOMINF_shutdown moved");
_Static_assert(XEN_DOMINF_paused == XENABI_DOMINF_paused, "XEN_DOMINF_paused moved");
_Static_assert(XEN_DOMINF_blocked == XENABI_DOMINF_blocked, "XEN_DOMINF_blocked moved");
_Static_assert(XEN_DOMINF_running == XENABI_DOMINF_running, "XEN_DOMINF_running moved");
_Static_assert(XEN_DOMINF_debugged == XENABI_DOMINF_debugged, "XEN_DOMINF_debugged moved");
_Static_assert(XEN_DOMINF_shutdownshift == XENABI_DOMINF_shutdownshift, "shutdownshift moved");
_Static_assert(XEN_DOMINF_shutdownmask == XENABI_DOMINF_shutdownmask, "shutdownmask moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_hvm == XENABI_PHYSCAP_hvm, "PHYSCAP_hvm moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_pv == XENABI_PHYSCAP_pv, "PHYSCAP_pv moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_directio == XENABI_PHYSCAP_directio, "PHYSCAP_directio moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_hap == XENABI_PHYSCAP_hap, "PHYSCAP_hap moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_shadow == XENABI_PHYSCAP_shadow, "PHYSCAP_shadow moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_gnttab_v1 == XENABI_PHYSCAP_gnttab_v1, "PHYSCAP_gnttab_v1 moved");
_Static_assert(XEN_SYSCTL_PHYSCAP_gnttab_v2 == XENABI_PHYSCAP_gnttab_v2, "PHYSCAP_gnttab_v2 moved");
/* The handle is copied with memcpy between keel's and Xen's. */
_Static_assert(sizeof(((struct xen_domctl_createdomain *)0)->handle) ==
	       sizeof(((struct xenabi_createdomain *)0)->handle), "domain handle size");
_Static_assert(sizeof(((struct xen_domctl_getdomaininfo *)0)->handle) ==
	       sizeof(((struct xenabi_dominfo *)0)->handle), "domain handle size");

static int domctl(struct xen_domctl *op)
{
	op->interface_version = XEN_DOMCTL_INTERFACE_VERSION;
	return (int)xenabi_hypercall_domctl(op);
}

static int sysctl(struct xen_sysctl *op)
{
	op->interface_version = XEN_SYSCTL_INTERFACE_VERSION;
	return (int)xenabi_hypercall_sysctl(op);
}

static void dominfo_from_xen(struct xenabi_dominfo *out, const struct xen_domctl_getdomaininfo *in)
{
	out->domain = in->domain;
	out->flags = in->flags;
	out->tot_pages = in->tot_pages;
	out->max_pages = in->max_pages;
	out->outstanding_pages = in->outstanding_pages;
	out->shared_info_frame = in->shared_info_frame;
	out->cpu_time = in->cpu_time;
	out->nr_online_vcpus = in->nr_online_vcpus;
	out->max_vcpu_id = in->max_vcpu_id;
	out->ssidref = in->ssidref;
	out->cpupool = in->cpupool;
	memcpy(out->handle, in->handle, sizeof(out->handle));
}

static int abi_getdomaininfo(domid_t domid, struct xenabi_dominfo *out)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getdomaininfo, .domain = domid };
	int rc = domctl(&op);

	if (!rc)
		dominfo_from_xen(out, &op.u.getdomaininfo);
	return rc;
}

static int abi_probe_domctl(void)
{
	struct xenabi_dominfo info;

	return abi_getdomaininfo(0, &info);
}

static int abi_sched_id(uint32_t *id)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_sched_id };
	int rc = sysctl(&op);

	if (!rc)
		*id = op.u.sched_id.sched_id;
	return rc;
}

static int abi_probe_sysctl(void)
{
	uint32_t id;

	return abi_sched_id(&id);
}

static int abi_sched_name(const char **name)
{
	uint32_t id = 0;
	int rc = abi_sched_id(&id);

	if (rc)
		return rc;
	*name = id == XEN_SCHEDULER_CREDIT2 ? "credit2"
	      : id == XEN_SCHEDULER_CREDIT ? "credit"
	      : id == XEN_SCHEDULER_RTDS ? "rtds"
	      : id == XEN_SCHEDULER_ARINC653 ? "arinc653"
	      : id == XEN_SCHEDULER_NULL ? "null" : "unknown";
	return 0;
}

static int abi_credit2_ratelimit(uint32_t pool, bool set, uint32_t *ratelimit_us)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_scheduler_op };

	op.u.scheduler_op.cpupool_id = pool;
	op.u.scheduler_op.sched_id = XEN_SCHEDULER_CREDIT2;
	op.u.scheduler_op.cmd = set ? XEN_SYSCTL_SCHEDOP_putinfo : XEN_SYSCTL_SCHEDOP_getinfo;
	if (set)
		op.u.scheduler_op.u.sched_credit2.ratelimit_us = *ratelimit_us;
	int rc = sysctl(&op);
	if (!rc && !set)
		*ratelimit_us = op.u.scheduler_op.u.sched_credit2.ratelimit_us;
	return rc;
}

static int abi_credit2_domain(domid_t domid, bool set, uint16_t *weight, uint16_t *cap)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_scheduler_op, .domain = domid };

	op.u.scheduler_op.sched_id = XEN_SCHEDULER_CREDIT2;
	op.u.scheduler_op.cmd = set ? XEN_DOMCTL_SCHEDOP_putinfo : XEN_DOMCTL_SCHEDOP_getinfo;
	if (set) {
		op.u.scheduler_op.u.credit2.weight = *weight;
		op.u.scheduler_op.u.credit2.cap = *cap;
	}
	int rc = domctl(&op);
	if (!rc && !set) {
		*weight = op.u.scheduler_op.u.credit2.weight;
		*cap = op.u.scheduler_op.u.credit2.cap;
	}
	return rc;
}

static int abi_createdomain(const struct xenabi_createdomain *c, domid_t *domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_createdomain, .domain = 0 };
	struct xen_domctl_createdomain *cd = &op.u.createdomain;

	memcpy(cd->handle, c->handle, sizeof(cd->handle));
	cd->flags = 0; /* PV */
	cd->max_vcpus = c->max_vcpus;
	cd->max_evtchn_port = c->max_evtchn_port;
	cd->max_grant_frames = c->max_grant_frames;
	cd->max_maptrack_frames = c->max_maptrack_frames;
	cd->grant_opts = XEN_DOMCTL_GRANT_version(c->grant_version);
	cd->cpupool_id = c->cpupool_id;
	int rc = domctl(&op);
	if (!rc)
		*domid = op.domain;
	return rc;
}

static int abi_max_vcpus(domid_t domid, uint32_t max)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_max_vcpus, .domain = domid };

	op.u.max_vcpus.max = max;
	return domctl(&op);
}

static int abi_max_mem(domid_t domid, uint64_t max_kib)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_max_mem, .domain = domid };

	op.u.max_mem.max_memkb = max_kib;
	return domctl(&op);
}

static int abi_setvcpucontext(domid_t domid, uint32_t vcpu, struct vcpu_guest_context *ctxt)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_setvcpucontext, .domain = domid };

	op.u.vcpucontext.vcpu = vcpu;
	set_xen_guest_handle(op.u.vcpucontext.ctxt, ctxt);
	return domctl(&op);
}

static int abi_hypercall_init(domid_t domid, uint64_t gmfn)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_hypercall_init, .domain = domid };

	op.u.hypercall_init.gmfn = gmfn;
	return domctl(&op);
}

static int abi_pausedomain(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_pausedomain, .domain = domid };

	return domctl(&op);
}

static int abi_unpausedomain(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_unpausedomain, .domain = domid };

	return domctl(&op);
}

static int abi_destroydomain(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_destroydomain, .domain = domid };

	return domctl(&op);
}

static int abi_getvcpuinfo(domid_t domid, uint32_t vcpu, struct xenabi_vcpuinfo *out)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_getvcpuinfo, .domain = domid };

	op.u.getvcpuinfo.vcpu = vcpu;
	int rc = domctl(&op);
	if (rc)
		return rc;
	out->online = op.u.getvcpuinfo.online;
	out->blocked = op.u.getvcpuinfo.blocked;
	out->running = op.u.getvcpuinfo.running;
	out->cpu_time = op.u.getvcpuinfo.cpu_time;
	out->cpu = op.u.getvcpuinfo.cpu;
	return 0;
}

/* Xen fills an array of its own layout: read it in batches of this many. */
#define DOMINFO_BATCH 8

static int abi_getdomaininfolist(domid_t first, struct xenabi_dominfo *out, uint32_t max,
				 uint32_t *n)
{
	struct xen_domctl_getdomaininfo batch[DOMINFO_BATCH];
	uint32_t got = 0;

	while (got < max) {
		struct xen_sysctl op = { .cmd = XEN_SYSCTL_getdomaininfolist };
		uint32_t want = MIN(max - got, (uint32_t)DOMINFO_BATCH);

		op.u.getdomaininfolist.first_domain = first;
		op.u.getdomaininfolist.max_domains = want;
		set_xen_guest_handle(op.u.getdomaininfolist.buffer, batch);
		int rc = sysctl(&op);
		if (rc)
			return rc;
		uint32_t num = MIN((uint32_t)op.u.getdomaininfolist.num_domains, want);
		for (uint32_t i = 0; i < num; i++)
			dominfo_from_xen(&out[got + i], &batch[i]);
		got += num;
		if (num < want || batch[num - 1].domain + 1u >= DOMID_FIRST_RESERVED)
			break;
		first = (domid_t)(batch[num - 1].domain + 1);
	}
	*n = got;
	return 0;
}

static int abi_physinfo(struct xenabi_physinfo *out)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_physinfo };
	int rc = sysctl(&op);

	if (rc)
		return rc;
	const struct xen_sysctl_physinfo *pi = &op.u.physinfo;
	out->threads_per_core = pi->threads_per_core;
	out->cores_per_socket = pi->cores_per_socket;
	out->nr_cpus = pi->nr_cpus;
	out->max_cpu_id = pi->max_cpu_id;
	out->nr_nodes = pi->nr_nodes;
	out->max_node_id = pi->max_node_id;
	out->cpu_khz = pi->cpu_khz;
	out->capabilities = pi->capabilities;
	out->total_pages = pi->total_pages;
	out->free_pages = pi->free_pages;
	out->scrub_pages = pi->scrub_pages;
	out->outstanding_pages = pi->outstanding_pages;
	_Static_assert(sizeof(pi->hw_cap) == sizeof(out->hw_cap), "hw_cap size");
	memcpy(out->hw_cap, pi->hw_cap, sizeof(out->hw_cap));
	return 0;
}

static int abi_readconsole(char *buf, uint32_t size, bool incremental, uint32_t *index)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_readconsole };

	op.u.readconsole.incremental = incremental;
	op.u.readconsole.index = incremental && index ? *index : 0;
	op.u.readconsole.count = size;
	set_xen_guest_handle(op.u.readconsole.buffer, buf);
	int rc = sysctl(&op);
	if (rc)
		return rc;
	if (index)
		*index = op.u.readconsole.index;
	return (int)op.u.readconsole.count;
}

static int abi_clearconsole(void)
{
	struct xen_sysctl op = { .cmd = XEN_SYSCTL_readconsole };
	char none;

	op.u.readconsole.clear = 1;
	op.u.readconsole.count = 0;
	set_xen_guest_handle(op.u.readconsole.buffer, &none);
	return sysctl(&op);
}

const struct xenabi XENABI_NAME = {
	.release = XENABI_RELEASE,
	.domctl_version = XEN_DOMCTL_INTERFACE_VERSION,
	.sysctl_version = XEN_SYSCTL_INTERFACE_VERSION,
	.probe_domctl = abi_probe_domctl,
	.probe_sysctl = abi_probe_sysctl,
	.createdomain = abi_createdomain,
	.max_vcpus = abi_max_vcpus,
	.max_mem = abi_max_mem,
	.setvcpucontext = abi_setvcpucontext,
	.hypercall_init = abi_hypercall_init,
	.pausedomain = abi_pausedomain,
	.unpausedomain = abi_unpausedomain,
	.destroydomain = abi_destroydomain,
	.getdomaininfo = abi_getdomaininfo,
	.getvcpuinfo = abi_getvcpuinfo,
	.getdomaininfolist = abi_getdomaininfolist,
	.physinfo = abi_physinfo,
	.sched_name = abi_sched_name,
	.credit2_ratelimit = abi_credit2_ratelimit,
	.credit2_domain = abi_credit2_domain,
	.readconsole = abi_readconsole,
	.clearconsole = abi_clearconsole,
};

/*
 * Xen 4.20's domctl and sysctl calls: xen/abi/template.h compiled against
 * trixie's libxen-dev 4.20 (fetched by scripts/fetch-xen420.sh).
 * The Makefile puts those headers first on this file's include path; the
 * checks below stop the build if they are not the ones this file is for,
 * or if any layout keel relies on is not where it was when keel was tested
 * on Xen 4.20.  Exports xenabi_v420.
 */
#include <lib/base.h> /* the integer types Xen's headers expect */
#include <xen/domctl.h>
#include <xen/sysctl.h>

_Static_assert(XEN_DOMCTL_INTERFACE_VERSION == 0x17,
	       "xen/abi/v420.c is not compiled against Xen 4.20's headers (domctl interface)");
_Static_assert(XEN_SYSCTL_INTERFACE_VERSION == 0x15,
	       "xen/abi/v420.c is not compiled against Xen 4.20's headers (sysctl interface)");


#define SIZE(s, n) _Static_assert(sizeof(struct s) == (n), "Xen 4.20: sizeof " #s)
#define AT(s, f, n) \
	_Static_assert(__builtin_offsetof(struct s, f) == (n), "Xen 4.20: " #s "." #f)
SIZE(xen_domctl, 144);
SIZE(xen_sysctl, 136);
AT(xen_domctl, u, 16);
AT(xen_sysctl, u, 8);
SIZE(xen_domctl_createdomain, 68);
AT(xen_domctl_createdomain, handle, 4);
AT(xen_domctl_createdomain, flags, 20);
AT(xen_domctl_createdomain, max_vcpus, 28);
AT(xen_domctl_createdomain, max_evtchn_port, 32);
AT(xen_domctl_createdomain, max_grant_frames, 36);
AT(xen_domctl_createdomain, max_maptrack_frames, 40);
AT(xen_domctl_createdomain, grant_opts, 44);
AT(xen_domctl_createdomain, cpupool_id, 56);
AT(xen_domctl_createdomain, arch, 60);
SIZE(xen_domctl_getdomaininfo, 112);
AT(xen_domctl_getdomaininfo, flags, 4);
AT(xen_domctl_getdomaininfo, tot_pages, 8);
AT(xen_domctl_getdomaininfo, max_pages, 16);
AT(xen_domctl_getdomaininfo, outstanding_pages, 24);
AT(xen_domctl_getdomaininfo, shared_info_frame, 48);
AT(xen_domctl_getdomaininfo, cpu_time, 56);
AT(xen_domctl_getdomaininfo, nr_online_vcpus, 64);
AT(xen_domctl_getdomaininfo, max_vcpu_id, 68);
AT(xen_domctl_getdomaininfo, ssidref, 72);
AT(xen_domctl_getdomaininfo, handle, 76);
AT(xen_domctl_getdomaininfo, cpupool, 92);
SIZE(xen_domctl_getvcpuinfo, 24);
AT(xen_domctl_getvcpuinfo, online, 4);
AT(xen_domctl_getvcpuinfo, blocked, 5);
AT(xen_domctl_getvcpuinfo, running, 6);
AT(xen_domctl_getvcpuinfo, cpu_time, 8);
AT(xen_domctl_getvcpuinfo, cpu, 16);
AT(xen_domctl_max_mem, max_memkb, 0);
AT(xen_domctl_vcpucontext, ctxt, 8);
AT(xen_domctl_hypercall_init, gmfn, 0);
AT(xen_domctl_max_vcpus, max, 0);
SIZE(xen_sysctl_physinfo, 112);
AT(xen_sysctl_physinfo, nr_cpus, 8);
AT(xen_sysctl_physinfo, max_cpu_id, 12);
AT(xen_sysctl_physinfo, nr_nodes, 16);
AT(xen_sysctl_physinfo, max_node_id, 20);
AT(xen_sysctl_physinfo, cpu_khz, 24);
AT(xen_sysctl_physinfo, capabilities, 28);
AT(xen_sysctl_physinfo, total_pages, 40);
AT(xen_sysctl_physinfo, free_pages, 48);
AT(xen_sysctl_physinfo, scrub_pages, 56);
AT(xen_sysctl_physinfo, outstanding_pages, 64);
AT(xen_sysctl_physinfo, hw_cap, 80);
SIZE(xen_sysctl_readconsole, 24);
AT(xen_sysctl_readconsole, clear, 0);
AT(xen_sysctl_readconsole, incremental, 1);
AT(xen_sysctl_readconsole, buffer, 8);
AT(xen_sysctl_readconsole, count, 16);
AT(xen_sysctl_readconsole, index, 4);
AT(xen_sysctl_getdomaininfolist, first_domain, 0);
AT(xen_sysctl_getdomaininfolist, max_domains, 4);
AT(xen_sysctl_getdomaininfolist, buffer, 8);
AT(xen_sysctl_getdomaininfolist, num_domains, 16);
AT(xen_sysctl_sched_id, sched_id, 0);
AT(xen_sysctl_scheduler_op, cpupool_id, 0);
AT(xen_sysctl_scheduler_op, sched_id, 4);
AT(xen_sysctl_scheduler_op, cmd, 8);
AT(xen_sysctl_scheduler_op, u.sched_credit2.ratelimit_us, 16);
AT(xen_domctl_scheduler_op, sched_id, 0);
AT(xen_domctl_scheduler_op, cmd, 4);
AT(xen_domctl_scheduler_op, u.credit2.weight, 8);
AT(xen_domctl_scheduler_op, u.credit2.cap, 10);
_Static_assert(XEN_SCHEDULER_CREDIT2 == 6 && XEN_SYSCTL_SCHEDOP_getinfo == 1 &&
	       XEN_DOMCTL_SCHEDOP_getinfo == 1, "scheduler_op constants");
/* Since 4.19 createdomain has altp2m_opts after grant_opts, moving what follows by 4. */
AT(xen_domctl_createdomain, altp2m_opts, 48);
AT(xen_domctl_createdomain, vmtrace_size, 52);
#undef SIZE
#undef AT

#define XENABI_RELEASE "4.20"
#define XENABI_NAME xenabi_v420
#include "template.h"

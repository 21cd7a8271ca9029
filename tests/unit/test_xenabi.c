/*
 * The per-release domctl/sysctl tables (xen/abi/v417.c, v420.c, each built
 * against its own release's headers, tests/unit/xenabi.mk) against a fake Xen
 * that reads and writes the raw bytes at the offsets Xen 4.17 and 4.20
 * define (written out here from their public headers, independently of the
 * code under test): each table sends its own interface version, puts each
 * field where its release expects it, and reads Xen's answers back; a fake
 * Xen of the other release answers -EACCES, as the real one does.
 */
#include "harness.h"
#include <keel/xenabi.h>

/* Stable across both releases: the command numbers and the headers of the
 * two calls (cmd @0, interface_version @4, domctl: domain @8, u @16;
 * sysctl: u @8). */
enum { DOMCTL_createdomain = 1, DOMCTL_destroydomain = 2, DOMCTL_pausedomain = 3,
       DOMCTL_unpausedomain = 4, DOMCTL_getdomaininfo = 5, DOMCTL_max_mem = 11,
       DOMCTL_setvcpucontext = 12, DOMCTL_getvcpuinfo = 14, DOMCTL_max_vcpus = 15,
       DOMCTL_hypercall_init = 22, DOMCTL_scheduler_op = 16 };
enum { SYSCTL_readconsole = 1, SYSCTL_physinfo = 3, SYSCTL_sched_id = 4,
       SYSCTL_getdomaininfolist = 6, SYSCTL_scheduler_op = 19 };
#define DOMCTL_U 16
#define SYSCTL_U 8
#define DOMINFO_SIZE 112 /* struct xen_domctl_getdomaininfo, both releases */
#define EACCES_ 13

/* The fake hypervisor. */
static uint32_t xen_domctl_version, xen_sysctl_version = 0x15;
static uint8_t last_domctl[144];
static int domctl_calls, sysctl_calls;
static unsigned int nr_domains = 20; /* domids 0..nr_domains-1 */
/* Credit2 settings the fake keeps: the pool's rate limit, domain 3's weight/cap. */
static uint32_t fake_ratelimit = 1000;
static uint16_t fake_weight = 256, fake_cap;
static uint32_t max_batch_seen;

static uint32_t rd32(const void *p, size_t off)
{
	uint32_t v;
	memcpy(&v, (const uint8_t *)p + off, 4);
	return v;
}

static uint16_t rd16(const void *p, size_t off)
{
	uint16_t v;
	memcpy(&v, (const uint8_t *)p + off, 2);
	return v;
}

static void wr32(void *p, size_t off, uint32_t v)
{
	memcpy((uint8_t *)p + off, &v, 4);
}

static void wr64(void *p, size_t off, uint64_t v)
{
	memcpy((uint8_t *)p + off, &v, 8);
}

static void wr16(void *p, size_t off, uint16_t v)
{
	memcpy((uint8_t *)p + off, &v, 2);
}

/* One domain's getdomaininfo as Xen writes it (offsets of both releases). */
static void fill_dominfo(uint8_t *d, uint16_t domid)
{
	memset(d, 0, DOMINFO_SIZE);
	wr16(d, 0, domid);
	wr32(d, 4, (1u << 3) | (1u << 2) | (3u << 16)); /* paused, shutdown, reason 3 */
	wr64(d, 8, 1000 + domid);   /* tot_pages */
	wr64(d, 16, 2000 + domid);  /* max_pages */
	wr64(d, 24, 7);             /* outstanding_pages */
	wr64(d, 48, 0xabcde);       /* shared_info_frame */
	wr64(d, 56, 123456789);     /* cpu_time */
	wr32(d, 64, 1);             /* nr_online_vcpus */
	wr32(d, 68, 0);             /* max_vcpu_id */
	wr32(d, 72, 0x5a);          /* ssidref */
	d[76] = 0xee;               /* handle[0] */
	wr32(d, 92, 4);             /* cpupool */
}

long xenabi_hypercall_domctl(void *op)
{
	uint8_t *b = op;

	domctl_calls++;
	memcpy(last_domctl, b, sizeof(last_domctl));
	if (rd32(b, 4) != xen_domctl_version)
		return -EACCES_;
	switch (rd32(b, 0)) {
	case DOMCTL_createdomain:
		wr16(b, 8, 42);
		return 0;
	case DOMCTL_getdomaininfo:
		fill_dominfo(b + DOMCTL_U, rd16(b, 8));
		return 0;
	case DOMCTL_scheduler_op: /* sched_id @0, cmd @4, credit2 weight @8, cap @10 */
		if (rd32(b, DOMCTL_U) != 6 || rd16(b, 8) != 3)
			return -22;
		if (rd32(b, DOMCTL_U + 4) == 1) { /* getinfo */
			wr16(b, DOMCTL_U + 8, fake_weight);
			wr16(b, DOMCTL_U + 10, fake_cap);
		} else {
			fake_weight = rd16(b, DOMCTL_U + 8);
			fake_cap = rd16(b, DOMCTL_U + 10);
		}
		return 0;
	case DOMCTL_getvcpuinfo: /* vcpu @0, online @4, blocked @5, running @6, cpu_time @8, cpu @16 */
		b[DOMCTL_U + 4] = 1;
		b[DOMCTL_U + 6] = 1;
		wr64(b, DOMCTL_U + 8, 555);
		wr32(b, DOMCTL_U + 16, 0);
		return 0;
	default:
		return 0;
	}
}

long xenabi_hypercall_sysctl(void *op)
{
	uint8_t *b = op;

	sysctl_calls++;
	if (rd32(b, 4) != xen_sysctl_version)
		return -EACCES_;
	switch (rd32(b, 0)) {
	case SYSCTL_sched_id:
		wr32(b, SYSCTL_U, 6); /* XEN_SCHEDULER_CREDIT2 */
		return 0;
	case SYSCTL_scheduler_op: /* pool @0, sched_id @4, cmd @8, ratelimit_us @16 */
		if (rd32(b, SYSCTL_U) != 0 || rd32(b, SYSCTL_U + 4) != 6)
			return -22;
		if (rd32(b, SYSCTL_U + 8) == 1)
			wr32(b, SYSCTL_U + 16, fake_ratelimit);
		else
			fake_ratelimit = rd32(b, SYSCTL_U + 16);
		return 0;
	case SYSCTL_physinfo: /* nr_cpus @8, cpu_khz @24, capabilities @28, total @40, free @48 */
		wr32(b, SYSCTL_U + 8, 1);
		wr32(b, SYSCTL_U + 24, 2400000);
		wr32(b, SYSCTL_U + 28, (1u << 1) | (1u << 8));
		wr64(b, SYSCTL_U + 40, 262144);
		wr64(b, SYSCTL_U + 48, 190000);
		wr32(b, SYSCTL_U + 80, 0x1234); /* hw_cap[0] */
		return 0;
	case SYSCTL_getdomaininfolist: { /* first @0, max @4, buffer @8, num @16 */
		uint16_t first = rd16(b, SYSCTL_U);
		uint32_t max = rd32(b, SYSCTL_U + 4), n = 0;
		uint8_t *buf;
		memcpy(&buf, b + SYSCTL_U + 8, sizeof(buf));
		if (max > max_batch_seen)
			max_batch_seen = max;
		for (unsigned int d = first; d < nr_domains && n < max; d++, n++)
			fill_dominfo(buf + n * DOMINFO_SIZE, (uint16_t)d);
		wr32(b, SYSCTL_U + 16, n);
		return 0;
	}
	default:
		return 0;
	}
}

static const struct xenabi *as_xen(const struct xenabi *a, uint32_t domctl_version)
{
	xen_domctl_version = domctl_version;
	domctl_calls = sysctl_calls = 0;
	memset(last_domctl, 0, sizeof(last_domctl));
	return a;
}

static const struct xenabi_createdomain spec = {
	.handle = { 0xde, 0xad }, .max_vcpus = 2, .max_evtchn_port = 1023,
	.max_grant_frames = 32, .max_maptrack_frames = -1, .grant_version = 1, .cpupool_id = 9,
};

TEST(interface_versions)
{
	CHECK_STR(xenabi_v417.release, "4.17");
	CHECK_EQ(xenabi_v417.domctl_version, 0x15);
	CHECK_EQ(xenabi_v417.sysctl_version, 0x15);
	CHECK_STR(xenabi_v420.release, "4.20");
	CHECK_EQ(xenabi_v420.domctl_version, 0x17);
	CHECK_EQ(xenabi_v420.sysctl_version, 0x15);
}

/* The probe keel chooses a table with: the other release's Xen refuses. */
TEST(probe_tells_releases_apart)
{
	CHECK_EQ(as_xen(&xenabi_v417, 0x17)->probe_domctl(), -EACCES_);
	CHECK_EQ(as_xen(&xenabi_v420, 0x15)->probe_domctl(), -EACCES_);
	CHECK_EQ(as_xen(&xenabi_v417, 0x15)->probe_domctl(), 0);
	CHECK_EQ(as_xen(&xenabi_v420, 0x17)->probe_domctl(), 0);
	CHECK_EQ(xenabi_v420.probe_sysctl(), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_getdomaininfo);
	CHECK_EQ(rd16(last_domctl, 8), 0); /* of dom0 */
}

/* createdomain: the one layout that differs (4.19 added altp2m_opts @48). */
static void check_createdomain(const struct xenabi *a, uint32_t version, size_t cpupool_off)
{
	domid_t domid = 0;

	CHECK_EQ(as_xen(a, version)->createdomain(&spec, &domid), 0);
	CHECK_EQ(domid, 42);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_createdomain);
	CHECK_EQ(rd32(last_domctl, 4), version);
	CHECK_EQ(rd16(last_domctl, 8), 0);           /* Xen picks the domid */
	const uint8_t *u = last_domctl + DOMCTL_U;
	CHECK_EQ(u[4], 0xde);                                  /* handle @4 */
	CHECK_EQ(rd32(u, 20), 0);                              /* flags: PV */
	CHECK_EQ(rd32(u, 28), 2);                              /* max_vcpus */
	CHECK_EQ(rd32(u, 32), 1023);                           /* max_evtchn_port */
	CHECK_EQ(rd32(u, 36), 32);                             /* max_grant_frames */
	CHECK_EQ((int32_t)rd32(u, 40), -1);                    /* max_maptrack_frames */
	CHECK_EQ(rd32(u, 44), 1);                              /* grant_opts: v1 */
	CHECK_EQ(rd32(u, cpupool_off), 9);                     /* cpupool_id */
	CHECK_EQ(rd32(u, 48), 0);         /* 4.17: vmtrace_size, 4.20: altp2m_opts */
	CHECK_EQ(rd32(u, cpupool_off == 52 ? 56 : 52), 0); /* 4.17: arch, 4.20: vmtrace_size */
}

TEST(createdomain_417)
{
	check_createdomain(&xenabi_v417, 0x15, 52);
}

TEST(createdomain_420)
{
	check_createdomain(&xenabi_v420, 0x17, 56);
}

TEST(createdomain_wrong_release_refused)
{
	domid_t domid = 0;

	CHECK_EQ(as_xen(&xenabi_v417, 0x17)->createdomain(&spec, &domid), -EACCES_);
	CHECK_EQ(domid, 0);
}

static void check_domain_calls(const struct xenabi *a, uint32_t version)
{
	struct xenabi_dominfo di;
	struct xenabi_vcpuinfo vi;

	as_xen(a, version);
	CHECK_EQ(a->getdomaininfo(3, &di), 0);
	CHECK_EQ(di.domain, 3);
	CHECK_EQ(di.flags & XENABI_DOMINF_paused, XENABI_DOMINF_paused);
	CHECK_EQ((di.flags >> XENABI_DOMINF_shutdownshift) & XENABI_DOMINF_shutdownmask, 3);
	CHECK_EQ(di.tot_pages, 1003);
	CHECK_EQ(di.max_pages, 2003);
	CHECK_EQ(di.outstanding_pages, 7);
	CHECK_EQ(di.shared_info_frame, 0xabcde);
	CHECK_EQ(di.cpu_time, 123456789);
	CHECK_EQ(di.nr_online_vcpus, 1);
	CHECK_EQ(di.ssidref, 0x5a);
	CHECK_EQ(di.handle[0], 0xee);
	CHECK_EQ(di.cpupool, 4);
	CHECK_EQ(a->getvcpuinfo(3, 0, &vi), 0);
	CHECK(vi.online && vi.running && !vi.blocked);
	CHECK_EQ(vi.cpu_time, 555);
	CHECK_EQ(a->max_vcpus(3, 2), 0);
	CHECK_EQ(rd32(last_domctl, DOMCTL_U), 2);
	CHECK_EQ(a->max_mem(3, 132096), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_max_mem);
	CHECK_EQ(rd32(last_domctl, DOMCTL_U), 132096);
	CHECK_EQ(a->hypercall_init(3, 0x777), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_hypercall_init);
	CHECK_EQ(rd32(last_domctl, DOMCTL_U), 0x777);
	CHECK_EQ(a->pausedomain(3), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_pausedomain);
	CHECK_EQ(a->unpausedomain(3), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_unpausedomain);
	CHECK_EQ(a->destroydomain(3), 0);
	CHECK_EQ(rd32(last_domctl, 0), DOMCTL_destroydomain);
	CHECK_EQ(rd16(last_domctl, 8), 3);
	CHECK_EQ(rd32(last_domctl, 4), version);
}

TEST(domain_calls_417)
{
	check_domain_calls(&xenabi_v417, 0x15);
}

TEST(domain_calls_420)
{
	check_domain_calls(&xenabi_v420, 0x17);
}

/* Xen fills an array of its own layout: keel reads it in batches. */
TEST(domain_list_batches)
{
	struct xenabi_dominfo out[32];
	uint32_t n = 0;

	max_batch_seen = 0;
	nr_domains = 20;
	CHECK_EQ(as_xen(&xenabi_v420, 0x17)->getdomaininfolist(0, out, 32, &n), 0);
	CHECK_EQ(n, 20);
	for (uint32_t i = 0; i < n; i++) {
		CHECK_EQ(out[i].domain, i);
		CHECK_EQ(out[i].tot_pages, 1000 + i);
	}
	CHECK(max_batch_seen <= 8);
	/* A sysctl: both releases speak sysctl 0x15, so 4.20's Xen takes 4.17's. */
	CHECK_EQ(xenabi_v417.getdomaininfolist(5, out, 3, &n), 0);
	CHECK_EQ(n, 3);
	CHECK_EQ(out[0].domain, 5);
	CHECK_EQ(out[2].domain, 7);
	nr_domains = 1;
	CHECK_EQ(xenabi_v417.getdomaininfolist(1, out, 32, &n), 0);
	CHECK_EQ(n, 0);
	nr_domains = 20;
}

TEST(sysctls)
{
	struct xenabi_physinfo pi;
	const char *sched = NULL;

	memset(&pi, 0xff, sizeof(pi));
	CHECK_EQ(as_xen(&xenabi_v420, 0x17)->physinfo(&pi), 0);
	CHECK_EQ(pi.nr_cpus, 1);
	CHECK_EQ(pi.cpu_khz, 2400000);
	CHECK_EQ(pi.capabilities, XENABI_PHYSCAP_pv | XENABI_PHYSCAP_gnttab_v1);
	CHECK_EQ(pi.total_pages, 262144);
	CHECK_EQ(pi.free_pages, 190000);
	CHECK_EQ(pi.hw_cap[0], 0x1234);
	CHECK_EQ(xenabi_v417.sched_name(&sched), 0);
	CHECK_STR(sched, "credit2");
	xen_sysctl_version = 0x16; /* a Xen with another sysctl interface */
	CHECK_EQ(xenabi_v417.probe_sysctl(), -EACCES_);
	CHECK_EQ(xenabi_v420.physinfo(&pi), -EACCES_);
	xen_sysctl_version = 0x15;
}

/* Credit2's pool rate limit and a domain's weight/cap land where both
 * releases put them, and come back. */
static void check_credit2(const struct xenabi *a, uint32_t version)
{
	uint32_t rl = 0;
	uint16_t w = 0, c = 0;

	as_xen(a, version);
	fake_ratelimit = 1000;
	CHECK_EQ(a->credit2_ratelimit(0, false, &rl), 0);
	CHECK_EQ(rl, 1000);
	rl = 0;
	CHECK_EQ(a->credit2_ratelimit(0, true, &rl), 0);
	CHECK_EQ(fake_ratelimit, 0);
	CHECK_EQ(a->credit2_ratelimit(1, false, &rl), -22); /* no such pool */
	fake_weight = 256;
	fake_cap = 0;
	CHECK_EQ(a->credit2_domain(3, false, &w, &c), 0);
	CHECK_EQ(w, 256);
	CHECK_EQ(c, 0);
	w = 512;
	c = 50;
	CHECK_EQ(a->credit2_domain(3, true, &w, &c), 0);
	CHECK_EQ(fake_weight, 512);
	CHECK_EQ(fake_cap, 50);
	CHECK_EQ(a->credit2_domain(4, false, &w, &c), -22);
}

TEST(credit2_417)
{
	check_credit2(&xenabi_v417, 0x15);
}

TEST(credit2_420)
{
	check_credit2(&xenabi_v420, 0x17);
}

static const struct test_case tests[] = {
	T(interface_versions), T(probe_tells_releases_apart), T(createdomain_417),
	T(createdomain_420), T(createdomain_wrong_release_refused), T(domain_calls_417),
	T(domain_calls_420), T(domain_list_batches), T(sysctls), T(credit2_417), T(credit2_420),
};

int main(void)
{
	return run_tests(tests, ARRAY_SIZE(tests));
}

/*
 * x86_64 PV domain builder (see include/keel/builder.h).
 *
 * Guest virtual layout from the kernel's VIRT_BASE, pfn = (va - base) / 4 KiB,
 * as Xen's own dom0 builder and libxenguest lay it out, so Linux finds what
 * it expects:
 *
 *   [base .. kernel start)   free low pages (mapped)
 *   kernel                   ELF segments, bss zeroed
 *   ramdisk                  page-aligned, start_info.mod_start is its va
 *   P2M list                 nr_pages x 8 bytes (start_info.mfn_list)
 *   start_info, xenstore ring, console ring   one page each
 *   page tables              L4, L3, L2s, L1s mapping [base, v_end), read-only
 *   boot stack               one page; rsp starts at its top
 *   padding                  v_end = stack end + >= 512 KiB, 4 MiB aligned
 *
 * Everything is written through one foreign mapping of the guest's frames,
 * which is dropped before the L4 is pinned: Xen refuses to make a page a
 * page table while any writable mapping of it exists.
 */
#include <keel/builder.h>
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/xenctl.h>
#include <lib/printf.h>
#include <xen/grant_table.h>

#define PTE_PRESENT 0x001UL
#define PTE_RW 0x002UL
#define PTE_USER 0x004UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY 0x040UL
#define L1_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED)
#define TABLE_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY | PTE_USER)
#define SUPERPAGE_PAGES 512

struct layout {
	uint64_t base;             /* VIRT_BASE */
	uint64_t ramdisk_va, p2m_va, si_va, store_va, console_va, pt_va, stack_va, v_end;
	uint64_t nr_pt_pages;
};

struct build {
	const struct build_spec *spec;
	struct build_result *res;
	char *err;
	size_t errlen;
	domid_t domid;
	uint64_t nr_pages;
	uint64_t *p2m;             /* guest pfn -> mfn */
	struct layout lay;
	char *map;                 /* dom0 mapping of guest pfns [0, v_end) */
	uint64_t mapped_pages;
};

static int fail(struct build *b, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct build *b, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
	return rc;
}

int domain_unpause(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_unpausedomain, .domain = domid };
	return xenctl_domctl(&op);
}

int domain_pause(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_pausedomain, .domain = domid };
	return xenctl_domctl(&op);
}

int domain_destroy(domid_t domid)
{
	struct xen_domctl op = { .cmd = XEN_DOMCTL_destroydomain, .domain = domid };
	int rc;

	/* Xen may ask to be called again while it frees a large domain. */
	for (int tries = 0; tries < 1000; tries++) {
		rc = xenctl_domctl(&op);
		if (rc != -EAGAIN)
			break;
		thread_yield();
	}
	return rc;
}

int domain_shutdown_xen(domid_t domid, unsigned int reason)
{
	struct sched_remote_shutdown op = { .domain_id = domid, .reason = reason };
	return (int)hyp_sched_op(SCHEDOP_remote_shutdown, &op);
}

/* Counts the page-table pages needed to map [base, end). */
static uint64_t count_tables(uint64_t base, uint64_t end)
{
	uint64_t n = 1; /* L4 */
	for (int level = 3; level >= 1; level--) {
		unsigned int shift = 12 + 9 * level;
		n += ((end - 1) >> shift) - (base >> shift) + 1;
	}
	return n;
}

static int plan_layout(struct build *b)
{
	const struct kimage *ki = b->spec->kernel;
	struct layout *l = &b->lay;
	uint64_t va = ALIGN_UP(ki->virt_kend, PAGE_SIZE);

	l->base = ki->virt_base;
	if (ki->virt_kstart < l->base)
		return fail(b, -ENOEXEC, "kernel loads below its VIRT_BASE");
	l->ramdisk_va = va;
	va += ALIGN_UP(b->spec->ramdisk_bytes, PAGE_SIZE);
	l->p2m_va = va;
	va += ALIGN_UP(b->nr_pages * 8, PAGE_SIZE);
	l->si_va = va;
	va += PAGE_SIZE;
	l->store_va = va;
	va += PAGE_SIZE;
	l->console_va = va;
	va += PAGE_SIZE;
	l->pt_va = va;
	/* The tables must map themselves: grow until the count is stable. */
	uint64_t n = 4;
	for (;;) {
		uint64_t stack = l->pt_va + n * PAGE_SIZE;
		uint64_t v_end = ALIGN_UP(stack + PAGE_SIZE + 512 * 1024, 4UL << 20);
		uint64_t need = count_tables(l->base, v_end);
		if (need <= n) {
			l->nr_pt_pages = n;
			l->stack_va = stack;
			l->v_end = v_end;
			break;
		}
		n = need;
	}
	uint64_t span = l->v_end - l->base;
	if (span > b->nr_pages * PAGE_SIZE)
		return fail(b, -ENOMEM,
			    "kernel, ramdisk and boot data need %llu MiB but the domain has %llu MiB",
			    (unsigned long long)(span >> 20),
			    (unsigned long long)(b->nr_pages * PAGE_SIZE >> 20));
	return 0;
}

static uint64_t pfn_of(const struct build *b, uint64_t va)
{
	return (va - b->lay.base) >> PAGE_SHIFT;
}

static void *guest_ptr(const struct build *b, uint64_t va)
{
	return b->map + (va - b->lay.base);
}

static int create_domain(struct build *b)
{
	const struct build_spec *s = b->spec;
	struct xen_domctl op = { .cmd = XEN_DOMCTL_createdomain, .domain = 0 };

	memcpy(op.u.createdomain.handle, s->uuid, sizeof(op.u.createdomain.handle));
	op.u.createdomain.flags = 0; /* PV */
	op.u.createdomain.max_vcpus = s->vcpus;
	op.u.createdomain.max_evtchn_port = 1023;
	op.u.createdomain.max_grant_frames = s->max_grant_frames;
	op.u.createdomain.max_maptrack_frames = s->max_maptrack_frames;
	/* Fact 27: PV guests need grant table v1 spelled out. */
	op.u.createdomain.grant_opts = XEN_DOMCTL_GRANT_version(1);
	op.u.createdomain.cpupool_id = 0;
	int rc = xenctl_domctl(&op);
	if (rc)
		return fail(b, rc, "XEN_DOMCTL_createdomain failed: %d", rc);
	b->domid = op.domain;

	/* The vCPUs themselves are allocated by XEN_DOMCTL_max_vcpus, whose
	 * count must equal createdomain's max_vcpus (domctl.h). */
	struct xen_domctl mv = { .cmd = XEN_DOMCTL_max_vcpus, .domain = b->domid };
	mv.u.max_vcpus.max = s->vcpus;
	rc = xenctl_domctl(&mv);
	if (rc)
		return fail(b, rc, "XEN_DOMCTL_max_vcpus failed: %d", rc);

	struct xen_domctl mm = { .cmd = XEN_DOMCTL_max_mem, .domain = b->domid };
	/* As libxl: the ceiling plus 1 MiB of slack for Xen's own use. */
	mm.u.max_mem.max_memkb = s->maxmem_mib * 1024 + 1024;
	rc = xenctl_domctl(&mm);
	if (rc)
		return fail(b, rc, "XEN_DOMCTL_max_mem failed: %d", rc);
	return 0;
}

/* Gives the domain nr_pages of memory, 2 MiB extents where Xen has them. */
static int populate(struct build *b)
{
	static xen_pfn_t extents[512];
	uint64_t pfn = 0;

	b->p2m = vmalloc(b->nr_pages * sizeof(uint64_t));
	if (!b->p2m)
		return fail(b, -ENOMEM, "no dom0 memory for the P2M of %llu pages",
			    (unsigned long long)b->nr_pages);
	unsigned int order = 9;
	while (pfn < b->nr_pages) {
		uint64_t per = 1UL << order;
		unsigned int n = 0;
		while (n < ARRAY_SIZE(extents) && pfn + (n + 1) * per <= b->nr_pages)
			extents[n] = pfn + n * per, n++;
		if (n == 0) {
			order = 0;
			continue;
		}
		struct xen_memory_reservation r = {
			.nr_extents = n, .extent_order = order, .domid = b->domid,
		};
		set_xen_guest_handle(r.extent_start, extents);
		long done = hyp_memory_op(XENMEM_populate_physmap, &r);
		if (done < 0)
			done = 0;
		for (long i = 0; i < done; i++)
			for (uint64_t j = 0; j < per; j++)
				b->p2m[pfn + i * per + j] = extents[i] + j;
		pfn += (uint64_t)done * per;
		if ((unsigned long)done < n) {
			if (order == 0)
				return fail(b, -ENOMEM,
					    "Xen has no memory for the domain (%llu of %llu pages given)",
					    (unsigned long long)pfn, (unsigned long long)b->nr_pages);
			order = 0; /* no more 2 MiB runs: go page by page */
		}
	}

	/* A memory map for the guest: RAM up to the balloon ceiling. */
	struct __attribute__((packed)) { uint64_t addr, size; uint32_t type; } e820 = {
		0, b->spec->maxmem_mib << 20, 1
	};
	struct xen_foreign_memory_map fmap = { .domid = b->domid };
	fmap.map.nr_entries = 1;
	set_xen_guest_handle(fmap.map.buffer, &e820);
	long rc = hyp_memory_op(XENMEM_set_memory_map, &fmap);
	if (rc)
		return fail(b, (int)rc, "XENMEM_set_memory_map failed: %ld", rc);
	return 0;
}

static int map_guest(struct build *b)
{
	int err = 0;
	mfn_t *mfns;

	b->mapped_pages = pfn_of(b, b->lay.v_end);
	mfns = vmalloc(b->mapped_pages * sizeof(mfn_t));
	if (!mfns)
		return fail(b, -ENOMEM, "no dom0 memory to map the guest");
	for (uint64_t i = 0; i < b->mapped_pages; i++)
		mfns[i] = _mfn(b->p2m[i]);
	b->map = vmap_mfns(mfns, b->mapped_pages, b->domid, true, &err);
	vfree(mfns);
	if (!b->map)
		return fail(b, err, "cannot map the guest's memory: %d", err);
	return 0;
}

static void unmap_guest(struct build *b)
{
	if (b->map) {
		vunmap(b->map, b->mapped_pages);
		b->map = NULL;
	}
}

static void build_page_tables(struct build *b)
{
	const struct layout *l = &b->lay;
	uint64_t next = pfn_of(b, l->pt_va); /* next free table page (a guest pfn) */
	uint64_t pt_first = next, pt_end = next + l->nr_pt_pages;
	uint64_t *l4, *l3 = NULL, *l2 = NULL, *l1 = NULL;
	unsigned int cur4 = 512, cur3 = 512, cur2 = 512;

	memset(guest_ptr(b, l->pt_va), 0, l->nr_pt_pages * PAGE_SIZE);
	l4 = (uint64_t *)(b->map + (next++ << PAGE_SHIFT));
	/* Addresses only grow, so a table is complete once its index moves on. */
	for (uint64_t va = l->base; va < l->v_end; va += PAGE_SIZE) {
		unsigned int i4 = (va >> 39) & 511, i3 = (va >> 30) & 511;
		unsigned int i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;
		if (i4 != cur4) {
			l4[i4] = (b->p2m[next] << PAGE_SHIFT) | TABLE_PROT;
			l3 = (uint64_t *)(b->map + (next++ << PAGE_SHIFT));
			cur4 = i4;
			cur3 = 512;
		}
		if (i3 != cur3) {
			l3[i3] = (b->p2m[next] << PAGE_SHIFT) | TABLE_PROT;
			l2 = (uint64_t *)(b->map + (next++ << PAGE_SHIFT));
			cur3 = i3;
			cur2 = 512;
		}
		if (i2 != cur2) {
			l2[i2] = (b->p2m[next] << PAGE_SHIFT) | TABLE_PROT;
			l1 = (uint64_t *)(b->map + (next++ << PAGE_SHIFT));
			cur2 = i2;
		}
		uint64_t pfn = pfn_of(b, va);
		uint64_t prot = L1_PROT;
		if (pfn >= pt_first && pfn < pt_end)
			prot &= ~PTE_RW; /* page tables are never writable */
		l1[i1] = (b->p2m[pfn] << PAGE_SHIFT) | prot;
	}
	ASSERT(next <= pt_end);
}

static void fill_start_info(struct build *b)
{
	const struct layout *l = &b->lay;
	start_info_t *si = guest_ptr(b, l->si_va);
	struct xen_domctl_getdomaininfo info;

	memset(si, 0, PAGE_SIZE);
	xenctl_domain_info(b->domid, &info);
	snprintf(si->magic, sizeof(si->magic), "xen-3.0-x86_64");
	si->nr_pages = b->nr_pages;
	si->shared_info = info.shared_info_frame << PAGE_SHIFT;
	si->flags = 0;
	si->store_mfn = b->p2m[pfn_of(b, l->store_va)];
	si->store_evtchn = b->res->store_port;
	si->console.domU.mfn = b->p2m[pfn_of(b, l->console_va)];
	si->console.domU.evtchn = b->res->console_port;
	si->pt_base = l->pt_va;
	si->nr_pt_frames = l->nr_pt_pages;
	si->mfn_list = l->p2m_va;
	si->first_p2m_pfn = pfn_of(b, l->p2m_va);
	si->nr_p2m_frames = ALIGN_UP(b->nr_pages * 8, PAGE_SIZE) >> PAGE_SHIFT;
	if (b->spec->ramdisk) {
		si->mod_start = l->ramdisk_va;
		si->mod_len = b->spec->ramdisk_bytes;
	}
	snprintf((char *)si->cmd_line, sizeof(si->cmd_line), "%s",
		 b->spec->cmdline ? b->spec->cmdline : "");
}

/*
 * The guest's shared_info starts zeroed, which means events unmasked: an
 * event (a backend's first notify) would then reach Linux before it has
 * stacks to take it on.  Mask every vCPU's events, as a guest booting on
 * real hardware starts with interrupts off.
 */
static int mask_guest_events(struct build *b)
{
	struct xen_domctl_getdomaininfo info;
	int err = xenctl_domain_info(b->domid, &info);

	if (err)
		return fail(b, err, "getdomaininfo failed: %d", err);
	mfn_t m = _mfn(info.shared_info_frame);
	struct shared_info *si = vmap_mfns(&m, 1, b->domid, true, &err);
	if (!si)
		return fail(b, err, "cannot map the guest's shared_info: %d", err);
	memset(si, 0, PAGE_SIZE);
	for (unsigned int i = 0; i < XEN_LEGACY_MAX_VCPUS; i++)
		si->vcpu_info[i].evtchn_upcall_mask = 1;
	vunmap(si, 1);
	return 0;
}

/* Grant entries 0 and 1 let dom0 map the console and xenstore rings. */
static int seed_grants(struct build *b)
{
	xen_pfn_t frame = 0;
	struct gnttab_setup_table st = { .dom = b->domid, .nr_frames = 1 };
	int err;

	set_xen_guest_handle(st.frame_list, &frame);
	long rc = hyp_grant_table_op(GNTTABOP_setup_table, &st, 1);
	if (rc || st.status != GNTST_okay)
		return fail(b, rc ? (int)rc : -EIO, "GNTTABOP_setup_table failed: %ld/%d", rc,
			    st.status);
	mfn_t m = _mfn(frame);
	grant_entry_v1_t *gt = vmap_mfns(&m, 1, b->domid, true, &err);
	if (!gt)
		return fail(b, err, "cannot map the guest's grant table: %d", err);
	gt[GNTTAB_RESERVED_CONSOLE].domid = 0;
	gt[GNTTAB_RESERVED_CONSOLE].frame = (uint32_t)b->res->console_mfn;
	gt[GNTTAB_RESERVED_XENSTORE].domid = 0;
	gt[GNTTAB_RESERVED_XENSTORE].frame = (uint32_t)b->res->store_mfn;
	/* Frame and domid must be visible before the entry is marked usable. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gt[GNTTAB_RESERVED_CONSOLE].flags = GTF_permit_access;
	gt[GNTTAB_RESERVED_XENSTORE].flags = GTF_permit_access;
	vunmap(gt, 1);
	return 0;
}

static int set_vcpu0(struct build *b)
{
	static struct vcpu_guest_context ctxt;
	const struct layout *l = &b->lay;
	uint64_t l4_mfn = b->p2m[pfn_of(b, l->pt_va)];

	memset(&ctxt, 0, sizeof(ctxt));
	ctxt.flags = VGCF_in_kernel | VGCF_online;
	ctxt.user_regs.rip = b->spec->kernel->entry;
	ctxt.user_regs.rsp = l->stack_va + PAGE_SIZE;
	ctxt.user_regs.rsi = l->si_va;
	ctxt.user_regs.rflags = 1 << 9; /* IF: events enabled in the guest's view */
	ctxt.user_regs.cs = FLAT_KERNEL_CS;
	ctxt.user_regs.ss = FLAT_KERNEL_SS;
	ctxt.user_regs.ds = ctxt.user_regs.es = FLAT_KERNEL_DS;
	ctxt.user_regs.fs = ctxt.user_regs.gs = FLAT_KERNEL_DS;
	ctxt.kernel_ss = FLAT_KERNEL_SS;
	ctxt.kernel_sp = l->stack_va + PAGE_SIZE;
	ctxt.ctrlreg[3] = xen_pfn_to_cr3(l4_mfn);

	struct xen_domctl op = { .cmd = XEN_DOMCTL_setvcpucontext, .domain = b->domid };
	op.u.vcpucontext.vcpu = 0;
	set_xen_guest_handle(op.u.vcpucontext.ctxt, &ctxt);
	int rc = xenctl_domctl(&op);
	if (rc)
		return fail(b, rc, "XEN_DOMCTL_setvcpucontext failed: %d", rc);
	return 0;
}

static int build_image(struct build *b)
{
	const struct build_spec *s = b->spec;
	const struct layout *l = &b->lay;
	const struct kimage *ki = s->kernel;
	int rc;

	rc = kimage_load_flat(ki, guest_ptr(b, ki->virt_kstart), ki->virt_kstart,
			      ki->virt_kend - ki->virt_kstart);
	if (rc)
		return fail(b, rc, "loading the kernel's segments failed: %d", rc);
	if (s->ramdisk)
		memcpy(guest_ptr(b, l->ramdisk_va), s->ramdisk, s->ramdisk_bytes);
	memcpy(guest_ptr(b, l->p2m_va), b->p2m, b->nr_pages * 8);
	memset(guest_ptr(b, l->store_va), 0, PAGE_SIZE);
	memset(guest_ptr(b, l->console_va), 0, PAGE_SIZE);
	memset(guest_ptr(b, l->stack_va), 0, PAGE_SIZE);
	fill_start_info(b);
	build_page_tables(b);
	return 0;
}

int builder_build(const struct build_spec *spec, struct build_result *res, char *err,
		  size_t errlen)
{
	struct build b = { .spec = spec, .res = res, .err = err, .errlen = errlen };
	uint64_t t0 = time_now_ns();
	int rc;

	memset(res, 0, sizeof(*res));
	err[0] = 0;
	b.nr_pages = spec->memory_mib << (20 - PAGE_SHIFT);
	if (spec->kernel->xen_version[0] && strcmp(spec->kernel->xen_version, "xen-3.0"))
		return fail(&b, -ENOEXEC, "kernel is built for '%s', not xen-3.0",
			    spec->kernel->xen_version);
	if ((rc = plan_layout(&b)))
		return rc;
	if ((rc = create_domain(&b)))
		goto err_destroy;
	res->domid = b.domid;
	if ((rc = populate(&b)))
		goto err_destroy;
	uint64_t t1 = time_now_ns();
	res->populate_ns = t1 - t0;
	res->nr_pages = b.nr_pages;
	res->store_mfn = b.p2m[pfn_of(&b, b.lay.store_va)];
	res->console_mfn = b.p2m[pfn_of(&b, b.lay.console_va)];
	/* The guest's ends of its xenstore and console channels, with dom0 as
	 * the other side (the backends bind to them). */
	if ((rc = evtchn_alloc_unbound(b.domid, 0, NULL, NULL, &res->store_port)) ||
	    (rc = evtchn_alloc_unbound(b.domid, 0, NULL, NULL, &res->console_port))) {
		fail(&b, rc, "EVTCHNOP_alloc_unbound failed: %d", rc);
		goto err_destroy;
	}
	if ((rc = map_guest(&b)))
		goto err_destroy;
	uint64_t t2 = time_now_ns();
	res->map_ns = t2 - t1;
	rc = build_image(&b);
	uint64_t t3 = time_now_ns();
	res->load_ns = t3 - t2;
	unmap_guest(&b);
	if (rc)
		goto err_destroy;

	struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };
	pin.arg1.mfn = b.p2m[pfn_of(&b, b.lay.pt_va)];
	rc = (int)hyp_mmuext_op(&pin, 1, NULL, b.domid);
	if (rc) {
		fail(&b, rc, "pinning the guest's page tables failed: %d", rc);
		goto err_destroy;
	}
	if ((rc = mask_guest_events(&b)) || (rc = seed_grants(&b)) || (rc = set_vcpu0(&b)))
		goto err_destroy;
	if (spec->kernel->hypercall_page != KIMAGE_UNSET) {
		struct xen_domctl hc = { .cmd = XEN_DOMCTL_hypercall_init, .domain = b.domid };
		hc.u.hypercall_init.gmfn = b.p2m[pfn_of(&b, spec->kernel->hypercall_page)];
		if ((rc = xenctl_domctl(&hc))) {
			fail(&b, rc, "XEN_DOMCTL_hypercall_init failed: %d", rc);
			goto err_destroy;
		}
	}
	vfree(b.p2m);
	res->build_ns = time_now_ns() - t0;
	res->finish_ns = time_now_ns() - t3;
	return 0;

err_destroy:
	unmap_guest(&b);
	vfree(b.p2m);
	if (b.domid)
		domain_destroy(b.domid);
	res->domid = 0;
	return rc;
}

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
 * page table while any writable mapping of it exists.  The page-table format
 * and the pin are the arch hooks of include/arch/guest_pt.h.
 *
 * Errors are -errno with res->failed_step naming the step; the caller turns
 * them into a message.  Every loop over pages or extents calls
 * toolstack_slice(), so building a large domain never keeps the other
 * threads (xenstored, the console backend) from running for long.
 */
#include <arch/guest_pt.h>
#include <keel/builder.h>
#include <keel/evtchn.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/toolstack.h>
#include <keel/xenctl.h>
#include <xen/grant_table.h>

/*
 * populate_physmap: Xen scrubs every dirty page it hands out inside the
 * call.  The call is preemptible (thread_preemptible_begin): Xen stops it
 * between pages when an event is pending for dom0, and the thread the
 * event woke runs before it goes on.  A runnable thread that no event
 * woke (one that yielded) still waits for the whole call, so calls stay
 * short too.  Measured under TCG: clean pages cost 10-30 us
 * each, pages a destroyed domain just gave back up to 0.5 ms each, so a
 * 2 MiB extent took 60-230 ms after a destroy.  A PV guest gains nothing
 * from 2 MiB runs, and Xen scrubs only the pages a call takes, so the
 * domain gets 4 KiB pages in batches kept to about POPULATE_CALL_NS: a
 * batch that took longer is cut in proportion, one that was quicker grows
 * by POPULATE_BATCH_STEP, up to POPULATE_BATCH_MAX (about 15 ms even if
 * every page of it needs scrubbing).
 */
#define POPULATE_CALL_NS 4000000ULL
#define POPULATE_BATCH_MIN 4
#define POPULATE_BATCH_MAX 32
#define POPULATE_BATCH_STEP 4
/* Bytes copied between two slice points. */
#define COPY_SLICE_BYTES (256u * 1024)

struct layout {
	uint64_t base;             /* VIRT_BASE */
	uint64_t ramdisk_va, p2m_va, si_va, store_va, console_va, pt_va, stack_va, v_end;
	uint64_t nr_pt_pages;
};

struct build {
	const struct build_spec *spec;
	struct build_result *res;
	domid_t domid;
	uint64_t nr_pages;
	uint64_t *p2m;             /* guest pfn -> mfn */
	struct layout lay;
	char *map;                 /* dom0 mapping of guest pfns [0, v_end) */
	uint64_t mapped_pages;
	uint64_t loaded_pages;     /* kimage_load() pages so far, for slicing */
};

/* Records which step failed; returns rc (a -errno). */
static int fail(struct build *b, enum builder_step step, int rc)
{
	b->res->failed_step = step;
	b->res->failed_rc = rc;
	return rc;
}

static int plan_layout(struct build *b)
{
	const struct kimage *ki = b->spec->kernel;
	struct layout *l = &b->lay;
	uint64_t va = ALIGN_UP(ki->virt_kend, PAGE_SIZE);

	l->base = ki->virt_base;
	if (ki->virt_kstart < l->base)
		return fail(b, BUILD_STEP_LAYOUT, -ENOEXEC);
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
		uint64_t need = arch_guest_pt_pages(l->base, v_end);
		if (need <= n) {
			l->nr_pt_pages = n;
			l->stack_va = stack;
			l->v_end = v_end;
			break;
		}
		n = need;
	}
	uint64_t span = l->v_end - l->base;
	b->res->boot_region_bytes = span;
	if (span > b->nr_pages * PAGE_SIZE)
		return fail(b, BUILD_STEP_LAYOUT, -E2BIG);
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
	struct xenabi_createdomain cd = {
		.max_vcpus = s->vcpus,
		.max_evtchn_port = 1023,
		.max_grant_frames = s->max_grant_frames,
		.max_maptrack_frames = s->max_maptrack_frames,
		.grant_version = 1, /* fact 27: PV guests need grant table v1 spelled out */
		.cpupool_id = 0,
	};

	memcpy(cd.handle, s->uuid, sizeof(cd.handle));
	int rc = xenctl_createdomain(&cd, &b->domid);
	if (rc)
		return fail(b, BUILD_STEP_CREATEDOMAIN, rc);

	/* The vCPUs themselves are allocated by XEN_DOMCTL_max_vcpus, whose
	 * count must equal createdomain's max_vcpus (domctl.h). */
	rc = xenctl_max_vcpus(b->domid, s->vcpus);
	if (rc)
		return fail(b, BUILD_STEP_MAX_VCPUS, rc);

	/* As libxl: the ceiling plus 1 MiB of slack for Xen's own use. */
	rc = xenctl_max_mem(b->domid, s->maxmem_mib * 1024 + 1024);
	if (rc)
		return fail(b, BUILD_STEP_MAX_MEM, rc);
	return 0;
}

/* The next batch after n pages took took_ns. */
static unsigned int next_batch(unsigned int n, uint64_t took_ns)
{
	uint64_t want = took_ns > POPULATE_CALL_NS ? n * POPULATE_CALL_NS / took_ns
						   : n + POPULATE_BATCH_STEP;

	return (unsigned int)MAX(MIN(want, (uint64_t)POPULATE_BATCH_MAX),
				 (uint64_t)POPULATE_BATCH_MIN);
}

/* Gives the domain nr_pages of memory, in calls of about POPULATE_CALL_NS. */
static int populate(struct build *b)
{
	xen_pfn_t extents[POPULATE_BATCH_MAX];
	uint64_t pfn = 0;
	unsigned int batch = POPULATE_BATCH_MIN;

	b->p2m = vmalloc(b->nr_pages * sizeof(uint64_t));
	if (!b->p2m)
		return fail(b, BUILD_STEP_P2M_ALLOC, -ENOMEM);
	toolstack_slice();
	while (pfn < b->nr_pages) {
		unsigned int n = (unsigned int)MIN((uint64_t)batch, b->nr_pages - pfn);
		for (unsigned int i = 0; i < n; i++)
			extents[i] = pfn + i;
		struct xen_memory_reservation r = {
			.nr_extents = n, .extent_order = 0, .domid = b->domid,
		};
		set_xen_guest_handle(r.extent_start, extents);
		struct sched_stats st0, st1;
		sched_get_stats(&st0);
		uint64_t t0 = time_now_ns();
		thread_preemptible_begin();
		long done = hyp_memory_op(XENMEM_populate_physmap, &r);
		thread_preemptible_end();
		uint64_t took = time_now_ns() - t0;
		sched_get_stats(&st1);
		/* Time other threads had while the call was preempted is not
		 * the call's. */
		bool preempted = st1.preemptions != st0.preemptions;
		if (done < 0)
			done = 0;
		for (long i = 0; i < done; i++)
			b->p2m[pfn + i] = extents[i];
		pfn += (uint64_t)done;
		b->res->populated_pages = pfn;
		b->res->populate_calls++;
		if (!preempted)
			b->res->populate_worst_call_ns = MAX(b->res->populate_worst_call_ns, took);
		if ((unsigned long)done < n)
			return fail(b, BUILD_STEP_POPULATE, -ENOMEM);
		if (!preempted)
			batch = next_batch(n, took);
		toolstack_slice();
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
		return fail(b, BUILD_STEP_MEMORY_MAP, (int)rc);
	return 0;
}

static int map_guest(struct build *b)
{
	int err = 0;
	mfn_t *mfns;

	b->mapped_pages = pfn_of(b, b->lay.v_end);
	mfns = vmalloc(b->mapped_pages * sizeof(mfn_t));
	if (!mfns)
		return fail(b, BUILD_STEP_MAP, -ENOMEM);
	for (uint64_t i = 0; i < b->mapped_pages; i++)
		mfns[i] = _mfn(b->p2m[i]);
	b->map = vmap_mfns_sliced(mfns, b->mapped_pages, b->domid, toolstack_slice, &err);
	vfree(mfns);
	if (!b->map)
		return fail(b, BUILD_STEP_MAP, err);
	return 0;
}

static void unmap_guest(struct build *b)
{
	if (b->map) {
		vunmap_sliced(b->map, b->mapped_pages, toolstack_slice);
		b->map = NULL;
	}
}

static int build_page_tables(struct build *b)
{
	const struct layout *l = &b->lay;
	struct arch_guest_pt pt = {
		.base = l->base, .end = l->v_end, .pt_va = l->pt_va,
		.nr_pt_pages = l->nr_pt_pages, .map = (uint8_t *)b->map, .p2m = b->p2m,
		.slice = toolstack_slice,
	};
	int rc = arch_guest_pt_build(&pt);

	return rc ? fail(b, BUILD_STEP_PAGE_TABLES, rc) : 0;
}

/* memcpy (src) or memset 0 (src NULL) in slices. */
static void copy_sliced(void *dst, const void *src, size_t len)
{
	while (len) {
		size_t n = MIN(len, (size_t)COPY_SLICE_BYTES);
		if (src) {
			memcpy(dst, src, n);
			src = (const char *)src + n;
		} else {
			memset(dst, 0, n);
		}
		dst = (char *)dst + n;
		len -= n;
		toolstack_slice();
	}
}

static void fill_start_info(struct build *b)
{
	const struct layout *l = &b->lay;
	start_info_t *si = guest_ptr(b, l->si_va);
	struct xenabi_dominfo info;

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
	struct xenabi_dominfo info;
	int err = xenctl_domain_info(b->domid, &info);

	if (err)
		return fail(b, BUILD_STEP_SHARED_INFO, err);
	mfn_t m = _mfn(info.shared_info_frame);
	struct shared_info *si = vmap_mfns(&m, 1, b->domid, true, &err);
	if (!si)
		return fail(b, BUILD_STEP_SHARED_INFO, err);
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
		return fail(b, BUILD_STEP_GRANTS, rc ? (int)rc : -EIO);
	mfn_t m = _mfn(frame);
	grant_entry_v1_t *gt = vmap_mfns(&m, 1, b->domid, true, &err);
	if (!gt)
		return fail(b, BUILD_STEP_GRANTS, err);
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
	/* About 5 KiB: too big for a thread stack. */
	struct vcpu_guest_context *c = kzalloc(sizeof(*c));
	const struct layout *l = &b->lay;
	uint64_t l4_mfn = b->p2m[pfn_of(b, l->pt_va)];

	if (!c)
		return fail(b, BUILD_STEP_VCPU_CONTEXT, -ENOMEM);
	c->flags = VGCF_in_kernel | VGCF_online;
	c->user_regs.rip = b->spec->kernel->entry;
	c->user_regs.rsp = l->stack_va + PAGE_SIZE;
	c->user_regs.rsi = l->si_va;
	c->user_regs.rflags = 1 << 9; /* IF: events enabled in the guest's view */
	c->user_regs.cs = FLAT_KERNEL_CS;
	c->user_regs.ss = FLAT_KERNEL_SS;
	c->user_regs.ds = c->user_regs.es = FLAT_KERNEL_DS;
	c->user_regs.fs = c->user_regs.gs = FLAT_KERNEL_DS;
	c->kernel_ss = FLAT_KERNEL_SS;
	c->kernel_sp = l->stack_va + PAGE_SIZE;
	c->ctrlreg[3] = arch_guest_pt_cr3(l4_mfn);

	int rc = xenctl_setvcpucontext(b->domid, 0, c);
	kfree(c);
	if (rc)
		return fail(b, BUILD_STEP_VCPU_CONTEXT, rc);
	return 0;
}

/* kimage_load()'s map: a page of the boot region, with a slice point. */
static void *load_map(void *ctx, uint64_t vaddr, size_t len)
{
	struct build *b = ctx;

	(void)len;
	if (vaddr < b->lay.base || vaddr >= b->lay.v_end)
		return NULL;
	if (++b->loaded_pages % (COPY_SLICE_BYTES / PAGE_SIZE) == 0)
		toolstack_slice();
	return guest_ptr(b, vaddr);
}

static int build_image(struct build *b)
{
	const struct build_spec *s = b->spec;
	const struct layout *l = &b->lay;
	int rc;

	rc = kimage_load(s->kernel, load_map, b);
	if (rc)
		return fail(b, BUILD_STEP_LOAD_KERNEL, rc);
	if (s->ramdisk)
		copy_sliced(guest_ptr(b, l->ramdisk_va), s->ramdisk, s->ramdisk_bytes);
	copy_sliced(guest_ptr(b, l->p2m_va), b->p2m, b->nr_pages * 8);
	memset(guest_ptr(b, l->store_va), 0, PAGE_SIZE);
	memset(guest_ptr(b, l->console_va), 0, PAGE_SIZE);
	memset(guest_ptr(b, l->stack_va), 0, PAGE_SIZE);
	fill_start_info(b);
	return build_page_tables(b);
}

int builder_build(const struct build_spec *spec, struct build_result *res)
{
	struct build b = { .spec = spec, .res = res };
	uint64_t t0 = time_now_ns();
	int rc;

	memset(res, 0, sizeof(*res));
	b.nr_pages = spec->memory_mib << (20 - PAGE_SHIFT);
	res->nr_pages = b.nr_pages;
	if (spec->kernel->xen_version[0] && strcmp(spec->kernel->xen_version, "xen-3.0"))
		return fail(&b, BUILD_STEP_CHECK_KERNEL, -ENOEXEC);
	if ((rc = plan_layout(&b)))
		return rc;
	if ((rc = create_domain(&b)))
		goto err_destroy;
	res->domid = b.domid;
	toolstack_slice();
	if ((rc = populate(&b)))
		goto err_destroy;
	uint64_t t1 = time_now_ns();
	res->populate_ns = t1 - t0;
	res->store_mfn = b.p2m[pfn_of(&b, b.lay.store_va)];
	res->console_mfn = b.p2m[pfn_of(&b, b.lay.console_va)];
	/* The guest's ends of its xenstore and console channels, with dom0 as
	 * the other side (the backends bind to them). */
	if ((rc = evtchn_alloc_unbound(b.domid, 0, NULL, NULL, &res->store_port)) ||
	    (rc = evtchn_alloc_unbound(b.domid, 0, NULL, NULL, &res->console_port))) {
		fail(&b, BUILD_STEP_EVTCHN, rc);
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

	rc = arch_guest_pt_pin(b.domid, b.p2m[pfn_of(&b, b.lay.pt_va)]);
	if (rc) {
		fail(&b, BUILD_STEP_PIN, rc);
		goto err_destroy;
	}
	toolstack_slice();
	if ((rc = mask_guest_events(&b)) || (rc = seed_grants(&b)) || (rc = set_vcpu0(&b)))
		goto err_destroy;
	toolstack_slice();
	if (spec->kernel->hypercall_page != KIMAGE_UNSET) {
		rc = xenctl_hypercall_init(b.domid,
					   b.p2m[pfn_of(&b, spec->kernel->hypercall_page)]);
		if (rc) {
			fail(&b, BUILD_STEP_HYPERCALL_PAGE, rc);
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

const char *builder_step_name(enum builder_step step)
{
	static const char *const names[] = {
		[BUILD_STEP_NONE] = "nothing",
		[BUILD_STEP_CHECK_KERNEL] = "checking the kernel's Xen version",
		[BUILD_STEP_LAYOUT] = "laying out the boot region",
		[BUILD_STEP_CREATEDOMAIN] = "XEN_DOMCTL_createdomain",
		[BUILD_STEP_MAX_VCPUS] = "XEN_DOMCTL_max_vcpus",
		[BUILD_STEP_MAX_MEM] = "XEN_DOMCTL_max_mem",
		[BUILD_STEP_P2M_ALLOC] = "allocating the P2M in dom0",
		[BUILD_STEP_POPULATE] = "XENMEM_populate_physmap",
		[BUILD_STEP_MEMORY_MAP] = "XENMEM_set_memory_map",
		[BUILD_STEP_EVTCHN] = "EVTCHNOP_alloc_unbound",
		[BUILD_STEP_MAP] = "mapping the guest's boot region",
		[BUILD_STEP_LOAD_KERNEL] = "loading the kernel's segments",
		[BUILD_STEP_PAGE_TABLES] = "building the page tables",
		[BUILD_STEP_PIN] = "pinning the page tables",
		[BUILD_STEP_SHARED_INFO] = "masking events in shared_info",
		[BUILD_STEP_GRANTS] = "seeding the grant table",
		[BUILD_STEP_VCPU_CONTEXT] = "XEN_DOMCTL_setvcpucontext",
		[BUILD_STEP_HYPERCALL_PAGE] = "XEN_DOMCTL_hypercall_init",
	};

	if ((unsigned int)step < ARRAY_SIZE(names) && names[step])
		return names[step];
	return "an unknown step";
}

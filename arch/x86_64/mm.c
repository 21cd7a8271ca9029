/*
 * x86_64 PV page tables for dom0: the direct map of every page dom0 owns
 * beyond Xen's initial mapping, the page allocator over them, the balloon
 * (pages given back to Xen and taken again), and the vmap area (vmalloc,
 * thread stacks, foreign, grant and I/O frames).  The pure allocator behind
 * the page pool and the vmap slots is lib/range_alloc.c; the heap is
 * kernel/heap.c; grant mappings are xen/gnttab.c.  Layout: include/keel/mm.h.
 *
 * Rules Xen enforces (shared/reference fact 9): page-table pages must not be
 * mapped writable anywhere, so a new table is zeroed while still ordinary
 * memory, then its one mapping (each pfn has exactly one, see mm.h) is made
 * read-only, and only then hooked into its parent through mmu_update, which
 * validates it.
 */
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <lib/range_alloc.h>

#define PTE_PRESENT 0x001UL
#define PTE_RW 0x002UL
#define PTE_USER 0x004UL
#define PTE_PWT 0x008UL
#define PTE_PCD 0x010UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY 0x040UL
#define PTE_ADDR_MASK 0x000ffffffffff000UL
#define PT_FLAGS (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY)
#define L1_FLAGS (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY)
/* A pfn given back to Xen (the value Linux uses too). */
#define INVALID_P2M (~0ULL)
/* The initial mapping is searched inside the image's 1 GiB slot. */
#define INITIAL_MAX_PAGES (1UL << 18)

extern char _text[], _end[];

uint64_t mm_initial_pages = UINT64_MAX; /* until measured: everything is Xen's alias */

static uint64_t *p2m;           /* start_info mfn_list: pfn -> mfn, INVALID_P2M if given back */
static uint64_t xen_nr_pages;   /* start_info nr_pages: pfns [0, xen_nr_pages) */
static uint64_t ballooned;      /* pfns whose frame is back with Xen */
static uint64_t *l4_table;      /* start_info pt_base */
static uint64_t next_pt_pfn;    /* boot-reserved page-table pages come from here */
static uint64_t pt_reserve_end;
static uint64_t added_pt_pages;
static uint64_t boot_reserved_pages, image_pages;
static uint64_t vmalloc_pages;

static struct range_alloc page_pool;
static struct range_alloc vmap_pool;
static uint64_t *vmap_l1[512];  /* the L1 tables of the vmap area, by 2 MiB slot */
static mfn_t vmap_l2_mfn;

/* Every pfn below mapped_limit (and not given back) is mapped. */
static uint64_t mapped_limit;
/* [boot_release_next, xen_nr_pages) still to give back after boot. */
static uint64_t boot_release_next = UINT64_MAX;

mfn_t pfn_to_mfn(pfn_t p)
{
	return _mfn(p2m[pfn_x(p)]);
}

pfn_t mfn_to_pfn(mfn_t m)
{
	return _pfn(machine_to_phys_mapping[mfn_x(m)]);
}

static unsigned int pt_index(unsigned long va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

/* The table an entry points to, through its one mapping. */
static uint64_t *entry_table(uint64_t entry)
{
	return pfn_to_virt(mfn_to_pfn(_mfn((entry & PTE_ADDR_MASK) >> PAGE_SHIFT)));
}

uint64_t vmap_pte_read(const void *va)
{
	unsigned long a = (unsigned long)va;

	if (a < VMAP_BASE)
		return 0;
	uint64_t *l1 = vmap_l1[(a - VMAP_BASE) >> 21];
	return l1 ? l1[pt_index(a, 1)] : 0;
}

pfn_t virt_to_pfn(const void *va)
{
	unsigned long a = (unsigned long)va;

	if (a >= VMAP_BASE) {
		uint64_t pte = vmap_pte_read(va);
		ASSERT(pte & PTE_PRESENT);
		return mfn_to_pfn(_mfn((pte & PTE_ADDR_MASK) >> PAGE_SHIFT));
	}
	if (a >= KEEL_VIRT_BASE)
		return _pfn((a - KEEL_VIRT_BASE) >> PAGE_SHIFT);
	ASSERT(a >= DIRECTMAP_BASE && a - DIRECTMAP_BASE < (DIRECTMAP_MAX_PAGES << PAGE_SHIFT));
	return _pfn((a - DIRECTMAP_BASE) >> PAGE_SHIFT);
}

mfn_t virt_to_mfn(const void *va)
{
	if ((unsigned long)va >= VMAP_BASE)
		return _mfn((vmap_pte_read(va) & PTE_ADDR_MASK) >> PAGE_SHIFT);
	return pfn_to_mfn(virt_to_pfn(va));
}

uint64_t virt_to_maddr(const void *va)
{
	return (mfn_x(virt_to_mfn(va)) << PAGE_SHIFT) | ((unsigned long)va & (PAGE_SIZE - 1));
}

static void must(long rc, const char *what)
{
	if (rc < 0) {
		klog("mm: %s failed: %ld\n", what, rc);
		ASSERT(rc >= 0);
	}
}

static void set_entry(uint64_t *entry_va, uint64_t val, domid_t dom)
{
	mmu_update_t u = {
		.ptr = virt_to_maddr(entry_va) | MMU_NORMAL_PT_UPDATE,
		.val = val,
	};
	must(hyp_mmu_update(&u, 1, NULL, dom), "mmu_update");
}

/*
 * Turns the page at va (zeroed here) into a page table and hooks it into
 * *parent_entry.  The page's one mapping becomes read-only first: Xen
 * refuses a table that is writable anywhere.
 */
static void install_table(void *va, uint64_t *parent_entry)
{
	mfn_t mfn = virt_to_mfn(va);

	memset(va, 0, PAGE_SIZE);
	must(hyp_update_va_mapping((unsigned long)va,
				   (mfn_x(mfn) << PAGE_SHIFT) | PTE_PRESENT | PTE_ACCESSED,
				   UVMF_INVLPG), "make table read-only");
	set_entry(parent_entry, (mfn_x(mfn) << PAGE_SHIFT) | PT_FLAGS, DOMID_SELF);
	added_pt_pages++;
}

/*
 * Page-table pages for the direct map come from a run reserved at boot right
 * after Xen's boot structures, sized for the pages dom0 keeps.  Reserved
 * page K lies in Xen's initial mapping (which covers at least 512 KiB past
 * the boot stack) or, for K >= 128, in a part of the direct map mapped
 * long before (chunks are mapped in order, one table each), so a table page
 * is always writable before it is hooked in.  Once the run is used up (dom0
 * grew back with mem-set), tables come from the pool below mapped_limit.
 */
static void *table_page(void)
{
	if (next_pt_pfn < pt_reserve_end) {
		uint64_t pfn = next_pt_pfn++;
		ASSERT(pfn < mm_initial_pages || pfn < mapped_limit);
		return pfn_to_virt(_pfn(pfn));
	}
	uint64_t pfn;
	if (range_alloc_below(&page_pool, 1, mapped_limit, &pfn))
		return NULL;
	return pfn_to_virt(_pfn(pfn));
}

/* Returns the L1 table covering va, creating tables on the way (NULL: no memory). */
static uint64_t *l1_for(unsigned long va)
{
	uint64_t *l4e = &l4_table[pt_index(va, 4)];
	void *page;

	if (!(*l4e & PTE_PRESENT)) {
		if (!(page = table_page()))
			return NULL;
		install_table(page, l4e);
	}
	uint64_t *l3e = &entry_table(*l4e)[pt_index(va, 3)];
	if (!(*l3e & PTE_PRESENT)) {
		if (!(page = table_page()))
			return NULL;
		install_table(page, l3e);
	}
	uint64_t *l2e = &entry_table(*l3e)[pt_index(va, 2)];
	if (!(*l2e & PTE_PRESENT)) {
		if (!(page = table_page()))
			return NULL;
		install_table(page, l2e);
	}
	return entry_table(*l2e);
}

/*
 * Maps pfns up to end (rounded up to 2 MiB) in the direct map, one table
 * walk and one mmu_update batch per L1 table: under TCG each hypercall, and
 * each PTE Xen validates, is costly, so this runs lazily as the page
 * allocator first hands out pages in a chunk, not all at boot.  Returns
 * false if a page table could not be had.
 */
static bool direct_map_ensure(uint64_t end)
{
	static mmu_update_t batch[512];

	while (mapped_limit < end && mapped_limit < xen_nr_pages) {
		uint64_t pfn = mapped_limit;
		unsigned long va = DIRECTMAP_BASE + (pfn << PAGE_SHIFT);
		uint64_t *l1 = l1_for(va);
		if (!l1)
			return false;
		unsigned int n = 0;
		for (unsigned int i = pt_index(va, 1); i < 512 && pfn < xen_nr_pages; i++, pfn++) {
			/* Given back, or still waiting to be given back at boot. */
			if (p2m[pfn] == INVALID_P2M || pfn >= boot_release_next ||
			    (l1[i] & PTE_PRESENT))
				continue;
			batch[n].ptr = virt_to_maddr(&l1[i]) | MMU_NORMAL_PT_UPDATE;
			batch[n].val = (p2m[pfn] << PAGE_SHIFT) | L1_FLAGS;
			n++;
		}
		if (n)
			must(hyp_mmu_update(batch, n, NULL, DOMID_SELF), "direct map");
		mapped_limit = pfn;
	}
	return true;
}

/* Where Xen's initial mapping at KEEL_VIRT_BASE ends (in pfns). */
static uint64_t measure_initial_mapping(void)
{
	uint64_t pfn = 0;

	while (pfn < INITIAL_MAX_PAGES) {
		unsigned long va = KEEL_VIRT_BASE + (pfn << PAGE_SHIFT);
		uint64_t l4e = l4_table[pt_index(va, 4)];
		if (!(l4e & PTE_PRESENT))
			break;
		uint64_t l3e = entry_table(l4e)[pt_index(va, 3)];
		if (!(l3e & PTE_PRESENT))
			break;
		uint64_t l2e = entry_table(l3e)[pt_index(va, 2)];
		if (!(l2e & PTE_PRESENT))
			break;
		const uint64_t *l1 = entry_table(l2e);
		unsigned int i = pt_index(va, 1);
		while (i < 512 && (l1[i] & PTE_PRESENT))
			i++, pfn++;
		if (i < 512)
			break;
	}
	return pfn;
}

/*
 * Gives Xen the frames of pfns[0..n) (none mapped anywhere) with
 * XENMEM_decrease_reservation, 2 MiB extents where a pfn run is an aligned
 * machine run.  Marks each released pfn INVALID_P2M; returns how many were
 * released (the rest stay ours).
 */
static xen_pfn_t extents[512];

static uint64_t release_frames(const uint64_t *pfns, size_t n, unsigned int order)
{
	struct xen_memory_reservation r = {
		.nr_extents = n, .extent_order = order, .domid = DOMID_SELF,
	};

	for (size_t i = 0; i < n; i++)
		extents[i] = p2m[pfns[i]];
	set_xen_guest_handle(r.extent_start, extents);
	long done = hyp_memory_op(XENMEM_decrease_reservation, &r);
	if (done < 0)
		done = 0;
	for (long i = 0; i < done; i++)
		for (uint64_t j = 0; j < (1ULL << order); j++)
			p2m[pfns[i] + j] = INVALID_P2M;
	ballooned += (uint64_t)done << order;
	return (uint64_t)done << order;
}

/* Boot: gives back [first, end), none of it mapped or in the pool yet. */
static void release_range_at_boot(uint64_t first, uint64_t end)
{
	static uint64_t big[512], small[512];
	size_t nb = 0, ns = 0;
	uint64_t pfn = first;

	while (pfn < end) {
		uint64_t m = p2m[pfn];
		bool run = (pfn % 512) == 0 && pfn + 512 <= end && (m % 512) == 0;
		for (uint64_t j = 1; run && j < 512; j++)
			run = p2m[pfn + j] == m + j;
		if (run) {
			big[nb++] = pfn;
			pfn += 512;
		} else {
			small[ns++] = pfn;
			pfn++;
		}
		if (nb == ARRAY_SIZE(big) || pfn >= end) {
			uint64_t done = nb ? release_frames(big, nb, 9) : 0;
			if (done < nb * 512)
				klog("mm: Xen took %llu of %zu 2 MiB extents back\n",
				     (unsigned long long)(done / 512), nb);
			nb = 0;
		}
		if (ns == ARRAY_SIZE(small) || (pfn >= end && ns)) {
			uint64_t done = release_frames(small, ns, 0);
			if (done < ns)
				klog("mm: Xen took %llu of %zu pages back\n",
				     (unsigned long long)done, ns);
			ns = 0;
		}
	}
}

void mm_init(start_info_t *si, uint64_t keep_pages)
{
	p2m = (uint64_t *)si->mfn_list;
	l4_table = (uint64_t *)si->pt_base;
	xen_nr_pages = si->nr_pages;
	if (xen_nr_pages > DIRECTMAP_MAX_PAGES) {
		klog("mm: dom0 has %llu pages; keel maps the first %lu (512 GiB)\n",
		     (unsigned long long)xen_nr_pages, DIRECTMAP_MAX_PAGES);
		xen_nr_pages = DIRECTMAP_MAX_PAGES;
	}
	mm_initial_pages = measure_initial_mapping();
	mapped_limit = mm_initial_pages;

	/* Xen's boot structures end with the page tables and the boot stack
	 * (fact 9); everything after them is free.  keel runs on its own stack,
	 * so the boot stack page is free too. */
	uint64_t first_free = virt_to_pfn((void *)si->pt_base).pfn + si->nr_pt_frames;
	/* Keep at least 32 MiB past Xen's initial mapping. */
	uint64_t keep = xen_nr_pages;
	if (keep_pages && keep_pages < keep)
		keep = MAX(keep_pages, mm_initial_pages + 8192);
	if (keep > xen_nr_pages)
		keep = xen_nr_pages;
	/* Frames above what dom0 keeps go back to Xen from the balloon thread
	 * (mm_balloon_boot_release), in slices after the prompt: Xen frees
	 * them page by page, ~1.3 s for 2.6 GiB under TCG.  Until then they
	 * are neither mapped nor in the pool. */
	boot_release_next = keep;

	/* Tables for the direct map of [initial, keep): one L1 per 2 MiB, one
	 * L2 per GiB, the L3, and slack for the chunk boundaries. */
	uint64_t span = keep > mm_initial_pages ? keep - mm_initial_pages : 0;
	next_pt_pfn = first_free;
	pt_reserve_end = first_free + span / 512 + span / (512 * 512) + 4;

	/* The allocator's bitmap follows the reserved table pages. */
	size_t bitmap_bytes = RANGE_ALLOC_BITMAP_BYTES(xen_nr_pages);
	size_t bitmap_pages = (bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t bitmap_pfn = pt_reserve_end;
	uint64_t pool_start = bitmap_pfn + bitmap_pages;
	ASSERT(pool_start < keep);
	if (!direct_map_ensure(pool_start))
		panic("mm: no page tables for the direct map");
	range_init(&page_pool, 0, xen_nr_pages, pfn_to_virt(_pfn(bitmap_pfn)));
	/* Pfns given back stay marked used in the pool. */
	range_free(&page_pool, pool_start, keep - pool_start);
	/* A run of pages must have one mapping: none may straddle the end of
	 * Xen's initial mapping (pfn_to_virt of its first page would not reach
	 * the rest), so the last page before it is never handed out. */
	if (mm_initial_pages > pool_start && mm_initial_pages < keep)
		range_reserve(&page_pool, mm_initial_pages - 1, 1);
	image_pages = ((unsigned long)_end - (unsigned long)_text + PAGE_SIZE - 1) / PAGE_SIZE;
	boot_reserved_pages = first_free - image_pages + bitmap_pages;

	/* vmap: one L2 table for the last GiB, L1 tables on demand. */
	unsigned long va = VMAP_BASE;
	uint64_t *l3e = &entry_table(l4_table[pt_index(va, 4)])[pt_index(va, 3)];
	ASSERT(!(*l3e & PTE_PRESENT));
	void *l2 = page_alloc(1);
	ASSERT(l2);
	install_table(l2, l3e);
	vmap_l2_mfn = virt_to_mfn(l2);
	static uint64_t vmap_bits[RANGE_ALLOC_BITMAP_BYTES(VMAP_PAGES) / 8];
	range_init(&vmap_pool, 0, VMAP_PAGES, vmap_bits);
	range_free(&vmap_pool, 0, VMAP_PAGES);
}

void *page_alloc(size_t n)
{
	uint64_t pfn;

	if (range_alloc(&page_pool, n, 1, &pfn))
		return NULL;
	if (!direct_map_ensure(pfn + n)) {
		range_free(&page_pool, pfn, n);
		return NULL;
	}
	void *va = pfn_to_virt(_pfn(pfn));
	memset(va, 0, n * PAGE_SIZE);
	return va;
}

void page_free(void *va, size_t n)
{
	range_free(&page_pool, pfn_x(virt_to_pfn(va)), n);
}

void mm_get_stats(struct mm_stats *out)
{
	out->total_pages = xen_nr_pages - ballooned;
	out->initial_pages = xen_nr_pages;
	out->ballooned_pages = ballooned;
	out->free_pages = page_pool.free;
	out->image_pages = image_pages;
	out->boot_pages = boot_reserved_pages;
	out->pagetable_pages = added_pt_pages;
	out->mapped_pages = mapped_limit;
	out->pt_reserved_pages = pt_reserve_end > next_pt_pfn ? pt_reserve_end - next_pt_pfn : 0;
	out->vmap_used_pages = VMAP_PAGES - vmap_pool.free;
	out->vmalloc_pages = vmalloc_pages;
}

/* ---- balloon ---- */

/* Machine address of the PTE mapping a dom0 pfn (the pfn must be mapped). */
static uint64_t pfn_pte_maddr(uint64_t pfn)
{
	unsigned long va = (unsigned long)pfn_to_virt(_pfn(pfn));
	uint64_t *t = l4_table;

	for (int level = 4; level > 1; level--)
		t = entry_table(t[pt_index(va, level)]);
	return virt_to_maddr(&t[pt_index(va, 1)]);
}

static bool pfn_is_mapped(uint64_t pfn)
{
	return pfn < mm_initial_pages || pfn < mapped_limit;
}

/* The balloon never takes dom0's free pool below this (16 MiB). */
#define BALLOON_MIN_FREE_PAGES 4096

static int balloon_out(uint64_t count)
{
	static uint64_t pfns[512];
	static mmu_update_t batch[512];
	int rc = 0;

	if (page_pool.free < BALLOON_MIN_FREE_PAGES + count) {
		count = page_pool.free > BALLOON_MIN_FREE_PAGES
				? page_pool.free - BALLOON_MIN_FREE_PAGES : 0;
		rc = -ENOMEM;
	}
	while (count) {
		size_t n = range_take_highest(&page_pool, pfns, MIN(count, ARRAY_SIZE(pfns)));
		if (n == 0)
			return -ENOMEM;
		unsigned int k = 0;
		for (size_t i = 0; i < n; i++) {
			if (!pfn_is_mapped(pfns[i]))
				continue;
			batch[k].ptr = pfn_pte_maddr(pfns[i]) | MMU_NORMAL_PT_UPDATE;
			batch[k].val = 0;
			k++;
		}
		if (k)
			must(hyp_mmu_update(batch, k, NULL, DOMID_SELF), "balloon unmap");
		struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
		must(hyp_mmuext_op(&op, 1, NULL, DOMID_SELF), "tlb flush");
		uint64_t done = release_frames(pfns, n, 0);
		if (done < n) {
			/* Xen kept refusing: map the rest again and keep them. */
			for (size_t i = done; i < n; i++) {
				if (pfn_is_mapped(pfns[i]))
					must(hyp_update_va_mapping(
						     (unsigned long)pfn_to_virt(_pfn(pfns[i])),
						     (p2m[pfns[i]] << PAGE_SHIFT) | L1_FLAGS, 0),
					     "balloon remap");
				range_free(&page_pool, pfns[i], 1);
			}
			return -ENOMEM;
		}
		count -= n;
	}
	return rc;
}

static int balloon_in(uint64_t count)
{
	static uint64_t pfns[512];
	static mmu_update_t batch[512];
	uint64_t scan = 0;

	while (count) {
		size_t n = 0;
		for (; scan < xen_nr_pages && n < MIN(count, ARRAY_SIZE(pfns)); scan++)
			if (p2m[scan] == INVALID_P2M)
				pfns[n++] = scan;
		if (n == 0)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			extents[i] = pfns[i];
		struct xen_memory_reservation r = {
			.nr_extents = n, .extent_order = 0, .domid = DOMID_SELF,
		};
		set_xen_guest_handle(r.extent_start, extents);
		long done = hyp_memory_op(XENMEM_populate_physmap, &r);
		if (done < 0)
			done = 0;
		/* For a PV guest Xen fills the M2P itself and returns the mfns;
		 * keel's side is the P2M and its own mappings. */
		unsigned int k = 0;
		for (long i = 0; i < done; i++) {
			uint64_t pfn = pfns[i];
			p2m[pfn] = extents[i];
			if (pfn_is_mapped(pfn)) {
				batch[k].ptr = pfn_pte_maddr(pfn) | MMU_NORMAL_PT_UPDATE;
				batch[k].val = (p2m[pfn] << PAGE_SHIFT) | L1_FLAGS;
				k++;
			}
		}
		if (k)
			must(hyp_mmu_update(batch, k, NULL, DOMID_SELF), "balloon map");
		for (long i = 0; i < done; i++)
			range_free(&page_pool, pfns[i], 1);
		ballooned -= (uint64_t)done;
		count -= (uint64_t)done;
		if ((size_t)done < n)
			return -ENOMEM;
	}
	return 0;
}

bool mm_balloon_boot_pending(void)
{
	return boot_release_next < xen_nr_pages;
}

void mm_balloon_boot_release(void *unused)
{
	/* 32 MiB per slice, then other threads run. */
	const uint64_t slice = 8192;
	uint64_t t0 = time_now_ns(), first = boot_release_next, given0 = ballooned;

	(void)unused;
	while (boot_release_next < xen_nr_pages) {
		uint64_t end = MIN(boot_release_next + slice, xen_nr_pages);
		release_range_at_boot(boot_release_next, end);
		/* What Xen would not take stays dom0's: into the pool. */
		for (uint64_t pfn = boot_release_next; pfn < end; pfn++)
			if (p2m[pfn] != INVALID_P2M)
				range_free(&page_pool, pfn, 1);
		boot_release_next = end;
		thread_yield();
	}
	klog("mm: gave %llu MiB of pfns %#llx-%#llx back to Xen in %llu ms; dom0 keeps %llu MiB\n",
	     (unsigned long long)((ballooned - given0) >> 8), (unsigned long long)first,
	     (unsigned long long)xen_nr_pages, (unsigned long long)((time_now_ns() - t0) / 1000000),
	     (unsigned long long)((xen_nr_pages - ballooned) >> 8));
}

int mm_balloon_set(uint64_t target_pages, uint64_t *now_pages)
{
	uint64_t cur = xen_nr_pages - ballooned;
	int rc = 0;

	if (mm_balloon_boot_pending()) {
		*now_pages = cur;
		return -EBUSY;
	}

	if (target_pages < cur)
		rc = balloon_out(cur - target_pages);
	else if (target_pages > cur)
		rc = balloon_in(target_pages - cur);
	*now_pages = xen_nr_pages - ballooned;
	return rc;
}

/* ---- vmap ---- */

/* The PTE slot for a vmap address, creating its L1 table if needed. */
static uint64_t *vmap_pte(unsigned long va)
{
	unsigned int slot = (va - VMAP_BASE) >> 21;

	if (!vmap_l1[slot]) {
		uint64_t *l2 = entry_table((mfn_x(vmap_l2_mfn) << PAGE_SHIFT) | PTE_PRESENT);
		void *l1 = page_alloc(1);
		if (!l1)
			return NULL;
		install_table(l1, &l2[pt_index(va, 2)]);
		vmap_l1[slot] = l1;
	}
	return &vmap_l1[slot][pt_index(va, 1)];
}

void *vmap_reserve(size_t n)
{
	uint64_t slot;

	if (n == 0 || range_alloc(&vmap_pool, n, 1, &slot))
		return NULL;
	unsigned long va = VMAP_BASE + slot * PAGE_SIZE;
	/* One PTE lookup per 2 MiB creates every table the range needs. */
	for (unsigned long a = va; a < va + n * PAGE_SIZE; a = (a | 0x1fffff) + 1) {
		if (!vmap_pte(a)) {
			range_free(&vmap_pool, slot, n);
			return NULL;
		}
	}
	return (void *)va;
}

void vmap_release(void *va, size_t n)
{
	range_free(&vmap_pool, ((unsigned long)va - VMAP_BASE) / PAGE_SIZE, n);
}

uint64_t vmap_pte_maddr(const void *va)
{
	uint64_t *pte = vmap_pte((unsigned long)va);
	ASSERT(pte);
	return virt_to_maddr(pte);
}

/*
 * One batch buffer for the vmap functions: under TCG the hypercall, not
 * the PTE, is the cost, so batches are large.  Threads are cooperative and
 * none of these functions runs in upcall context, so one static buffer is
 * safe.
 */
static mmu_update_t vmap_batch[512];

/* Clears n PTEs from base (no TLB flush, no slot release). */
static void clear_ptes(unsigned long base, size_t n)
{
	for (size_t done = 0; done < n;) {
		unsigned int k = 0;
		for (; k < ARRAY_SIZE(vmap_batch) && done + k < n; k++) {
			vmap_batch[k].ptr = vmap_pte_maddr((void *)(base + (done + k) * PAGE_SIZE)) |
					    MMU_NORMAL_PT_UPDATE;
			vmap_batch[k].val = 0;
		}
		must(hyp_mmu_update(vmap_batch, k, NULL, DOMID_SELF), "vunmap");
		done += k;
	}
}

static void flush_tlb(void)
{
	struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
	must(hyp_mmuext_op(&op, 1, NULL, DOMID_SELF), "tlb flush");
}

/*
 * Maps n frames at reserved slots from base: mfns[i], or first_mfn + i when
 * mfns is NULL.  On failure, unmaps what it mapped and returns Xen's error.
 */
static int map_frames(unsigned long base, const mfn_t *mfns, uint64_t first_mfn, size_t n,
		      domid_t dom, uint64_t flags)
{
	size_t done = 0;

	while (done < n) {
		unsigned int k = 0;
		for (; k < ARRAY_SIZE(vmap_batch) && done + k < n; k++) {
			unsigned long va = base + (done + k) * PAGE_SIZE;
			uint64_t m = mfns ? mfn_x(mfns[done + k]) : first_mfn + done + k;
			vmap_batch[k].ptr = vmap_pte_maddr((void *)va) | MMU_NORMAL_PT_UPDATE;
			vmap_batch[k].val = (m << PAGE_SHIFT) | flags;
		}
		unsigned int ok = 0;
		long rc = hyp_mmu_update(vmap_batch, k, &ok, dom);
		if (rc < 0) {
			clear_ptes(base, done + ok);
			flush_tlb();
			return (int)rc;
		}
		done += k;
	}
	return 0;
}

void *vmap_mfns_flags(const mfn_t *mfns, size_t n, domid_t dom, bool writable,
		      uint64_t extra_pte_flags, int *err)
{
	unsigned long base = (unsigned long)vmap_reserve(n);

	if (!base) {
		*err = -ENOMEM;
		return NULL;
	}
	uint64_t flags = PTE_PRESENT | PTE_ACCESSED | (writable ? PTE_RW | PTE_DIRTY : 0) |
			 extra_pte_flags;
	int rc = map_frames(base, mfns, 0, n, dom, flags);
	if (rc) {
		vmap_release((void *)base, n);
		*err = rc;
		return NULL;
	}
	return (void *)base;
}

void *vmap_mfns(const mfn_t *mfns, size_t n, domid_t dom, bool writable, int *err)
{
	return vmap_mfns_flags(mfns, n, dom, writable, 0, err);
}

/* Pages per Xen call between two slice() calls: a few ms under TCG. */
#define VMAP_SLICE_PAGES 512

void *vmap_mfns_sliced(const mfn_t *mfns, size_t n, domid_t dom, void (*slice)(void), int *err)
{
	unsigned long base = (unsigned long)vmap_reserve(n);
	uint64_t flags = PTE_PRESENT | PTE_ACCESSED | PTE_RW | PTE_DIRTY;

	if (!base) {
		*err = -ENOMEM;
		return NULL;
	}
	for (size_t done = 0; done < n;) {
		size_t k = MIN(n - done, (size_t)VMAP_SLICE_PAGES);
		int rc = map_frames(base + done * PAGE_SIZE, mfns + done, 0, k, dom, flags);
		if (rc) {
			/* map_frames undid its own part. */
			clear_ptes(base, done);
			flush_tlb();
			vmap_release((void *)base, n);
			*err = rc;
			return NULL;
		}
		done += k;
		slice();
	}
	return (void *)base;
}

void vunmap_sliced(void *va, size_t n, void (*slice)(void))
{
	for (size_t done = 0; done < n;) {
		size_t k = MIN(n - done, (size_t)VMAP_SLICE_PAGES);
		clear_ptes((unsigned long)va + done * PAGE_SIZE, k);
		done += k;
		slice();
	}
	flush_tlb();
	vmap_release(va, n);
}

void vunmap(void *va, size_t n)
{
	if (!n)
		return;
	clear_ptes((unsigned long)va, n);
	flush_tlb();
	vmap_release(va, n);
}

/* ---- vmalloc ---- */

/*
 * Fills the vmalloc area whose first page is base with n fresh pages, k at a
 * time through mfns[cap]; slice (if any) runs between batches.  On failure
 * frees what it took, clears the mappings and releases the area.
 */
static bool vmalloc_fill(unsigned long base, size_t n, mfn_t *mfns, size_t cap,
			 void (*slice)(void))
{
	size_t done = 0;

	while (done < n) {
		size_t k = 0;
		for (; k < cap && done + k < n; k++) {
			void *page = page_alloc(1);
			if (!page)
				break;
			mfns[k] = virt_to_mfn(page);
		}
		int rc = k ? map_frames(base + done * PAGE_SIZE, mfns, 0, k, DOMID_SELF, L1_FLAGS)
			   : -ENOMEM;
		if (rc || k < MIN(cap, n - done)) {
			/* Free the pages of this batch, then everything mapped before. */
			for (size_t i = 0; i < k; i++)
				page_free(pfn_to_virt(mfn_to_pfn(mfns[i])), 1);
			if (!rc && k)
				clear_ptes(base + done * PAGE_SIZE, k);
			for (size_t i = 0; i < done; i++)
				page_free(pfn_to_virt(virt_to_pfn((void *)(base + i * PAGE_SIZE))), 1);
			clear_ptes(base, done);
			flush_tlb();
			vmap_release((void *)(base - PAGE_SIZE), n + 2);
			return false;
		}
		done += k;
		if (slice && done < n)
			slice();
	}
	vmalloc_pages += n;
	return true;
}

void *vmalloc(size_t bytes)
{
	size_t n = bytes ? (bytes + PAGE_SIZE - 1) / PAGE_SIZE : 1;
	static mfn_t mfns[512];

	if (n >= VMAP_PAGES - 2)
		return NULL;
	char *guard = vmap_reserve(n + 2);
	if (!guard)
		return NULL;
	unsigned long base = (unsigned long)guard + PAGE_SIZE;
	return vmalloc_fill(base, n, mfns, ARRAY_SIZE(mfns), NULL) ? (void *)base : NULL;
}

/*
 * Pages allocated, zeroed and mapped between two slice() calls.  Under TCG
 * a page costs 50-100 us (256 pages took 20-37 ms), so 64 is ~5 ms.
 */
#define VMALLOC_SLICE_PAGES 64

void *vmalloc_sliced(size_t bytes, void (*slice)(void))
{
	size_t n = bytes ? (bytes + PAGE_SIZE - 1) / PAGE_SIZE : 1;
	/* Its own frame list: vmalloc's static one may be in use by another
	 * thread while this one is yielding in slice(). */
	mfn_t *mfns = kmalloc(VMALLOC_SLICE_PAGES * sizeof(*mfns));

	if (!mfns || n >= VMAP_PAGES - 2) {
		kfree(mfns);
		return NULL;
	}
	char *guard = vmap_reserve(n + 2);
	if (!guard) {
		kfree(mfns);
		return NULL;
	}
	unsigned long base = (unsigned long)guard + PAGE_SIZE;
	bool ok = vmalloc_fill(base, n, mfns, VMALLOC_SLICE_PAGES, slice);
	kfree(mfns);
	return ok ? (void *)base : NULL;
}

size_t vmalloc_size(const void *va)
{
	unsigned long a = (unsigned long)va;
	size_t n = 0;

	if (a < VMAP_BASE + PAGE_SIZE || (a & (PAGE_SIZE - 1)))
		return 0;
	if (vmap_pte_read((void *)(a - PAGE_SIZE)) & PTE_PRESENT)
		return 0; /* not the start of an area: no guard below */
	while (a + n * PAGE_SIZE < VMAP_BASE + VMAP_PAGES * PAGE_SIZE &&
	       (vmap_pte_read((void *)(a + n * PAGE_SIZE)) & PTE_PRESENT))
		n++;
	return n * PAGE_SIZE;
}

void vfree(void *va)
{
	if (!va)
		return;
	size_t n = vmalloc_size(va) / PAGE_SIZE;
	ASSERT(n);
	unsigned long base = (unsigned long)va;
	for (size_t i = 0; i < n; i++)
		page_free(pfn_to_virt(virt_to_pfn((void *)(base + i * PAGE_SIZE))), 1);
	clear_ptes(base, n);
	flush_tlb();
	vmap_release((void *)(base - PAGE_SIZE), n + 2);
	vmalloc_pages -= n;
}

/* ---- device memory ---- */

/*
 * Xen programs the PAT for PV guests as XEN_MSR_PAT = 0x050100070406
 * (xen/arch/x86/include/asm/processor.h): entries WB, WT, UC-, UC, WC, WP,
 * UC, UC.  A PTE without the PAT bit selects entry PCD*2 + PWT, so
 * PCD|PWT is entry 3: strong uncacheable, what device registers need.
 */
#define PTE_CACHE_UC (PTE_PCD | PTE_PWT)

static void *ioremap_flags(uint64_t maddr, size_t len, bool writable, uint64_t cache)
{
	uint64_t first = maddr >> PAGE_SHIFT;
	uint64_t n = ((maddr + len + PAGE_SIZE - 1) >> PAGE_SHIFT) - first;

	if (len == 0 || maddr + len < maddr || n >= VMAP_PAGES)
		return NULL;
	char *va = vmap_reserve(n);
	if (!va)
		return NULL;
	uint64_t flags = PTE_PRESENT | PTE_ACCESSED | (writable ? PTE_RW | PTE_DIRTY : 0) | cache;
	if (map_frames((unsigned long)va, NULL, first, n, DOMID_IO, flags)) {
		vmap_release(va, n);
		return NULL;
	}
	return va + (maddr & (PAGE_SIZE - 1));
}

void *ioremap(uint64_t maddr, size_t len, bool writable)
{
	return ioremap_flags(maddr, len, writable, PTE_CACHE_UC);
}

void *ioremap_cached(uint64_t maddr, size_t len, bool writable)
{
	return ioremap_flags(maddr, len, writable, 0);
}

void iounmap(void *va, size_t len)
{
	unsigned long a = (unsigned long)va;
	size_t n = ((a + len + PAGE_SIZE - 1) >> PAGE_SHIFT) - (a >> PAGE_SHIFT);
	vunmap((void *)(a & ~(PAGE_SIZE - 1)), n);
}

void p2m_set(pfn_t pfn, mfn_t mfn)
{
	ASSERT(pfn_x(pfn) < xen_nr_pages);
	p2m[pfn_x(pfn)] = mfn_x(mfn);
}

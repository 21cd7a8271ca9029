/*
 * x86_64 PV page tables for dom0: extending Xen's initial linear mapping over
 * every page dom0 owns, and the vmap area for frames dom0 does not own as RAM.
 * The pure allocator behind both is lib/range_alloc.c; the heap is kernel/heap.c.
 *
 * Rules Xen enforces (shared/reference fact 9): page-table pages must not be
 * mapped writable anywhere, so a new table is zeroed while still ordinary
 * memory, then its own mapping is made read-only, and only then hooked into
 * its parent through mmu_update, which validates it.
 */
#include <keel/hypercall.h>
#include <keel/mm.h>
#include <lib/range_alloc.h>

#define PTE_PRESENT 0x001UL
#define PTE_RW 0x002UL
#define PTE_USER 0x004UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY 0x040UL
#define PTE_ADDR_MASK 0x000ffffffffff000UL
#define PT_FLAGS (PTE_PRESENT | PTE_RW | PTE_USER | PTE_ACCESSED | PTE_DIRTY)
#define L1_FLAGS (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY)

extern char _text[], _end[];

static uint64_t *p2m;           /* start_info mfn_list: pfn -> mfn */
static uint64_t nr_pages;       /* pages covered by the linear map */
static uint64_t *l4_table;      /* start_info pt_base */
static uint64_t next_pt_pfn;    /* boot-time page-table pages come from here */
static uint64_t added_pt_pages;
static uint64_t boot_reserved_pages, image_pages;

static struct range_alloc page_pool;
static struct range_alloc vmap_pool;
static uint64_t *vmap_l1[512];  /* the L1 tables of the vmap area, by 2 MiB slot */
static mfn_t vmap_l2_mfn;

mfn_t pfn_to_mfn(pfn_t p)
{
	return _mfn(p2m[pfn_x(p)]);
}

pfn_t mfn_to_pfn(mfn_t m)
{
	return _pfn(machine_to_phys_mapping[mfn_x(m)]);
}

mfn_t virt_to_mfn(const void *va)
{
	return pfn_to_mfn(virt_to_pfn(va));
}

uint64_t virt_to_maddr(const void *va)
{
	return (mfn_x(virt_to_mfn(va)) << PAGE_SHIFT) | ((unsigned long)va & (PAGE_SIZE - 1));
}

static unsigned int pt_index(unsigned long va, int level)
{
	return (va >> (12 + 9 * (level - 1))) & 511;
}

/* The table an entry points to, through the linear map. */
static uint64_t *entry_table(uint64_t entry)
{
	return pfn_to_virt(mfn_to_pfn(_mfn((entry & PTE_ADDR_MASK) >> PAGE_SHIFT)));
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
 * *parent_entry.  The page's own mapping becomes read-only first: Xen refuses
 * a table that is writable anywhere.
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
 * L1 tables for the linear map come from a run of pages reserved at boot
 * right after Xen's boot structures.  Chunk K (pfns K*512..) takes reserved
 * page K, which always lies in a chunk mapped before K (Xen's initial mapping
 * covers at least 512 KiB past the boot stack, and later chunks are mapped in
 * order), so a table page is always writable before it is hooked in.
 */
static uint64_t pt_reserve_end;

static void *reserved_table_page(void)
{
	ASSERT(next_pt_pfn < pt_reserve_end);
	return pfn_to_virt(_pfn(next_pt_pfn++));
}

/* Returns the L1 table covering va, creating tables on the way with get_page. */
static uint64_t *l1_for(unsigned long va, void *(*get_page)(void))
{
	uint64_t *l3e = &entry_table(l4_table[pt_index(va, 4)])[pt_index(va, 3)];
	if (!(*l3e & PTE_PRESENT))
		install_table(get_page(), l3e);
	uint64_t *l2e = &entry_table(*l3e)[pt_index(va, 2)];
	if (!(*l2e & PTE_PRESENT))
		install_table(get_page(), l2e);
	return entry_table(*l2e);
}

/* Every pfn below mapped_limit is mapped in the linear map. */
static uint64_t mapped_limit;


/*
 * Maps pfns up to end (rounded up to 2 MiB) at KEEL_VIRT_BASE + pfn * 4096,
 * one table walk and one mmu_update batch per L1 table: under TCG each
 * hypercall, and each PTE Xen validates, is costly, so this runs lazily as
 * the page allocator first hands out pages in a chunk, not all at boot.
 */
static void linear_map_ensure(uint64_t end)
{
	static mmu_update_t batch[512];

	while (mapped_limit < end && mapped_limit < nr_pages) {
		uint64_t pfn = mapped_limit;
		unsigned long va = (unsigned long)pfn_to_virt(_pfn(pfn));
		uint64_t *l1 = l1_for(va, reserved_table_page);
		unsigned int n = 0;
		for (unsigned int i = pt_index(va, 1); i < 512 && pfn < nr_pages; i++, pfn++) {
			if (l1[i] & PTE_PRESENT)
				continue;
			batch[n].ptr = virt_to_maddr(&l1[i]) | MMU_NORMAL_PT_UPDATE;
			batch[n].val = (p2m[pfn] << PAGE_SHIFT) | L1_FLAGS;
			n++;
		}
		if (n)
			must(hyp_mmu_update(batch, n, NULL, DOMID_SELF), "linear map");
		mapped_limit = pfn;
	}
}

void mm_init(start_info_t *si)
{
	p2m = (uint64_t *)si->mfn_list;
	l4_table = (uint64_t *)si->pt_base;
	nr_pages = si->nr_pages;
	if (nr_pages > LINEAR_MAX_PAGES) {
		klog("mm: dom0 has %llu pages; keel maps the first %lu (1 GiB) and leaves the rest\n",
		     (unsigned long long)nr_pages, LINEAR_MAX_PAGES);
		nr_pages = LINEAR_MAX_PAGES;
	}

	/* Xen's boot structures end with the page tables and the boot stack
	 * (fact 9); everything after them is free.  keel runs on its own stack,
	 * so the boot stack page is free too. */
	uint64_t first_free = virt_to_pfn((void *)si->pt_base).pfn + si->nr_pt_frames;
	next_pt_pfn = first_free;
	pt_reserve_end = first_free + (nr_pages + 511) / 512;

	/* The allocator's bitmap follows the reserved table pages. */
	size_t bitmap_bytes = RANGE_ALLOC_BITMAP_BYTES(nr_pages);
	size_t bitmap_pages = (bitmap_bytes + PAGE_SIZE - 1) / PAGE_SIZE;
	uint64_t bitmap_pfn = pt_reserve_end;
	uint64_t pool_start = bitmap_pfn + bitmap_pages;
	linear_map_ensure(pool_start);
	range_init(&page_pool, 0, nr_pages, pfn_to_virt(_pfn(bitmap_pfn)));
	range_free(&page_pool, pool_start, nr_pages - pool_start);
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
	linear_map_ensure(pfn + n);
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
	out->total_pages = nr_pages;
	out->free_pages = page_pool.free;
	out->image_pages = image_pages;
	out->boot_pages = boot_reserved_pages;
	out->pagetable_pages = added_pt_pages;
	out->mapped_pages = mapped_limit;
	out->pt_reserved_pages = pt_reserve_end - next_pt_pfn;
	out->vmap_used_pages = VMAP_PAGES - vmap_pool.free;
}

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

	if (range_alloc(&vmap_pool, n, 1, &slot))
		return NULL;
	unsigned long va = VMAP_BASE + slot * PAGE_SIZE;
	for (size_t i = 0; i < n; i++) {
		if (!vmap_pte(va + i * PAGE_SIZE)) {
			range_free(&vmap_pool, slot, n);
			return NULL;
		}
	}
	return (void *)va;
}

uint64_t vmap_pte_maddr(const void *va)
{
	uint64_t *pte = vmap_pte((unsigned long)va);
	ASSERT(pte);
	return virt_to_maddr(pte);
}

/*
 * One batch buffer for vmap_mfns and vunmap: under TCG the hypercall, not
 * the PTE, is the cost, so batches are large.  Threads are cooperative and
 * neither function runs in upcall context, so one static buffer is safe.
 */
static mmu_update_t vmap_batch[512];

void *vmap_mfns(const mfn_t *mfns, size_t n, domid_t dom, bool writable, int *err)
{
	unsigned long base = (unsigned long)vmap_reserve(n);
	mmu_update_t *batch = vmap_batch;
	const unsigned int batch_max = ARRAY_SIZE(vmap_batch);
	size_t done = 0;

	if (!base) {
		*err = -ENOMEM;
		return NULL;
	}
	while (done < n) {
		unsigned int k = 0;
		for (; k < batch_max && done + k < n; k++) {
			unsigned long va = base + (done + k) * PAGE_SIZE;
			batch[k].ptr = vmap_pte_maddr((void *)va) | MMU_NORMAL_PT_UPDATE;
			batch[k].val = (mfn_x(mfns[done + k]) << PAGE_SHIFT) | PTE_PRESENT |
				       PTE_ACCESSED | (writable ? PTE_RW | PTE_DIRTY : 0);
		}
		unsigned int ok = 0;
		long rc = hyp_mmu_update(batch, k, &ok, dom);
		if (rc < 0) {
			vunmap((void *)base, done + ok);
			range_free(&vmap_pool, (base - VMAP_BASE) / PAGE_SIZE + done + ok,
				   n - done - ok);
			*err = (int)rc;
			return NULL;
		}
		done += k;
	}
	return (void *)base;
}

void vunmap(void *va, size_t n)
{
	unsigned long base = (unsigned long)va;
	mmu_update_t *batch = vmap_batch;
	const unsigned int batch_max = ARRAY_SIZE(vmap_batch);

	if (!n)
		return;
	for (size_t done = 0; done < n;) {
		unsigned int k = 0;
		for (; k < batch_max && done + k < n; k++) {
			batch[k].ptr = vmap_pte_maddr((void *)(base + (done + k) * PAGE_SIZE)) |
				       MMU_NORMAL_PT_UPDATE;
			batch[k].val = 0;
		}
		must(hyp_mmu_update(batch, k, NULL, DOMID_SELF), "vunmap");
		done += k;
	}
	struct mmuext_op op = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
	must(hyp_mmuext_op(&op, 1, NULL, DOMID_SELF), "tlb flush");
	range_free(&vmap_pool, (base - VMAP_BASE) / PAGE_SIZE, n);
}

void *ioremap(uint64_t maddr, size_t len, bool writable)
{
	uint64_t first = maddr >> PAGE_SHIFT;
	size_t n = ((maddr + len + PAGE_SIZE - 1) >> PAGE_SHIFT) - first;
	mfn_t mfns[64];
	int err;

	if (n == 0 || n > ARRAY_SIZE(mfns))
		return NULL;
	for (size_t i = 0; i < n; i++)
		mfns[i] = _mfn(first + i);
	char *va = vmap_mfns(mfns, n, DOMID_IO, writable, &err);
	return va ? va + (maddr & (PAGE_SIZE - 1)) : NULL;
}

void iounmap(void *va, size_t len)
{
	unsigned long a = (unsigned long)va;
	size_t n = ((a + len + PAGE_SIZE - 1) >> PAGE_SHIFT) - (a >> PAGE_SHIFT);
	vunmap((void *)(a & ~(PAGE_SIZE - 1)), n);
}

void p2m_set(pfn_t pfn, mfn_t mfn)
{
	ASSERT(pfn_x(pfn) < nr_pages);
	p2m[pfn_x(pfn)] = mfn_x(mfn);
}

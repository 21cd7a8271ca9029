/*
 * dom0's memory: frame numbers, the page allocator, the direct map, vmalloc
 * (scattered pages mapped contiguously), and mappings of machine frames that
 * are not our own RAM (grants, other domains' pages, MMIO, ACPI tables).
 *
 * Virtual layout (x86_64 PV; Xen owns 0xffff800000000000-0xffff87ffffffffff):
 *
 *   DIRECTMAP_BASE  0xffff888000000000  every dom0 page Xen's initial mapping
 *                                        does not cover: pfn N at base + N*4096,
 *                                        grown lazily, up to 512 GiB
 *   KEEL_VIRT_BASE  0xffffffff80000000  Xen's initial mapping, left where Xen
 *                                        put it: keel's image, the boot module,
 *                                        the p2m, start_info, Xen's page tables
 *   VMAP_BASE       0xffffffffc0000000  vmap: vmalloc areas, thread stacks,
 *                                        foreign/grant/I/O mappings (1 GiB)
 *
 * Each dom0 pfn has exactly one mapping in keel's own regions: pfns below
 * the end of Xen's initial mapping keep the alias Xen made, all others live
 * in the direct map.  pfn_to_virt() picks the right one, so page-table pages
 * have a single mapping to make read-only (Xen refuses a page table that is
 * writable anywhere).  Every page-table change goes through mmu_update /
 * update_va_mapping.
 */
#ifndef KEEL_MM_H
#define KEEL_MM_H

#include <lib/base.h>
#include <xen/xen.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096UL
#define KEEL_VIRT_BASE 0xffffffff80000000UL
#define DIRECTMAP_BASE 0xffff888000000000UL
/* The direct map is one L4 slot: 512 GiB. */
#define DIRECTMAP_MAX_PAGES (1UL << 27)
/* vmap: the last GiB of the address space, 4 KiB slots. */
#define VMAP_BASE 0xffffffffc0000000UL
#define VMAP_PAGES ((1UL << 18) - 1)

typedef struct { uint64_t pfn; } pfn_t;
typedef struct { uint64_t mfn; } mfn_t;
static inline pfn_t _pfn(uint64_t v) { return (pfn_t){ v }; }
static inline mfn_t _mfn(uint64_t v) { return (mfn_t){ v }; }
static inline uint64_t pfn_x(pfn_t p) { return p.pfn; }
static inline uint64_t mfn_x(mfn_t m) { return m.mfn; }

/* Number of pfns Xen's initial mapping (at KEEL_VIRT_BASE) covers. */
extern uint64_t mm_initial_pages;

/* The one mapping keel uses for a dom0 pfn (see the layout above). */
static inline void *pfn_to_virt(pfn_t p)
{
	if (pfn_x(p) < mm_initial_pages)
		return (void *)(KEEL_VIRT_BASE + (pfn_x(p) << PAGE_SHIFT));
	return (void *)(DIRECTMAP_BASE + (pfn_x(p) << PAGE_SHIFT));
}

/*
 * The dom0 pfn behind a virtual address of the image, the direct map or the
 * vmap area (a vmap address of our own frame, e.g. vmalloc, is looked up in
 * its PTE).  Anything else is a caller bug (ASSERT).
 */
pfn_t virt_to_pfn(const void *va);

mfn_t pfn_to_mfn(pfn_t p);
/* Records that pfn is now backed by mfn (after XENMEM_exchange); the caller
 * also updates the page's mapping and the M2P. */
void p2m_set(pfn_t pfn, mfn_t mfn);
pfn_t mfn_to_pfn(mfn_t m);
mfn_t virt_to_mfn(const void *va);
/* Machine address of a byte of dom0 memory (for hypercall arguments). */
uint64_t virt_to_maddr(const void *va);

/*
 * Sets up the direct map and the page allocator from start_info, and gives
 * Xen back every page above keep_pages (0: keep all).  Boot only.
 */
void mm_init(start_info_t *si, uint64_t keep_pages);

/*
 * Page allocator.  Returns n pfn-contiguous (not machine-contiguous) zeroed
 * pages, or NULL.  Never sleeps; callable with events masked.  For large
 * buffers that need no pfn contiguity use vmalloc().
 */
void *page_alloc(size_t n);
void page_free(void *va, size_t n);

/*
 * vmalloc: n = ceil(bytes / 4096) zeroed pages, each taken alone from the
 * page allocator (no long contiguous run needed), mapped at consecutive
 * vmap addresses with an unmapped guard page on each side.  Returns NULL on
 * ENOMEM.  Never sleeps.  The pages are ordinary dom0 memory: virt_to_mfn
 * works per page, but the buffer is not machine- or pfn-contiguous.
 */
void *vmalloc(size_t bytes);
/*
 * The same for large buffers allocated where the caller may yield: slice()
 * is called between batches of a few hundred pages (zeroing and mapping 64
 * MiB at once keeps dom0 busy for 100-400 ms under TCG).  Thread context,
 * events unmasked.  Free with vfree (or kfree through kmalloc_sliced).
 */
void *vmalloc_sliced(size_t bytes, void (*slice)(void));
/* Frees a vmalloc area (NULL is a no-op); the size is found from the guards. */
void vfree(void *va);
/* Bytes mapped in the vmalloc area starting at va (0 if va is not one). */
size_t vmalloc_size(const void *va);
/* True for an address inside the vmap area. */
static inline bool is_vmap_addr(const void *va)
{
	return (unsigned long)va >= VMAP_BASE;
}


struct mm_stats {
	uint64_t total_pages;     /* pages dom0 holds now (Xen's view: tot_pages) */
	uint64_t initial_pages;   /* pages Xen gave dom0 at boot (start_info nr_pages) */
	uint64_t ballooned_pages; /* given back to Xen (boot dom0_keep or mem-set) */
	uint64_t free_pages;      /* in the allocator now */
	uint64_t image_pages;     /* keel's own image (text+data+bss) */
	uint64_t boot_pages;      /* Xen's boot structures: p2m, start_info, page tables, module */
	uint64_t pagetable_pages; /* page tables keel added */
	uint64_t vmap_used_pages;
	uint64_t vmalloc_pages;   /* pages backing vmalloc areas and stacks */
	uint64_t pt_reserved_pages; /* set aside for future direct-map tables */
	uint64_t mapped_pages;    /* direct map extent so far (it grows lazily) */
};
void mm_get_stats(struct mm_stats *out);

/*
 * Balloon: changes how many pages dom0 holds.  Shrinking takes free pages
 * from the top of the allocator (never leaving it under 16 MiB free), unmaps them and returns them with
 * XENMEM_decrease_reservation; growing asks Xen for pages again with
 * XENMEM_populate_physmap into pfns given back earlier (never beyond what
 * Xen gave at boot).  Returns 0, or -ENOMEM when only part could be done
 * (*now_pages tells where dom0 ended).  Thread context; never sleeps.
 */
int mm_balloon_set(uint64_t target_pages, uint64_t *now_pages);
/*
 * The boot-time give-back (dom0_keep): mm_init only sets the pages aside;
 * this thread body returns them to Xen in 32 MiB slices, yielding between
 * slices, and logs what it gave.  mm_balloon_set says -EBUSY until then.
 */
bool mm_balloon_boot_pending(void);
void mm_balloon_boot_release(void *unused);

/*
 * Maps n machine frames (owned by domain dom: DOMID_SELF, DOMID_IO for MMIO
 * and firmware tables, or another domid for foreign mappings) at consecutive
 * virtual addresses in the vmap area.  Returns the address, or NULL with
 * *err set to the negative errno (-ENOMEM: no room; Xen's error otherwise).
 * extra_pte_flags are ORed into each PTE (cache attributes).
 */
void *vmap_mfns(const mfn_t *mfns, size_t n, domid_t dom, bool writable, int *err);
void *vmap_mfns_flags(const mfn_t *mfns, size_t n, domid_t dom, bool writable,
		      uint64_t extra_pte_flags, int *err);
/*
 * Removes a vmap mapping made by vmap_mfns and flushes the TLB.  Pages are
 * not freed.  Never use it on grant mappings (gnttab_unmap does those).
 */
void vunmap(void *va, size_t n);
/*
 * The same for long writable mappings (the domain builder's boot region):
 * slice() is called between batches of VMAP_SLICE_PAGES, where the caller
 * may yield; the range is reserved throughout.  Thread context.
 */
void *vmap_mfns_sliced(const mfn_t *mfns, size_t n, domid_t dom, void (*slice)(void), int *err);
void vunmap_sliced(void *va, size_t n, void (*slice)(void));
/*
 * Reserves n vmap slots with their page tables but maps nothing (for grant
 * maps); vmap_release gives the slots back once nothing is mapped in them.
 */
void *vmap_reserve(size_t n);
void vmap_release(void *va, size_t n);
/* Machine address of the PTE that maps va (va must be reserved vmap). */
uint64_t vmap_pte_maddr(const void *va);
/* The PTE that maps va, read through its table (0 if none). */
uint64_t vmap_pte_read(const void *va);

/*
 * Maps a machine byte range of device memory (a BAR: any size the vmap area
 * can hold) UNCACHED: PCD|PWT in the PTE, which Xen's PV PAT layout makes
 * UC.  ioremap_cached is for firmware tables in RAM (ACPI), mapped write-back.
 * Both return NULL on failure; undo with iounmap.
 */
void *ioremap(uint64_t maddr, size_t len, bool writable);
void *ioremap_cached(uint64_t maddr, size_t len, bool writable);
void iounmap(void *va, size_t len);

#endif

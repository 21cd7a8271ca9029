/*
 * dom0's memory: frame numbers, the page allocator, and mappings of machine
 * frames that are not our own RAM (grants, other domains' pages, MMIO, ACPI
 * tables).
 *
 * Every page Xen gave dom0 is mapped once, linearly: pfn N lives at
 * KEEL_VIRT_BASE + N * 4096 (Xen's initial mapping is already laid out that
 * way; mm_init extends it to every page).  Foreign and I/O frames are mapped
 * into the vmap area above it.  Page-table pages are never writable: every
 * change goes through mmu_update / update_va_mapping.
 */
#ifndef KEEL_MM_H
#define KEEL_MM_H

#include <lib/base.h>
#include <xen/xen.h>

#define PAGE_SHIFT 12
#define PAGE_SIZE 4096UL
#define KEEL_VIRT_BASE 0xffffffff80000000UL
/* The linear map may use at most the 1 GiB slot at KEEL_VIRT_BASE. */
#define LINEAR_MAX_PAGES (1UL << 18)
/* vmap: the last GiB of the address space, 4 KiB slots. */
#define VMAP_BASE 0xffffffffc0000000UL
#define VMAP_PAGES ((1UL << 18) - 1)

typedef struct { uint64_t pfn; } pfn_t;
typedef struct { uint64_t mfn; } mfn_t;
static inline pfn_t _pfn(uint64_t v) { return (pfn_t){ v }; }
static inline mfn_t _mfn(uint64_t v) { return (mfn_t){ v }; }
static inline uint64_t pfn_x(pfn_t p) { return p.pfn; }
static inline uint64_t mfn_x(mfn_t m) { return m.mfn; }

static inline void *pfn_to_virt(pfn_t p)
{
	return (void *)(KEEL_VIRT_BASE + (pfn_x(p) << PAGE_SHIFT));
}

static inline pfn_t virt_to_pfn(const void *va)
{
	return _pfn(((unsigned long)va - KEEL_VIRT_BASE) >> PAGE_SHIFT);
}

mfn_t pfn_to_mfn(pfn_t p);
/* Records that pfn is now backed by mfn (after XENMEM_exchange); the caller
 * also updates the page's mapping and the M2P. */
void p2m_set(pfn_t pfn, mfn_t mfn);
pfn_t mfn_to_pfn(mfn_t m);
mfn_t virt_to_mfn(const void *va);
/* Machine address of a byte of the linear map (for hypercall arguments). */
uint64_t virt_to_maddr(const void *va);

/* Sets up the linear map and the page allocator from start_info. */
void mm_init(start_info_t *si);

/*
 * Page allocator.  Returns n pfn-contiguous (not machine-contiguous) zeroed
 * pages, or NULL.  Never sleeps; callable with events masked.
 */
void *page_alloc(size_t n);
void page_free(void *va, size_t n);

struct mm_stats {
	uint64_t total_pages;     /* pages Xen gave dom0 (start_info nr_pages) */
	uint64_t free_pages;      /* in the allocator now */
	uint64_t image_pages;     /* keel's own image (text+data+bss) */
	uint64_t boot_pages;      /* Xen's boot structures: p2m, start_info, page tables, module */
	uint64_t pagetable_pages; /* page tables keel added */
	uint64_t vmap_used_pages;
	uint64_t pt_reserved_pages; /* set aside for future linear-map tables */
	uint64_t mapped_pages;    /* linear map extent so far (it grows lazily) */
};
void mm_get_stats(struct mm_stats *out);

/*
 * Maps n machine frames (owned by domain dom: DOMID_SELF, DOMID_IO for MMIO
 * and firmware tables, or another domid for foreign mappings) at consecutive
 * virtual addresses in the vmap area.  Returns the address, or NULL with
 * *err set to the negative errno (-ENOMEM: no room; Xen's error otherwise).
 */
void *vmap_mfns(const mfn_t *mfns, size_t n, domid_t dom, bool writable, int *err);
/* Removes a vmap mapping and flushes the TLB.  Pages are not freed. */
void vunmap(void *va, size_t n);
/* Reserves n vmap slots with page tables but maps nothing (for grant maps). */
void *vmap_reserve(size_t n);
/* Machine address of the PTE that maps va (va must be in vmap). */
uint64_t vmap_pte_maddr(const void *va);

/* Maps a physical (machine) byte range of firmware or MMIO, read-only unless asked. */
void *ioremap(uint64_t maddr, size_t len, bool writable);
void iounmap(void *va, size_t len);

#endif

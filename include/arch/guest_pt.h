/*
 * The x86_64 half of the PV domain builder (arch/x86_64/guest_pt.c): the
 * initial 4-level page tables a PV guest starts on, as Xen's own dom0 builder
 * and libxenguest lay them out, and pinning them.  The common builder
 * (toolstack/builder.c) plans the guest's virtual layout, maps its boot
 * region and calls these hooks; it knows nothing of page-table formats.
 */
#ifndef KEEL_ARCH_GUEST_PT_H
#define KEEL_ARCH_GUEST_PT_H

#include <lib/base.h>
#include <xen/xen.h>

/* What arch_guest_pt_build() needs: the guest's frames and where it maps. */
struct arch_guest_pt {
	uint64_t base;            /* first virtual address mapped (VIRT_BASE) */
	uint64_t end;             /* end of the mapping, page aligned */
	uint64_t pt_va;           /* guest virtual address of the first table page */
	uint64_t nr_pt_pages;     /* table pages reserved at pt_va */
	uint8_t *map;             /* dom0 mapping of guest pfns [0, end - base) */
	const uint64_t *p2m;      /* guest pfn -> mfn, (end - base) / 4 KiB entries */
	void (*slice)(void);      /* called every few hundred entries (may yield); or NULL */
};

/* Table pages (L4 to L1) needed to map [base, end).  Pure. */
uint64_t arch_guest_pt_pages(uint64_t base, uint64_t end);

/*
 * Writes the tables into the reserved pages through pt->map: [base, end)
 * mapped to the guest's own frames, read-write except the table pages
 * themselves (Xen refuses a writable mapping of a page table).  Returns 0,
 * or -ERANGE if nr_pt_pages is too small.  May sleep only through
 * pt->slice.
 */
int arch_guest_pt_build(const struct arch_guest_pt *pt);

/*
 * Pins the guest's L4 (machine frame l4_mfn) so Xen validates and types the
 * whole tree.  No writable mapping of any table page may remain.  0 or the
 * hypercall's -errno.  Does not sleep.
 */
int arch_guest_pt_pin(domid_t domid, uint64_t l4_mfn);

/* The CR3 value for vCPU context naming l4_mfn (xen_pfn_to_cr3). */
uint64_t arch_guest_pt_cr3(uint64_t l4_mfn);

#endif

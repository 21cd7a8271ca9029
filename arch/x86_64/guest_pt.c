/*
 * x86_64 PV guest start-of-day page tables (see include/arch/guest_pt.h).
 * Owns the 4-level format and the MMUEXT pin; the builder owns the layout
 * and the mapping of guest memory.
 */
#include <arch/guest_pt.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>

#define PTE_PRESENT 0x001UL
#define PTE_RW 0x002UL
#define PTE_USER 0x004UL
#define PTE_ACCESSED 0x020UL
#define PTE_DIRTY 0x040UL
#define L1_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED)
#define TABLE_PROT (PTE_PRESENT | PTE_RW | PTE_ACCESSED | PTE_DIRTY | PTE_USER)
#define PT_PAGE_BYTES 4096UL
#define PT_PAGE_SHIFT 12
/* Entries written between two calls of the slice hook. */
#define PT_SLICE_ENTRIES 4096

uint64_t arch_guest_pt_pages(uint64_t base, uint64_t end)
{
	uint64_t n = 1; /* L4 */

	for (int level = 3; level >= 1; level--) {
		unsigned int shift = 12 + 9 * level;
		n += ((end - 1) >> shift) - (base >> shift) + 1;
	}
	return n;
}

int arch_guest_pt_build(const struct arch_guest_pt *pt)
{
	uint64_t first = (pt->pt_va - pt->base) >> PT_PAGE_SHIFT;  /* guest pfn */
	uint64_t next = first, limit = first + pt->nr_pt_pages;
	uint64_t *l4, *l3 = NULL, *l2 = NULL, *l1 = NULL;
	unsigned int cur4 = 512, cur3 = 512, cur2 = 512, since_slice = 0;

	if (arch_guest_pt_pages(pt->base, pt->end) > pt->nr_pt_pages)
		return -ERANGE;
	memset(pt->map + (first << PT_PAGE_SHIFT), 0, pt->nr_pt_pages * PT_PAGE_BYTES);
	l4 = (uint64_t *)(pt->map + (next++ << PT_PAGE_SHIFT));
	/* Addresses only grow, so a table is complete once its index moves on. */
	for (uint64_t va = pt->base; va < pt->end; va += PT_PAGE_BYTES) {
		unsigned int i4 = (va >> 39) & 511, i3 = (va >> 30) & 511;
		unsigned int i2 = (va >> 21) & 511, i1 = (va >> 12) & 511;

		if (i4 != cur4) {
			l4[i4] = (pt->p2m[next] << PT_PAGE_SHIFT) | TABLE_PROT;
			l3 = (uint64_t *)(pt->map + (next++ << PT_PAGE_SHIFT));
			cur4 = i4;
			cur3 = 512;
		}
		if (i3 != cur3) {
			l3[i3] = (pt->p2m[next] << PT_PAGE_SHIFT) | TABLE_PROT;
			l2 = (uint64_t *)(pt->map + (next++ << PT_PAGE_SHIFT));
			cur3 = i3;
			cur2 = 512;
		}
		if (i2 != cur2) {
			l2[i2] = (pt->p2m[next] << PT_PAGE_SHIFT) | TABLE_PROT;
			l1 = (uint64_t *)(pt->map + (next++ << PT_PAGE_SHIFT));
			cur2 = i2;
		}
		uint64_t pfn = (va - pt->base) >> PT_PAGE_SHIFT;
		uint64_t prot = L1_PROT;
		if (pfn >= first && pfn < limit)
			prot &= ~PTE_RW; /* page tables are never writable */
		l1[i1] = (pt->p2m[pfn] << PT_PAGE_SHIFT) | prot;
		if (pt->slice && ++since_slice == PT_SLICE_ENTRIES) {
			since_slice = 0;
			pt->slice();
		}
	}
	ASSERT(next <= limit);
	return 0;
}

int arch_guest_pt_pin(domid_t domid, uint64_t l4_mfn)
{
	struct mmuext_op pin = { .cmd = MMUEXT_PIN_L4_TABLE };

	pin.arg1.mfn = l4_mfn;
	return (int)hyp_mmuext_op(&pin, 1, NULL, domid);
}

uint64_t arch_guest_pt_cr3(uint64_t l4_mfn)
{
	return xen_pfn_to_cr3(l4_mfn);
}

/*
 * DMA addresses for devices keel drives (kernel/dma.c).  A device sees
 * machine addresses, never dom0's pfns: dom0's pfn-contiguous memory is
 * scattered in machine memory (the P2M decides), so every address a driver
 * hands to a device goes through this API, and its type (dma_addr_t) is
 * distinct from pointers, pfn_t and mfn_t so that a pfn or a virtual address
 * given to a device is a compile error.
 *
 * Contiguity: one page is always machine-contiguous.  A buffer a device
 * must see as contiguous across pages (a queue larger than a page, a
 * descriptor table) comes from dma_alloc_contig(), which trades dom0's pages
 * for a machine-contiguous extent with XENMEM_exchange.  Scatter lists are
 * built per page with dma_map_virt() on page-bounded pieces.
 */
#ifndef KEEL_DMA_H
#define KEEL_DMA_H

#include <keel/mm.h>
#include <lib/base.h>

typedef struct { uint64_t addr; } dma_addr_t;

static inline dma_addr_t _dma(uint64_t a) { return (dma_addr_t){ a }; }
static inline uint64_t dma_x(dma_addr_t d) { return d.addr; }

/* The bus address of a byte of dom0's RAM (linear map).  Only the rest of
 * its page is contiguous behind it. */
dma_addr_t dma_map_virt(const void *va);
/* The bus address of a byte of a machine frame (a guest page mapped
 * through a grant, whose mfn the grant map returned). */
static inline dma_addr_t dma_from_mfn(mfn_t m, unsigned int offset)
{
	return _dma((mfn_x(m) << PAGE_SHIFT) + offset);
}

/* One zeroed page for a device queue: *va for the CPU, *dma for the device.
 * 0 or -ENOMEM.  May not be called from upcall context. */
int dma_alloc_page(void **va, dma_addr_t *dma);
void dma_free_page(void *va);

/*
 * n zeroed pages (n a power of two, at most 512) machine-contiguous below
 * 2^address_bits (64: anywhere), obtained by exchanging dom0 pages with Xen.
 * 0, -ENOMEM (no dom0 pages) or Xen's error (no contiguous machine memory).
 */
int dma_alloc_contig(size_t n, unsigned int address_bits, void **va, dma_addr_t *dma);
void dma_free_contig(void *va, size_t n);

#endif

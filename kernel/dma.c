/*
 * DMA addresses and DMA-able memory (include/keel/dma.h).  Single pages come
 * straight from the page allocator (a page is machine-contiguous by
 * definition); multi-page contiguous buffers are made by XENMEM_exchange,
 * the way Linux's swiotlb-xen makes its bounce pool: unmap the pages, hand
 * their frames to Xen, receive one contiguous extent, and point the P2M and
 * the linear map at the new frames.
 */
#include <keel/dma.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>

#define LINEAR_PTE_FLAGS 0x063UL /* present, writable, accessed, dirty */

dma_addr_t dma_map_virt(const void *va)
{
	return _dma(virt_to_maddr(va));
}

int dma_alloc_page(void **va, dma_addr_t *dma)
{
	void *p = page_alloc(1);

	if (!p)
		return -ENOMEM;
	*va = p;
	*dma = dma_map_virt(p);
	return 0;
}

void dma_free_page(void *va)
{
	page_free(va, 1);
}

static void remap(void *va, mfn_t mfn)
{
	long rc = hyp_update_va_mapping((unsigned long)va,
					(mfn_x(mfn) << PAGE_SHIFT) | LINEAR_PTE_FLAGS, 0);
	ASSERT(rc == 0);
}

int dma_alloc_contig(size_t n, unsigned int address_bits, void **va, dma_addr_t *dma)
{
	unsigned int order = 0;

	if (n == 0 || n > 512 || (n & (n - 1)))
		return -EINVAL;
	uint64_t *in_frames = kmalloc(n * sizeof(*in_frames));
	if (!in_frames)
		return -ENOMEM;
	while ((1UL << order) < n)
		order++;
	char *base = page_alloc(n);
	if (!base) {
		kfree(in_frames);
		return -ENOMEM;
	}
	if (n == 1) {
		kfree(in_frames);
		*va = base;
		*dma = dma_map_virt(base);
		return 0;
	}
	/* Events masked: the pages are unmapped while Xen swaps them, and
	 * nothing (an event handler included) may touch them in between. */
	unsigned long f = irq_save();
	for (size_t i = 0; i < n; i++) {
		in_frames[i] = mfn_x(virt_to_mfn(base + i * PAGE_SIZE));
		long rc = hyp_update_va_mapping((unsigned long)(base + i * PAGE_SIZE), 0, 0);
		ASSERT(rc == 0);
	}
	struct mmuext_op flush = { .cmd = MMUEXT_TLB_FLUSH_LOCAL };
	hyp_mmuext_op(&flush, 1, NULL, DOMID_SELF);

	xen_pfn_t out_frame = pfn_x(virt_to_pfn(base));
	struct xen_memory_exchange ex = {
		.in = { .nr_extents = n, .extent_order = 0, .domid = DOMID_SELF },
		.out = { .nr_extents = 1, .extent_order = order, .mem_flags = XENMEMF_address_bits(address_bits),
			 .domid = DOMID_SELF },
		.nr_exchanged = 0,
	};
	set_xen_guest_handle(ex.in.extent_start, in_frames);
	set_xen_guest_handle(ex.out.extent_start, &out_frame);
	long rc = hyp_memory_op(XENMEM_exchange, &ex);
	if (rc == 0 && ex.nr_exchanged == n) {
		/* Xen set the M2P of the new frames to our pfns (PV exchange). */
		for (size_t i = 0; i < n; i++) {
			mfn_t m = _mfn(out_frame + i);
			p2m_set(_pfn(pfn_x(virt_to_pfn(base)) + i), m);
			remap(base + i * PAGE_SIZE, m);
		}
		irq_restore(f);
		kfree(in_frames);
		memset(base, 0, n * PAGE_SIZE);
		*va = base;
		*dma = dma_map_virt(base);
		return 0;
	}
	/* Nothing was exchanged (order > 0 output is all or nothing): the old
	 * frames are still ours, map them back. */
	for (size_t i = 0; i < n; i++)
		remap(base + i * PAGE_SIZE, _mfn(in_frames[i]));
	irq_restore(f);
	kfree(in_frames);
	page_free(base, n);
	return rc ? (int)rc : -ENOMEM;
}

void dma_free_contig(void *va, size_t n)
{
	/* The pages stay dom0's (now machine-contiguous) and go back to the
	 * allocator as ordinary pages. */
	page_free(va, n);
}

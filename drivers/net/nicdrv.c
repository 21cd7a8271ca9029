/*
 * Helpers shared by keel's NIC drivers (drivers/net/nicdrv.h).
 */
#include <keel/kernel.h>
#include <keel/mm.h>
#include "nicdrv.h"

void *nicdrv_tx_va(dma_addr_t a)
{
	mfn_t m = _mfn(dma_x(a) >> PAGE_SHIFT);
	pfn_t p = mfn_to_pfn(m);

	if (pfn_x(p) >= start_info->nr_pages || mfn_x(pfn_to_mfn(p)) != mfn_x(m))
		return NULL;
	return (uint8_t *)pfn_to_virt(p) + (dma_x(a) & (PAGE_SIZE - 1));
}

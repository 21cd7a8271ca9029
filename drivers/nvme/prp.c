/*
 * Cutting a segment list into PRP-describable commands (see nvme_prp.h).
 * Pure: no device access, built for the host in tests/unit/test_nvme_prp.c.
 */
#include "nvme_prp.h"

uint32_t nvme_prp_build(const struct blk_seg *segs, uint16_t nr_segs, struct nvme_prp_cursor *cur,
			uint32_t max_bytes, uint64_t *prp1, uint64_t *list, uint32_t *npages)
{
	const uint64_t in_page = NVME_PRP_PAGE - 1;
	uint32_t total = 0, n = 0;

	*prp1 = 0;
	if (max_bytes > NVME_PRP_MAX_BYTES)
		max_bytes = NVME_PRP_MAX_BYTES;
	while (cur->seg < nr_segs && total < max_bytes) {
		const struct blk_seg *s = &segs[cur->seg];
		if (cur->seg_off >= s->len_bytes) {
			/* Empty (the block layer refuses these; skip them anyway). */
			cur->seg++;
			cur->seg_off = 0;
			continue;
		}
		uint64_t a = dma_x(s->addr) + cur->seg_off;
		uint32_t take = MIN(s->len_bytes - cur->seg_off, max_bytes - total);
		/* A page after the first must start at a page boundary. */
		if (total && (a & in_page))
			break;
		for (uint64_t p = a; p < a + take; p = (p & ~in_page) + NVME_PRP_PAGE) {
			if (n == 0)
				*prp1 = p;
			else
				list[n - 1] = p;
			n++;
		}
		total += take;
		cur->seg_off += take;
		if (cur->seg_off == s->len_bytes) {
			cur->seg++;
			cur->seg_off = 0;
		}
		/* A page before the last must run to its end. */
		if ((a + take) & in_page)
			break;
	}
	*npages = n;
	return total;
}

bool nvme_prp_cuts_aligned(const struct blk_seg *segs, uint16_t nr_segs, uint32_t block_bytes)
{
	const uint64_t mask = block_bytes - 1, in_page = NVME_PRP_PAGE - 1;
	uint64_t cum = 0;

	for (unsigned int i = 0; i < nr_segs; i++) {
		cum += segs[i].len_bytes;
		if (i + 1 == nr_segs)
			break;
		uint64_t end = dma_x(segs[i].addr) + segs[i].len_bytes;
		bool brk = (end & in_page) || (dma_x(segs[i + 1].addr) & in_page);
		if (brk && (cum & mask))
			return false;
	}
	/* max_bytes cuts are multiples of max_bytes from a command's start,
	 * which block_bytes divides. */
	return (cum & mask) == 0;
}

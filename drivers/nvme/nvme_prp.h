/*
 * PRP descriptions of a block request's segments (drivers/nvme/prp.c): pure
 * code, host unit-tested.  An NVMe command's data is a list of memory pages
 * (NVMe 4.3): the first may start at any dword offset, every other starts
 * at a page boundary, and every one but the last runs to the end of its
 * page.  A segment list that breaks this (a segment ending or starting
 * inside a page in the middle of the list) needs several commands; these
 * helpers cut the list at those points and at the transfer limit.
 */
#ifndef KEEL_NVME_PRP_H
#define KEEL_NVME_PRP_H

#include <keel/blkdev.h>
#include <lib/base.h>

#define NVME_PRP_PAGE 4096u
/* One page of PRP list entries: a command covers at most 513 pages. */
#define NVME_PRP_LIST_ENTRIES 512u
#define NVME_PRP_MAX_BYTES (NVME_PRP_LIST_ENTRIES * NVME_PRP_PAGE)

/* Where the next command starts in a segment list. */
struct nvme_prp_cursor {
	uint16_t seg;
	uint32_t seg_off;
};

/*
 * Describes the longest run of segs from *cur that one command can carry,
 * at most max_bytes (a multiple of NVME_PRP_PAGE, at most
 * NVME_PRP_MAX_BYTES): *prp1 is the first byte, list[0..*npages-2] the
 * following pages (list has NVME_PRP_LIST_ENTRIES entries).  Advances cur.
 * Returns the byte count, 0 when the list is used up.  Segments must each
 * lie inside one page.
 */
uint32_t nvme_prp_build(const struct blk_seg *segs, uint16_t nr_segs, struct nvme_prp_cursor *cur,
			uint32_t max_bytes, uint64_t *prp1, uint64_t *list, uint32_t *npages);

/*
 * True if every place where nvme_prp_build can cut segs (a PRP break, or a
 * max_bytes boundary) falls on a multiple of block_bytes (a power of two,
 * dividing max_bytes) counted from the start, and the total too: then each
 * command covers whole logical blocks.
 */
bool nvme_prp_cuts_aligned(const struct blk_seg *segs, uint16_t nr_segs, uint32_t block_bytes);

#endif

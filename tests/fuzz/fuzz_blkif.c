/*
 * blkback's request checks against arbitrary ring entries, indirect pages
 * and limits.  fuzz-srcs: backends/blk/blkif.c
 * Invariants: an accepted request never reaches past the device, never has
 * more segments than negotiated, and never writes a read-only vbd.
 */
#include <stdlib.h>
#include <string.h>
#include <keel/blkif.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union blkif_sring_entry e;
	struct blkif_limits lim;
	static struct blkif_seg segs[4096];
	static uint8_t page[4096];

	if (size < sizeof(e) + 12)
		return 0;
	memcpy(&e, data, sizeof(e));
	data += sizeof(e);
	size -= sizeof(e);
	uint64_t dev;
	memcpy(&dev, data, 8);
	lim = (struct blkif_limits){
		.dev_sectors = dev >> (data[8] & 63),
		.max_indirect_segs = (uint32_t)(data[9] % 5) * 256 % 4097,
		.read_only = data[10] & 1, .can_flush = data[10] & 2, .can_barrier = data[10] & 4,
		.can_discard = data[10] & 8, .discard_secure = data[10] & 16,
	};
	data += 12;
	size -= 12;
	struct blkif_req r = { .segs = segs };
	int rc = blkif_parse_request(&e, &lim, &r);
	if (rc == BLKIF_RSP_OKAY && r.operation == BLKIF_OP_INDIRECT) {
		for (uint32_t p = 0; p < r.nr_indirect_pages && rc == BLKIF_RSP_OKAY; p++) {
			memset(page, 0, sizeof(page));
			memcpy(page, data, size < sizeof(page) ? size : sizeof(page));
			rc = blkif_parse_indirect_page(page, p, &r);
		}
		if (rc == BLKIF_RSP_OKAY)
			rc = blkif_check_bounds(&r, &lim);
		if (rc == BLKIF_RSP_OKAY && r.nr_segs > lim.max_indirect_segs)
			abort();
	}
	if (rc == BLKIF_RSP_OKAY) {
		/* A flush or barrier without data names no sectors to check. */
		bool touches = r.nr_segs || r.operation == BLKIF_OP_DISCARD;
		if (touches && (r.sector > lim.dev_sectors || r.nr_sectors > lim.dev_sectors - r.sector))
			abort();
		if (!touches && r.nr_sectors)
			abort();
		/* Nothing that writes is accepted on a read-only vbd. */
		if (lim.read_only && r.data_op != BLKIF_OP_READ && touches)
			abort();
		for (uint32_t i = 0; i < r.nr_segs; i++)
			if (segs[i].first_sect > segs[i].last_sect || segs[i].last_sect > 7)
				abort();
	}
	return 0;
}

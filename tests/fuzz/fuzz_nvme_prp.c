/*
 * The NVMe driver's PRP construction against arbitrary segment lists (what
 * a guest can make blkback send, and worse: segments crossing pages, odd
 * lengths, empty ones).  fuzz-srcs: drivers/nvme/prp.c
 * Invariants: the cursor always advances and ends at the list's end; every
 * command is at most the limit and its pages fit one PRP list page; pages
 * after the first are page-aligned; the commands cover the segments' bytes
 * exactly, in order.
 */
#include <stdlib.h>
#include <string.h>
#include "../../drivers/nvme/nvme_prp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct blk_seg segs[512];
	static uint64_t list[NVME_PRP_LIST_ENTRIES];
	uint16_t n = 0;
	uint64_t want = 0;

	if (size < 2)
		return 0;
	uint32_t max = (uint32_t)(1 + data[0] + 256 * (data[1] & 1)) * NVME_PRP_PAGE;
	data += 2;
	size -= 2;
	/* 6 bytes a segment: 3 of page number, 2 of offset (dword), 1 of length. */
	while (size >= 6 && n < 512) {
		uint64_t page = data[0] | (uint64_t)data[1] << 8 | (uint64_t)data[2] << 16;
		uint32_t off = (uint32_t)((data[3] | data[4] << 8) & 0xffc) % NVME_PRP_PAGE;
		uint32_t len = (uint32_t)data[5] * 32;   /* may cross the page, may be 0 */
		segs[n++] = (struct blk_seg){ _dma(page * NVME_PRP_PAGE + off), len };
		want += len;
		data += 6;
		size -= 6;
	}
	struct nvme_prp_cursor cur = { 0, 0 };
	unsigned int si = 0;
	uint32_t soff = 0;
	uint64_t got = 0;
	for (;;) {
		uint64_t prp1;
		uint32_t np;
		struct nvme_prp_cursor before = cur;
		uint32_t bytes = nvme_prp_build(segs, n, &cur, max, &prp1, list, &np);
		if (!bytes) {
			/* Only empty segments may remain. */
			while (si < n && segs[si].len_bytes == soff) {
				si++;
				soff = 0;
			}
			if (si != n || got != want)
				abort();
			break;
		}
		if (cur.seg < before.seg || (cur.seg == before.seg && cur.seg_off <= before.seg_off))
			abort();
		if (bytes > max || np == 0 || np > NVME_PRP_LIST_ENTRIES + 1)
			abort();
		uint32_t left = bytes;
		for (uint32_t p = 0; p < np; p++) {
			uint64_t a = p ? list[p - 1] : prp1;
			if (p && (a & (NVME_PRP_PAGE - 1)))
				abort();
			uint32_t room = (uint32_t)(NVME_PRP_PAGE - (a & (NVME_PRP_PAGE - 1)));
			uint32_t chunk = room < left ? room : left;
			if (p + 1 < np && chunk != room)
				abort();
			while (chunk) {
				while (si < n && segs[si].len_bytes == soff) {
					si++;
					soff = 0;
				}
				if (si >= n || dma_x(segs[si].addr) + soff != a)
					abort();
				uint32_t take = segs[si].len_bytes - soff;
				if (take > chunk)
					take = chunk;
				a += take;
				chunk -= take;
				left -= take;
				soff += take;
			}
		}
		if (left)
			abort();
		got += bytes;
	}
	return 0;
}

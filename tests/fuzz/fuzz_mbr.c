/* fuzz-srcs: drivers/block/gpt.c drivers/block/mbr.c lib/crc32.c
 *
 * libFuzzer target for the MBR parser (extended chains included).  Input: one
 * flags byte, then a sparse disk: the disk is 2^(flags>>4) MiB of zeros
 * (1..32 MiB after clamping) and the input is a list of (4-byte LE sector
 * number, 66 bytes) patches, each written at offset 446 of that sector with
 * the 0x55AA signature, so mutations build EBR chains anywhere on the disk.
 * Bit 0: 4096-byte sectors.
 */
#include <lib/base.h>
#include <keel/part.h>

#define PATCH_BYTES 70

struct image {
	const uint8_t *patches;
	size_t patch_count;
	uint64_t sectors;
	uint32_t sector_bytes;
};

static int image_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct image *img = ctx;
	uint64_t lba = off / img->sector_bytes;

	if (len != img->sector_bytes || off % img->sector_bytes || lba >= img->sectors)
		abort();
	memset(buf, 0, len);
	/* The last patch for a sector wins. */
	for (size_t i = 0; i < img->patch_count; i++) {
		const uint8_t *p = img->patches + i * PATCH_BYTES;
		uint32_t at = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			      (uint32_t)p[3] << 24;

		if (at % img->sectors == lba) {
			memcpy((uint8_t *)buf + 446, p + 4, 64);
			((uint8_t *)buf)[510] = 0x55;
			((uint8_t *)buf)[511] = 0xAA;
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct part_table table;
	struct image img;
	struct disk_reader r;
	unsigned logicals = 0;
	int rc;

	if (size < 1)
		return 0;
	img.sector_bytes = (data[0] & 1) ? 4096 : 512;
	img.sectors = ((uint64_t)1 << MIN(data[0] >> 4, 5)) * 1024 * 1024 / img.sector_bytes;
	img.patches = data + 1;
	img.patch_count = (size - 1) / PATCH_BYTES;
	r.read = image_read;
	r.ctx = &img;
	r.size_sectors = img.sectors;
	r.sector_bytes = img.sector_bytes;
	rc = mbr_parse(&r, &table);
	if (rc != 0 && rc != -EINVAL)
		abort();
	for (unsigned i = 0; rc == 0 && i < table.count; i++) {
		const struct part_entry *p = &table.parts[i];

		if (p->sectors == 0 || p->first_sector + p->sectors > img.sectors)
			abort();
		if (p->number < 1 || (p->number > 4 && !(p->flags & PART_F_LOGICAL)))
			abort();
		if (p->flags & PART_F_LOGICAL)
			logicals++;
	}
	if (logicals > PART_MBR_LOGICAL_MAX)
		abort();
	(void)part_scan(&r, &table);
	return 0;
}

/* fuzz-srcs: drivers/block/gpt.c drivers/block/mbr.c lib/crc32.c
 *
 * libFuzzer target for the GPT parser through part_scan().  Input: one flags
 * byte, then the disk image (rounded down to whole sectors, at least 3).
 * Flags: bit 0 4096-byte sectors; bit 1 fix the primary header's CRCs and
 * write a protective MBR first, so mutations reach the entry checks; bit 2
 * copy the primary header to the last LBA as a backup (CRC fixed).
 */
#include <lib/base.h>
#include <lib/crc32.h>
#include <keel/part.h>

struct image {
	uint8_t *bytes;
	size_t len;
	uint32_t sector_bytes;
};

static int image_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	const struct image *img = ctx;

	if (len != img->sector_bytes || off % img->sector_bytes || off + len > img->len)
		abort(); /* the parser broke its read contract */
	memcpy(buf, img->bytes + off, len);
	return 0;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fix_header(struct image *img, uint64_t lba)
{
	uint8_t *h = img->bytes + lba * img->sector_bytes;
	uint64_t entries = get_le32(h + 72) | (uint64_t)get_le32(h + 76) << 32;
	uint32_t count = get_le32(h + 80), hsize = get_le32(h + 12);

	if (entries < img->len / img->sector_bytes && count <= 4096 &&
	    entries * img->sector_bytes + (uint64_t)count * 128 <= img->len)
		put_le32(h + 88, crc32_ieee(img->bytes + entries * img->sector_bytes, (size_t)count * 128));
	if (hsize >= 92 && hsize <= img->sector_bytes) {
		put_le32(h + 16, 0);
		put_le32(h + 16, crc32_ieee(h, hsize));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct part_table table;
	struct image img;
	struct disk_reader r;
	uint8_t flags;
	size_t sectors;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	img.sector_bytes = (flags & 1) ? 4096 : 512;
	sectors = (size - 1) / img.sector_bytes;
	if (sectors < 3)
		sectors = 3;
	img.len = sectors * img.sector_bytes;
	img.bytes = calloc(1, img.len);
	if (!img.bytes)
		return 0;
	memcpy(img.bytes, data + 1, MIN(size - 1, img.len));
	if (flags & 2) {
		uint8_t *e = img.bytes + 446;

		memset(e, 0, 64);
		e[4] = 0xEE;
		put_le32(e + 8, 1);
		put_le32(e + 12, (uint32_t)MIN(sectors - 1, 0xffffffffu));
		img.bytes[510] = 0x55;
		img.bytes[511] = 0xAA;
		memcpy(img.bytes + img.sector_bytes, "EFI PART", 8);
		fix_header(&img, 1);
	}
	if (flags & 4) {
		uint8_t *b = img.bytes + (sectors - 1) * img.sector_bytes;

		memcpy(b, img.bytes + img.sector_bytes, img.sector_bytes);
		put_le32(b + 24, (uint32_t)(sectors - 1));
		put_le32(b + 28, 0);
		fix_header(&img, sectors - 1);
	}
	r.read = image_read;
	r.ctx = &img;
	r.size_sectors = sectors;
	r.sector_bytes = img.sector_bytes;
	rc = part_scan(&r, &table);
	if (rc != 0 && rc != -EINVAL)
		abort();
	for (unsigned i = 0; rc == 0 && i < table.count; i++) {
		const struct part_entry *p = &table.parts[i];

		if (p->sectors == 0 || p->first_sector + p->sectors > sectors)
			abort();
		for (unsigned k = 0; k < i; k++) {
			const struct part_entry *o = &table.parts[k];

			if (table.scheme == PART_SCHEME_GPT && p->first_sector < o->first_sector + o->sectors &&
			    o->first_sector < p->first_sector + p->sectors)
				abort();
		}
	}
	if (rc != 0 && !table.reason[0])
		abort();
	free(img.bytes);
	return 0;
}

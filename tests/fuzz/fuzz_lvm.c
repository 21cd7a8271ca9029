/* fuzz-srcs: drivers/block/lvm.c drivers/block/lvm_meta.c drivers/block/lvm_write.c lib/crc32.c
 * fuzz-seeds: tests/data/lvm/seeds
 *
 * libFuzzer target for LVM2: the PV label and metadata area reader, the text
 * parser and the writer.  Input: one flags byte, then
 *   bit 0 clear: metadata text.  It is parsed; when it parses, every LV is
 *          mapped and keel's lvcreate, lvextend and lvremove run on it, and
 *          each new text must parse again with the change made (invariants).
 *   bit 0 set:   a disk image placed at offset 0 of a 2 MiB disk of zeros
 *          (bit 1: 4096-byte sectors; bit 2: fix the label CRC, the header
 *          checksum and the text checksum first so mutations get deeper).
 *          The PV is read, its text parsed, and a write of that text is
 *          committed to a copy of the disk and read back.
 * Seeds: tests/data/lvm/seeds/ (a real lvm2 VG's first sectors and text).
 */
#include <lib/base.h>
#include <keel/lvm.h>

#define DISK_BYTES (2u << 20)
#define OUT_CAP (64u << 10)

struct image {
	uint8_t *bytes;
	uint32_t sector_bytes;
};

static int image_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct image *img = ctx;

	if (len != img->sector_bytes || off % img->sector_bytes || off + len > DISK_BYTES)
		abort();
	memcpy(buf, img->bytes + off, len);
	return 0;
}

static int image_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct image *img = ctx;

	if (len != img->sector_bytes || off % img->sector_bytes || off + len > DISK_BYTES)
		abort();
	memcpy(img->bytes + off, buf, len);
	return 0;
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return le32(p) | (uint64_t)le32(p + 4) << 32;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void fix_checksums(uint8_t *d)
{
	uint8_t *label = d + 512;
	uint32_t pos = le32(label + 20);
	uint64_t mda;

	if (memcmp(label, "LABELONE", 8) != 0 || pos < 32 || pos > 512 - 72)
		return;
	/* The first metadata area: after the data-area list's terminator. */
	pos += 40;
	while (pos + 16 <= 512 && le64(label + pos))
		pos += 16;
	pos += 16;
	if (pos + 16 <= 512) {
		mda = le64(label + pos);
		if (mda >= 512 && mda + 512 <= DISK_BYTES) {
			uint8_t *h = d + mda;
			uint64_t off = le64(h + 40), size = le64(h + 48);

			if (off && size && off < DISK_BYTES && size < DISK_BYTES &&
			    mda + off + size <= DISK_BYTES)
				put32(h + 56, lvm_text_crc(h + off, (size_t)size));
			put32(h, lvm_text_crc(h + 4, 508));
		}
	}
	put32(label + 16, lvm_text_crc(label + 20, 492));
}

static struct lvm_vg vg, vg2;
static struct lvm_pv pv;
static char text[LVM_TEXT_MAX + 1];
static char out[OUT_CAP];

static void check_reparse(const char *name, bool present)
{
	static char reason[160];

	if (lvm_vg_parse(out, strlen(out), &vg2, reason, sizeof(reason)) != 0)
		abort(); /* keel wrote text it cannot read back */
	if (vg2.seqno != vg.seqno + 1)
		abort();
	if ((lvm_vg_find_lv(&vg2, name) != NULL) != present)
		abort();
}

static void exercise_writer(const char *t, size_t len)
{
	struct lvm_stamp st = { .time_seconds = 1, .host = "fuzz", .command = "fuzz" };
	char msg[256];
	size_t bytes;

	for (unsigned i = 0; i < vg.pv_count; i++)
		lvm_vg_attach_pv(&vg, vg.pvs[i].uuid, vg.pvs[i].dev_size_sectors);
	lvm_vg_check(&vg);
	for (unsigned i = 0; i < vg.lv_count; i++) {
		struct lvm_extent map[8];
		unsigned n;
		int rc = lvm_lv_map(&vg, &vg.lvs[i], map, 8, &n);

		if (rc != 0 && rc != -EINVAL && rc != -E2BIG)
			abort();
	}
	(void)lvm_vg_free_extents(&vg);
	if (lvm_lvcreate(&vg, t, len, "fz", vg.extent_sectors, &st, out, sizeof(out), &bytes, msg,
			 sizeof(msg)) == 0) {
		if (bytes != strlen(out) + 1)
			abort();
		check_reparse("fz", true);
		if (!lvm_vg_find_lv(&vg2, "fz")->linear)
			abort();
	}
	if (vg.lv_count && vg.lvs[0].linear &&
	    lvm_lvextend(&vg, t, len, vg.lvs[0].name,
			 (vg.lvs[0].extents + 1) * vg.extent_sectors, &st, out, sizeof(out), &bytes,
			 msg, sizeof(msg)) == 0) {
		const struct lvm_lv *lv;

		check_reparse(vg.lvs[0].name, true);
		lv = lvm_vg_find_lv(&vg2, vg.lvs[0].name);
		if (!lv->linear || lv->extents != vg.lvs[0].extents + 1)
			abort();
	}
	if (vg.lv_count &&
	    lvm_lvremove(&vg, t, len, vg.lvs[0].name, &st, out, sizeof(out), &bytes, msg,
			 sizeof(msg)) == 0)
		check_reparse(vg.lvs[0].name, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t disk[DISK_BYTES];
	static char reason[160];
	struct image img = { disk, 512 };
	struct disk_reader r;
	size_t len;
	unsigned used;
	uint8_t flags;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (!(flags & 1)) {
		/* An exact-size copy so ASan sees reads past the text. */
		char *t = malloc(size ? size : 1);

		if (!t)
			return 0;
		memcpy(t, data, size);
		if (lvm_vg_parse(t, size, &vg, reason, sizeof(reason)) == 0)
			exercise_writer(t, size);
		free(t);
		return 0;
	}
	memset(disk, 0, sizeof(disk));
	memcpy(disk, data, MIN(size, sizeof(disk)));
	if (flags & 4)
		fix_checksums(disk);
	img.sector_bytes = (flags & 2) ? 4096 : 512;
	r.read = image_read;
	r.ctx = &img;
	r.size_sectors = DISK_BYTES / img.sector_bytes;
	r.sector_bytes = img.sector_bytes;
	rc = lvm_pv_read(&r, &pv, reason, sizeof(reason));
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc)
		abort();
	rc = lvm_pv_read_text(&r, &pv, text, sizeof(text), &len, &used, reason, sizeof(reason));
	if (rc == -ENOENT || rc == -EINVAL)
		return 0;
	if (rc || len > LVM_TEXT_MAX)
		abort();
	if (lvm_vg_parse(text, len, &vg, reason, sizeof(reason)) != 0)
		return 0;
	/* Commit the same text again and read it back. */
	{
		static uint8_t scratch[4096];
		char msg[160];
		size_t len2;

		rc = lvm_mda_write(&r, image_write, &pv.mdas[used], text, len + 1, scratch, msg,
				   sizeof(msg));
		if (rc == 0) {
			static char again[LVM_TEXT_MAX + 1];

			if (lvm_pv_read(&r, &pv, reason, sizeof(reason)) != 0)
				abort();
			if (lvm_pv_read_text(&r, &pv, again, sizeof(again), &len2, &used, reason,
					     sizeof(reason)) != 0 ||
			    len2 != len || memcmp(again, text, len) != 0)
				abort();
		}
	}
	return 0;
}

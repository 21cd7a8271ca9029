/*
 * Host tests of the partition-table parsers (drivers/block/gpt.c, mbr.c)
 * against images made by sgdisk, sfdisk and parted (tests/unit/mkimages.sh),
 * compared with what those tools print, and against the same images
 * corrupted here byte by byte.
 */
#include <lib/base.h>
#include <lib/crc32.h>
#include <keel/part.h>
#include "harness.h"

#define IMG_DIR "build/host/img-part"

/* ---- a disk in memory ------------------------------------------------------ */

struct memdisk {
	uint8_t *bytes;
	size_t len;
	uint32_t sector_bytes;
	unsigned reads;
	unsigned contract_violations; /* a read not exactly one aligned sector */
	int fail_reads;               /* non-zero: every read returns this */
};

static int memdisk_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct memdisk *d = ctx;

	d->reads++;
	if (len != d->sector_bytes || off % d->sector_bytes || off + len > d->len)
		d->contract_violations++;
	if (d->fail_reads)
		return d->fail_reads;
	if (off + len > d->len)
		return -EIO;
	memcpy(buf, d->bytes + off, len);
	return 0;
}

static struct disk_reader reader_of(struct memdisk *d)
{
	struct disk_reader r = {
		.read = memdisk_read,
		.ctx = d,
		.size_sectors = d->len / d->sector_bytes,
		.sector_bytes = d->sector_bytes,
	};
	return r;
}

static bool images_made;

static bool make_images(void)
{
	if (!images_made)
		images_made = system("tests/unit/mkimages.sh part " IMG_DIR) == 0;
	return images_made;
}

/* A failing CHECK returns early, so the image and table of the running test
 * are freed by the next test's load() and table_new() instead. */
static uint8_t *loaded_image;
static struct part_table *table_in_use;

static bool load(struct memdisk *d, const char *name, uint32_t sector_bytes)
{
	char path[256];
	FILE *f;
	long n;

	memset(d, 0, sizeof(*d));
	d->sector_bytes = sector_bytes;
	if (!make_images())
		return false;
	snprintf(path, sizeof(path), IMG_DIR "/%s", name);
	f = fopen(path, "rb");
	if (!f)
		return false;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	free(loaded_image);
	d->bytes = loaded_image = malloc((size_t)n);
	d->len = (size_t)n;
	if (fread(d->bytes, 1, d->len, f) != d->len) {
		fclose(f);
		return false;
	}
	fclose(f);
	return true;
}

static struct part_table *table_new(void)
{
	free(table_in_use);
	table_in_use = calloc(1, sizeof(struct part_table));
	return table_in_use;
}

static const struct part_entry *find_part(const struct part_table *t, unsigned number)
{
	for (unsigned i = 0; i < t->count; i++)
		if (t->parts[i].number == number)
			return &t->parts[i];
	return NULL;
}

static bool has_warning(const struct part_table *t, const char *text)
{
	for (unsigned i = 0; i < t->warning_count; i++)
		if (strstr(t->warnings[i], text))
			return true;
	return false;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Recomputes the entry-array and header CRCs of the GPT header at lba. */
static void gpt_fix(struct memdisk *d, uint64_t lba)
{
	uint8_t *h = d->bytes + lba * d->sector_bytes;
	uint64_t entries = get_le64(h + 72);
	uint32_t count = h[80] | h[81] << 8, hsize = h[12];

	uint32_t count4 = count | (uint32_t)h[82] << 16 | (uint32_t)h[83] << 24;

	/* A hostile array location or count keeps its old array CRC. */
	if (count4 == count && entries * d->sector_bytes + (uint64_t)count * 128 <= d->len)
		put_le32(h + 88, crc32_ieee(d->bytes + entries * d->sector_bytes, (size_t)count * 128));
	put_le32(h + 16, 0);
	put_le32(h + 16, crc32_ieee(h, hsize));
}

/* Compares a table with "N first last name" lines from sgdisk -p. */
static int compare_gpt(const struct part_table *t, const char *expect)
{
	char path[256], line[256];
	unsigned matched = 0;
	FILE *f;

	snprintf(path, sizeof(path), IMG_DIR "/%s", expect);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned n;
		unsigned long long first, last;
		int used = 0;
		const struct part_entry *p;
		char *name;

		if (sscanf(line, "%u %llu %llu %n", &n, &first, &last, &used) < 3)
			continue;
		name = line + used;
		name[strcspn(name, "\n")] = 0;
		p = find_part(t, n);
		if (!p || p->first_sector != first || p->first_sector + p->sectors - 1 != last ||
		    strcmp(p->name, name) != 0) {
			printf("  mismatch on partition %u (%s)\n", n, line);
			fclose(f);
			return -1;
		}
		matched++;
	}
	fclose(f);
	return matched == t->count ? (int)matched : -1;
}

/* Compares an MBR table with "N start size type" lines from sfdisk -d. */
static int compare_mbr(const struct part_table *t, const char *expect, uint32_t sector_bytes)
{
	char path[256], line[256];
	unsigned matched = 0;
	FILE *f;

	snprintf(path, sizeof(path), IMG_DIR "/%s", expect);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned n, type;
		unsigned long long start, size;
		const struct part_entry *p;

		if (sscanf(line, "%u %llu %llu %x", &n, &start, &size, &type) != 4)
			continue;
		p = find_part(t, n);
		if (type == 0x05 || type == 0x0f || type == 0x85)
			size = part_extended_stub_sectors(sector_bytes);
		if (!p || p->first_sector != start || p->sectors != size || p->mbr_type != type) {
			printf("  mismatch on partition %u (%s)\n", n, line);
			fclose(f);
			return -1;
		}
		matched++;
	}
	fclose(f);
	return matched == t->count ? (int)matched : -1;
}

/* ---- tests against the host tools' images ----------------------------------- */

TEST(gpt_matches_sgdisk)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;
	char guid[37];

	CHECK(load(&d, "gpt.img", 512));
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK_EQ(t->scheme, PART_SCHEME_GPT);
	CHECK_EQ(t->warning_count, 0);
	CHECK_EQ(compare_gpt(t, "gpt.expect"), 4);
	CHECK(find_part(t, 4) == NULL);
	part_guid_format(find_part(t, 1)->type_guid, guid);
	CHECK_STR(guid, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"); /* EF00: EFI system */
	part_guid_format(find_part(t, 3)->type_guid, guid);
	CHECK_STR(guid, "E6D6D379-F507-44C2-A23C-238F2A3DF928"); /* 8E00: Linux LVM */
	CHECK_EQ(d.contract_violations, 0);
	CHECK(d.reads < 80);
}

TEST(gpt_4k_sectors_matches_sgdisk)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt4k.img", 4096));
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK_EQ(t->scheme, PART_SCHEME_GPT);
	CHECK_EQ(compare_gpt(t, "gpt4k.expect"), 2);
	CHECK_EQ(find_part(t, 1)->first_sector, 256);
	CHECK_EQ(d.contract_violations, 0);
	/* The same bytes read as a 512-byte sector disk hold no valid GPT. */
	d.sector_bytes = 512;
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
}

TEST(mbr_matches_sfdisk)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "mbr.img", 512));
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK_EQ(t->scheme, PART_SCHEME_MBR);
	CHECK_EQ(t->warning_count, 0);
	CHECK_EQ(compare_mbr(t, "mbr.expect", 512), 6);
	CHECK(find_part(t, 1)->flags & PART_F_BOOTABLE);
	CHECK(find_part(t, 3)->flags & PART_F_EXTENDED);
	CHECK_EQ(find_part(t, 3)->sectors, 2); /* 1 KiB, as Linux shows it */
	CHECK(find_part(t, 7)->flags & PART_F_LOGICAL);
	CHECK(find_part(t, 4) == NULL);
	CHECK_EQ(d.contract_violations, 0);
}

TEST(mbr_matches_parted)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "mbr-parted.img", 512));
	r = reader_of(&d);
	CHECK_EQ(mbr_parse(&r, t), 0);
	CHECK_EQ(compare_mbr(t, "mbr-parted.expect", 512), 5);
	CHECK_EQ(find_part(t, 2)->mbr_type, 0x0f);
}

/* ---- GPT corruption ---------------------------------------------------------- */

TEST(gpt_bad_primary_header_crc_uses_backup)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	d.bytes[512 + 40] ^= 1; /* first usable LBA, CRC not fixed */
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(t->gpt_used_backup);
	CHECK(has_warning(t, "primary GPT is bad (header CRC mismatch); using the backup at LBA 131071"));
	CHECK_EQ(compare_gpt(t, "gpt.expect"), 4);
}

TEST(gpt_bad_primary_array_crc_uses_backup)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	d.bytes[1024 + 32] ^= 0x80; /* entry 1 start LBA, array CRC not fixed */
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(t->gpt_used_backup);
	CHECK(has_warning(t, "entry array CRC mismatch"));
	CHECK_EQ(compare_gpt(t, "gpt.expect"), 4);
}

TEST(gpt_both_headers_bad_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	d.bytes[512 + 40] ^= 1;
	d.bytes[d.len - 512 + 40] ^= 1;
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK_EQ(t->count, 0);
	CHECK_STR(t->reason,
		  "no valid GPT (LBA 1: header CRC mismatch; LBA 131071: header CRC mismatch)");
}

TEST(gpt_bad_backup_warns_primary_used)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	memset(d.bytes + d.len - 512, 0, 8);
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(!t->gpt_used_backup);
	CHECK(has_warning(t, "backup GPT at LBA 131071 is bad (no GPT signature); primary used"));
	CHECK_EQ(t->count, 4);
}

TEST(gpt_overlapping_entry_refused_others_kept)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	put_le64(d.bytes + 1024 + 128 + 32, 10000); /* entry 2 starts inside entry 1 */
	gpt_fix(&d, 1);
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(!t->gpt_used_backup);
	CHECK(has_warning(t, "GPT entry 2 overlaps entry 1"));
	CHECK_EQ(t->count, 3);
	CHECK(find_part(t, 1) && find_part(t, 3) && find_part(t, 5) && !find_part(t, 2));
}

TEST(gpt_entry_past_end_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	put_le64(d.bytes + 1024 + 2 * 128 + 40, 262144); /* entry 3 ends past 64 MiB */
	put_le64(d.bytes + 1024 + 3 * 128 + 40, 131060); /* entry 4... is unused */
	put_le64(d.bytes + 1024 + 4 * 128 + 40, 131050); /* entry 5 ends in the backup area */
	gpt_fix(&d, 1);
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "GPT entry 3 ends past the disk (LBA 262144 > 131071)"));
	CHECK(has_warning(t, "GPT entry 5 (LBA 59392-131050) is outside the usable area 34-131038"));
	CHECK_EQ(t->count, 2);
	CHECK(find_part(t, 4) == NULL);
}

TEST(gpt_hostile_headers_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	r = reader_of(&d);
	/* A huge entry count, CRC fixed: refused without reading it all. */
	put_le32(d.bytes + 512 + 80, 0x7fffffff);
	gpt_fix(&d, 1);
	memset(d.bytes + d.len - 512, 0, 512);
	d.reads = 0;
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK(strstr(t->reason, "2147483647 entries"));
	CHECK(d.reads < 10);
	/* Entry array pointing past the disk. */
	put_le32(d.bytes + 512 + 80, 128);
	put_le64(d.bytes + 512 + 72, 131070);
	gpt_fix(&d, 1);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK(strstr(t->reason, "entry array at LBA 131070 is outside the disk"));
	/* A header that names another LBA. */
	put_le64(d.bytes + 512 + 72, 2);
	put_le64(d.bytes + 512 + 24, 7);
	gpt_fix(&d, 1);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK(strstr(t->reason, "header names itself LBA 7"));
	CHECK_EQ(d.contract_violations, 0);
}

TEST(gpt_read_error_reported)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	d.fail_reads = -EIO;
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), -EIO);
	CHECK(strstr(t->reason, "cannot read LBA 0"));
}

/* ---- MBR corruption ---------------------------------------------------------- */

/* The LBA of the EBR describing logical partition `number` in mbr.img. */
static uint64_t ebr_of(const struct part_table *t, unsigned number)
{
	/* sfdisk puts each EBR 2048 sectors before its logical partition. */
	return find_part(t, number)->first_sector - 2048;
}

TEST(mbr_extended_loop_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;
	uint64_t ext, last_ebr;
	uint8_t *link;

	CHECK(load(&d, "mbr.img", 512));
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	ext = find_part(t, 3)->first_sector;
	last_ebr = ebr_of(t, 7);
	/* The last EBR links back to the first one (offset 0 in the container). */
	link = d.bytes + last_ebr * 512 + 446 + 16;
	link[4] = 0x05;
	put_le32(link + 8, 0);
	put_le32(link + 12, 4096);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "MBR extended chain loops back to LBA 34816; chain ends"));
	CHECK_EQ(ext, 34816);
	CHECK_EQ(t->count, 6); /* 1, 2, 3 and 5, 6, 7 once each */
	/* A self-loop on the first EBR. */
	link = d.bytes + ext * 512 + 446 + 16;
	put_le32(link + 8, 0);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "loops back to LBA 34816"));
	CHECK_EQ(t->count, 4);
}

TEST(mbr_chain_past_end_and_overlaps_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;
	uint64_t ebr6;
	uint8_t *e;

	CHECK(load(&d, "mbr.img", 512));
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), 0);
	ebr6 = ebr_of(t, 6);
	/* Logical 6 grows past the disk end; logical 7 is still offered. */
	put_le32(d.bytes + ebr6 * 512 + 446 + 12, 200000);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "MBR partition 6 ends past the disk (LBA 247103 > 131071)"));
	CHECK(find_part(t, 5) && !find_part(t, 6) && find_part(t, 7));
	/* Logical 6 instead runs into logical 7, which is refused. */
	put_le32(d.bytes + ebr6 * 512 + 446 + 12, 16384);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "MBR partition 7 overlaps partition 6"));
	CHECK(find_part(t, 6) && !find_part(t, 7));
	/* Primary 2 overlaps primary 1. */
	put_le32(d.bytes + ebr6 * 512 + 446 + 12, 8192);
	e = d.bytes + 446 + 16;
	put_le32(e + 8, 4096);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "MBR partition 2 overlaps another primary partition"));
	CHECK(find_part(t, 1) && !find_part(t, 2) && find_part(t, 5));
	/* The chain's next link far past the disk end. */
	put_le32(e + 8, 18432);
	put_le32(d.bytes + ebr6 * 512 + 446 + 16 + 8, 0x7ffffff0);
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK(has_warning(t, "leaves its extended partition") || has_warning(t, "past the disk"));
	CHECK(find_part(t, 6) && !find_part(t, 7));
	CHECK_EQ(d.contract_violations, 0);
}

TEST(mbr_not_a_table)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "mbr.img", 512));
	r = reader_of(&d);
	d.bytes[446] = 0x12; /* boot indicator neither 0 nor 0x80 */
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK_EQ(t->scheme, PART_SCHEME_NONE);
	d.bytes[446] = 0;
	d.bytes[510] = 0;
	CHECK_EQ(part_scan(&r, t), 0);
	CHECK_EQ(t->scheme, PART_SCHEME_NONE);
	CHECK_EQ(t->count, 0);
	d.sector_bytes = 1024;
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK(strstr(t->reason, "sector size 1024"));
}

TEST(protective_mbr_without_gpt_refused)
{
	struct memdisk d;
	struct part_table *t = table_new();
	struct disk_reader r;

	CHECK(load(&d, "gpt.img", 512));
	memset(d.bytes + 512, 0, 512);
	memset(d.bytes + d.len - 512, 0, 512);
	r = reader_of(&d);
	CHECK_EQ(part_scan(&r, t), -EINVAL);
	CHECK_STR(t->reason, "no valid GPT (LBA 1: no GPT signature; LBA 131071: no GPT signature)");
	CHECK_EQ(mbr_parse(&r, t), -EINVAL);
	CHECK_STR(t->reason, "protective MBR of a GPT disk");
}

TEST(crc32_known_values)
{
	CHECK_EQ(crc32_ieee("123456789", 9), 0xCBF43926u);
	CHECK_EQ(crc32_ieee("", 0), 0);
	/* Chained pieces equal the whole. */
	CHECK_EQ(~crc32_update(crc32_update(~0u, "1234", 4), "56789", 5), 0xCBF43926u);
}

static const struct test_case tests[] = {
	T(crc32_known_values),
	T(gpt_matches_sgdisk),
	T(gpt_4k_sectors_matches_sgdisk),
	T(mbr_matches_sfdisk),
	T(mbr_matches_parted),
	T(gpt_bad_primary_header_crc_uses_backup),
	T(gpt_bad_primary_array_crc_uses_backup),
	T(gpt_both_headers_bad_refused),
	T(gpt_bad_backup_warns_primary_used),
	T(gpt_overlapping_entry_refused_others_kept),
	T(gpt_entry_past_end_refused),
	T(gpt_hostile_headers_refused),
	T(gpt_read_error_reported),
	T(mbr_extended_loop_refused),
	T(mbr_chain_past_end_and_overlaps_refused),
	T(mbr_not_a_table),
	T(protective_mbr_without_gpt_refused),
};

int main(void)
{
	int rc = run_tests(tests, ARRAY_SIZE(tests));

	free(loaded_image);
	free(table_in_use);
	return rc;
}

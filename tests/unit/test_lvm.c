/*
 * Host tests of the LVM2 reader and writer (drivers/block/lvm.c, lvm_meta.c,
 * lvm_write.c).  A PV with VG vg0 and LVs a, b is made by the host's lvm2
 * (tests/unit/mkimages.sh, through a loop device it creates and detaches);
 * keel's reading is compared with lvs/vgs/pvs, keel's writes are checked by
 * the host's vgck and lvs, and a volume the host creates afterwards must be
 * seen by keel.  Corrupt and unsupported metadata is made here.
 */
#include <lib/base.h>
#include <keel/lvm.h>
#include "harness.h"

#define IMG_DIR "build/host/img-lvm"

/* ---- a disk in memory -------------------------------------------------------- */

struct memdisk {
	uint8_t *bytes;
	size_t len;
	uint32_t sector_bytes;
	unsigned contract_violations;
	unsigned writes;
	int fail_writes_after; /* > 0: the Nth write and later fail */
};

static int mem_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct memdisk *d = ctx;

	if (len != d->sector_bytes || off % d->sector_bytes || off + len > d->len) {
		d->contract_violations++;
		return -EIO;
	}
	memcpy(buf, d->bytes + off, len);
	return 0;
}

static int mem_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct memdisk *d = ctx;

	if (len != d->sector_bytes || off % d->sector_bytes || off + len > d->len) {
		d->contract_violations++;
		return -EIO;
	}
	d->writes++;
	if (d->fail_writes_after && (int)d->writes >= d->fail_writes_after)
		return -EIO;
	memcpy(d->bytes + off, buf, len);
	return 0;
}

static struct disk_reader reader_of(struct memdisk *d)
{
	struct disk_reader r = { mem_read, d, d->len / d->sector_bytes, d->sector_bytes };
	return r;
}

/* Freed by the next test (a failing CHECK returns early). */
static uint8_t *loaded_image;
static struct lvm_pv *pv_in_use;
static struct lvm_vg *vg_in_use;
static char *text_in_use, *out_in_use;
#define TEXT_CAP (LVM_TEXT_MAX + 1)

static bool images_made;

static bool load(struct memdisk *d, const char *name)
{
	char path[256];
	FILE *f;
	long n;

	memset(d, 0, sizeof(*d));
	d->sector_bytes = 512;
	if (!images_made)
		images_made = system("tests/unit/mkimages.sh lvm " IMG_DIR) == 0;
	if (!images_made)
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

static bool save(const struct memdisk *d, const char *name)
{
	char path[256];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), IMG_DIR "/%s", name);
	f = fopen(path, "wb");
	if (!f)
		return false;
	ok = fwrite(d->bytes, 1, d->len, f) == d->len;
	return fclose(f) == 0 && ok;
}

static void fresh_buffers(void)
{
	free(pv_in_use);
	free(vg_in_use);
	free(text_in_use);
	free(out_in_use);
	pv_in_use = calloc(1, sizeof(*pv_in_use));
	vg_in_use = calloc(1, sizeof(*vg_in_use));
	text_in_use = calloc(1, TEXT_CAP);
	out_in_use = calloc(1, TEXT_CAP + 8192);
}

/* Reads the whole VG from the memdisk: label, text, parse, attach, check. */
static int read_vg(struct memdisk *d, size_t *text_len, char *reason, size_t reason_len)
{
	struct disk_reader r = reader_of(d);
	int rc;

	rc = lvm_pv_read(&r, pv_in_use, reason, reason_len);
	if (rc)
		return rc;
	rc = lvm_pv_read_text(&r, pv_in_use, text_in_use, TEXT_CAP, text_len, NULL, reason,
			      reason_len);
	if (rc)
		return rc;
	rc = lvm_vg_parse(text_in_use, *text_len, vg_in_use, reason, reason_len);
	if (rc)
		return rc;
	rc = lvm_vg_attach_pv(vg_in_use, pv_in_use->uuid, d->len / 512);
	if (rc)
		return rc;
	lvm_vg_check(vg_in_use);
	return 0;
}

/* Commits out_in_use (out_bytes) to every metadata area of the PV. */
static int commit(struct memdisk *d, size_t out_bytes, char *msg, size_t msg_len)
{
	struct disk_reader r = reader_of(d);
	static uint8_t scratch[4096];

	for (unsigned i = 0; i < pv_in_use->mda_count; i++) {
		int rc = lvm_mda_write(&r, mem_write, &pv_in_use->mdas[i], out_in_use, out_bytes,
				       scratch, msg, msg_len);
		if (rc)
			return rc;
	}
	return 0;
}

static struct lvm_stamp stamp(unsigned seed)
{
	struct lvm_stamp st = { .time_seconds = 1796072070, .host = "keel", .command = "keel test" };

	for (int i = 0; i < 32; i++)
		st.random[i] = (uint8_t)(seed * 131 + (unsigned)i * 29 + 7);
	return st;
}

/* ---- the host's report ----------------------------------------------------------- */

struct report {
	char lines[64][256];
	unsigned count;
};

static bool host_report(const char *image, struct report *rep)
{
	char cmd[512];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tests/unit/mkimages.sh lvm-report " IMG_DIR "/%s", image);
	f = popen(cmd, "r");
	if (!f)
		return false;
	rep->count = 0;
	while (rep->count < 64 && fgets(rep->lines[rep->count], 256, f)) {
		rep->lines[rep->count][strcspn(rep->lines[rep->count], "\n")] = 0;
		rep->count++;
	}
	return pclose(f) == 0;
}

static const char *report_find(const struct report *rep, const char *prefix)
{
	for (unsigned i = 0; i < rep->count; i++)
		if (strncmp(rep->lines[i], prefix, strlen(prefix)) == 0)
			return rep->lines[i];
	return NULL;
}

static bool report_clean(const struct report *rep)
{
	for (unsigned i = 0; i < rep->count; i++) {
		if (strncmp(rep->lines[i], "lv,", 3) && strncmp(rep->lines[i], "vg,", 3) &&
		    strncmp(rep->lines[i], "pv,", 3)) {
			printf("  host says: %s\n", rep->lines[i]);
			return false;
		}
	}
	return true;
}

/* Keel's own report of an LV in the host's "lv,NAME,SIZE,..." form, one line
 * per segment, into buf; compares with every host line for that LV. */
static bool lv_matches_host(const struct report *rep, const struct lvm_lv *lv)
{
	char prefix[160];
	unsigned host_lines = 0;

	snprintf(prefix, sizeof(prefix), "lv,%s,", lv->name);
	for (unsigned i = 0; i < rep->count; i++) {
		unsigned long long size, seg_start, seg_size, pe_first, pe_last;
		const struct lvm_segment *s;
		const char *colon;

		if (strncmp(rep->lines[i], prefix, strlen(prefix)) != 0)
			continue;
		if (sscanf(rep->lines[i] + strlen(prefix), "%llu,%llu,%llu,", &size, &seg_start,
			   &seg_size) != 3)
			return false;
		colon = strrchr(rep->lines[i], ':');
		if (!colon || sscanf(colon + 1, "%llu-%llu", &pe_first, &pe_last) != 2)
			return false;
		if (host_lines >= lv->segment_count)
			return false;
		s = &vg_in_use->segments[lv->first_segment + host_lines];
		if (size != lv->extents * vg_in_use->extent_sectors || seg_start != s->lv_start_extent ||
		    seg_size != s->extents || pe_first != s->pv_start_extent ||
		    pe_last != s->pv_start_extent + s->extents - 1) {
			printf("  %s: host '%s'\n", lv->name, rep->lines[i]);
			return false;
		}
		host_lines++;
	}
	return host_lines == lv->segment_count && host_lines > 0;
}

/* ---- reading what the host made ---------------------------------------------------- */

TEST(lvm_reads_host_vg)
{
	struct memdisk d;
	struct report rep;
	char reason[160], vg_line[200], pv_line[200];
	struct lvm_extent map[4];
	size_t len;
	unsigned n;
	FILE *f;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_STR(vg_in_use->name, "vg0");
	CHECK_EQ(vg_in_use->lv_count, 2);
	CHECK_EQ(vg_in_use->pv_count, 1);
	CHECK_EQ(pv_in_use->label_sector, 1);
	CHECK_EQ(pv_in_use->mda_count, 1);
	CHECK_EQ(lvm_pv_text_buffer_bytes(pv_in_use), pv_in_use->mdas[0].text_bytes + 1);
	CHECK_EQ(len + 1, pv_in_use->mdas[0].text_bytes);
	/* Against what lvs/vgs/pvs printed when the image was made. */
	f = fopen(IMG_DIR "/lvm.expect", "r");
	CHECK(f);
	rep.count = 0;
	while (rep.count < 64 && fgets(rep.lines[rep.count], 256, f))
		rep.lines[rep.count][strcspn(rep.lines[rep.count], "\n")] = 0, rep.count++;
	fclose(f);
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "a")));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "b")));
	snprintf(vg_line, sizeof(vg_line), "vg,vg0,%llu,%llu,%llu,%llu,%llu,%u,%llu",
		 (unsigned long long)(lvm_vg_extent_count(vg_in_use) * vg_in_use->extent_sectors),
		 (unsigned long long)(lvm_vg_free_extents(vg_in_use) * vg_in_use->extent_sectors),
		 (unsigned long long)vg_in_use->extent_sectors,
		 (unsigned long long)lvm_vg_extent_count(vg_in_use),
		 (unsigned long long)lvm_vg_free_extents(vg_in_use), vg_in_use->lv_count,
		 (unsigned long long)vg_in_use->seqno);
	CHECK_STR(report_find(&rep, "vg,"), vg_line);
	snprintf(pv_line, sizeof(pv_line), "pv,%s,%llu,%llu,%llu,%llu", pv_in_use->uuid,
		 (unsigned long long)(vg_in_use->pvs[0].pe_count * vg_in_use->extent_sectors),
		 (unsigned long long)vg_in_use->pvs[0].pe_start_sectors,
		 (unsigned long long)vg_in_use->pvs[0].pe_count,
		 (unsigned long long)(pv_in_use->device_bytes / 512));
	CHECK_STR(report_find(&rep, "pv,"), pv_line);
	/* Both LVs usable, mapped where lvm2 put them. */
	CHECK(lvm_vg_find_lv(vg_in_use, "a")->usable);
	CHECK_EQ(lvm_vg_find_lv(vg_in_use, "a")->status,
		 LVM_LV_READ | LVM_LV_WRITE | LVM_LV_VISIBLE);
	CHECK_EQ(lvm_lv_map(vg_in_use, lvm_vg_find_lv(vg_in_use, "b"), map, 4, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(map[0].pv_sector, 2048 + 2 * 8192);
	CHECK_EQ(map[0].sectors, 3 * 8192);
	CHECK_EQ(d.contract_violations, 0);
}

TEST(lvm_4k_sector_device)
{
	struct memdisk d;
	char reason[160];
	size_t len;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	d.sector_bytes = 4096;
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->lv_count, 2);
	CHECK_EQ(d.contract_violations, 0);
}

/* ---- writing, checked by the host ------------------------------------------------- */

TEST(lvm_write_round_trip_with_host)
{
	struct memdisk d;
	struct report rep;
	struct lvm_stamp st = stamp(1);
	char reason[160], msg[256];
	const struct lvm_lv *lv;
	size_t len, out;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);

	/* lvcreate -L 20M -n c vg0: extents 5-9. */
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "c", 40960, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "Logical volume \"c\" created.");
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->seqno, 4);
	lv = lvm_vg_find_lv(vg_in_use, "c");
	CHECK(lv && lv->usable && lv->extents == 5);
	CHECK_EQ(vg_in_use->segments[lv->first_segment].pv_start_extent, 5);

	/* lvextend -L 16M vg0/a: a ends at 1, 2 is b's, so a second segment at 10. */
	CHECK_EQ(lvm_lvextend(vg_in_use, text_in_use, len, "a", 32768, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), 0);
	CHECK(strstr(msg, "changed from 8.00 MiB (2 extents) to 16.00 MiB (4 extents)"));
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	lv = lvm_vg_find_lv(vg_in_use, "a");
	CHECK(lv && lv->usable && lv->extents == 4 && lv->segment_count == 2);

	/* lvextend -L +4M vg0/a: grows the last segment in place (extent 12). */
	CHECK_EQ(lvm_lvextend(vg_in_use, text_in_use, len, "a", 32768 + 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), 0);
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	lv = lvm_vg_find_lv(vg_in_use, "a");
	CHECK(lv && lv->extents == 5 && lv->segment_count == 2);

	/* lvremove vg0/b. */
	CHECK_EQ(lvm_lvremove(vg_in_use, text_in_use, len, "b", &st, out_in_use, TEXT_CAP + 8192,
			      &out, msg, sizeof(msg)), 0);
	CHECK_STR(msg, "Logical volume \"b\" successfully removed.");
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK(!lvm_vg_find_lv(vg_in_use, "b"));
	CHECK_EQ(vg_in_use->seqno, 7);
	CHECK_EQ(d.contract_violations, 0);

	/* The host reads it all back: vgck silent, sizes as keel made them. */
	CHECK(save(&d, "lvm-keel.img"));
	CHECK(host_report("lvm-keel.img", &rep));
	CHECK(report_clean(&rep));
	CHECK(!report_find(&rep, "lv,b,"));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "a")));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "c")));
	CHECK(report_find(&rep, "vg,vg0,122880,40960,8192,15,5,2,7"));

	/* The host creates "d" on keel's metadata; keel sees it. */
	CHECK_EQ(system("tests/unit/mkimages.sh lvm-create " IMG_DIR "/lvm-keel.img -L 8M -n d vg0"), 0);
	CHECK(load(&d, "lvm-keel.img"));
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	lv = lvm_vg_find_lv(vg_in_use, "d");
	CHECK(lv && lv->usable && lv->extents == 2);
	CHECK_EQ(vg_in_use->seqno, 8);
	CHECK(host_report("lvm-keel.img", &rep));
	CHECK(lv_matches_host(&rep, lv));
}

TEST(lvm_write_wraps_circular_buffer)
{
	struct memdisk d;
	struct report rep;
	char reason[160], msg[256];
	size_t len, out;
	bool wrapped = false;
	unsigned i;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	/* Create and remove "t" until the text has wrapped around the end of
	 * the ~1 MiB area at least once, then a few more times. */
	for (i = 0; i < 4000; i++) {
		struct lvm_stamp st = stamp(i);
		struct lvm_mda_plan plan;
		int rc = (i % 2 == 0)
			? lvm_lvcreate(vg_in_use, text_in_use, len, "t", 8192, &st, out_in_use,
				       TEXT_CAP + 8192, &out, msg, sizeof(msg))
			: lvm_lvremove(vg_in_use, text_in_use, len, "t", &st, out_in_use,
				       TEXT_CAP + 8192, &out, msg, sizeof(msg));

		CHECK_EQ(rc, 0);
		CHECK_EQ(lvm_mda_plan(&pv_in_use->mdas[0], out, lvm_text_crc(out_in_use, out), &plan,
				      msg, sizeof(msg)), 0);
		if (plan.write2_bytes)
			CHECK_EQ(plan.write2_bytes_at, 4096 + 512);
		CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
		CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
		/* Stop with "t" present and its text split across the end. */
		if (plan.write2_bytes && i % 2 == 0) {
			wrapped = true;
			break;
		}
	}
	CHECK(wrapped);
	CHECK(pv_in_use->mdas[0].text_offset + pv_in_use->mdas[0].text_bytes >
	      pv_in_use->mdas[0].size_bytes);
	/* The text does not grow from create/remove cycles. */
	CHECK(len < 2000);
	CHECK(lvm_vg_find_lv(vg_in_use, "t"));
	CHECK(save(&d, "lvm-wrap.img"));
	CHECK(host_report("lvm-wrap.img", &rep));
	CHECK(report_clean(&rep));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "t")));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "a")));
}

TEST(lvm_write_errors_change_nothing)
{
	struct memdisk d;
	struct lvm_stamp st = stamp(3);
	char reason[160], msg[256];
	size_t len, out;
	uint64_t sectors;
	bool rel;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "a", 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EEXIST);
	CHECK_STR(msg, "Logical Volume \"a\" already exists in volume group \"vg0\"");
	CHECK_EQ(out, 0);
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "c", 800 * 2048, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -ENOSPC);
	CHECK_STR(msg, "Volume group \"vg0\" has insufficient free space (10 extents): 200 required.");
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "-bad", 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Logical volume name \"-bad\" is invalid.");
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "snapshot1", 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Names starting \"snapshot\" are reserved. Please choose a different LV name.");
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "z", 0, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "--size may not be zero.");
	CHECK_EQ(lvm_size_parse("12x", &sectors, &rel, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Can't parse size argument.\nInvalid argument for --size: 12x");
	CHECK_EQ(lvm_lvextend(vg_in_use, text_in_use, len, "a", 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "New size given (1 extents) not larger than existing size (2 extents)");
	CHECK_EQ(lvm_lvextend(vg_in_use, text_in_use, len, "a", 16384, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "New size (2 extents) matches existing size (2 extents).");
	CHECK_EQ(lvm_lvextend(vg_in_use, text_in_use, len, "a", 800 * 2048, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -ENOSPC);
	CHECK_STR(msg, "Insufficient free space: 198 extents needed, but only 10 available");
	CHECK_EQ(lvm_lvremove(vg_in_use, text_in_use, len, "nope", &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), -ENOENT);
	CHECK_STR(msg, "Failed to find logical volume \"vg0/nope\"");
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "c", 8192, &st, out_in_use, 1000, &out,
			      msg, sizeof(msg)), -E2BIG);
	CHECK_EQ(out, 0);
	/* A failed text write leaves the old metadata committed. */
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "c", 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), 0);
	d.fail_writes_after = 2;
	CHECK(commit(&d, out, msg, sizeof(msg)) == -EIO);
	d.fail_writes_after = 0;
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK(!lvm_vg_find_lv(vg_in_use, "c"));
	CHECK_EQ(vg_in_use->seqno, 3);
}

/* ---- corrupt and unsupported metadata ---------------------------------------------- */

TEST(lvm_bad_checksums_refused)
{
	struct memdisk d;
	struct disk_reader r;
	char reason[160];
	size_t len;
	uint64_t text_at;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	r = reader_of(&d);
	CHECK_EQ(lvm_pv_read(&r, pv_in_use, reason, sizeof(reason)), 0);
	text_at = pv_in_use->mdas[0].start_bytes + pv_in_use->mdas[0].text_offset;
	d.bytes[text_at + 10] ^= 0x20; /* one letter of the metadata text */
	CHECK_EQ(lvm_pv_read_text(&r, pv_in_use, text_in_use, TEXT_CAP, &len, NULL, reason,
				  sizeof(reason)), -EINVAL);
	CHECK_STR(reason, "metadata text checksum mismatch (area at 4096)");
	d.bytes[text_at + 10] ^= 0x20;
	d.bytes[4096 + 100] ^= 1; /* inside the mda header */
	CHECK_EQ(lvm_pv_read(&r, pv_in_use, reason, sizeof(reason)), -EINVAL);
	CHECK_STR(reason, "metadata area header at 4096 has a bad checksum");
	d.bytes[4096 + 100] ^= 1;
	d.bytes[512 + 100] ^= 1; /* inside the label sector */
	CHECK_EQ(lvm_pv_read(&r, pv_in_use, reason, sizeof(reason)), -EINVAL);
	CHECK_STR(reason, "LVM label in sector 1 has a bad checksum");
	memset(d.bytes, 0, 2048);
	CHECK_EQ(lvm_pv_read(&r, pv_in_use, reason, sizeof(reason)), -ENOENT);
}

static const char *vg_text =
	"vg0 {\nid = \"ReUDIh-YLIr-fR2o-184O-VN6i-d74w-SgXuq5\"\nseqno = 9\nformat = \"lvm2\"\n"
	"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nflags = []\nextent_size = 8192\n"
	"physical_volumes {\npv0 {\nid = \"qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s\"\n"
	"device = \"/dev/vda\"\nstatus = [\"ALLOCATABLE\"]\ndev_size = 131072\npe_start = 2048\n"
	"pe_count = 15\n}\npv1 {\nid = \"AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG\"\n"
	"status = [\"ALLOCATABLE\"]\ndev_size = 131072\npe_start = 2048\npe_count = 15\n}\n}\n"
	"logical_volumes {\n"
	"good {\nid = \"rswKff-Po8O-DoHh-llDD-R15a-s4TH-wIEzjI\"\n"
	"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 2\n"
	"segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\n"
	"stripes = [\"pv0\", 0]\n}\n"
	"segment2 {\nstart_extent = 1\nextent_count = 1\ntype = \"striped\"\nstripe_count = 1\n"
	"stripes = [\"pv0\", 4]\n}\n}\n"
	"thin1 {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc1\"\nstatus = [\"READ\", \"VISIBLE\"]\n"
	"segment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 10\ntype = \"thin\"\n"
	"thin_pool = \"pool\"\ntransaction_id = 1\ndevice_id = 1\n}\n}\n"
	"wide {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc2\"\nstatus = [\"READ\", \"VISIBLE\"]\n"
	"segment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"striped\"\n"
	"stripe_count = 2\nstripe_size = 128\nstripes = [\"pv0\", 1, \"pv1\", 0]\n}\n}\n"
	"mirror {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc3\"\nstatus = [\"READ\", \"VISIBLE\"]\n"
	"segment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"raid1\"\n"
	"device_count = 2\nraids = [\"mirror_rmeta_0\", \"mirror_rimage_0\"]\n}\n}\n"
	"far {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc4\"\nstatus = [\"READ\", \"VISIBLE\"]\n"
	"segment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 3\ntype = \"striped\"\n"
	"stripe_count = 1\nstripes = [\"pv0\", 14]\n}\n}\n"
	"other {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc5\"\n"
	"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\n"
	"segment_count = 1\nsegment1 {\nstart_extent = 0\nextent_count = 2\ntype = \"striped\"\n"
	"stripe_count = 1\nstripes = [\"pv1\", 5]\n}\n}\n"
	"}\n}\n# trailer\ncontents = \"Text Format Volume Group\"\nversion = 1\n";

TEST(lvm_unsupported_lvs_refused_others_offered)
{
	char reason[160], msg[256];
	struct lvm_stamp st = stamp(5);
	size_t out;

	fresh_buffers();
	CHECK_EQ(lvm_vg_parse(vg_text, strlen(vg_text), vg_in_use, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->lv_count, 6);
	CHECK_EQ(lvm_vg_attach_pv(vg_in_use, "qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s", 131072), 0);
	CHECK_EQ(lvm_vg_attach_pv(vg_in_use, "nope", 131072), -ENOENT);
	lvm_vg_check(vg_in_use);
	CHECK(lvm_vg_find_lv(vg_in_use, "good")->usable);
	CHECK_EQ(lvm_vg_find_lv(vg_in_use, "good")->segment_count, 2);
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "thin1")->why, "lv 'thin1': segment type 'thin' not supported");
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "wide")->why,
		  "lv 'wide': segment type 'striped' with 2 stripes not supported");
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "mirror")->why,
		  "lv 'mirror': segment type 'raid1' not supported");
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "far")->why,
		  "lv 'far': segment 1 ends past the last extent of pv0 (17 > 15)");
	/* Multi-PV: pv1 was not attached, so "other" is not usable. */
	CHECK(!lvm_vg_find_lv(vg_in_use, "other")->usable);
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "other")->why,
		  "lv 'other': PV pv1 (AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG) is missing");
	/* Writes refused while a PV is missing, as lvm2 does. */
	CHECK_EQ(lvm_lvcreate(vg_in_use, vg_text, strlen(vg_text), "n", 8192, &st, out_in_use,
			      TEXT_CAP, &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Cannot change VG vg0 while PVs are missing.");
	/* With both, extents used by the striped LV count as used. */
	CHECK_EQ(lvm_vg_attach_pv(vg_in_use, "AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG", 131072), 0);
	lvm_vg_check(vg_in_use);
	CHECK(lvm_vg_find_lv(vg_in_use, "other")->usable);
	/* pv0: 0, 4 (good), 1-2 (wide), 14 (far, clipped to 14) -> 0-2, 4, 14 used;
	 * pv1: 0-1 (wide), 5-6 (other). */
	CHECK_EQ(lvm_vg_free_extents(vg_in_use), (15 - 5) + (15 - 4));
	CHECK_EQ(lvm_lvremove(vg_in_use, vg_text, strlen(vg_text), "thin1", &st, out_in_use, TEXT_CAP,
			      &out, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "keel does not remove vg0/thin1: lv 'thin1': segment type 'thin' not supported");
	/* An LV made here lands on the first free run (pv0 extent 3). */
	CHECK_EQ(lvm_lvcreate(vg_in_use, vg_text, strlen(vg_text), "n", 8192, &st, out_in_use,
			      TEXT_CAP, &out, msg, sizeof(msg)), 0);
	CHECK(strstr(out_in_use, "n {\nid = \""));
	CHECK(strstr(out_in_use, "stripes = [\n\"pv0\", 3\n]"));
	CHECK(strstr(out_in_use, "seqno = 10\n"));
	CHECK(strstr(out_in_use, "thin_pool = \"pool\""));
	CHECK_EQ(out, strlen(out_in_use) + 1);
}

TEST(lvm_segment_past_device_end)
{
	char reason[160];
	static char text[8192];
	char *p;

	fresh_buffers();
	snprintf(text, sizeof(text), "%s", vg_text);
	/* The metadata says the device is 40000 sectors: 15 extents cannot fit. */
	p = strstr(text, "dev_size = 131072");
	memcpy(p, "dev_size = 040000", 17);
	CHECK_EQ(lvm_vg_parse(text, strlen(text), vg_in_use, reason, sizeof(reason)), 0);
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "good")->why,
		  "lv 'good': segment 2 ends past the end of pv0 (sector 43008 > 40000)");
	/* Metadata is fine but the device found is smaller than it says. */
	CHECK_EQ(lvm_vg_parse(vg_text, strlen(vg_text), vg_in_use, reason, sizeof(reason)), 0);
	lvm_vg_attach_pv(vg_in_use, "qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s", 20000);
	lvm_vg_attach_pv(vg_in_use, "AAAAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGGGG", 131072);
	lvm_vg_check(vg_in_use);
	CHECK(!lvm_vg_find_lv(vg_in_use, "good")->usable);
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "good")->why,
		  "lv 'good': segment 2 ends past the device end of pv0 (sector 43008 > 20000)");
	CHECK(lvm_vg_find_lv(vg_in_use, "other")->usable);
}

/* The full path on a disk: metadata with a thin, a striped and a raid LV
 * committed to the real image (checksums right), then read back: those three
 * are refused with reasons, a and b still offered. */
TEST(lvm_unsupported_lvs_on_disk)
{
	static const char extra[] =
		"\nthin1 {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc1\"\n"
		"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\n"
		"segment1 {\nstart_extent = 0\nextent_count = 10\ntype = \"thin\"\n"
		"thin_pool = \"pool\"\ntransaction_id = 1\ndevice_id = 1\n}\n}\n"
		"wide {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc2\"\n"
		"status = [\"READ\", \"VISIBLE\"]\nsegment_count = 1\n"
		"segment1 {\nstart_extent = 0\nextent_count = 4\ntype = \"striped\"\n"
		"stripe_count = 2\nstripe_size = 128\nstripes = [\"pv0\", 5, \"pv0\", 7]\n}\n}\n"
		"r1 {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fofc3\"\n"
		"status = [\"READ\", \"VISIBLE\"]\nsegment_count = 1\n"
		"segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"raid1\"\n"
		"device_count = 2\nraids = [\"r1_rmeta_0\", \"r1_rimage_0\"]\n}\n}\n";
	struct memdisk d;
	struct disk_reader r;
	char reason[160], msg[256];
	static char edited[16384];
	size_t len, at, n;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	/* Insert the LVs before logical_volumes' closing brace. */
	at = vg_in_use->lvs_close;
	CHECK(at > 0 && len + sizeof(extra) < sizeof(edited));
	memcpy(edited, text_in_use, at);
	memcpy(edited + at, extra, sizeof(extra) - 1);
	memcpy(edited + at + sizeof(extra) - 1, text_in_use + at, len - at + 1);
	n = len + sizeof(extra) - 1;
	r = reader_of(&d);
	CHECK_EQ(lvm_mda_write(&r, mem_write, &pv_in_use->mdas[0], edited, n + 1,
			       (uint8_t[4096]){ 0 }, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->lv_count, 5);
	CHECK(lvm_vg_find_lv(vg_in_use, "a")->usable);
	CHECK(lvm_vg_find_lv(vg_in_use, "b")->usable);
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "thin1")->why, "lv 'thin1': segment type 'thin' not supported");
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "wide")->why,
		  "lv 'wide': segment type 'striped' with 2 stripes not supported");
	CHECK_STR(lvm_vg_find_lv(vg_in_use, "r1")->why, "lv 'r1': segment type 'raid1' not supported");
	/* The striped LV's extents (5-6, 7-8) are not handed out again. */
	CHECK_EQ(lvm_vg_free_extents(vg_in_use), 15 - 5 - 4);
}

/* 4096-byte logical sectors: text and header writes are read-modify-write of
 * whole sectors; the host still reads the result. */
TEST(lvm_write_4k_sectors)
{
	struct memdisk d;
	struct report rep;
	struct lvm_stamp st = stamp(11);
	char reason[160], msg[256];
	size_t len, out;

	CHECK(load(&d, "lvm.img"));
	fresh_buffers();
	d.sector_bytes = 4096;
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(lvm_lvcreate(vg_in_use, text_in_use, len, "four", 3 * 8192, &st, out_in_use,
			      TEXT_CAP + 8192, &out, msg, sizeof(msg)), 0);
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(d.contract_violations, 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK(lvm_vg_find_lv(vg_in_use, "four"));
	CHECK(save(&d, "lvm-4k.img"));
	CHECK(host_report("lvm-4k.img", &rep));
	CHECK(report_clean(&rep));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "four")));
	CHECK(lv_matches_host(&rep, lvm_vg_find_lv(vg_in_use, "b")));
}

/* A PV with a metadata area at each end: keel commits to both, the host
 * reads the result; after removing every LV the host still creates one. */
TEST(lvm_two_metadata_areas_and_empty_vg)
{
	struct memdisk d;
	struct report rep;
	struct lvm_stamp st = stamp(13);
	char reason[160], msg[256];
	size_t len, out;

	CHECK(load(&d, "lvm2mda.img"));
	fresh_buffers();
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(pv_in_use->mda_count, 2);
	CHECK(pv_in_use->mdas[0].valid && pv_in_use->mdas[1].valid);
	CHECK(pv_in_use->mdas[1].start_bytes > d.len / 2);
	CHECK_EQ(lvm_lvremove(vg_in_use, text_in_use, len, "a", &st, out_in_use, TEXT_CAP + 8192,
			      &out, msg, sizeof(msg)), 0);
	CHECK_EQ(commit(&d, out, msg, sizeof(msg)), 0);
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->lv_count, 0);
	/* The second area alone holds the same text. */
	pv_in_use->mdas[0].valid = false;
	{
		struct disk_reader r = reader_of(&d);
		unsigned used;
		size_t len2;
		static char again[TEXT_CAP];

		CHECK_EQ(lvm_pv_read_text(&r, pv_in_use, again, TEXT_CAP, &len2, &used, reason,
					  sizeof(reason)), 0);
		CHECK_EQ(used, 1);
		CHECK(len2 == len && memcmp(again, text_in_use, len) == 0);
	}
	CHECK(save(&d, "lvm2mda-keel.img"));
	CHECK(host_report("lvm2mda-keel.img", &rep));
	CHECK(report_clean(&rep));
	CHECK(!report_find(&rep, "lv,"));
	CHECK_EQ(system("tests/unit/mkimages.sh lvm-create " IMG_DIR "/lvm2mda-keel.img -L 4M -n e vg0"), 0);
	CHECK(load(&d, "lvm2mda-keel.img"));
	CHECK_EQ(read_vg(&d, &len, reason, sizeof(reason)), 0);
	CHECK(lvm_vg_find_lv(vg_in_use, "e") && lvm_vg_find_lv(vg_in_use, "e")->usable);
	/* A text checksum error in the first area: the second one is used. */
	d.bytes[pv_in_use->mdas[0].start_bytes + pv_in_use->mdas[0].text_offset + 3] ^= 1;
	{
		struct disk_reader r = reader_of(&d);
		unsigned used = 9;

		CHECK_EQ(lvm_pv_read(&r, pv_in_use, reason, sizeof(reason)), 0);
		CHECK_EQ(lvm_pv_read_text(&r, pv_in_use, text_in_use, TEXT_CAP, &len, &used, reason,
					  sizeof(reason)), 0);
		CHECK_EQ(used, 1);
		CHECK_STR(reason, "metadata text checksum mismatch (area at 4096); metadata area 1 used");
		/* The one-call reader keeps that warning and attaches the PV. */
		CHECK_EQ(lvm_vg_read(&r, pv_in_use, text_in_use, TEXT_CAP, &len, vg_in_use, reason,
				     sizeof(reason)), 0);
		CHECK_STR(reason, "metadata text checksum mismatch (area at 4096); metadata area 1 used");
		CHECK(lvm_vg_find_lv(vg_in_use, "e")->usable);
		memset(d.bytes + 512, 0, 512);
		CHECK_EQ(lvm_vg_read(&r, pv_in_use, text_in_use, TEXT_CAP, &len, vg_in_use, reason,
				     sizeof(reason)), -ENOENT);
	}
}

/* Found by fuzz_lvm: pe_count larger than dev_size allows must not lead keel
 * to allocate extents past the device end. */
TEST(lvm_allocation_stays_inside_device)
{
	static const char small[] =
		"vg0 {\nid = \"ReUDIh-YLIr-fR2o-184O-VN6i-d74w-SgXuq5\"\nseqno = 1\n"
		"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nextent_size = 8192\n"
		"physical_volumes {\npv0 {\nid = \"qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s\"\n"
		"status = [\"ALLOCATABLE\"]\ndev_size = 26624\npe_start = 2048\npe_count = 15\n}\n}\n}\n";
	char reason[160], msg[256];
	struct lvm_stamp st = stamp(7);
	size_t out;

	fresh_buffers();
	CHECK_EQ(lvm_vg_parse(small, strlen(small), vg_in_use, reason, sizeof(reason)), 0);
	lvm_vg_attach_pv(vg_in_use, "qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s", 1 << 20);
	/* (26624 - 2048) / 8192 = 3 extents fit: 4 do not. */
	CHECK_EQ(lvm_lvcreate(vg_in_use, small, strlen(small), "x", 4 * 8192, &st, out_in_use,
			      TEXT_CAP, &out, msg, sizeof(msg)), -ENOSPC);
	CHECK_STR(msg, "Volume group \"vg0\" has insufficient free space (3 extents): 4 required.");
	CHECK_EQ(lvm_lvcreate(vg_in_use, small, strlen(small), "x", 3 * 8192, &st, out_in_use,
			      TEXT_CAP, &out, msg, sizeof(msg)), 0);
	/* No logical_volumes section before: keel adds one; the result parses. */
	CHECK_EQ(lvm_vg_parse(out_in_use, out - 1, vg_in_use, reason, sizeof(reason)), 0);
	CHECK(lvm_vg_find_lv(vg_in_use, "x")->linear);
	CHECK_EQ(lvm_vg_find_lv(vg_in_use, "x")->extents, 3);
}

/* Worst case for the output buffer: a 127-character name, a long host and
 * command, and free space in 16 pieces (16 segments): within text + 8192. */
TEST(lvm_fragmented_create_fits_documented_buffer)
{
	static char text[16384];
	char name[128], host[200], cmd[300], reason[160], msg[256];
	struct lvm_stamp st = stamp(17);
	size_t len = 0, out;
	const struct lvm_lv *lv;

	len += (size_t)sprintf(text + len,
		"vg0 {\nid = \"ReUDIh-YLIr-fR2o-184O-VN6i-d74w-SgXuq5\"\nseqno = 1\n"
		"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nextent_size = 8192\n"
		"physical_volumes {\npv0 {\nid = \"qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s\"\n"
		"status = [\"ALLOCATABLE\"]\npe_start = 2048\npe_count = 32\n}\n}\n"
		"logical_volumes {\n");
	for (int i = 0; i < 16; i++)
		len += (size_t)sprintf(text + len,
			"l%d {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fof%02d\"\n"
			"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\n"
			"segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\n"
			"stripe_count = 1\nstripes = [\"pv0\", %d]\n}\n}\n", i, i, 2 * i);
	len += (size_t)sprintf(text + len, "}\n}\n");
	memset(name, 'n', 127);
	name[127] = 0;
	memset(host, '"', sizeof(host) - 1); /* every byte needs an escape */
	host[sizeof(host) - 1] = 0;
	memset(cmd, '\\', sizeof(cmd) - 1);
	cmd[sizeof(cmd) - 1] = 0;
	st.host = host;
	st.command = cmd;
	fresh_buffers();
	CHECK_EQ(lvm_vg_parse(text, len, vg_in_use, reason, sizeof(reason)), 0);
	lvm_vg_attach_pv(vg_in_use, "qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s", 1 << 20);
	CHECK_EQ(lvm_lvcreate(vg_in_use, text, len, name, 16 * 8192, &st, out_in_use, len + 8192,
			      &out, msg, sizeof(msg)), 0);
	CHECK_EQ(lvm_vg_parse(out_in_use, out - 1, vg_in_use, reason, sizeof(reason)), 0);
	lv = lvm_vg_find_lv(vg_in_use, name);
	CHECK(lv && lv->linear && lv->segment_count == 16 && lv->extents == 16);
	CHECK_EQ(vg_in_use->segments[lv->first_segment + 15].pv_start_extent, 31);
}

/* More LVs than keel keeps: the first 64 listed, the extents of all counted,
 * and no writes. */
TEST(lvm_too_many_lvs)
{
	static char text[65536];
	char reason[160], msg[256];
	struct lvm_stamp st = stamp(19);
	size_t len = 0, out;

	len += (size_t)sprintf(text + len,
		"vg0 {\nid = \"ReUDIh-YLIr-fR2o-184O-VN6i-d74w-SgXuq5\"\nseqno = 1\n"
		"status = [\"RESIZEABLE\", \"READ\", \"WRITE\"]\nextent_size = 8192\n"
		"physical_volumes {\npv0 {\nid = \"qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s\"\n"
		"status = [\"ALLOCATABLE\"]\npe_start = 2048\npe_count = 100\n}\n}\n"
		"logical_volumes {\n");
	for (int i = 0; i < 70; i++)
		len += (size_t)sprintf(text + len,
			"l%d {\nid = \"EJozG1-3WF0-Uvqv-zist-JOLb-WRCU-3Fof%02d\"\n"
			"status = [\"READ\", \"WRITE\", \"VISIBLE\"]\nsegment_count = 1\n"
			"segment1 {\nstart_extent = 0\nextent_count = 1\ntype = \"striped\"\n"
			"stripe_count = 1\nstripes = [\"pv0\", %d]\n}\n}\n", i, i, i);
	len += (size_t)sprintf(text + len, "}\n}\n");
	fresh_buffers();
	CHECK_EQ(lvm_vg_parse(text, len, vg_in_use, reason, sizeof(reason)), 0);
	CHECK_EQ(vg_in_use->lv_count, LVM_MAX_LVS);
	CHECK_EQ(lvm_vg_free_extents(vg_in_use), 30);
	lvm_vg_attach_pv(vg_in_use, "qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s", 1 << 21);
	lvm_vg_check(vg_in_use);
	CHECK(lvm_vg_find_lv(vg_in_use, "l63")->usable);
	CHECK_EQ(lvm_lvcreate(vg_in_use, text, len, "x", 8192, &st, out_in_use, TEXT_CAP, &out, msg,
			      sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "VG vg0 has more than 64 LVs; keel does not change it");
}

TEST(lvm_malformed_text_refused)
{
	static const struct {
		const char *text, *reason;
	} cases[] = {
		{ "", "metadata line 1: no volume group" },
		{ "vg0 {\nid = \"x\"\n", "metadata line 2: VG id is not an lvm2 uuid" },
		{ "vg0 {\nseqno = [1, 2\n}", "metadata line 3: expected ',' or ']'" },
		{ "vg0 {\nseqno = 1\n", "metadata line 3: unexpected end of metadata" },
		{ "vg0 }", "metadata line 1: expected '=' or '{' after 'vg0'" },
		{ "}", "metadata line 1: unbalanced '}'" },
		{ "a{b{c{d{e{f{g{h{i{}}}}}}}}}", "metadata line 1: sections nested too deep" },
		{ "vg0 {\nseqno = \"unterminated\n}", "metadata line 3: expected a value" },
		{ "vg0 {\nextent_size = 99999999999999999999999\n}",
		  "metadata line 2: extent_size is not a number" },
		{ "vg0 {\n}\n", "metadata line 3: VG vg0 lacks id, seqno or extent_size" },
		/* Found by fuzz_lvm: a second "pv0" made keel allocate on one PV
		 * and name the other in the text. */
		{ "vg0 {\nphysical_volumes {\npv0 {\nid = \"qIuA7O-qKMu-Jsix-Fe3d-9yk8-uklt-KgJK2s\"\n}\n"
		  "pv0 {\n", "metadata line 6: PV pv0 appears twice" },
	};
	char reason[160];

	fresh_buffers();
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = lvm_vg_parse(cases[i].text, strlen(cases[i].text), vg_in_use, reason,
				      sizeof(reason));

		if (rc != -EINVAL || strcmp(reason, cases[i].reason) != 0)
			printf("  case %zu: rc %d reason '%s'\n", i, rc, reason);
		CHECK_EQ(rc, -EINVAL);
		CHECK_STR(reason, cases[i].reason);
	}
}

TEST(lvm_size_parser)
{
	static const struct {
		const char *arg;
		int rc;
		uint64_t sectors;
		bool relative;
	} cases[] = {
		{ "512M", 0, 512 * 2048, false }, { "1G", 0, 2097152, false },
		{ "100m", 0, 100 * 2048, false }, { "8", 0, 8 * 2048, false },
		{ "1.5", 0, 3072, false },        { "1.5g", 0, 3145728, false },
		{ "4k", 0, 8, false },            { "2t", 0, 2ull << 31, false },
		{ "1GiB", 0, 2097152, false },    { "1GB", 0, 2097152, false },
		{ "100s", 0, 100, false },        { "1024b", 0, 2, false },
		{ "+4M", 0, 8192, true },         { ".5m", 0, 1024, false },
		{ "0", 0, 0, false },             { "1P", 0, 1ull << 41, false },
		{ "12x", -EINVAL, 0, false },     { "-4M", -EINVAL, 0, false },
		{ "", -EINVAL, 0, false },        { "M", -EINVAL, 0, false },
		{ "100b", -EINVAL, 0, false },    { "++1", -EINVAL, 0, false },
		{ "99999999999999999999", -EINVAL, 0, false }, { "16777216T", -EINVAL, 0, false },
		{ "1Mx", -EINVAL, 0, false },     { ".", -EINVAL, 0, false },
	};
	char msg[160];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		uint64_t s = 99;
		bool rel = false;
		int rc = lvm_size_parse(cases[i].arg, &s, &rel, msg, sizeof(msg));

		if (rc != cases[i].rc || (rc == 0 && (s != cases[i].sectors || rel != cases[i].relative)))
			printf("  '%s': rc %d sectors %llu (%s)\n", cases[i].arg, rc,
			       (unsigned long long)s, msg);
		CHECK_EQ(rc, cases[i].rc);
		if (rc == 0) {
			CHECK_EQ(s, cases[i].sectors);
			CHECK_EQ(rel, cases[i].relative);
		}
	}
	CHECK_EQ(lvm_size_parse("100b", &(uint64_t){ 0 }, NULL, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Size is not a multiple of 512. Try using 0 or 512.\nInvalid argument for --size: 100b");
	CHECK_EQ(lvm_size_parse("-1", &(uint64_t){ 0 }, NULL, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Size may not be negative.");
	CHECK_EQ(lvm_size_parse("+1", &(uint64_t){ 0 }, NULL, msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Size may not be relative/signed.");
}

TEST(lvm_name_rules)
{
	static const struct {
		const char *name;
		int rc;
	} cases[] = {
		{ "data", 0 }, { "a.b_c-d+e", 0 }, { "9lives", 0 }, { "-x", -EINVAL }, { ".", -EINVAL },
		{ "..", -EINVAL }, { "a/b", -EINVAL }, { "", -EINVAL }, { "sp ace", -EINVAL },
		{ "pvmove0", -EINVAL }, { "x_tmeta", -EINVAL }, { "x_rimage_1", -EINVAL },
		{ "tmeta", 0 },
	};
	char msg[160], long_name[200];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int rc = lvm_lv_name_check(cases[i].name, msg, sizeof(msg));

		if (rc != cases[i].rc)
			printf("  '%s': rc %d\n", cases[i].name, rc);
		CHECK_EQ(rc, cases[i].rc);
	}
	memset(long_name, 'a', sizeof(long_name));
	long_name[127] = 0;
	CHECK_EQ(lvm_lv_name_check(long_name, msg, sizeof(msg)), 0);
	long_name[127] = 'a';
	long_name[128] = 0;
	CHECK_EQ(lvm_lv_name_check(long_name, msg, sizeof(msg)), -EINVAL);
	CHECK_EQ(lvm_lv_name_check("x_cdata", msg, sizeof(msg)), -EINVAL);
	CHECK_STR(msg, "Names including \"_cdata\" are reserved. Please choose a different LV name.");
}

TEST(lvm_mda_plan_places_like_lvm2)
{
	struct lvm_mda m;
	struct lvm_mda_plan plan;
	char msg[160];

	memset(&m, 0, sizeof(m));
	m.valid = true;
	m.start_bytes = 4096;
	m.size_bytes = 8192;
	/* Empty area: text starts right after the header. */
	CHECK_EQ(lvm_mda_plan(&m, 1000, 0, &plan, msg, sizeof(msg)), 0);
	CHECK_EQ(plan.write1_bytes_at, 4096 + 512);
	CHECK_EQ(plan.write2_bytes, 0);
	/* After an old copy at 512+1000: the next 512 boundary, 1536. */
	m.text_offset = 512;
	m.text_bytes = 1000;
	CHECK_EQ(lvm_mda_plan(&m, 1000, 0, &plan, msg, sizeof(msg)), 0);
	CHECK_EQ(plan.write1_bytes_at, 4096 + 1536);
	/* Near the end: wraps, the rest at offset 512. */
	m.text_offset = 3584;
	m.text_bytes = 3000;
	CHECK_EQ(lvm_mda_plan(&m, 3000, 0, &plan, msg, sizeof(msg)), 0);
	CHECK_EQ(plan.write1_bytes_at, 4096 + 6656);
	CHECK_EQ(plan.write1_bytes, 8192 - 6656);
	CHECK_EQ(plan.write2_bytes_at, 4096 + 512);
	CHECK_EQ(plan.write2_bytes, 3000 - (8192 - 6656));
	/* Bigger than half the area: refused as lvm2 refuses it. */
	CHECK_EQ(lvm_mda_plan(&m, 3400, 0, &plan, msg, sizeof(msg)), -ENOSPC);
	CHECK_STR(msg, "VG metadata (3400 bytes) exceeds maximum metadata size (3328 bytes)");
	/* Old copy ending within 512 bytes of the end: start over at 512. */
	m.text_offset = 7168;
	m.text_bytes = 900;
	CHECK_EQ(lvm_mda_plan(&m, 1000, 0, &plan, msg, sizeof(msg)), 0);
	CHECK_EQ(plan.write1_bytes_at, 4096 + 512);
}

static const struct test_case tests[] = {
	T(lvm_reads_host_vg),
	T(lvm_4k_sector_device),
	T(lvm_write_round_trip_with_host),
	T(lvm_write_wraps_circular_buffer),
	T(lvm_write_errors_change_nothing),
	T(lvm_bad_checksums_refused),
	T(lvm_unsupported_lvs_refused_others_offered),
	T(lvm_segment_past_device_end),
	T(lvm_unsupported_lvs_on_disk),
	T(lvm_write_4k_sectors),
	T(lvm_two_metadata_areas_and_empty_vg),
	T(lvm_allocation_stays_inside_device),
	T(lvm_fragmented_create_fits_documented_buffer),
	T(lvm_too_many_lvs),
	T(lvm_malformed_text_refused),
	T(lvm_size_parser),
	T(lvm_name_rules),
	T(lvm_mda_plan_places_like_lvm2),
};

int main(void)
{
	int rc = run_tests(tests, ARRAY_SIZE(tests));

	free(loaded_image);
	free(pv_in_use);
	free(vg_in_use);
	free(text_in_use);
	free(out_in_use);
	return rc;
}

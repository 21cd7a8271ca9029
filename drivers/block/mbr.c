/*
 * MBR partition tables with extended/logical partitions, numbered as Linux's
 * block/partitions/msdos.c numbers them, and part_scan(), the entry point
 * that picks GPT or MBR.  Pure (see include/keel/part.h for the contract and
 * where keel differs from Linux on purpose).
 *
 * The chain: the primary table's extended entry gives the container
 * [ext_start, ext_start + ext_size).  Each extended boot record (EBR) holds a
 * logical partition relative to the EBR itself and a link to the next EBR
 * relative to ext_start.  Links are followed at most PART_MBR_CHAIN_MAX
 * times, and an EBR seen twice ends the chain (a loop).
 */
#include <keel/part.h>

#define MBR_SIGNATURE_OFFSET 510
#define MBR_TABLE_OFFSET 446
#define MBR_DISK_SIGNATURE_OFFSET 440
#define MBR_TYPE_GPT_PROTECTIVE 0xEE
#define PART_MBR_CHAIN_MAX 128 /* EBRs visited per extended container */

struct mbr_raw_entry {
	uint8_t boot;
	uint8_t type;
	uint32_t start; /* in logical sectors, relative (see above) */
	uint32_t count;
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void part_warn(struct part_table *t, const char *fmt, ...)
{
	va_list ap;

	if (t->warning_count >= PART_WARNINGS_MAX) {
		t->warnings_dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->warnings[t->warning_count++], PART_REASON_BYTES, fmt, ap);
	va_end(ap);
}

static void part_refuse(struct part_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void part_refuse(struct part_table *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->reason, PART_REASON_BYTES, fmt, ap);
	va_end(ap);
}

int part_read_sector(const struct disk_reader *disk, uint64_t lba, void *buf)
{
	if (lba >= disk->size_sectors)
		return -EIO;
	return disk->read(disk->ctx, lba * disk->sector_bytes, buf, disk->sector_bytes);
}

static int disk_check(const struct disk_reader *disk, struct part_table *t)
{
	if (disk->sector_bytes != 512 && disk->sector_bytes != 4096) {
		part_refuse(t, "unsupported logical sector size %u", disk->sector_bytes);
		return -EINVAL;
	}
	if (disk->size_sectors < 2) {
		part_refuse(t, "disk too small for a partition table");
		return -EINVAL;
	}
	return 0;
}

static void table_reset(struct part_table *t)
{
	t->scheme = PART_SCHEME_NONE;
	t->count = 0;
	t->gpt_used_backup = false;
	t->warning_count = 0;
	t->warnings_dropped = 0;
	t->reason[0] = 0;
	t->mbr_signature = 0;
	memset(t->disk_guid, 0, sizeof(t->disk_guid));
}

static bool is_extended(uint8_t type)
{
	return type == 0x05 || type == 0x0f || type == 0x85;
}

static void raw_entries(const uint8_t *sector, struct mbr_raw_entry e[4])
{
	for (int i = 0; i < 4; i++) {
		const uint8_t *p = sector + MBR_TABLE_OFFSET + 16 * i;

		e[i].boot = p[0];
		e[i].type = p[4];
		e[i].start = get_le32(p + 8);
		e[i].count = get_le32(p + 12);
	}
}

static bool has_signature(const uint8_t *sector)
{
	return sector[MBR_SIGNATURE_OFFSET] == 0x55 && sector[MBR_SIGNATURE_OFFSET + 1] == 0xAA;
}

/* The index in t->parts of an accepted entry overlapping [first, end), or -1.
 * Extended stubs are skipped: the container is checked by its full size. */
static int find_overlap(const struct part_table *t, uint64_t first, uint64_t end, unsigned flags_mask)
{
	for (unsigned i = 0; i < t->count; i++) {
		const struct part_entry *p = &t->parts[i];

		if (p->flags & PART_F_EXTENDED)
			continue;
		if ((p->flags & PART_F_LOGICAL) != flags_mask)
			continue;
		if (first < p->first_sector + p->sectors && p->first_sector < end)
			return (int)i;
	}
	return -1;
}

static struct part_entry *add_entry(struct part_table *t, unsigned number, uint64_t first,
				    uint64_t sectors, uint8_t type, unsigned flags)
{
	struct part_entry *p;

	if (t->count >= PART_MAX)
		return NULL;
	p = &t->parts[t->count++];
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->first_sector = first;
	p->sectors = sectors;
	p->mbr_type = type;
	p->flags = flags;
	return p;
}

/*
 * Follows one extended container's chain, adding logical partitions from
 * *next_number on.  Stops (with a warning) at a loop, a link outside the
 * container or disk, an unreadable EBR, or PART_MBR_LOGICAL_MAX partitions.
 * Returns 0 or a read error.
 */
static int parse_chain(const struct disk_reader *disk, struct part_table *t, uint64_t ext_start,
		       uint64_t ext_size, unsigned *next_number, unsigned *logicals)
{
	uint64_t visited[PART_MBR_CHAIN_MAX];
	uint64_t ext_end = ext_start + ext_size;
	uint64_t this_sector = ext_start, this_size = ext_size;
	unsigned links = 0;
	uint8_t *sector = t->scratch;

	for (;;) {
		struct mbr_raw_entry e[4];
		int rc, link = -1;

		for (unsigned k = 0; k < links; k++) {
			if (visited[k] == this_sector) {
				part_warn(t, "MBR extended chain loops back to LBA %llu; chain ends",
					  (unsigned long long)this_sector);
				return 0;
			}
		}
		if (links == PART_MBR_CHAIN_MAX) {
			part_warn(t, "MBR extended chain longer than %u links; rest ignored",
				  PART_MBR_CHAIN_MAX);
			return 0;
		}
		visited[links++] = this_sector;
		if (this_sector >= disk->size_sectors) {
			part_warn(t, "MBR extended chain link at LBA %llu is past the disk (> %llu)",
				  (unsigned long long)this_sector,
				  (unsigned long long)disk->size_sectors - 1);
			return 0;
		}
		rc = part_read_sector(disk, this_sector, sector);
		if (rc)
			return rc;
		if (!has_signature(sector)) {
			part_warn(t, "MBR extended boot record at LBA %llu has no signature; chain ends",
				  (unsigned long long)this_sector);
			return 0;
		}
		raw_entries(sector, e);
		for (int i = 0; i < 4; i++) {
			uint64_t first = this_sector + e[i].start, end = first + e[i].count;
			unsigned number;
			int other;

			if (!e[i].count || is_extended(e[i].type))
				continue;
			/* Linux: entries 3 and 4 of an EBR are often garbage; it
			 * silently skips them unless they sit inside the link's
			 * own area and the container.  So does keel. */
			if (i >= 2 && ((uint64_t)e[i].start + e[i].count > this_size ||
				       end > ext_end))
				continue;
			if (*logicals >= PART_MBR_LOGICAL_MAX) {
				part_warn(t, "more than %u logical partitions; rest ignored",
					  PART_MBR_LOGICAL_MAX);
				return 0;
			}
			(*logicals)++;
			number = (*next_number)++;
			if (end > disk->size_sectors) {
				part_warn(t, "MBR partition %u ends past the disk (LBA %llu > %llu)",
					  number, (unsigned long long)end - 1,
					  (unsigned long long)disk->size_sectors - 1);
				continue;
			}
			if (first < ext_start || end > ext_end) {
				part_warn(t, "MBR partition %u (LBA %llu-%llu) is outside its extended partition",
					  number, (unsigned long long)first, (unsigned long long)end - 1);
				continue;
			}
			other = find_overlap(t, first, end, PART_F_LOGICAL);
			if (other >= 0) {
				part_warn(t, "MBR partition %u overlaps partition %u", number,
					  t->parts[other].number);
				continue;
			}
			if (!add_entry(t, number, first, e[i].count, e[i].type, PART_F_LOGICAL))
				return 0;
		}
		for (int i = 0; i < 4; i++) {
			if (e[i].count && is_extended(e[i].type)) {
				link = i;
				break;
			}
		}
		if (link < 0)
			return 0;
		this_sector = ext_start + e[link].start;
		this_size = e[link].count;
		if (this_sector >= ext_end) {
			part_warn(t, "MBR extended chain link to LBA %llu leaves its extended partition",
				  (unsigned long long)this_sector);
			return 0;
		}
	}
}

/*
 * Resets t, reads LBA 0 and its four entries into e.  Returns 1 when there
 * is a boot signature (e filled), 0 when there is none (no table), or the
 * error (reason in t).
 */
static int read_lba0(const struct disk_reader *disk, struct part_table *t,
		     struct mbr_raw_entry e[4])
{
	int rc;

	table_reset(t);
	rc = disk_check(disk, t);
	if (rc)
		return rc;
	rc = part_read_sector(disk, 0, t->scratch);
	if (rc) {
		part_refuse(t, "cannot read LBA 0 (error %d)", rc);
		return rc;
	}
	if (!has_signature(t->scratch))
		return 0;
	raw_entries(t->scratch, e);
	return 1;
}

int mbr_parse(const struct disk_reader *disk, struct part_table *t)
{
	struct mbr_raw_entry e[4];
	unsigned next_number = 5, logicals = 0;
	uint64_t ext_start[4], ext_size[4];
	unsigned ext_count = 0;
	int rc;

	rc = read_lba0(disk, t, e);
	if (rc <= 0)
		return rc;
	/* Linux: a boot indicator other than 0 and 0x80 means this sector is
	 * not a partition table (often a FAT boot sector). */
	for (int i = 0; i < 4; i++)
		if (e[i].boot != 0 && e[i].boot != 0x80)
			return 0;
	for (int i = 0; i < 4; i++) {
		if (e[i].type == MBR_TYPE_GPT_PROTECTIVE) {
			part_refuse(t, "protective MBR of a GPT disk");
			return -EINVAL;
		}
	}
	t->scheme = PART_SCHEME_MBR;
	t->mbr_signature = get_le32(t->scratch + MBR_DISK_SIGNATURE_OFFSET);

	for (int i = 0; i < 4; i++) {
		unsigned number = (unsigned)i + 1;
		uint64_t first = e[i].start, end = first + e[i].count;
		unsigned flags = e[i].boot == 0x80 ? PART_F_BOOTABLE : 0;
		bool overlap;

		if (!e[i].count)
			continue;
		if (first == 0) {
			part_warn(t, "MBR partition %u starts at LBA 0, over the table", number);
			continue;
		}
		if (end > disk->size_sectors) {
			part_warn(t, "MBR partition %u ends past the disk (LBA %llu > %llu)", number,
				  (unsigned long long)end - 1,
				  (unsigned long long)disk->size_sectors - 1);
			continue;
		}
		overlap = find_overlap(t, first, end, 0) >= 0;
		for (unsigned k = 0; k < ext_count; k++)
			if (first < ext_start[k] + ext_size[k] && ext_start[k] < end)
				overlap = true;
		if (overlap) {
			part_warn(t, "MBR partition %u overlaps another primary partition", number);
			continue;
		}
		if (is_extended(e[i].type)) {
			uint64_t stub = MIN((uint64_t)e[i].count,
					    part_extended_stub_sectors(disk->sector_bytes));

			add_entry(t, number, first, stub, e[i].type, flags | PART_F_EXTENDED);
			ext_start[ext_count] = first;
			ext_size[ext_count++] = e[i].count;
		} else {
			add_entry(t, number, first, e[i].count, e[i].type, flags);
		}
	}
	for (unsigned k = 0; k < ext_count; k++) {
		rc = parse_chain(disk, t, ext_start[k], ext_size[k], &next_number, &logicals);
		if (rc) {
			part_refuse(t, "cannot read the extended partition chain (error %d)", rc);
			t->count = 0;
			return rc;
		}
	}
	return 0;
}

int part_scan(const struct disk_reader *disk, struct part_table *t)
{
	struct mbr_raw_entry e[4];
	bool protective = false;
	int rc;

	rc = read_lba0(disk, t, e);
	if (rc <= 0)
		return rc;
	for (int i = 0; i < 4; i++)
		if (e[i].type == MBR_TYPE_GPT_PROTECTIVE)
			protective = true;
	if (protective)
		return gpt_parse(disk, t);
	return mbr_parse(disk, t);
}

void part_guid_format(const uint8_t g[16], char out[37])
{
	/* The first three fields are little-endian on disk (UEFI 2.x, Appendix A). */
	snprintf(out, 37,
		 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X",
		 g[3], g[2], g[1], g[0], g[5], g[4], g[7], g[6], g[8], g[9], g[10], g[11],
		 g[12], g[13], g[14], g[15]);
}

/*
 * GUID partition tables (UEFI 2.x, chapter 5.3).  Pure: reads through the
 * caller's callback, no allocation.  Owns header and entry-array validation
 * and the choice between the primary and the backup table; the protective
 * MBR is recognised by part_scan() in mbr.c.  Contract in include/keel/part.h.
 *
 * A table is accepted when its header passes every check Linux's
 * is_gpt_valid() makes (signature, header size, header CRC, my_lba, usable
 * range inside the disk, 128-byte entries, entry array CRC).  Entries are
 * then checked one by one; a bad entry is refused with a warning and the
 * others are kept.
 */
#include <keel/part.h>
#include <lib/crc32.h>

#define GPT_HEADER_MIN_BYTES 92
#define GPT_ENTRY_BYTES 128

struct gpt_header {
	uint32_t header_bytes;
	uint64_t my_lba;
	uint64_t alternate_lba;
	uint64_t first_usable_lba;
	uint64_t last_usable_lba;
	uint8_t disk_guid[16];
	uint64_t entries_lba;
	uint32_t entry_count;
	uint32_t entry_bytes;
	uint32_t entries_crc;
};

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* Reads and checks the header at lba.  Returns 0, -EINVAL with why[] set,
 * or a read error. */
static int header_read(const struct disk_reader *disk, struct part_table *t, uint64_t lba,
		       struct gpt_header *h, char *why, size_t why_len)
{
	uint8_t *s = t->scratch;
	uint64_t last_lba = disk->size_sectors - 1;
	uint32_t crc_on_disk;
	uint64_t array_sectors;
	int rc;

	rc = part_read_sector(disk, lba, s);
	if (rc) {
		snprintf(why, why_len, "read error %d", rc);
		return rc;
	}
	if (memcmp(s, "EFI PART", 8) != 0) {
		snprintf(why, why_len, "no GPT signature");
		return -EINVAL;
	}
	h->header_bytes = get_le32(s + 12);
	if (h->header_bytes < GPT_HEADER_MIN_BYTES || h->header_bytes > disk->sector_bytes) {
		snprintf(why, why_len, "header size %u is invalid", h->header_bytes);
		return -EINVAL;
	}
	crc_on_disk = get_le32(s + 16);
	memset(s + 16, 0, 4);
	if (crc32_ieee(s, h->header_bytes) != crc_on_disk) {
		snprintf(why, why_len, "header CRC mismatch");
		return -EINVAL;
	}
	h->my_lba = get_le64(s + 24);
	h->alternate_lba = get_le64(s + 32);
	h->first_usable_lba = get_le64(s + 40);
	h->last_usable_lba = get_le64(s + 48);
	memcpy(h->disk_guid, s + 56, 16);
	h->entries_lba = get_le64(s + 72);
	h->entry_count = get_le32(s + 80);
	h->entry_bytes = get_le32(s + 84);
	h->entries_crc = get_le32(s + 88);
	if (h->my_lba != lba) {
		snprintf(why, why_len, "header names itself LBA %llu", (unsigned long long)h->my_lba);
		return -EINVAL;
	}
	if (h->first_usable_lba > last_lba || h->last_usable_lba > last_lba) {
		snprintf(why, why_len, "usable area ends past the disk (LBA %llu)",
			 (unsigned long long)MAX(h->first_usable_lba, h->last_usable_lba));
		return -EINVAL;
	}
	if (h->last_usable_lba < h->first_usable_lba) {
		snprintf(why, why_len, "usable area is empty");
		return -EINVAL;
	}
	if (h->entry_bytes != GPT_ENTRY_BYTES) {
		snprintf(why, why_len, "entry size %u is not 128", h->entry_bytes);
		return -EINVAL;
	}
	if (h->entry_count > PART_GPT_ENTRIES_MAX) {
		snprintf(why, why_len, "%u entries (keel reads at most %u)", h->entry_count,
			 PART_GPT_ENTRIES_MAX);
		return -EINVAL;
	}
	array_sectors = ((uint64_t)h->entry_count * GPT_ENTRY_BYTES + disk->sector_bytes - 1) /
			disk->sector_bytes;
	if (h->entries_lba < 2 || h->entries_lba > last_lba ||
	    array_sectors > disk->size_sectors - h->entries_lba) {
		snprintf(why, why_len, "entry array at LBA %llu is outside the disk",
			 (unsigned long long)h->entries_lba);
		return -EINVAL;
	}
	return 0;
}

static void name_to_ascii(const uint8_t *utf16, char out[PART_NAME_BYTES])
{
	unsigned i;

	for (i = 0; i < PART_NAME_BYTES - 1; i++) {
		unsigned c = utf16[2 * i] | (unsigned)utf16[2 * i + 1] << 8;

		if (c == 0)
			break;
		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[i] = 0;
}

static bool guid_is_zero(const uint8_t *g)
{
	for (int i = 0; i < 16; i++)
		if (g[i])
			return false;
	return true;
}

/* Checks entry `index` (raw bytes e) against the header and the entries
 * already kept; adds it or warns.  Unused entries are skipped silently. */
static void entry_take(const struct disk_reader *disk, struct part_table *t,
		       const struct gpt_header *h, uint32_t index, const uint8_t *e)
{
	unsigned number = index + 1;
	uint64_t first = get_le64(e + 32), last = get_le64(e + 40);
	uint64_t last_lba = disk->size_sectors - 1;
	struct part_entry *p;

	if (guid_is_zero(e))
		return;
	if (index >= PART_MAX) {
		part_warn(t, "GPT entry %u ignored: keel keeps %u entries", number, PART_MAX);
		return;
	}
	if (last < first) {
		part_warn(t, "GPT entry %u ends (LBA %llu) before it starts (LBA %llu)", number,
			  (unsigned long long)last, (unsigned long long)first);
		return;
	}
	if (last > last_lba) {
		part_warn(t, "GPT entry %u ends past the disk (LBA %llu > %llu)", number,
			  (unsigned long long)last, (unsigned long long)last_lba);
		return;
	}
	if (first < h->first_usable_lba || last > h->last_usable_lba) {
		part_warn(t, "GPT entry %u (LBA %llu-%llu) is outside the usable area %llu-%llu",
			  number, (unsigned long long)first, (unsigned long long)last,
			  (unsigned long long)h->first_usable_lba,
			  (unsigned long long)h->last_usable_lba);
		return;
	}
	for (unsigned i = 0; i < t->count; i++) {
		const struct part_entry *o = &t->parts[i];

		if (first <= o->first_sector + o->sectors - 1 && o->first_sector <= last) {
			part_warn(t, "GPT entry %u overlaps entry %u", number, o->number);
			return;
		}
	}
	p = &t->parts[t->count++];
	memset(p, 0, sizeof(*p));
	p->number = number;
	p->first_sector = first;
	p->sectors = last - first + 1;
	memcpy(p->type_guid, e, 16);
	memcpy(p->unique_guid, e + 16, 16);
	p->gpt_attributes = get_le64(e + 48);
	name_to_ascii(e + 56, p->name);
}

/*
 * Reads the entry array of a checked header, verifying its CRC; with fill,
 * the entries go into t (discarded again by the caller if the CRC fails).
 */
static int entries_read(const struct disk_reader *disk, struct part_table *t,
			const struct gpt_header *h, bool fill, char *why, size_t why_len)
{
	uint32_t per_sector = disk->sector_bytes / GPT_ENTRY_BYTES;
	uint32_t crc = ~0u, index = 0;
	uint64_t lba = h->entries_lba;
	unsigned warnings = t->warning_count, dropped = t->warnings_dropped;

	if (fill)
		t->count = 0;
	while (index < h->entry_count) {
		uint32_t n = MIN(per_sector, h->entry_count - index);
		int rc = part_read_sector(disk, lba++, t->scratch);

		if (rc) {
			snprintf(why, why_len, "entry array read error %d", rc);
			return rc;
		}
		crc = crc32_update(crc, t->scratch, (size_t)n * GPT_ENTRY_BYTES);
		for (uint32_t k = 0; fill && k < n; k++)
			entry_take(disk, t, h, index + k, t->scratch + k * GPT_ENTRY_BYTES);
		index += n;
	}
	if (~crc != h->entries_crc) {
		snprintf(why, why_len, "entry array CRC mismatch");
		if (fill) {
			t->count = 0;
			t->warning_count = warnings;
			t->warnings_dropped = dropped;
		}
		return -EINVAL;
	}
	return 0;
}

static int table_read(const struct disk_reader *disk, struct part_table *t, uint64_t lba,
		      struct gpt_header *h, bool fill, char *why, size_t why_len)
{
	int rc = header_read(disk, t, lba, h, why, why_len);

	if (rc)
		return rc;
	return entries_read(disk, t, h, fill, why, why_len);
}

/* True for an MBR that protects a GPT: an 0xEE entry starting at LBA 1, as
 * Linux's is_pmbr_valid() asks (hybrid MBRs have other entries as well). */
static bool protective_mbr(const struct disk_reader *disk, struct part_table *t)
{
	const uint8_t *s = t->scratch;

	if (part_read_sector(disk, 0, t->scratch))
		return false;
	if (s[510] != 0x55 || s[511] != 0xAA)
		return false;
	for (int i = 0; i < 4; i++) {
		const uint8_t *e = s + 446 + 16 * i;

		if (e[4] == 0xEE && get_le32(e + 8) == 1)
			return true;
	}
	return false;
}

int gpt_parse(const struct disk_reader *disk, struct part_table *t)
{
	char why_primary[64], why_backup[64];
	struct gpt_header h, b;
	uint64_t last_lba = disk->size_sectors - 1;
	int rc;

	t->scheme = PART_SCHEME_NONE;
	t->count = 0;
	t->gpt_used_backup = false;
	t->warning_count = 0;
	t->warnings_dropped = 0;
	t->reason[0] = 0;
	if (disk->sector_bytes != 512 && disk->sector_bytes != 4096) {
		snprintf(t->reason, PART_REASON_BYTES, "unsupported logical sector size %u",
			 disk->sector_bytes);
		return -EINVAL;
	}
	if (disk->size_sectors < 3) {
		snprintf(t->reason, PART_REASON_BYTES, "disk too small for a GPT");
		return -EINVAL;
	}
	if (!protective_mbr(disk, t)) {
		snprintf(t->reason, PART_REASON_BYTES, "no protective MBR (0xEE entry at LBA 1)");
		return -EINVAL;
	}

	rc = table_read(disk, t, 1, &h, true, why_primary, sizeof(why_primary));
	if (rc == 0) {
		/* The backup only earns a warning when it is bad. */
		uint64_t alt = h.alternate_lba;

		if (alt <= 1 || alt > last_lba)
			part_warn(t, "backup GPT header LBA %llu is outside the disk",
				  (unsigned long long)alt);
		else if (table_read(disk, t, alt, &b, false, why_backup, sizeof(why_backup)) != 0)
			part_warn(t, "backup GPT at LBA %llu is bad (%.60s); primary used",
				  (unsigned long long)alt, why_backup);
	} else if (rc == -EINVAL) {
		rc = table_read(disk, t, last_lba, &h, true, why_backup, sizeof(why_backup));
		if (rc == -EINVAL) {
			snprintf(t->reason, PART_REASON_BYTES, "no valid GPT (LBA 1: %.50s; LBA %llu: %.50s)",
				 why_primary, (unsigned long long)last_lba, why_backup);
			return rc;
		}
		if (rc == 0) {
			t->gpt_used_backup = true;
			part_warn(t, "primary GPT is bad (%.60s); using the backup at LBA %llu",
				  why_primary, (unsigned long long)last_lba);
		}
	}
	if (rc) {
		t->count = 0;
		snprintf(t->reason, PART_REASON_BYTES, "cannot read the GPT (error %d)", rc);
		return rc;
	}
	t->scheme = PART_SCHEME_GPT;
	memcpy(t->disk_guid, h.disk_guid, 16);
	return 0;
}

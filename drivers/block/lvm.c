/*
 * LVM2 on-disk structures: the PV label, the metadata area header and the
 * circular buffer of metadata text, read and written through callbacks.
 * Layouts are lvm2's lib/label/label.h (label_header) and
 * lib/format_text/layout.h (pv_header, disk_locn, mda_header, raw_locn), all
 * little-endian.  Pure; the text itself is parsed in lvm_meta.c and produced
 * in lvm_write.c.  Contract in include/keel/lvm.h.
 */
#include <keel/lvm.h>
#include <lib/crc32.h>

#define LVM_INITIAL_CRC 0xf597a6cfu
#define LABEL_SCAN_SECTORS 4
#define LABEL_BYTES 512
#define LABEL_CRC_FROM 20       /* label_header.offset_xl: the CRC covers from here */
#define PV_HEADER_MIN 40        /* uuid + device_size_xl */
#define MDA_MAGIC " LVM2 x[5A%r0N*>"
#define MDA_VERSION 1
#define RAW_LOCN_IGNORED 0x1
#define MDA_ALIGN 512           /* lvm2's MDA_ORIGINAL_ALIGNMENT */

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
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

uint32_t lvm_text_crc(const void *text, size_t bytes)
{
	return crc32_update(LVM_INITIAL_CRC, text, bytes);
}

void lvm_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!buf || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

static uint64_t disk_bytes(const struct disk_reader *disk)
{
	return disk->size_sectors * disk->sector_bytes;
}

/* Reads len bytes at off, one whole logical sector at a time via scratch. */
static int read_bytes(const struct disk_reader *disk, uint8_t *scratch, uint64_t off, void *dst,
		      size_t len)
{
	uint32_t sb = disk->sector_bytes;
	uint8_t *out = dst;

	if (sb != 512 && sb != 4096)
		return -EINVAL;
	if (off > disk_bytes(disk) || len > disk_bytes(disk) - off)
		return -EIO;
	while (len) {
		uint64_t lba = off / sb;
		size_t in = (size_t)(off % sb), n = MIN(len, (size_t)sb - in);
		int rc = disk->read(disk->ctx, lba * sb, scratch, sb);

		if (rc)
			return rc;
		memcpy(out, scratch + in, n);
		out += n;
		off += n;
		len -= n;
	}
	return 0;
}

typedef int (*write_fn)(void *ctx, uint64_t byte_offset, const void *buf, size_t len);

/* Writes len bytes at off (src NULL: zeros); partial sectors are read first. */
static int write_bytes(const struct disk_reader *disk, write_fn write, uint8_t *scratch,
		       uint64_t off, const void *src, size_t len)
{
	uint32_t sb = disk->sector_bytes;
	const uint8_t *in_buf = src;

	if (off > disk_bytes(disk) || len > disk_bytes(disk) - off)
		return -EIO;
	while (len) {
		uint64_t lba = off / sb;
		size_t in = (size_t)(off % sb), n = MIN(len, (size_t)sb - in);
		int rc;

		if (n < sb) {
			rc = disk->read(disk->ctx, lba * sb, scratch, sb);
			if (rc)
				return rc;
		}
		if (in_buf) {
			memcpy(scratch + in, in_buf, n);
			in_buf += n;
		} else {
			memset(scratch + in, 0, n);
		}
		rc = write(disk->ctx, lba * sb, scratch, sb);
		if (rc)
			return rc;
		off += n;
		len -= n;
	}
	return 0;
}

/* lvm2's id alphabet (lib/id/id.c); '!' and '#' only in old ids. */
static bool id_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '!' || c == '#';
}

/* Formats 32 id characters as lvm2 prints them: 6-4-4-4-4-4-6. */
static bool format_uuid(const uint8_t *raw, char out[LVM_UUID_BYTES])
{
	static const int group[] = { 6, 4, 4, 4, 4, 4, 6 };
	int k = 0, o = 0;

	for (int g = 0; g < 7; g++) {
		if (g)
			out[o++] = '-';
		for (int i = 0; i < group[g]; i++) {
			if (!id_char((char)raw[k]))
				return false;
			out[o++] = (char)raw[k++];
		}
	}
	out[o] = 0;
	return true;
}

/* Reads a zero-terminated disk_locn list at *pos of the label sector. */
static int read_locn_list(const uint8_t *label, size_t *pos, struct lvm_area *out, unsigned *count,
			  const char *what, char *reason, size_t reason_len)
{
	*count = 0;
	for (;;) {
		uint64_t offset, size;

		if (*pos + 16 > LABEL_BYTES) {
			lvm_msg(reason, reason_len, "PV header's %s list runs past the label sector", what);
			return -EINVAL;
		}
		offset = get_le64(label + *pos);
		size = get_le64(label + *pos + 8);
		*pos += 16;
		if (!offset)
			return 0;
		if (*count == LVM_MAX_AREAS) {
			lvm_msg(reason, reason_len, "PV header lists more than %u %s", LVM_MAX_AREAS, what);
			return -EINVAL;
		}
		out[*count].offset_bytes = offset;
		out[*count].size_bytes = size;
		(*count)++;
	}
}

static void mda_header_parse(const struct disk_reader *disk, const struct lvm_area *area,
			     struct lvm_mda *m)
{
	const uint8_t *h = m->header;

	m->valid = false;
	m->start_bytes = area->offset_bytes;
	m->size_bytes = area->size_bytes;
	if (lvm_text_crc(h + 4, LVM_MDA_HEADER_BYTES - 4) != get_le32(h)) {
		lvm_msg(m->why, sizeof(m->why), "metadata area header at %llu has a bad checksum",
		    (unsigned long long)area->offset_bytes);
		return;
	}
	if (memcmp(h + 4, MDA_MAGIC, 16) != 0) {
		lvm_msg(m->why, sizeof(m->why), "metadata area header at %llu has a bad magic",
		    (unsigned long long)area->offset_bytes);
		return;
	}
	if (get_le32(h + 20) != MDA_VERSION) {
		lvm_msg(m->why, sizeof(m->why), "metadata area version %u is not 1", get_le32(h + 20));
		return;
	}
	if (get_le64(h + 24) != area->offset_bytes) {
		lvm_msg(m->why, sizeof(m->why), "metadata area header names start %llu, not %llu",
		    (unsigned long long)get_le64(h + 24), (unsigned long long)area->offset_bytes);
		return;
	}
	m->size_bytes = get_le64(h + 32);
	if (m->size_bytes != area->size_bytes || m->size_bytes < 2 * LVM_MDA_HEADER_BYTES ||
	    m->size_bytes > disk_bytes(disk) || m->start_bytes > disk_bytes(disk) - m->size_bytes) {
		lvm_msg(m->why, sizeof(m->why), "metadata area size %llu is invalid",
		    (unsigned long long)m->size_bytes);
		return;
	}
	m->text_offset = get_le64(h + 40);
	m->text_bytes = get_le64(h + 48);
	m->text_crc = get_le32(h + 56);
	m->ignored = get_le32(h + 60) & RAW_LOCN_IGNORED;
	m->valid = true;
	m->why[0] = 0;
}

int lvm_pv_read(const struct disk_reader *disk, struct lvm_pv *pv, char *reason, size_t reason_len)
{
	uint8_t label[LABEL_BYTES];
	unsigned valid_mdas = 0;
	int found = -1, rc;
	size_t pos;

	memset(pv, 0, offsetof(struct lvm_pv, scratch));
	lvm_msg(reason, reason_len, "%s", "");
	if (disk->sector_bytes != 512 && disk->sector_bytes != 4096) {
		lvm_msg(reason, reason_len, "unsupported logical sector size %u", disk->sector_bytes);
		return -EINVAL;
	}
	for (int s = 0; s < LABEL_SCAN_SECTORS; s++) {
		if ((uint64_t)(s + 1) * LABEL_BYTES > disk_bytes(disk))
			break;
		rc = read_bytes(disk, pv->scratch, (uint64_t)s * LABEL_BYTES, label, LABEL_BYTES);
		if (rc) {
			lvm_msg(reason, reason_len, "cannot read the PV label (error %d)", rc);
			return rc;
		}
		if (memcmp(label, "LABELONE", 8) != 0)
			continue;
		if (get_le64(label + 8) != (uint64_t)s) {
			lvm_msg(reason, reason_len, "LVM label in sector %d names sector %llu", s,
			    (unsigned long long)get_le64(label + 8));
			return -EINVAL;
		}
		if (lvm_text_crc(label + LABEL_CRC_FROM, LABEL_BYTES - LABEL_CRC_FROM) !=
		    get_le32(label + 16)) {
			lvm_msg(reason, reason_len, "LVM label in sector %d has a bad checksum", s);
			return -EINVAL;
		}
		if (memcmp(label + 24, "LVM2 001", 8) != 0) {
			lvm_msg(reason, reason_len, "LVM label in sector %d is not of type LVM2 001", s);
			return -EINVAL;
		}
		found = s;
		break;
	}
	if (found < 0)
		return -ENOENT;
	pv->label_sector = (uint64_t)found;
	pos = get_le32(label + 20);
	if (pos < 32 || pos > LABEL_BYTES - PV_HEADER_MIN) {
		lvm_msg(reason, reason_len, "LVM label's PV header offset %zu is invalid", pos);
		return -EINVAL;
	}
	if (!format_uuid(label + pos, pv->uuid)) {
		lvm_msg(reason, reason_len, "PV uuid has invalid characters");
		return -EINVAL;
	}
	pv->device_bytes = get_le64(label + pos + 32);
	pos += PV_HEADER_MIN;
	rc = read_locn_list(label, &pos, pv->data_areas, &pv->data_area_count, "data areas",
			    reason, reason_len);
	if (rc)
		return rc;
	{
		struct lvm_area mda_areas[LVM_MAX_AREAS];
		unsigned n;

		rc = read_locn_list(label, &pos, mda_areas, &n, "metadata areas", reason,
				    reason_len);
		if (rc)
			return rc;
		if (n > LVM_MAX_MDAS) {
			lvm_msg(reason, reason_len, "PV lists %u metadata areas (lvm2 makes at most 2)", n);
			return -EINVAL;
		}
		pv->mda_count = n;
		for (unsigned i = 0; i < n; i++) {
			struct lvm_mda *m = &pv->mdas[i];

			if (mda_areas[i].offset_bytes > disk_bytes(disk) ||
			    mda_areas[i].size_bytes > disk_bytes(disk) - mda_areas[i].offset_bytes ||
			    mda_areas[i].size_bytes < 2 * LVM_MDA_HEADER_BYTES) {
				lvm_msg(m->why, sizeof(m->why), "metadata area %llu+%llu is outside the device",
				    (unsigned long long)mda_areas[i].offset_bytes,
				    (unsigned long long)mda_areas[i].size_bytes);
				continue;
			}
			rc = read_bytes(disk, pv->scratch, mda_areas[i].offset_bytes, m->header,
					LVM_MDA_HEADER_BYTES);
			if (rc) {
				lvm_msg(reason, reason_len, "cannot read metadata area header (error %d)", rc);
				return rc;
			}
			mda_header_parse(disk, &mda_areas[i], m);
			if (m->valid)
				valid_mdas++;
		}
	}
	if (pv->mda_count && !valid_mdas) {
		lvm_msg(reason, reason_len, "%s", pv->mdas[0].why[0] ? pv->mdas[0].why : "no valid metadata area");
		return -EINVAL;
	}
	return 0;
}

/* Reads and checks the text slot 0 of one valid area points at. */
static int mda_read_text(const struct disk_reader *disk, uint8_t *scratch, const struct lvm_mda *m,
			 char *buf, size_t buf_bytes, size_t *text_len, char *why, size_t why_len)
{
	uint64_t wrap = 0, first;
	int rc;

	if (!m->text_offset && !m->text_bytes)
		return -ENOENT;
	if (m->text_offset < LVM_MDA_HEADER_BYTES || m->text_offset >= m->size_bytes ||
	    m->text_bytes == 0 || m->text_bytes > m->size_bytes - LVM_MDA_HEADER_BYTES) {
		lvm_msg(why, why_len, "metadata location %llu+%llu is outside its area",
		    (unsigned long long)m->text_offset, (unsigned long long)m->text_bytes);
		return -EINVAL;
	}
	if (m->text_bytes > LVM_TEXT_MAX || m->text_bytes + 1 > buf_bytes) {
		lvm_msg(why, why_len, "metadata text of %llu bytes is too long",
		    (unsigned long long)m->text_bytes);
		return -EINVAL;
	}
	if (m->text_offset + m->text_bytes > m->size_bytes)
		wrap = m->text_offset + m->text_bytes - m->size_bytes;
	first = m->text_bytes - wrap;
	rc = read_bytes(disk, scratch, m->start_bytes + m->text_offset, buf, (size_t)first);
	if (!rc && wrap)
		rc = read_bytes(disk, scratch, m->start_bytes + LVM_MDA_HEADER_BYTES, buf + first,
				(size_t)wrap);
	if (rc) {
		lvm_msg(why, why_len, "cannot read metadata text (error %d)", rc);
		return rc;
	}
	if (lvm_text_crc(buf, (size_t)m->text_bytes) != m->text_crc) {
		lvm_msg(why, why_len, "metadata text checksum mismatch (area at %llu)",
		    (unsigned long long)m->start_bytes);
		return -EINVAL;
	}
	buf[m->text_bytes] = 0;
	*text_len = strnlen(buf, (size_t)m->text_bytes);
	return 0;
}

int lvm_pv_read_text(const struct disk_reader *disk, struct lvm_pv *pv, char *buf,
		     size_t buf_bytes, size_t *text_len, unsigned *used_mda, char *reason,
		     size_t reason_len)
{
	char first_why[LVM_REASON_BYTES] = "";
	int first_rc = -ENOENT;

	lvm_msg(reason, reason_len, "%s", "");
	for (unsigned i = 0; i < pv->mda_count; i++) {
		const struct lvm_mda *m = &pv->mdas[i];
		char why[LVM_REASON_BYTES];
		int rc;

		if (!m->valid || m->ignored)
			continue;
		rc = mda_read_text(disk, pv->scratch, m, buf, buf_bytes, text_len, why, sizeof(why));
		if (rc == 0) {
			if (used_mda)
				*used_mda = i;
			if (first_rc != -ENOENT)
				lvm_msg(reason, reason_len, "%s; metadata area %u used", first_why, i);
			return 0;
		}
		if (rc != -ENOENT && first_rc == -ENOENT) {
			first_rc = rc;
			memcpy(first_why, why, sizeof(first_why));
		}
	}
	if (first_rc != -ENOENT)
		lvm_msg(reason, reason_len, "%s", first_why);
	else
		lvm_msg(reason, reason_len, "PV %s holds no VG metadata", pv->uuid);
	return first_rc;
}

size_t lvm_pv_text_buffer_bytes(const struct lvm_pv *pv)
{
	uint64_t most = 0;

	for (unsigned i = 0; i < pv->mda_count; i++)
		if (pv->mdas[i].valid && pv->mdas[i].text_bytes <= LVM_TEXT_MAX)
			most = MAX(most, pv->mdas[i].text_bytes);
	return (size_t)most + 1;
}

/* ---- placing new text (lvm2's _vg_write_raw and _next_rlocn_offset) -------- */

int lvm_mda_plan(const struct lvm_mda *m, uint64_t text_bytes, uint32_t crc,
		 struct lvm_mda_plan *plan, char *msg, size_t msg_len)
{
	uint64_t size = m->size_bytes, max_size, new_start, new_wrap = 0;
	uint64_t old_start = 0, old_last = 0, new_last;
	bool old = false, old_wrap = false, overlap;
	uint8_t *h = plan->header;

	if (!m->valid || size < 4 * MDA_ALIGN) {
		lvm_msg(msg, msg_len, "metadata area at %llu is not usable", (unsigned long long)m->start_bytes);
		return -EINVAL;
	}
	max_size = (size - LVM_MDA_HEADER_BYTES) / 2 - MDA_ALIGN;
	if (text_bytes == 0 || text_bytes > max_size) {
		lvm_msg(msg, msg_len, "VG metadata (%llu bytes) exceeds maximum metadata size (%llu bytes)",
		    (unsigned long long)text_bytes, (unsigned long long)max_size);
		return -ENOSPC;
	}
	if (!m->ignored && (m->text_offset || m->text_bytes)) {
		if (m->text_offset < LVM_MDA_HEADER_BYTES || m->text_offset >= size ||
		    m->text_bytes > size - LVM_MDA_HEADER_BYTES) {
			lvm_msg(msg, msg_len, "metadata location in area at %llu is invalid",
			    (unsigned long long)m->start_bytes);
			return -EINVAL;
		}
		old = true;
		old_start = m->text_offset;
		if (old_start + m->text_bytes > size) {
			old_wrap = true;
			old_last = old_start + m->text_bytes - size + LVM_MDA_HEADER_BYTES - 1;
		} else {
			old_last = old_start + m->text_bytes - 1;
		}
	}
	/* After the old copy, rounded up to 512; back to 512 near the end. */
	if (!old || size - old_last < MDA_ALIGN) {
		new_start = LVM_MDA_HEADER_BYTES;
	} else {
		new_start = ALIGN_UP(old_last + 1, (uint64_t)MDA_ALIGN);
		if (new_start > size - MDA_ALIGN)
			new_start = LVM_MDA_HEADER_BYTES;
	}
	if (new_start + text_bytes > size) {
		new_wrap = new_start + text_bytes - size;
		new_last = new_wrap + LVM_MDA_HEADER_BYTES - 1;
	} else {
		new_last = new_start + text_bytes - 1;
	}
	/* The new copy must not overwrite the committed one. */
	if (!old)
		overlap = false;
	else if (new_wrap && old_wrap)
		overlap = true;
	else if (!new_wrap && !old_wrap)
		overlap = !(new_start > old_last || new_last < old_start);
	else if (old_wrap)
		overlap = !(old_last < new_start && new_last < old_start);
	else
		overlap = !(new_last < old_start && old_last < new_start);
	if (overlap) {
		lvm_msg(msg, msg_len, "VG metadata (%llu bytes) too large for circular buffer (%llu bytes with %llu used)",
		    (unsigned long long)text_bytes, (unsigned long long)(size - LVM_MDA_HEADER_BYTES),
		    (unsigned long long)m->text_bytes);
		return -ENOSPC;
	}
	plan->write1_bytes_at = m->start_bytes + new_start;
	plan->write1_bytes = text_bytes - new_wrap;
	plan->write2_bytes_at = new_wrap ? m->start_bytes + LVM_MDA_HEADER_BYTES : 0;
	plan->write2_bytes = new_wrap;
	plan->header_at = m->start_bytes;
	/* Slot 0 gets the new location, slot 1 (precommit) is cleared, as
	 * lvm2's vg_commit leaves them; the flags keep the ignored bit. */
	memcpy(h, m->header, LVM_MDA_HEADER_BYTES);
	put_le64(h + 40, new_start);
	put_le64(h + 48, text_bytes);
	put_le32(h + 56, crc);
	memset(h + 64, 0, 20); /* slot 1 offset, size, checksum */
	put_le32(h, lvm_text_crc(h + 4, LVM_MDA_HEADER_BYTES - 4));
	return 0;
}

int lvm_mda_write(const struct disk_reader *disk, write_fn write, struct lvm_mda *m,
		  const char *text, uint64_t text_bytes, uint8_t *scratch, char *msg, size_t msg_len)
{
	struct lvm_mda_plan plan;
	uint64_t end;
	int rc;

	rc = lvm_mda_plan(m, text_bytes, lvm_text_crc(text, (size_t)text_bytes), &plan, msg, msg_len);
	if (rc)
		return rc;
	rc = write_bytes(disk, write, scratch, plan.write1_bytes_at, text, (size_t)plan.write1_bytes);
	if (!rc && plan.write2_bytes)
		rc = write_bytes(disk, write, scratch, plan.write2_bytes_at, text + plan.write1_bytes,
				 (size_t)plan.write2_bytes);
	/* Zero to the next 512-byte boundary after the text, as lvm2 does. */
	end = plan.write2_bytes ? plan.write2_bytes_at + plan.write2_bytes
				: plan.write1_bytes_at + plan.write1_bytes;
	if (!rc && end % MDA_ALIGN &&
	    ALIGN_UP(end, (uint64_t)MDA_ALIGN) <= m->start_bytes + m->size_bytes)
		rc = write_bytes(disk, write, scratch, end, NULL, MDA_ALIGN - end % MDA_ALIGN);
	if (rc) {
		lvm_msg(msg, msg_len, "Failed to write metadata to the device (error %d).", rc);
		return rc;
	}
	/* Only now the header: before this write the old text is committed. */
	rc = write_bytes(disk, write, scratch, plan.header_at, plan.header, LVM_MDA_HEADER_BYTES);
	if (rc) {
		lvm_msg(msg, msg_len, "Failed to write metadata area header (error %d).", rc);
		return rc;
	}
	memcpy(m->header, plan.header, LVM_MDA_HEADER_BYTES);
	m->text_offset = get_le64(plan.header + 40);
	m->text_bytes = text_bytes;
	m->text_crc = get_le32(plan.header + 56);
	return 0;
}

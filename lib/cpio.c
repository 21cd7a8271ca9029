/*
 * newc cpio reader (see include/lib/cpio.h).  Pure: it validates each header
 * against the bytes that remain before touching what the header describes, so
 * a truncated or hostile archive yields -EINVAL and never an out-of-bounds read.
 */
#include <lib/base.h>
#include <lib/cpio.h>

#define MAGIC_BYTES 6
#define FIELD_BYTES 8
#define TRAILER_NAME "TRAILER!!!"

/* Field order after the magic, as written by cpio -H newc. */
enum {
	F_INO, F_MODE, F_UID, F_GID, F_NLINK, F_MTIME, F_FILESIZE,
	F_DEVMAJOR, F_DEVMINOR, F_RDEVMAJOR, F_RDEVMINOR, F_NAMESIZE, F_CHECK,
	F_COUNT
};

void cpio_iter_init(struct cpio_iter *it, const void *archive, size_t len)
{
	memset(it, 0, sizeof(*it));
	it->base = archive;
	it->len = archive ? len : 0;
}

static int fail(struct cpio_iter *it, size_t offset, const char *why)
{
	it->done = true;
	it->error_offset = offset;
	it->error = why;
	return -EINVAL;
}

static bool parse_hex8(const uint8_t *p, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < FIELD_BYTES; i++) {
		uint8_t c = p[i];
		uint32_t d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return false;
		v = (v << 4) | d;
	}
	*out = v;
	return true;
}

/* Offset rounded up to 4, clamped to the buffer's end (final padding may be cut). */
static size_t pad4(size_t offset, size_t len)
{
	size_t up = (offset + 3) & ~(size_t)3;

	return up < offset || up > len ? len : up;
}

/* Between archives: skips NUL padding; returns false at the end of the buffer. */
static bool skip_padding(struct cpio_iter *it)
{
	while (it->pos < it->len && it->base[it->pos] == 0)
		it->pos++;
	return it->pos < it->len;
}

int cpio_next(struct cpio_iter *it, struct cpio_entry *entry)
{
	for (;;) {
		size_t start, remain, name_at, data_at;
		uint32_t f[F_COUNT];
		const uint8_t *h;
		bool crc;

		if (it->done)
			return it->error ? -EINVAL : 0;
		if (!it->in_archive) {
			if (!skip_padding(it)) {
				it->done = true;
				/* An empty buffer is an empty archive; junk-free end otherwise. */
				return 0;
			}
			if (it->pos & 3)
				return fail(it, it->pos, "archive not 4-byte aligned");
			it->in_archive = true;
		}

		start = it->pos;
		remain = it->len - start;
		if (remain < CPIO_HEADER_BYTES)
			return fail(it, start, remain ? "truncated header" :
				    "missing TRAILER!!!");
		h = it->base + start;
		if (memcmp(h, "070701", MAGIC_BYTES) == 0)
			crc = false;
		else if (memcmp(h, "070702", MAGIC_BYTES) == 0)
			crc = true;
		else
			return fail(it, start, "bad magic (not newc 070701/070702)");
		for (int i = 0; i < F_COUNT; i++)
			if (!parse_hex8(h + MAGIC_BYTES + i * FIELD_BYTES, &f[i]))
				return fail(it, start, "non-hex digit in header");

		if (f[F_NAMESIZE] == 0)
			return fail(it, start, "name size 0");
		name_at = start + CPIO_HEADER_BYTES;
		if (f[F_NAMESIZE] > it->len - name_at)
			return fail(it, start, "name past the end of the archive");
		if (h[CPIO_HEADER_BYTES + f[F_NAMESIZE] - 1] != 0)
			return fail(it, start, "name not NUL-terminated");
		if (memchr(h + CPIO_HEADER_BYTES, 0, f[F_NAMESIZE] - 1))
			return fail(it, start, "NUL inside name");

		data_at = pad4(name_at + f[F_NAMESIZE], it->len);
		if (f[F_FILESIZE] > it->len - data_at)
			return fail(it, start, "file data past the end of the archive");

		if (f[F_NAMESIZE] == sizeof(TRAILER_NAME) &&
		    memcmp(h + CPIO_HEADER_BYTES, TRAILER_NAME, sizeof(TRAILER_NAME)) == 0) {
			it->pos = pad4(data_at + f[F_FILESIZE], it->len);
			it->in_archive = false;
			continue;
		}

		if (crc) {
			uint32_t sum = 0;

			for (size_t i = 0; i < f[F_FILESIZE]; i++)
				sum += it->base[data_at + i];
			if (sum != f[F_CHECK])
				return fail(it, start, "070702 checksum mismatch");
		}

		entry->name = (const char *)h + CPIO_HEADER_BYTES;
		entry->name_len = f[F_NAMESIZE] - 1;
		entry->data = it->base + data_at;
		entry->data_bytes = f[F_FILESIZE];
		entry->offset = start;
		entry->ino = f[F_INO];
		entry->mode = f[F_MODE];
		entry->uid = f[F_UID];
		entry->gid = f[F_GID];
		entry->nlink = f[F_NLINK];
		entry->mtime = f[F_MTIME];
		entry->devmajor = f[F_DEVMAJOR];
		entry->devminor = f[F_DEVMINOR];
		entry->rdevmajor = f[F_RDEVMAJOR];
		entry->rdevminor = f[F_RDEVMINOR];
		it->pos = pad4(data_at + f[F_FILESIZE], it->len);
		return 1;
	}
}

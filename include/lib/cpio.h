/*
 * A reader for cpio archives in the "newc" format ("070701", and "070702"
 * whose check field is verified), the format Linux's initramfs and keel's
 * boot archive use.  It only walks an archive already in memory: it never
 * allocates and never reads outside [archive, archive + len).  Building a
 * file tree from the entries is fs/bootfs.c's job.
 *
 * Format (one entry; all offsets are from the start of the buffer):
 *   110-byte header: magic[6], then 13 fields of 8 ASCII hex digits:
 *     ino mode uid gid nlink mtime filesize devmajor devminor
 *     rdevmajor rdevminor namesize check
 *   name: namesize bytes including its NUL, then NULs up to a multiple of 4
 *   data: filesize bytes, then NULs up to a multiple of 4
 * The entry named "TRAILER!!!" ends an archive.  As in Linux, archives may be
 * concatenated, with NUL padding between them; the buffer may end in NULs.
 */
#ifndef KEEL_LIB_CPIO_H
#define KEEL_LIB_CPIO_H

#include <lib/base.h>

#define CPIO_HEADER_BYTES 110

/* The S_IFMT bits of cpio_entry.mode. */
#define CPIO_S_IFMT 0170000u
#define CPIO_S_IFDIR 0040000u
#define CPIO_S_IFREG 0100000u
#define CPIO_S_IFLNK 0120000u

struct cpio_entry {
	const char *name;       /* in the archive; NUL-terminated, no inner NUL */
	size_t name_len;        /* without the NUL */
	const void *data;       /* in the archive; file contents or link target */
	size_t data_bytes;
	size_t offset;          /* of this entry's header */
	uint32_t ino;
	uint32_t mode;          /* type (CPIO_S_IF*) and permission bits */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint32_t mtime;
	uint32_t devmajor;
	uint32_t devminor;
	uint32_t rdevmajor;
	uint32_t rdevminor;
};

/* Iteration state; treat as opaque apart from the error fields. */
struct cpio_iter {
	const uint8_t *base;
	size_t len;
	size_t pos;
	bool in_archive;        /* false before a header and after a trailer */
	bool done;
	size_t error_offset;    /* valid after cpio_next() returned -EINVAL */
	const char *error;      /* a static phrase saying what was wrong */
};

/* Starts an iteration over the archive at [archive, archive + len). */
void cpio_iter_init(struct cpio_iter *it, const void *archive, size_t len);

/*
 * Produces the next entry (trailers are consumed, never produced).
 * Returns 1 with *entry filled, 0 at the end of the buffer (after a trailer
 * and any NUL padding), or -EINVAL for a malformed archive: bad magic,
 * non-hex field, name size 0 or past the end, name without its NUL or with
 * an inner NUL, data past the end, bad 070702 checksum, missing trailer.
 * Then it->error_offset is the offset of the bad entry's header and
 * it->error says why; every later call returns -EINVAL again.
 * Never sleeps, never allocates.
 */
int cpio_next(struct cpio_iter *it, struct cpio_entry *entry);

#endif

/*
 * Partition tables: GPT (drivers/block/gpt.c) and MBR with extended/logical
 * partitions (drivers/block/mbr.c).  Pure parsers: they read the disk only
 * through the caller's callback, allocate nothing, and never trust a byte
 * they read (every loop and every read is bounded).  They do not register
 * block devices; the block layer turns the table into nvme0n1p1, vda5, ...
 *
 * Reads: every call to disk_reader.read is for exactly one logical sector
 * (sector_bytes long, at a multiple of sector_bytes) inside the device, so a
 * driver can serve it with one request and no bounce buffer of its own.
 *
 * Numbering follows Linux (block/partitions/efi.c and msdos.c):
 *   GPT: partition number = entry index + 1; unused entries leave a gap.
 *   MBR: primaries keep their slot number 1..4 (empty slots leave a gap),
 *        logical partitions are numbered 5, 6, ... in chain order.
 *        An extended container (types 0x05, 0x0f, 0x85) is listed too, as
 *        Linux lists it, with size max(1 KiB, one sector) (Linux does so to
 *        keep mkfs off the chain but leave LILO room); it is flagged
 *        PART_F_EXTENDED so a caller can refuse to hand it to a guest.
 *
 * Errors: the whole-table functions return 0 or -errno and, on error, leave a
 * one-line reason in table->reason ("GPT header CRC mismatch at LBA 1 and
 * LBA 131071").  A table that is valid as a whole but has a bad entry keeps
 * the good entries and records one warning per refused entry in
 * table->warnings ("GPT entry 3 ends past the disk (LBA 262144 > 131071)").
 * The caller prefixes the device name when printing.
 *
 * Differences from Linux, on purpose:
 *   - GPT: the backup header (at the primary's alternate LBA, else the last
 *     LBA) is used when the primary is bad, as sgdisk/parted do; Linux only
 *     does that with the "gpt" kernel option.  A warning says which was used.
 *   - GPT and MBR: an entry that overlaps an earlier one, lies outside the
 *     usable area, or ends past the disk is refused (Linux truncates it or
 *     keeps it).
 *   - MBR: a loop in the extended chain ends the chain with a warning (Linux
 *     would repeat partitions until its 256-partition limit).
 *   - Not read: BSD/Solaris/Minix/UnixWare sub-partition tables inside an MBR
 *     partition, and GPTs without a protective MBR (Linux's "gpt" option).
 */
#ifndef KEEL_PART_H
#define KEEL_PART_H

#include <lib/base.h>

/* A disk seen through a read callback.  read() returns 0 or -errno. */
struct disk_reader {
	int (*read)(void *ctx, uint64_t byte_offset, void *buf, size_t len);
	void *ctx;
	uint64_t size_sectors; /* device size in logical sectors */
	uint32_t sector_bytes; /* logical sector: 512 or 4096 (others: -EINVAL) */
};

#define PART_MAX 128            /* entries kept; GPT entries above 128 are refused */
#define PART_MBR_LOGICAL_MAX 64 /* logical partitions followed in a chain */
#define PART_NAME_BYTES 37      /* GPT name: 36 UTF-16 units as ASCII + NUL */
#define PART_REASON_BYTES 160
#define PART_WARNINGS_MAX 8     /* more are counted in warnings_dropped */
#define PART_GPT_ENTRIES_MAX 4096 /* header claiming more: table refused */

enum part_scheme {
	PART_SCHEME_NONE = 0,
	PART_SCHEME_MBR,
	PART_SCHEME_GPT,
};

/* part_entry.flags */
#define PART_F_BOOTABLE 0x1 /* MBR boot indicator 0x80 */
#define PART_F_EXTENDED 0x2 /* MBR extended container (1 KiB stub, see above) */
#define PART_F_LOGICAL 0x4  /* MBR logical partition (number >= 5) */

struct part_entry {
	unsigned number;       /* as Linux numbers it (see above) */
	uint64_t first_sector; /* logical sectors from the start of the disk */
	uint64_t sectors;      /* length in logical sectors, >= 1 */
	unsigned flags;        /* PART_F_* */
	uint8_t mbr_type;      /* MBR system id (0 for GPT) */
	uint8_t type_guid[16]; /* GPT, on-disk byte order (mixed endian) */
	uint8_t unique_guid[16];
	uint64_t gpt_attributes;
	char name[PART_NAME_BYTES]; /* GPT name; non-ASCII units become '?' */
};

struct part_table {
	enum part_scheme scheme;
	unsigned count;                  /* valid entries in parts[], by number */
	struct part_entry parts[PART_MAX];
	uint8_t disk_guid[16];           /* GPT */
	uint32_t mbr_signature;          /* MBR disk signature (offset 440) */
	bool gpt_used_backup;            /* primary GPT bad: the backup was used */
	unsigned warning_count;
	unsigned warnings_dropped;
	char warnings[PART_WARNINGS_MAX][PART_REASON_BYTES];
	char reason[PART_REASON_BYTES];  /* why the table was refused */
	uint8_t scratch[4096];           /* sector buffer; not part of the result */
};

/*
 * Reads the partition table of a disk: a protective (or hybrid) MBR with a
 * valid GPT gives a GPT table, else a valid MBR gives an MBR table.  Returns
 * 0 with table->scheme set (PART_SCHEME_NONE and count 0 when the disk has no
 * recognised table: a blank disk, a whole-disk filesystem or an LVM PV);
 * -EINVAL when a table is present but refused (reason in table->reason; a
 * disk with a protective MBR and no valid GPT is refused, not read as MBR);
 * -EIO (or the callback's error) when a read failed.  table must not be on a
 * small stack: it is about 20 KiB.  Does not sleep unless read() does.
 */
int part_scan(const struct disk_reader *disk, struct part_table *table);

/* The two halves of part_scan, same contract, each for its own scheme. */
int gpt_parse(const struct disk_reader *disk, struct part_table *table);
int mbr_parse(const struct disk_reader *disk, struct part_table *table);

/* "1 KiB" for a 512-byte sector disk: the length Linux gives an extended
 * container, in logical sectors. */
static inline uint64_t part_extended_stub_sectors(uint32_t sector_bytes)
{
	return sector_bytes >= 1024 ? 1 : 1024 / sector_bytes;
}

/* Formats a GPT GUID (on-disk byte order) as text, 37 bytes with the NUL. */
void part_guid_format(const uint8_t guid[16], char out[37]);

/* Internal, shared by gpt.c and mbr.c. */
void part_warn(struct part_table *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int part_read_sector(const struct disk_reader *disk, uint64_t lba, void *buf);

#endif

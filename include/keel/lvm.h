/*
 * LVM2 volumes: the on-disk PV label and metadata area (drivers/block/lvm.c),
 * the text metadata parser (lvm_meta.c) and the metadata writer behind
 * lvcreate/lvremove/lvextend (lvm_write.c).  Pure: disks are reached only
 * through callbacks, nothing is allocated, every loop is bounded by the input
 * or a stated limit.  The block layer owns devices, names (/dev/VG/LV) and the
 * I/O; this code only says which sectors an LV is made of and what new
 * metadata to write.
 *
 * Units: LVM counts in 512-byte sectors whatever the device's logical sector
 * size; every *_sectors value here is in 512-byte units.
 *
 * Reading a VG, in order:
 *   1. lvm_pv_read()       label (LABELONE in 512-byte sectors 0..3), pv_header,
 *                          and each metadata area's mda_header (checksummed);
 *   2. lvm_pv_read_text()  the newest committed text (slot 0, may wrap around
 *                          the circular area), checksum verified;
 *   3. lvm_vg_parse()      text -> struct lvm_vg: PVs, LVs, linear segments;
 *                          an LV keel cannot serve gets lv->why set and stays
 *                          listed (the others are still offered);
 *   4. lvm_vg_attach_pv()  once per PV device found (matched by PV uuid),
 *      lvm_vg_check()      then marks each LV usable or says why not (a PV of
 *                          the VG missing, a segment past the device end).
 *   5. lvm_lv_map()        an LV's extents as (pv, start sector, sectors).
 *
 * Only linear LVs are served: segments of type "striped" with stripe_count 1
 * (what lvm2 writes for linear).  Striped (count > 1), thin, thin-pool, raid*,
 * mirror, snapshot, cache, vdo, writecache, integrity, error and zero
 * segments make their LV unusable with a reason.  Hidden LVs (no VISIBLE
 * flag: the sub-LVs of thin pools, raids, ...) are parsed and reported but a
 * caller should not offer them.  Multi-PV VGs are parsed; an LV with a segment
 * on a PV that was not attached is unusable ("PV pv1 is missing").
 *
 * Writing (item 6): lvm_lvcreate(), lvm_lvremove(), lvm_lvextend() take the
 * parsed VG and its current text and produce the complete new text (seqno + 1,
 * trailer rewritten) by editing the old one, so everything keel does not
 * understand (tags, thin pools, historical LVs...) is kept byte for byte.
 * lvm_mda_write() then puts it on one metadata area: the text first, in the
 * circular buffer after the old copy (512-byte aligned, wrapping to offset 512
 * as lvm2's _vg_write_raw/_next_rlocn_offset do), then the mda_header whose
 * slot 0 points at it.  A crash between the two leaves the old version.
 * The caller does this for every metadata area of every PV of the VG.
 * On any error nothing is written and msg holds lvm2's wording.
 */
#ifndef KEEL_LVM_H
#define KEEL_LVM_H

#include <lib/base.h>
#include <keel/part.h> /* struct disk_reader */

#define LVM_UUID_BYTES 39     /* 32 id characters, 6 dashes, NUL */
#define LVM_NAME_BYTES 128    /* lvm2's NAME_LEN, with the NUL */
#define LVM_REASON_BYTES 128
#define LVM_MAX_AREAS 4       /* data or metadata areas read from a label */
#define LVM_MAX_MDAS 2        /* metadata areas per PV lvm2 creates (0, 1 or 2) */
#define LVM_MAX_PVS 16
#define LVM_MAX_LVS 64
#define LVM_MAX_SEGMENTS 256  /* linear segments, all LVs together */
#define LVM_MAX_USED 512      /* PV extent ranges in use, all segment types */
#define LVM_TEXT_MAX (4u << 20) /* longest metadata text read or written */
#define LVM_MDA_HEADER_BYTES 512

/* ---- PV label and metadata areas (lvm.c) ---------------------------------- */

struct lvm_area {
	uint64_t offset_bytes; /* from the start of the device */
	uint64_t size_bytes;   /* 0 for a data area: "to the end of the device" */
};

struct lvm_mda {
	bool valid;              /* header checksum, magic, version, start good */
	char why[LVM_REASON_BYTES]; /* when !valid */
	uint64_t start_bytes;    /* absolute offset of the mda_header */
	uint64_t size_bytes;     /* whole area, header included */
	uint64_t text_offset;    /* raw_locns[0].offset, relative to start_bytes */
	uint64_t text_bytes;     /* raw_locns[0].size (lvm2 counts the final NUL) */
	uint32_t text_crc;       /* raw_locns[0].checksum */
	bool ignored;            /* RAW_LOCN_IGNORED: holds no metadata by choice */
	uint8_t header[LVM_MDA_HEADER_BYTES]; /* the sector as read */
};

struct lvm_pv {
	uint64_t label_sector;   /* 512-byte sector of LABELONE, 0..3 */
	char uuid[LVM_UUID_BYTES];
	uint64_t device_bytes;   /* pv_header.device_size_xl */
	unsigned data_area_count;
	struct lvm_area data_areas[LVM_MAX_AREAS];
	unsigned mda_count;
	struct lvm_mda mdas[LVM_MAX_MDAS];
	uint8_t scratch[4096];   /* sector buffer; not part of the result */
};

/*
 * Reads the PV label and the headers of its metadata areas.  Returns 0;
 * -ENOENT when the device carries no LVM2 label (not a PV); -EINVAL for a
 * label that is present but bad, or when no metadata area header is valid
 * (reason in `reason`; a bad area among good ones is only marked !valid with
 * mdas[i].why); or the read callback's error.  Reads obey the contract of
 * include/keel/part.h (one aligned logical sector per call).
 */
int lvm_pv_read(const struct disk_reader *disk, struct lvm_pv *pv, char *reason,
		size_t reason_len);

/*
 * Reads the committed metadata text of a PV read by lvm_pv_read(): the first
 * valid area whose text checksum matches (the second area is tried when the
 * first is bad, and `reason` then says so while 0 is returned).  buf gets the
 * text NUL-terminated, *text_len its length without the NUL; buf_bytes must
 * be at least mdas[i].text_bytes + 1 (LVM_TEXT_MAX + 1 always suffices).
 * Returns 0, -ENOENT (an orphan PV: no metadata yet), -EINVAL (checksum
 * mismatch, a location outside the area, text too long; reason set) or a read
 * error.  *used_mda says which area the text came from.
 */
int lvm_pv_read_text(const struct disk_reader *disk, struct lvm_pv *pv, char *buf,
		     size_t buf_bytes, size_t *text_len, unsigned *used_mda, char *reason,
		     size_t reason_len);

/* The buffer lvm_pv_read_text() needs for this PV: the longest committed
 * text among its valid areas plus the NUL (at most LVM_TEXT_MAX + 1). */
size_t lvm_pv_text_buffer_bytes(const struct lvm_pv *pv);

/* ---- VG metadata (lvm_meta.c) ---------------------------------------------- */

/* LV status flags (the status = [...] array). */
#define LVM_LV_READ 0x1
#define LVM_LV_WRITE 0x2
#define LVM_LV_VISIBLE 0x4

struct lvm_pv_info {
	char key[16];              /* "pv0": how segments name it */
	char uuid[LVM_UUID_BYTES];
	char device_hint[64];      /* "device" as lvm2 last saw it, may be cut */
	uint64_t dev_size_sectors; /* metadata's idea of the device size */
	uint64_t pe_start_sectors;
	uint64_t pe_count;
	bool allocatable;
	bool present;              /* set by lvm_vg_attach_pv() */
	uint64_t device_sectors;   /* size of the attached device */
};

struct lvm_segment {
	uint64_t lv_start_extent;  /* within the LV */
	uint64_t extents;
	unsigned pv;               /* index in vg->pvs */
	uint64_t pv_start_extent;
};

/* A text span [start, end) in the metadata the writer edits. */
struct lvm_span {
	size_t start, end;
};

struct lvm_lv {
	char name[LVM_NAME_BYTES];
	char id[LVM_UUID_BYTES];
	unsigned status;           /* LVM_LV_* */
	uint64_t extents;          /* sum of segment lengths */
	unsigned first_segment;    /* in vg->segments, when linear */
	unsigned segment_count;
	bool linear;               /* every segment linear and inside its PV */
	bool usable;               /* linear and every PV attached and big enough */
	char why[LVM_REASON_BYTES]; /* when !usable: "lv 'x': segment type 'thin' not supported" */
	/* For the writer. */
	struct lvm_span block;     /* from the name to after the closing brace */
	struct lvm_span segment_count_value;
	struct lvm_span last_extent_count_value;
	size_t last_segment_end;   /* after the last segment's closing brace */
};

struct lvm_used {
	unsigned pv;
	uint64_t start, count;
};

struct lvm_vg {
	char name[LVM_NAME_BYTES];
	char id[LVM_UUID_BYTES];
	uint64_t seqno;
	uint64_t extent_sectors;
	bool writeable;            /* status has WRITE and RESIZEABLE, no lock_type/system_id */
	char not_writeable_why[LVM_REASON_BYTES];
	unsigned pv_count;
	struct lvm_pv_info pvs[LVM_MAX_PVS];
	unsigned lv_count;
	struct lvm_lv lvs[LVM_MAX_LVS];
	unsigned segment_count;
	struct lvm_segment segments[LVM_MAX_SEGMENTS];
	unsigned used_count;       /* extents in use, from every segment type */
	struct lvm_used used[LVM_MAX_USED];
	bool used_complete;        /* false: some use was not understood; no allocation */
	/* For the writer. */
	struct lvm_span seqno_value;
	size_t vg_close;           /* offset of the VG section's closing brace */
	size_t lvs_close;          /* of logical_volumes' closing brace, 0 if none */
};

/*
 * Parses metadata text (as read by lvm_pv_read_text) into vg, validating
 * every number and reference.  Returns 0; -EINVAL for text that is not a VG
 * at all or breaks the format (reason set: "metadata line 12: expected '='").
 * LVs keel cannot serve are still listed, with why set and linear false.
 * Uses about 80 bytes of stack per nesting level, 8 levels at most.
 */
int lvm_vg_parse(const char *text, size_t len, struct lvm_vg *vg, char *reason,
		 size_t reason_len);

/* Marks the VG's PV with this uuid present, on a device of device_sectors
 * (512-byte units).  Returns 0 or -ENOENT (no such PV in the VG). */
int lvm_vg_attach_pv(struct lvm_vg *vg, const char *pv_uuid, uint64_t device_sectors);

/* After the attaches: sets each LV's usable flag and why. */
void lvm_vg_check(struct lvm_vg *vg);

struct lvm_extent {
	unsigned pv;               /* index in vg->pvs */
	uint64_t pv_sector;        /* 512-byte sector on the PV's device */
	uint64_t sectors;
};

/* The LV's data, in LV order: out[0..*n).  Returns 0, -EINVAL for an LV that
 * is not usable, -E2BIG when max is too small. */
int lvm_lv_map(const struct lvm_vg *vg, const struct lvm_lv *lv, struct lvm_extent *out,
	       unsigned max, unsigned *n);

/* The LV named name, or NULL. */
const struct lvm_lv *lvm_vg_find_lv(const struct lvm_vg *vg, const char *name);

/* Extents of the VG: total on allocatable PVs, and free among them. */
uint64_t lvm_vg_extent_count(const struct lvm_vg *vg);
uint64_t lvm_vg_free_extents(const struct lvm_vg *vg);

/* The first run of free extents on PV pv_index at or after extent `from`:
 * 0 with *start, *count, or -ENOENT.  Ignores the allocatable flag. */
int lvm_free_run(const struct lvm_vg *vg, unsigned pv_index, uint64_t from, uint64_t *start,
		 uint64_t *count);

/*
 * Steps 1 to 4 for a single device: reads the PV, its text and the VG, then
 * attaches this PV (its size is the device's) and runs lvm_vg_check().  Other
 * PVs of a multi-PV VG are attached by the caller with lvm_vg_attach_pv() and
 * lvm_vg_check() run again.  Returns 0 (reason may hold a warning, e.g. the
 * second metadata area was used), -ENOENT (not a PV, or a PV without VG
 * metadata on it), -EINVAL or a read error (reason set).  text needs
 * LVM_TEXT_MAX + 1 bytes to be safe.  Sizes: struct lvm_vg is about 47 KiB and
 * struct lvm_pv 5.5 KiB: allocate them, never put them on a thread stack.
 */
int lvm_vg_read(const struct disk_reader *disk, struct lvm_pv *pv, char *text, size_t text_cap,
		size_t *text_len, struct lvm_vg *vg, char *reason, size_t reason_len);

/* ---- writing (lvm_write.c) ------------------------------------------------- */

/* What lvm2 would put in the new text's trailer and the new LV. */
struct lvm_stamp {
	uint64_t time_seconds;     /* creation_time (seconds since 1970) */
	const char *host;          /* creation_host, e.g. "keel" */
	const char *command;       /* for description = "Write from COMMAND." */
	uint8_t random[32];        /* entropy for a new LV's id */
};

/*
 * Parses an lvm2 -L/--size argument: a number (decimals allowed) with an
 * optional unit, k m g t p e (powers of 1024, either case; the default is m,
 * MiB), s (sectors) or b (bytes, a multiple of 512).  A leading '+' sets
 * *relative (lvextend -L +SIZE); '-' is refused.  Returns 0 with *sectors
 * (512-byte units), or -EINVAL with lvm2's message in msg.  Zero is allowed
 * here; lvm_lvcreate refuses it.
 */
int lvm_size_parse(const char *arg, uint64_t *sectors, bool *relative, char *msg,
		   size_t msg_len);

/* 0 or -EINVAL with lvm2's message ("Logical volume name "-x" is invalid."). */
int lvm_lv_name_check(const char *name, char *msg, size_t msg_len);

/*
 * New metadata text for `lvcreate -L size -n name VG`: size rounded up to
 * whole extents, allocated from free extents of attached allocatable PVs (one
 * contiguous run when one is big enough, the lowest such; otherwise runs in
 * PV order).  out gets the text with its NUL, *out_bytes counts that NUL (as
 * raw_locn.size does); out_cap >= text_len + 8192 always suffices.  msg gets
 * lvm2's message on error, or on success what was done ("Logical volume "x"
 * created.").  Returns 0, -EEXIST, -ENOSPC, -EINVAL (bad name or size, VG not
 * writeable, a PV missing), -E2BIG (out_cap or a limit).  Does not sleep.
 */
int lvm_lvcreate(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 uint64_t size_sectors, const struct lvm_stamp *stamp, char *out, size_t out_cap,
		 size_t *out_bytes, char *msg, size_t msg_len);

/* `lvremove VG/LV`: only a linear LV no other LV refers to.  -ENOENT when
 * there is no such LV.  Same conventions as lvm_lvcreate. */
int lvm_lvremove(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 const struct lvm_stamp *stamp, char *out, size_t out_cap, size_t *out_bytes,
		 char *msg, size_t msg_len);

/* `lvextend -L size VG/LV`, size the new total (rounded up to extents): the
 * last segment grows when the extents after it are free, else new segments
 * are added.  Same conventions as lvm_lvcreate; a size not larger than the
 * current one is -EINVAL with lvm2's message. */
int lvm_lvextend(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 uint64_t size_sectors, const struct lvm_stamp *stamp, char *out, size_t out_cap,
		 size_t *out_bytes, char *msg, size_t msg_len);

/* Where new text goes in one metadata area, and the header that commits it. */
struct lvm_mda_plan {
	uint64_t write1_bytes_at;  /* absolute byte offset */
	uint64_t write1_bytes;
	uint64_t write2_bytes_at;  /* the wrapped rest, at start + 512; 0 bytes if none */
	uint64_t write2_bytes;
	uint8_t header[LVM_MDA_HEADER_BYTES]; /* new mda_header, checksum set */
	uint64_t header_at;
};

/* Computes where text of text_bytes (with the NUL) and CRC crc goes in mda,
 * as lvm2 places it.  Returns 0 or -ENOSPC ("metadata too large for the
 * circular buffer") / -EINVAL for an invalid mda. */
int lvm_mda_plan(const struct lvm_mda *mda, uint64_t text_bytes, uint32_t crc,
		 struct lvm_mda_plan *plan, char *msg, size_t msg_len);

/* LVM2's text checksum (calc_crc from INITIAL_CRC 0xf597a6cf). */
uint32_t lvm_text_crc(const void *text, size_t bytes);

/*
 * Writes text (text_bytes with its NUL) into mda and commits it: the text
 * (zero-padded to a 512-byte boundary, as lvm2 does), then the header.  The
 * write callback has the read callback's contract (whole aligned logical
 * sectors); partial sectors are read, patched and written back.  scratch is
 * a 4096-byte buffer.  On success *mda is updated to the new location.
 * Returns 0, a plan error, or the callbacks' error (the old metadata is then
 * still the committed one if the header write did not happen).
 */
int lvm_mda_write(const struct disk_reader *disk,
		  int (*write)(void *ctx, uint64_t byte_offset, const void *buf, size_t len),
		  struct lvm_mda *mda, const char *text, uint64_t text_bytes, uint8_t *scratch,
		  char *msg, size_t msg_len);

/* Internal, shared by lvm.c, lvm_meta.c and lvm_write.c: formats a message
 * into buf (NULL or 0 bytes: nothing), cut at the end on purpose. */
void lvm_msg(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif

/*
 * Block devices (drivers/block/blkdev.c): the one API between the disk
 * drivers (NVMe, virtio-blk) and everything that does disk I/O in keel
 * (blkback, the partition and LVM scanners, the shell's blk-* commands).
 *
 * A disk driver registers a struct blkdev for each namespace or disk; the
 * layer then scans it for partitions (GPT, MBR) and LVM2 volumes and
 * registers those as further blkdevs whose requests it bounds-checks,
 * translates and, where a request spans two LV segments, splits before they
 * reach the driver.  Names are Linux's: nvme0n1, nvme0n1p2, vda, vda5, and
 * LVs as VG/LV (found as /dev/VG/LV or /dev/mapper/VG-LV).
 *
 * A request is a list of segments of machine memory (dma_addr_t), each
 * inside one page and a multiple of 512 bytes.  Its `done` callback runs
 * exactly once, when the device has reported the whole request complete
 * (possibly in upcall context: it must only record and wake), with 0 or a
 * negative errno (-EIO device error, -ETIMEDOUT device reset, -EOPNOTSUPP
 * operation not offered, -ENXIO device gone).  Only then may the segments'
 * pages be reused, unmapped or given back.
 *
 * A driver whose queue is full returns -EAGAIN; the layer then keeps the
 * request in the disk's backlog (FIFO) and resubmits it after a completion,
 * so callers of blk_submit never see -EAGAIN.
 */
#ifndef KEEL_BLKDEV_H
#define KEEL_BLKDEV_H

#include <keel/dma.h>
#include <lib/base.h>

#define SECTOR_SHIFT 9
#define SECTOR_BYTES 512u

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,         /* write the device's volatile cache to media */
	BLK_OP_DISCARD,       /* nr_sectors from sector may be deallocated */
	BLK_OP_WRITE_ZEROES,
};

struct blk_seg {
	dma_addr_t addr;      /* within one page */
	uint32_t len_bytes;   /* multiple of 512, addr + len inside the page */
};

struct blk_request;
typedef void (*blk_done_t)(struct blk_request *req, int status);

struct blk_request {
	enum blk_op op;
	bool fua;             /* WRITE: on media before done (else flush later) */
	uint64_t sector;      /* first 512-byte sector, in the device submitted to */
	uint64_t nr_sectors;  /* DISCARD/WRITE_ZEROES: length; READ/WRITE: set by blk_submit */
	uint16_t nr_segs;
	struct blk_seg *segs;
	blk_done_t done;
	void *ctx;            /* the submitter's */
	/* Private to the block layer and the driver. */
	struct blk_request *backlog_next;
	struct blk_request *parent;
	uint32_t children_left;
	int child_status;
	void *drv_priv;
	/* DISCARD at the disk: the submitter's callback, put back by the
	 * layer's own, which counts the completion on acct_disk first. */
	blk_done_t acct_done;
	struct blkdev *acct_disk;
};

enum blkdev_type { BLKDEV_DISK, BLKDEV_PART, BLKDEV_LVM };

struct blkdev;
struct blkdev_ops {
	/* Queues req on the device; 0, or -errno if it could not be queued
	 * (then done is not called).  -EAGAIN: queue full, retry after a
	 * completion.  Called in thread context. */
	int (*submit)(struct blkdev *dev, struct blk_request *req);
	/* Optional: completes what the device has finished, as its interrupt
	 * would (the done callbacks run here).  Thread context. */
	void (*poll)(struct blkdev *dev);
};

/* A run of this device's sectors stored at parent_sector.. on its parent. */
struct blk_extent {
	uint64_t sector;
	uint64_t nr_sectors;
	uint64_t parent_sector;
};

struct blkdev {
	char name[48];              /* "nvme0n1", "vda3", "vg0/guest1" */
	enum blkdev_type type;
	uint32_t major, minor;
	uint64_t nr_sectors;        /* in 512-byte sectors */
	uint32_t logical_block_bytes, physical_block_bytes;
	bool read_only, removable;
	bool can_flush, can_fua, can_discard, can_write_zeroes;
	uint32_t discard_granularity_bytes, discard_alignment_bytes;
	uint16_t max_segs;          /* per request */
	uint32_t max_sectors;       /* per request (READ/WRITE) */
	/* Per DISCARD / WRITE_ZEROES command (0: no limit); the block layer
	 * cuts longer ones, at multiples of the discard granularity. */
	uint32_t max_discard_sectors, max_write_zeroes_sectors;
	char model[48];             /* "QEMU NVMe Ctrl", "virtio-blk" */

	/* Disks: the driver.  Partitions and LVs: parent + extents. */
	const struct blkdev_ops *ops;
	void *drv;
	struct blkdev *parent;
	unsigned int nr_extents;
	struct blk_extent *extents;
	char part_label[40];        /* GPT name or MBR type, for lsblk */

	/* Who uses it: "" free, "LVM2 PV vg0", "vbd 3/51712 (w)", set by users. */
	char holder[48];
	uint32_t open_writers;      /* exclusive-use accounting for blkback */

	/* Disks: requests sent to the driver (errors: refused by the layer's
	 * checks or failed by the driver). */
	uint64_t reads, writes, flushes, discards, write_zeroes, errors;
	/* Disks: DISCARDs the device completed without error, and their
	 * sectors (blkback-stats shows them).  Updated in any context. */
	uint64_t discards_done, discard_sectors_done;
	/* Disks: requests the driver had no room for (-EAGAIN), resubmitted
	 * in order by the block layer's requeue thread. */
	struct blk_request *backlog_head, *backlog_tail;
	uint64_t backlogged;
	struct blkdev *next;
};

/*
 * Registers a disk (type BLKDEV_DISK, ops set) and scans it for partitions
 * and LVM volumes, logging what it found or why a table or volume was
 * refused ("vda: GPT header CRC mismatch, using the backup").  Thread
 * context (the scan reads the disk); 0 or -errno.
 */
int blkdev_register_disk(struct blkdev *dev);
/* Removes a disk and everything stacked on it (driver shutdown). */
void blkdev_unregister_disk(struct blkdev *dev);

/* Finds "nvme0n1", "/dev/nvme0n1p2", "vg0/lv", "/dev/vg0/lv", "/dev/mapper/vg0-lv". */
struct blkdev *blkdev_find(const char *name);
struct blkdev *blkdev_first(void);
/* The disk at the bottom of a partition or LV. */
struct blkdev *blkdev_disk_of(struct blkdev *dev);

/*
 * Submits req to dev: checks it (segments, bounds, read-only, operation
 * offered), maps it onto the disk, and queues it; may split.  0 or -errno
 * (-EINVAL malformed, -ENOSPC past the end, -EROFS, -EOPNOTSUPP), in which
 * case done is not called.  Thread context.
 */
int blk_submit(struct blkdev *dev, struct blk_request *req);

/* Synchronous helpers for keel's own code: buf is dom0 memory (any
 * alignment to 512 bytes), bytes a multiple of 512.  May sleep. */
int blk_read_sync(struct blkdev *dev, uint64_t sector, void *buf, size_t bytes);
int blk_write_sync(struct blkdev *dev, uint64_t sector, const void *buf, size_t bytes);
int blk_flush_sync(struct blkdev *dev);
int blk_discard_sync(struct blkdev *dev, uint64_t sector, uint64_t nr_sectors);

/*
 * Drivers call this after completing requests (any context, also upcall):
 * if requests wait in the disk's backlog, the requeue thread resubmits them.
 */
void blkdev_kick_backlog(struct blkdev *disk);

/*
 * Looks for finished requests on the disk under dev without waiting for its
 * interrupt (their done callbacks run before it returns); false if the
 * driver cannot be polled.  Thread context.
 */
bool blkdev_poll(struct blkdev *dev);

/* Allocates the next name index for a driver family ("vd" -> 0, 1...). */
unsigned int blkdev_next_index(const char *family);

#endif

/*
 * What the block layer finds on a disk (drivers/block/scan.c): partitions
 * from GPT or MBR, and LVM2 physical volumes with their linear logical
 * volumes, registered as blkdevs stacked on the disk.  Also the registry
 * calls those scanners use to add and remove stacked devices.
 */
#ifndef KEEL_BLKSCAN_H
#define KEEL_BLKSCAN_H

#include <keel/blkdev.h>
#include <keel/part.h>

/*
 * A struct disk_reader (keel/part.h) over a blkdev, for the table and LVM
 * parsers: whole logical sectors through a one-page bounce buffer.
 * blkdev_reader_open fills *rd; 0 or -ENOMEM.  blkdev_reader_write has the
 * read callback's contract (the LVM writer uses it).  May sleep.
 */
struct blkdev_reader {
	struct blkdev *dev;
	uint8_t *bounce;
};
int blkdev_reader_open(struct blkdev_reader *r, struct blkdev *dev, struct disk_reader *rd);
void blkdev_reader_close(struct blkdev_reader *r);
int blkdev_reader_write(void *ctx, uint64_t byte_offset, const void *buf, size_t len);

/* Scans a freshly registered disk; logs what it found and what it refused. */
void blkscan_disk(struct blkdev *disk);

/* Adds a partition or LV over parent with room for nr_extents extents. */
struct blkdev *blkdev_add_child(struct blkdev *parent, enum blkdev_type type, const char *name,
				unsigned int nr_extents);
/* The next minor on the shared extended major 259 (Linux's blkext). */
uint32_t blkdev_alloc_ext_minor(void);
/* Looks for an LVM2 PV on dev (a disk without a table, or a partition) and
 * registers its VG's LVs (drivers/block/lvmdev.c). */
void blkscan_lvm(struct blkdev *dev);
/* Removes one stacked device (an LV gone from the metadata). */
void blkdev_remove_one(struct blkdev *dev);
/* Removes every device stacked on disk (and disk itself if with_disk). */
void blkdev_remove_children(struct blkdev *disk, bool with_disk);

#endif

/*
 * What the block layer finds on a disk (drivers/block/scan.c): partitions
 * from GPT or MBR, and LVM2 physical volumes with their linear logical
 * volumes, registered as blkdevs stacked on the disk.  Also the registry
 * calls those scanners use to add and remove stacked devices.
 */
#ifndef KEEL_BLKSCAN_H
#define KEEL_BLKSCAN_H

#include <keel/blkdev.h>

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

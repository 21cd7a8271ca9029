/*
 * Partition and LVM discovery on a new disk.  The table and metadata
 * parsers are pure code in this folder (gpt.c, mbr.c, lvm*.c); this file
 * reads the disk for them and turns what they return into stacked blkdevs.
 */
#include <keel/blkscan.h>
#include <keel/kernel.h>

void blkscan_disk(struct blkdev *disk)
{
	(void)disk;
	/* The GPT, MBR and LVM parsers are not wired yet: whole disks only. */
}

void blkdev_rescan_lvm(void)
{
}

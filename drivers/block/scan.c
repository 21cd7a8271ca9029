/*
 * Partition and LVM discovery on a new disk.  The table and metadata
 * parsers are pure code in this folder (gpt.c, mbr.c, lvm*.c); this file
 * reads the disk for them and turns what they return into stacked blkdevs
 * named as Linux names them (vda3, nvme0n1p2).  Every refusal is logged
 * with the device's name and the parser's reason, and the refused table or
 * volume is simply not offered.
 */
#include <keel/blkscan.h>
#include <keel/kernel.h>
#include <keel/part.h>
#include <lib/printf.h>

/* Minors past a driver's own range come from the shared extended major,
 * as Linux's blkext (259) hands them out. */
static uint32_t next_ext_minor;

uint32_t blkdev_alloc_ext_minor(void)
{
	return next_ext_minor++;
}

static int reader_read(void *ctx, uint64_t byte_offset, void *buf, size_t len)
{
	struct blkdev_reader *r = ctx;

	if ((byte_offset % SECTOR_BYTES) || len > PAGE_SIZE || (len % SECTOR_BYTES))
		return -EINVAL;
	int rc = blk_read_sync(r->dev, byte_offset / SECTOR_BYTES, r->bounce, len);
	if (rc == 0)
		memcpy(buf, r->bounce, len);
	return rc;
}

int blkdev_reader_write(void *ctx, uint64_t byte_offset, const void *buf, size_t len)
{
	struct blkdev_reader *r = ctx;

	if ((byte_offset % SECTOR_BYTES) || len > PAGE_SIZE || (len % SECTOR_BYTES))
		return -EINVAL;
	memcpy(r->bounce, buf, len);
	return blk_write_sync(r->dev, byte_offset / SECTOR_BYTES, r->bounce, len);
}

int blkdev_reader_open(struct blkdev_reader *r, struct blkdev *dev, struct disk_reader *rd)
{
	struct blkdev *disk = blkdev_disk_of(dev);
	uint32_t sb = disk->logical_block_bytes ? disk->logical_block_bytes : SECTOR_BYTES;

	r->dev = dev;
	r->bounce = page_alloc(1);
	if (!r->bounce)
		return -ENOMEM;
	*rd = (struct disk_reader){ .read = reader_read, .ctx = r,
				    .size_sectors = dev->nr_sectors / (sb / SECTOR_BYTES),
				    .sector_bytes = sb };
	return 0;
}

void blkdev_reader_close(struct blkdev_reader *r)
{
	if (r->bounce)
		page_free(r->bounce, 1);
	r->bounce = NULL;
}

static void part_name(const struct blkdev *disk, unsigned int number, char *buf, size_t len)
{
	size_t n = strlen(disk->name);
	bool digit = n && disk->name[n - 1] >= '0' && disk->name[n - 1] <= '9';
	ksnprintf(buf, len, "%s%s%u", disk->name, digit ? "p" : "", number);
}

static void add_partitions(struct blkdev *disk, const struct part_table *t)
{
	uint64_t per = disk->logical_block_bytes / SECTOR_BYTES;

	for (unsigned int i = 0; i < t->count; i++) {
		const struct part_entry *e = &t->parts[i];
		char name[48];
		part_name(disk, e->number, name, sizeof(name));
		struct blkdev *p = blkdev_add_child(disk, BLKDEV_PART, name, 1);
		if (!p) {
			klog("blk: %s: out of memory for partition %u\n", disk->name, e->number);
			return;
		}
		p->extents[0] = (struct blk_extent){ 0, e->sectors * per, e->first_sector * per };
		p->nr_sectors = e->sectors * per;
		/* 16 minors per disk under the driver's major (15 partitions),
		 * as Linux's virtio_blk has; the rest on the extended major. */
		if (disk->major != 259 && e->number < 16) {
			p->major = disk->major;
			p->minor = disk->minor + e->number;
		} else {
			p->major = 259;
			p->minor = blkdev_alloc_ext_minor();
		}
		if (t->scheme == PART_SCHEME_GPT)
			ksnprintf(p->part_label, sizeof(p->part_label), "%s", e->name);
		else
			ksnprintf(p->part_label, sizeof(p->part_label), "type %02x%s", e->mbr_type,
				  (e->flags & PART_F_EXTENDED) ? " (extended)" : "");
		if (e->flags & PART_F_EXTENDED)
			ksnprintf(p->holder, sizeof(p->holder), "extended partition table");
	}
}

void blkscan_disk(struct blkdev *disk)
{
	struct part_table *t = kzalloc(sizeof(*t));
	struct blkdev_reader c = { NULL, NULL };
	struct disk_reader rd;

	if (!t || blkdev_reader_open(&c, disk, &rd)) {
		klog("blk: %s: out of memory for the partition scan\n", disk->name);
		goto out;
	}
	int rc = part_scan(&rd, t);
	for (unsigned int i = 0; i < t->warning_count && i < PART_WARNINGS_MAX; i++)
		klog("blk: %s: %s\n", disk->name, t->warnings[i]);
	if (t->warnings_dropped)
		klog("blk: %s: %u more partition-table warnings\n", disk->name, t->warnings_dropped);
	if (rc) {
		klog("blk: %s: partition table refused: %s\n", disk->name,
		     t->reason[0] ? t->reason : "read error");
		goto out;
	}
	if (t->scheme != PART_SCHEME_NONE) {
		klog("blk: %s: %s, %u partitions%s\n", disk->name,
		     t->scheme == PART_SCHEME_GPT ? "GPT" : "MBR", t->count,
		     t->gpt_used_backup ? " (from the backup GPT)" : "");
		add_partitions(disk, t);
		/* PVs on partitions (not on an extended container). */
		for (struct blkdev *p = blkdev_first(); p; p = p->next)
			if (p->parent == disk && p->type == BLKDEV_PART && !p->holder[0])
				blkscan_lvm(p);
	} else {
		blkscan_lvm(disk);
	}
out:
	kfree(t);
	blkdev_reader_close(&c);
}

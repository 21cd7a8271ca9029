/*
 * Shell commands for the hardware keel drives: lspci, lsblk, and raw block
 * access for administrators and tests (blk-read prints a CRC-32 of a range,
 * blk-write writes a reproducible pattern, blk-flush).
 */
#include <keel/blkdev.h>
#include <keel/commands.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/nvme.h>
#include <keel/pci.h>
#include <keel/pci_irq.h>
#include <lib/crc32.h>
#include <lib/printf.h>


static int cmd_lspci(int argc, char **argv)
{
	if (!pci_probe_wait(10000000000ull))
		kprintf("lspci: device probing still running\n");
	for (struct pci_dev *d = pci_first(); d; d = d->next) {
		char bdf[16];
		pci_format_bdf(d, bdf, sizeof(bdf));
		kprintf("%s %s [%02x%02x]: %s [%04x:%04x]", bdf + 5, pci_class_name(d),
			d->class_code, d->subclass, pci_vendor_name(d->vendor), d->vendor, d->device);
		if (d->revision)
			kprintf(" (rev %02x)", d->revision);
		if (d->driver)
			kprintf("  driver: %s", d->driver->name);
		kprintf("\n");
		if (argc > 1 && !strcmp(argv[1], "-v")) {
			for (int i = 0; i < PCI_BARS; i++)
				if (d->bars[i].size_bytes)
					kprintf("\tBAR%d: %s at %#llx, %llu bytes%s\n", i,
						d->bars[i].is_io ? "I/O ports" : "memory",
						(unsigned long long)d->bars[i].base,
						(unsigned long long)d->bars[i].size_bytes,
						d->bars[i].is_64 ? ", 64-bit" : "");
			kprintf("\tcaps:%s%s%s, INTx pin %u line %u, Xen %s\n",
				d->msix_cap ? " MSI-X" : "", d->msi_cap ? " MSI" : "",
				d->pcie_cap ? " PCIe" : "", d->irq_pin, d->irq_line,
				d->xen_added ? "told" : "NOT told");
		}
	}
	return 0;
}

/* lsblk's human sizes: 1 decimal below 10 units, none when exact. */
static void human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "BKMGTP";
	int u = 0;
	uint64_t whole = bytes, frac10 = 0;

	while (whole >= 1024 && u < 5) {
		frac10 = ((whole % 1024) * 10 + 512) / 1024;
		whole /= 1024;
		u++;
	}
	if (frac10 >= 10) {
		whole++;
		frac10 = 0;
	}
	if (u == 0 || frac10 == 0 || whole >= 10)
		ksnprintf(buf, len, "%llu%c", (unsigned long long)(whole + (whole >= 10 && frac10 >= 5)),
			  units[u]);
	else
		ksnprintf(buf, len, "%llu.%llu%c", (unsigned long long)whole,
			  (unsigned long long)frac10, units[u]);
}

static const char *type_name(enum blkdev_type t)
{
	return t == BLKDEV_DISK ? "disk" : t == BLKDEV_PART ? "part" : "lvm";
}

/* Tree drawing as `lsblk --ascii` does it: "|-" for a child with a later
 * sibling, "`-" for the last one, "| " continuing an open branch. */
static void lsblk_tree(struct blkdev *parent, const char *prefix, bool bytes)
{
	struct blkdev *last = NULL;
	for (struct blkdev *d = blkdev_first(); d; d = d->next)
		if (d->parent == parent)
			last = d;
	for (struct blkdev *d = blkdev_first(); d; d = d->next) {
		if (d->parent != parent)
			continue;
		char size[24], name[64], line[96], sub[48];
		if (bytes)
			ksnprintf(size, sizeof(size), "%llu",
				  (unsigned long long)(d->nr_sectors * SECTOR_BYTES));
		else
			human_size(d->nr_sectors * SECTOR_BYTES, size, sizeof(size));
		if (d->type == BLKDEV_LVM) {
			/* lsblk shows an LV as VG-LV, dashes inside names doubled. */
			size_t j = 0;
			for (const char *p = d->name; *p && j + 2 < sizeof(name); p++) {
				if (*p == '-')
					name[j++] = '-';
				name[j++] = *p == '/' ? '-' : *p;
			}
			name[j] = 0;
		} else {
			ksnprintf(name, sizeof(name), "%s", d->name);
		}
		ksnprintf(line, sizeof(line), "%s%s%s", prefix, parent ? (d == last ? "`-" : "|-") : "",
			  name);
		kprintf("%-20s %3u:%-3u %2d %*s %2d %-4s %s\n", line, d->major, d->minor,
			d->removable, bytes ? 12 : 5, size, d->read_only, type_name(d->type),
			d->holder);
		ksnprintf(sub, sizeof(sub), "%s%s", prefix, parent ? (d == last ? "  " : "| ") : "");
		lsblk_tree(d, sub, bytes);
	}
}

static int cmd_lsblk(int argc, char **argv)
{
	bool bytes = argc > 1 && !strcmp(argv[1], "-b");

	if (!pci_probe_wait(10000000000ull))
		kprintf("lsblk: device probing still running\n");
	kprintf("%-20s MAJ:MIN RM %*s RO TYPE USED BY\n", "NAME", bytes ? 12 : 5, "SIZE");
	lsblk_tree(NULL, "", bytes);
	return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s)
		return -EINVAL;
	*out = strtoull(s, &end, 0);
	return *end ? -EINVAL : 0;
}

/* DEV OFFSET LEN: offsets and lengths in bytes, multiples of 512. */
static int range_args(const char *cmd, int argc, char **argv, struct blkdev **dev,
		      uint64_t *off, uint64_t *len)
{
	if (argc < 4) {
		kprintf("usage: %s DEV OFFSET LEN\n", cmd);
		return -EINVAL;
	}
	pci_probe_wait(10000000000ull);
	*dev = blkdev_find(argv[1]);
	if (!*dev) {
		kprintf("%s: %s: no such block device\n", cmd, argv[1]);
		return -ENOENT;
	}
	if (parse_u64(argv[2], off) || parse_u64(argv[3], len) || (*off % 512) || (*len % 512) ||
	    !*len) {
		kprintf("%s: OFFSET and LEN must be byte counts, multiples of 512\n", cmd);
		return -EINVAL;
	}
	if (*off / 512 > (*dev)->nr_sectors || *len / 512 > (*dev)->nr_sectors - *off / 512) {
		kprintf("%s: %s: range past the end (%llu sectors)\n", cmd, argv[1],
			(unsigned long long)(*dev)->nr_sectors);
		return -ENOSPC;
	}
	return 0;
}

#define CHUNK_PAGES 16

/* The test pattern: 64-bit word at byte position p is splitmix64(seed + p/8). */
static uint64_t splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

/*
 * Reads, or writes the test pattern of `seed` over, LEN bytes at OFF in
 * chunks, and prints the CRC-32 of the bytes (as Python's zlib.crc32).
 */
static int blk_rw_command(const char *cmd, int argc, char **argv, bool write)
{
	struct blkdev *dev;
	uint64_t off, len, seed = 0;
	int rc = range_args(cmd, argc, argv, &dev, &off, &len);
	if (rc)
		return rc;
	if (write && (argc < 5 || parse_u64(argv[4], &seed))) {
		kprintf("usage: blk-write DEV OFFSET LEN SEED\n");
		return -EINVAL;
	}
	char *buf = page_alloc(CHUNK_PAGES);
	if (!buf)
		return -ENOMEM;
	uint32_t crc = ~0u;
	for (uint64_t done = 0; done < len;) {
		size_t n = (size_t)MIN(len - done, (uint64_t)CHUNK_PAGES * PAGE_SIZE);
		if (write) {
			uint64_t *w = (uint64_t *)buf;
			for (size_t i = 0; i < n / 8; i++)
				w[i] = splitmix64(seed + (off + done) / 8 + i);
			rc = blk_write_sync(dev, (off + done) / 512, buf, n);
		} else {
			rc = blk_read_sync(dev, (off + done) / 512, buf, n);
		}
		if (rc) {
			kprintf("%s: %s: I/O error %d at byte %llu\n", cmd, dev->name, rc,
				(unsigned long long)(off + done));
			break;
		}
		crc = crc32_update(crc, buf, n);
		done += n;
	}
	if (!rc && write)
		rc = blk_flush_sync(dev);
	if (!rc)
		kprintf("%s: %s: %llu bytes at %llu crc32 %08x%s\n", cmd, dev->name,
			(unsigned long long)len, (unsigned long long)off, ~crc,
			write ? ", flushed" : "");
	page_free(buf, CHUNK_PAGES);
	return rc;
}

static int cmd_blk_read(int argc, char **argv)
{
	return blk_rw_command("blk-read", argc, argv, false);
}

static int cmd_blk_write(int argc, char **argv)
{
	return blk_rw_command("blk-write", argc, argv, true);
}

/* `blk-discard DEV OFF LEN`, as Linux's blkdiscard -o OFF -l LEN DEV. */
static int cmd_blk_discard(int argc, char **argv)
{
	struct blkdev *dev;
	uint64_t off, len;
	int rc = range_args("blk-discard", argc, argv, &dev, &off, &len);
	if (rc)
		return rc;
	if (!blkdev_disk_of(dev)->can_discard) {
		kprintf("blk-discard: %s: the device does not discard\n", dev->name);
		return -EOPNOTSUPP;
	}
	rc = blk_discard_sync(dev, off / 512, len / 512);
	if (rc)
		kprintf("blk-discard: %s: error %d\n", dev->name, rc);
	else
		kprintf("blk-discard: %s: %llu bytes at %llu discarded\n", dev->name,
			(unsigned long long)len, (unsigned long long)off);
	return rc;
}

int cmd_blk_bench(int argc, char **argv);  /* bench.c */

const struct command device_commands[] = {
	{ "lspci", cmd_lspci, "[-v]", "PCI devices (bus:dev.fn class vendor:device driver)" },
	{ "lsblk", cmd_lsblk, "[-b]", "block devices: disks, partitions, LVM volumes" },
	{ "blk-read", cmd_blk_read, "DEV OFF LEN", "read bytes, print their CRC-32" },
	{ "blk-write", cmd_blk_write, "DEV OFF LEN SEED", "write a test pattern, flush" },
	{ "blk-discard", cmd_blk_discard, "DEV OFF LEN", "discard a byte range (blkdiscard)" },
	{ "blk-bench", cmd_blk_bench, "DEV [-w] [-t S]", "raw MB/s and IOPS (-w: writes, destroys data)" },
	{ "nvme", nvme_command, "list|inject-timeout C [N]|timeout S", "NVMe controllers; test hooks" },
	{ NULL, NULL, NULL, NULL },
};

/*
 * PCI enumeration and configuration space for dom0.
 *
 * Configuration space: where the ACPI MCFG table describes an ECAM window
 * (q35, every PCIe server), reads go through it: Xen maps it read-only for
 * dom0 after we confirm it (PHYSDEVOP_pci_mmcfg_reserved), a read is a plain
 * load instead of a trap into Xen, and the extended space past byte 256 is
 * reachable.  Writes, and every access on machines without MCFG (i440fx),
 * use the legacy ports 0xcf8/0xcfc, which Xen emulates with its own checks.
 * Every function found is reported to Xen (PHYSDEVOP_pci_device_add): Xen
 * refuses MSI for devices it was not told of.
 *
 * Drivers are matched against the list at boot but probe in a thread of
 * their own ("pci-probe"), so controller resets and identify commands never
 * delay the prompt.
 */
#include <arch/io.h>
#include <keel/acpi.h>
#include <keel/hypercall.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include <keel/pci.h>
#include <keel/power.h>
#include <keel/sync.h>
#include <lib/printf.h>

#define CFG_ADDR 0xcf8
#define CFG_DATA 0xcfc
#define MAX_BUSES 256

static struct pci_dev *dev_list;
static struct spinlock cfg_lock = SPINLOCK_INIT("pci config ports");
static struct completion probe_done;
static unsigned int nr_devices;
static struct power_hook shutdown_hook;

static const struct pci_driver *const drivers[] = {
	&virtio_blk_driver,
	&nvme_driver,
	&virtio_net_driver,
	&e1000_driver,
};

struct pci_dev *pci_first(void)
{
	return dev_list;
}

static uint32_t cfg_addr(uint8_t bus, uint8_t slot, uint8_t fn, unsigned int off)
{
	return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)slot << 11 | (uint32_t)fn << 8 |
	       (off & 0xfc);
}

/* Raw reads used before a struct pci_dev exists. */
static volatile uint8_t *ecam_fn(uint8_t bus, uint8_t slot, uint8_t fn);

static uint32_t raw_read32(uint8_t bus, uint8_t slot, uint8_t fn, unsigned int off)
{
	volatile uint8_t *e = ecam_fn(bus, slot, fn);
	if (e)
		return mmio_read32(e + (off & 0xffc));
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(bus, slot, fn, off));
	uint32_t v = inl(CFG_DATA);
	spin_unlock_irqrestore(&cfg_lock, f);
	return v;
}

/* ECAM: the MCFG window of segment 0, mapped one slot (8 functions) at a time. */
static struct {
	uint64_t base;
	uint8_t start_bus, end_bus;
	bool present;
	volatile uint8_t **slots[MAX_BUSES];  /* [bus][slot] -> 32 KiB mapping */
} ecam;

static volatile uint8_t *ecam_fn(uint8_t bus, uint8_t slot, uint8_t fn)
{
	if (!ecam.present || bus < ecam.start_bus || bus > ecam.end_bus)
		return NULL;
	if (!ecam.slots[bus]) {
		ecam.slots[bus] = kzalloc(32 * sizeof(*ecam.slots[bus]));
		if (!ecam.slots[bus])
			return NULL;
	}
	if (!ecam.slots[bus][slot]) {
		uint64_t ma = ecam.base + ((uint64_t)(bus - ecam.start_bus) << 20) +
			      ((uint64_t)slot << 15);
		ecam.slots[bus][slot] = ioremap(ma, 8 * PAGE_SIZE, false);
		if (!ecam.slots[bus][slot])
			return NULL;
	}
	return ecam.slots[bus][slot] + ((unsigned int)fn << 12);
}

static void ecam_init(void)
{
	struct acpi_mcfg_entry e[4];
	size_t n;

	if (acpi_find_mcfg(acpi_ioremap_read, NULL, e, ARRAY_SIZE(e), &n))
		return;
	for (size_t i = 0; i < n; i++) {
		if (e[i].segment != 0)
			continue;  /* keel scans segment 0 only */
		struct physdev_pci_mmcfg_reserved r = {
			.address = e[i].base, .segment = 0, .start_bus = e[i].start_bus,
			.end_bus = e[i].end_bus, .flags = XEN_PCI_MMCFG_RESERVED,
		};
		long rc = hyp_physdev_op(PHYSDEVOP_pci_mmcfg_reserved, &r);
		if (rc) {
			klog("pci: Xen refused the MCFG window at %#llx (%ld): using ports\n",
			     (unsigned long long)e[i].base, rc);
			return;
		}
		ecam.base = e[i].base;
		ecam.start_bus = e[i].start_bus;
		ecam.end_bus = e[i].end_bus;
		ecam.present = true;
		klog("pci: ECAM at %#llx for buses %02x-%02x\n", (unsigned long long)ecam.base,
		     ecam.start_bus, ecam.end_bus);
		return;
	}
}

bool pci_has_ecam(void)
{
	return ecam.present;
}

uint32_t pci_cfg_read32(const struct pci_dev *d, unsigned int off)
{
	volatile uint8_t *e = ecam_fn(d->bus, d->slot, d->fn);
	if (e)
		return mmio_read32(e + (off & 0xffc));
	if (off >= 256)
		return 0xffffffff;
	return raw_read32(d->bus, d->slot, d->fn, off);
}

uint16_t pci_cfg_read16(const struct pci_dev *d, unsigned int off)
{
	volatile uint8_t *e = ecam_fn(d->bus, d->slot, d->fn);
	if (e)
		return mmio_read16(e + (off & 0xffe));
	if (off >= 256)
		return 0xffff;
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(d->bus, d->slot, d->fn, off));
	uint16_t v = inw(CFG_DATA + (off & 2));
	spin_unlock_irqrestore(&cfg_lock, f);
	return v;
}

uint8_t pci_cfg_read8(const struct pci_dev *d, unsigned int off)
{
	volatile uint8_t *e = ecam_fn(d->bus, d->slot, d->fn);
	if (e)
		return mmio_read8(e + (off & 0xfff));
	if (off >= 256)
		return 0xff;
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(d->bus, d->slot, d->fn, off));
	uint8_t v = inb(CFG_DATA + (off & 3));
	spin_unlock_irqrestore(&cfg_lock, f);
	return v;
}

void pci_cfg_write32(const struct pci_dev *d, unsigned int off, uint32_t v)
{
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(d->bus, d->slot, d->fn, off));
	outl(CFG_DATA, v);
	spin_unlock_irqrestore(&cfg_lock, f);
}

void pci_cfg_write16(const struct pci_dev *d, unsigned int off, uint16_t v)
{
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(d->bus, d->slot, d->fn, off));
	outw(CFG_DATA + (off & 2), v);
	spin_unlock_irqrestore(&cfg_lock, f);
}

void pci_cfg_write8(const struct pci_dev *d, unsigned int off, uint8_t v)
{
	unsigned long f = spin_lock_irqsave(&cfg_lock);
	outl(CFG_ADDR, cfg_addr(d->bus, d->slot, d->fn, off));
	outb(CFG_DATA + (off & 3), v);
	spin_unlock_irqrestore(&cfg_lock, f);
}

unsigned int pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned int from)
{
	unsigned int off;

	if (!(pci_cfg_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	off = from ? pci_cfg_read8(d, from + 1) : pci_cfg_read8(d, PCI_CAP_PTR);
	/* At most 48 capabilities fit in 192 bytes: a longer walk is a loop. */
	for (int guard = 0; guard < 48 && off >= 0x40; guard++) {
		off &= 0xfc;
		if (pci_cfg_read8(d, off) == id)
			return off;
		off = pci_cfg_read8(d, off + 1);
	}
	return 0;
}

void pci_enable_device(struct pci_dev *d)
{
	uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
	pci_cfg_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

void pci_disable_bus_master(struct pci_dev *d)
{
	uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
	pci_cfg_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MASTER);
}

/* Sizes each BAR by writing all ones with decoding off, as the spec says. */
static void size_bars(struct pci_dev *d)
{
	unsigned int nbars = (d->header_type & 0x7f) == 0 ? 6 : 2;
	uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);

	pci_cfg_write16(d, PCI_COMMAND, cmd & ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY));
	for (unsigned int i = 0; i < nbars; i++) {
		unsigned int off = PCI_BAR0 + 4 * i;
		uint32_t orig = pci_cfg_read32(d, off);
		struct pci_bar *b = &d->bars[i];

		pci_cfg_write32(d, off, 0xffffffff);
		uint32_t mask = pci_cfg_read32(d, off);
		pci_cfg_write32(d, off, orig);
		if (orig & 1) {
			b->is_io = true;
			b->base = orig & ~3u;
			uint32_t sz = mask & ~3u & 0xffff;
			b->size_bytes = sz ? (~sz & 0xffff) + 1 : 0;
			continue;
		}
		b->prefetchable = orig & 8;
		uint64_t base = orig & ~0xfu;
		uint64_t szmask = mask & ~0xfu;
		if (((orig >> 1) & 3) == 2 && i + 1 < nbars) {
			uint32_t orig_hi = pci_cfg_read32(d, off + 4);
			pci_cfg_write32(d, off + 4, 0xffffffff);
			uint32_t mask_hi = pci_cfg_read32(d, off + 4);
			pci_cfg_write32(d, off + 4, orig_hi);
			base |= (uint64_t)orig_hi << 32;
			szmask |= (uint64_t)mask_hi << 32;
			b->is_64 = true;
			i++;
		} else if (szmask) {
			szmask |= 0xffffffff00000000ull;
		}
		b->base = base;
		b->size_bytes = szmask ? ~szmask + 1 : 0;
	}
	pci_cfg_write16(d, PCI_COMMAND, cmd);
}

/* Xen wants to know of every function before it allows MSI on it. */
static void tell_xen(struct pci_dev *d)
{
	struct physdev_pci_device_add add = {
		.seg = d->seg, .bus = d->bus, .devfn = (uint8_t)(d->slot << 3 | d->fn),
	};
	long rc = hyp_physdev_op(PHYSDEVOP_pci_device_add, &add);
	d->xen_added = rc == 0 || rc == -EEXIST;
	if (!d->xen_added) {
		char bdf[16];
		pci_format_bdf(d, bdf, sizeof(bdf));
		klog("pci: %s: Xen refused PHYSDEVOP_pci_device_add (%ld): no MSI for it\n", bdf, rc);
	}
}

static void scan_bus(uint8_t bus, bool seen[MAX_BUSES], struct pci_dev ***tail);

static void add_function(uint8_t bus, uint8_t slot, uint8_t fn, bool seen[MAX_BUSES],
			 struct pci_dev ***tail)
{
	uint32_t id = raw_read32(bus, slot, fn, PCI_VENDOR_ID);
	struct pci_dev *d = kzalloc(sizeof(*d));

	if (!d) {
		klog("pci: out of memory at %02x:%02x.%x\n", bus, slot, fn);
		return;
	}
	d->bus = bus;
	d->slot = slot;
	d->fn = fn;
	d->vendor = id & 0xffff;
	d->device = id >> 16;
	uint32_t cr = pci_cfg_read32(d, PCI_CLASS_REVISION);
	d->revision = cr & 0xff;
	d->prog_if = (cr >> 8) & 0xff;
	d->subclass = (cr >> 16) & 0xff;
	d->class_code = cr >> 24;
	d->header_type = pci_cfg_read8(d, PCI_HEADER_TYPE);
	if ((d->header_type & 0x7f) == 0) {
		uint32_t ss = pci_cfg_read32(d, PCI_SUBSYSTEM_VENDOR);
		d->subsys_vendor = ss & 0xffff;
		d->subsys_device = ss >> 16;
	}
	d->irq_line = pci_cfg_read8(d, PCI_INTERRUPT_LINE);
	d->irq_pin = pci_cfg_read8(d, PCI_INTERRUPT_PIN);
	d->msi_cap = pci_find_cap(d, PCI_CAP_ID_MSI, 0);
	d->msix_cap = pci_find_cap(d, PCI_CAP_ID_MSIX, 0);
	d->pcie_cap = pci_find_cap(d, PCI_CAP_ID_EXP, 0);
	size_bars(d);
	tell_xen(d);
	**tail = d;
	*tail = &d->next;
	nr_devices++;
	/* A PCI-to-PCI bridge: its secondary bus follows. */
	if ((d->header_type & 0x7f) == 1) {
		uint8_t sec = pci_cfg_read8(d, PCI_SECONDARY_BUS);
		if (sec && !seen[sec])
			scan_bus(sec, seen, tail);
	}
}

static void scan_bus(uint8_t bus, bool seen[MAX_BUSES], struct pci_dev ***tail)
{
	seen[bus] = true;
	for (uint8_t slot = 0; slot < 32; slot++) {
		/* Each probe of a slot traps to Xen: let the shell run between. */
		thread_yield();
		uint32_t id = raw_read32(bus, slot, 0, PCI_VENDOR_ID);
		if ((id & 0xffff) == 0xffff)
			continue;
		uint8_t ht = (raw_read32(bus, slot, 0, 0x0c) >> 16) & 0xff;
		unsigned int nfn = (ht & 0x80) ? 8 : 1;
		for (uint8_t fn = 0; fn < nfn; fn++) {
			if (fn && (raw_read32(bus, slot, fn, PCI_VENDOR_ID) & 0xffff) == 0xffff)
				continue;
			add_function(bus, slot, fn, seen, tail);
		}
	}
}

static void scan_all(void);

static void probe_thread(void *unused)
{
	(void)unused;
	ecam_init();
	scan_all();
	for (struct pci_dev *d = dev_list; d; d = d->next) {
		for (size_t i = 0; i < ARRAY_SIZE(drivers); i++) {
			if (!drivers[i]->match(d))
				continue;
			char bdf[16];
			pci_format_bdf(d, bdf, sizeof(bdf));
			d->driver = drivers[i];
			d->probe_status = drivers[i]->probe(d);
			if (d->probe_status) {
				klog("pci: %s: %s probe failed (%d)\n", bdf, drivers[i]->name,
				     d->probe_status);
				d->driver = NULL;
			}
			break;
		}
	}
	unsigned int n = 0;
	for (struct pci_dev *d = dev_list; d; d = d->next)
		n++;
	uint64_t us = (time_now_ns() - boot_entry_ns) / 1000;
	klog("pci: %u functions scanned, drivers probed, %llu.%03llu ms after entry\n", n,
	     (unsigned long long)(us / 1000), (unsigned long long)(us % 1000));
	complete(&probe_done);
	thread_exit();
}

/* Enumerates every bus reachable from the host bridge(s). */
static void scan_all(void)
{
	static bool seen[MAX_BUSES];
	struct pci_dev **tail = &dev_list;

	scan_bus(0, seen, &tail);
	/* Host bridge 00:00.0 multi-function means one root bus per function. */
	uint8_t ht0 = (raw_read32(0, 0, 0, 0x0c) >> 16) & 0xff;
	if (ht0 & 0x80) {
		for (uint8_t fn = 1; fn < 8; fn++)
			if ((raw_read32(0, 0, fn, 0) & 0xffff) != 0xffff && !seen[fn])
				scan_bus(fn, seen, &tail);
	}
}

/*
 * Every configuration access traps to Xen, which under emulation costs tens
 * of microseconds: the scan itself runs in the probe thread too, so the
 * prompt does not wait for it.  lspci and lsblk wait for the thread.
 */
void pci_init(void)
{
	struct physdev_set_iopl iopl = { .iopl = 1 };

	completion_init(&probe_done);
	power_register_shutdown_hook(&shutdown_hook);
	if (hyp_physdev_op(PHYSDEVOP_set_iopl, &iopl)) {
		klog("pci: no I/O privilege: no PCI devices\n");
		complete(&probe_done);
		return;
	}
	if (!thread_create("pci-probe", probe_thread, NULL)) {
		klog("pci: cannot start the probe thread\n");
		complete(&probe_done);
	}
}

bool pci_probe_wait(uint64_t timeout_ns)
{
	return completion_wait(&probe_done, timeout_ns);
}

static void shutdown_hook_fn(void *ctx, enum power_action action)
{
	(void)ctx;
	(void)action;
	pci_shutdown_all();
}

/* After the guests are gone (POWER_STAGE_GUESTS), before the machine goes
 * down: every disk's write cache flushed, every device stopped. */
static struct power_hook shutdown_hook = {
	.name = "disks: flush and stop devices",
	.stage = POWER_STAGE_DEVICES,
	.fn = shutdown_hook_fn,
};

void pci_shutdown_all(void)
{
	if (!completion_done(&probe_done))
		completion_wait(&probe_done, 5000000000ull);
	for (struct pci_dev *d = dev_list; d; d = d->next)
		if (d->driver && d->driver->shutdown)
			d->driver->shutdown(d);
}

/* The MSI-X table and PBA pages of a device, which Xen keeps read-only. */
static bool overlaps_msix(const struct pci_dev *d, unsigned int bar, uint64_t off, size_t len)
{
	if (!d->msix_cap)
		return false;
	for (int which = 0; which < 2; which++) {
		uint32_t v = pci_cfg_read32(d, d->msix_cap + 4 + 4 * which);
		if ((v & 7) != bar)
			continue;
		uint64_t start = ALIGN_DOWN((uint64_t)(v & ~7u), PAGE_SIZE);
		uint16_t ctrl = pci_cfg_read16(d, d->msix_cap + 2);
		uint64_t bytes = which == 0 ? ((ctrl & 0x7ff) + 1) * 16ull
					    : ALIGN_UP((uint64_t)(ctrl & 0x7ff) + 1, 64) / 8;
		uint64_t end = ALIGN_UP((v & ~7u) + bytes, PAGE_SIZE);
		if (off < end && off + len > start)
			return true;
	}
	return false;
}

void *pci_map_bar(struct pci_dev *d, unsigned int bar, uint64_t offset, size_t len)
{
	char bdf[16];

	pci_format_bdf(d, bdf, sizeof(bdf));
	if (bar >= PCI_BARS || d->bars[bar].is_io || !d->bars[bar].size_bytes ||
	    offset > d->bars[bar].size_bytes || len > d->bars[bar].size_bytes - offset) {
		klog("pci: %s: BAR%u range %#llx+%#zx is not in a memory BAR\n", bdf, bar,
		     (unsigned long long)offset, len);
		return NULL;
	}
	if (overlaps_msix(d, bar, offset, len)) {
		klog("pci: %s: BAR%u range %#llx+%#zx covers the MSI-X table (Xen's)\n", bdf, bar,
		     (unsigned long long)offset, len);
		return NULL;
	}
	void *va = ioremap(d->bars[bar].base + offset, len, true);
	if (!va)
		klog("pci: %s: cannot map BAR%u range %#llx+%#zx\n", bdf, bar,
		     (unsigned long long)offset, len);
	return va;
}

void pci_unmap_bar(void *va, size_t len)
{
	iounmap(va, len);
}

void pci_format_bdf(const struct pci_dev *d, char *buf, size_t len)
{
	ksnprintf(buf, len, "%04x:%02x:%02x.%x", d->seg, d->bus, d->slot, d->fn);
}

const char *pci_class_name(const struct pci_dev *d)
{
	static const struct {
		uint8_t cls, sub;
		const char *name;
	} names[] = {
		{ 0x01, 0x00, "SCSI storage controller" },
		{ 0x01, 0x01, "IDE interface" },
		{ 0x01, 0x06, "SATA controller" },
		{ 0x01, 0x08, "Non-Volatile memory controller" },
		{ 0x01, 0x80, "Mass storage controller" },
		{ 0x02, 0x00, "Ethernet controller" },
		{ 0x03, 0x00, "VGA compatible controller" },
		{ 0x06, 0x00, "Host bridge" },
		{ 0x06, 0x01, "ISA bridge" },
		{ 0x06, 0x04, "PCI bridge" },
		{ 0x06, 0x80, "Bridge" },
		{ 0x0c, 0x03, "USB controller" },
		{ 0x0c, 0x05, "SMBus" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (names[i].cls == d->class_code && names[i].sub == d->subclass)
			return names[i].name;
	if (d->class_code == 0x01)
		return "Mass storage controller";
	if (d->class_code == 0x02)
		return "Network controller";
	if (d->class_code == 0xff)
		return "Unassigned class";
	return "Device";
}

const char *pci_vendor_name(uint16_t vendor)
{
	switch (vendor) {
	case 0x8086:
		return "Intel Corporation";
	case 0x1af4:
	case 0x1b36:
		return "Red Hat, Inc.";
	case 0x1234:
		return "Device";
	case 0x10ec:
		return "Realtek Semiconductor Co., Ltd.";
	case 0x144d:
		return "Samsung Electronics Co Ltd";
	default:
		return "Device";
	}
}

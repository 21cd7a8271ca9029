/*
 * PCI: configuration space, the device list, BARs, capabilities, and the
 * binding of keel's drivers to devices (drivers/pci/).  Interrupts of a
 * device (MSI-X, MSI, INTx through Xen's PIRQs) are in <keel/pci_irq.h>.
 *
 * Enumeration runs at boot (pci_init: config reads only, no driver code);
 * drivers probe later in the "pci-probe" thread so that a slow device never
 * delays the prompt.  The device list is built once and never shrinks, so a
 * struct pci_dev pointer stays valid for dom0's lifetime.
 */
#ifndef KEEL_PCI_H
#define KEEL_PCI_H

#include <lib/base.h>

#define PCI_BARS 6

struct pci_bar {
	uint64_t base;        /* bus (= machine) address or I/O port */
	uint64_t size_bytes;  /* 0: BAR not implemented */
	bool is_io;
	bool is_64;
	bool prefetchable;
};

struct pci_driver;

struct pci_dev {
	uint16_t seg;
	uint8_t bus, slot, fn;
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;
	uint8_t class_code, subclass, prog_if, revision;
	uint8_t header_type;
	uint8_t irq_line, irq_pin;  /* firmware's INTx routing (pin 0: none) */
	uint8_t msi_cap, msix_cap, pcie_cap;  /* config offsets, 0 if absent */
	bool xen_added;       /* PHYSDEVOP_pci_device_add accepted (or knew it) */
	struct pci_bar bars[PCI_BARS];
	const struct pci_driver *driver;  /* bound driver, NULL if none */
	int probe_status;     /* the driver's probe result (0 or -errno) */
	void *driver_data;
	struct pci_dev *next;
};

/* A driver: match by vendor/device or class, probe in the probe thread. */
struct pci_driver {
	const char *name;
	bool (*match)(const struct pci_dev *dev);
	/* Sets the device up; 0 or -errno (the device stays unbound). May sleep. */
	int (*probe)(struct pci_dev *dev);
	/* Quiesces the device for poweroff/reboot (flush caches, stop DMA). */
	void (*shutdown)(struct pci_dev *dev);
};

/* Scans every bus, tells Xen about each device, starts the probe thread. */
void pci_init(void);
/* Runs every bound driver's shutdown (poweroff/reboot). May sleep. */
void pci_shutdown_all(void);
/* The device list (in bus order). */
struct pci_dev *pci_first(void);
/* Sleeps until the probe thread has run every driver (or timeout); true if done. */
bool pci_probe_wait(uint64_t timeout_ns);

/* Reads past byte 255 need ECAM (MCFG); without it they read as all ones.
 * Writes always go through the legacy ports and reach bytes 0-255 only. */
bool pci_has_ecam(void);
uint8_t pci_cfg_read8(const struct pci_dev *d, unsigned int off);
uint16_t pci_cfg_read16(const struct pci_dev *d, unsigned int off);
uint32_t pci_cfg_read32(const struct pci_dev *d, unsigned int off);
void pci_cfg_write8(const struct pci_dev *d, unsigned int off, uint8_t v);
void pci_cfg_write16(const struct pci_dev *d, unsigned int off, uint16_t v);
void pci_cfg_write32(const struct pci_dev *d, unsigned int off, uint32_t v);

/* Finds capability `id` starting after config offset `from` (0: from the
 * start); returns its offset or 0.  The walk is bounded (a looping list in
 * a broken device ends it). */
unsigned int pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned int from);

/* Turns on memory decoding and bus mastering (DMA). */
void pci_enable_device(struct pci_dev *d);
/* Turns bus mastering off: the device can no longer DMA. */
void pci_disable_bus_master(struct pci_dev *d);

/*
 * Maps [offset, offset+len) of memory BAR `bar`, uncached.  Pages holding
 * the MSI-X table or PBA are mapped read-only (Xen owns them and refuses
 * dom0 writable mappings).  Returns the address of `offset`, or NULL.
 */
void *pci_map_bar(struct pci_dev *d, unsigned int bar, uint64_t offset, size_t len);
void pci_unmap_bar(void *va, size_t len);

/* "0000:00:04.0" into buf (at least 13 bytes). */
void pci_format_bdf(const struct pci_dev *d, char *buf, size_t len);
/* Short text for the class ("NVM Express", "SCSI storage controller"...). */
const char *pci_class_name(const struct pci_dev *d);
/* Vendor name as lspci prints it ("Intel Corporation"), or "Device". */
const char *pci_vendor_name(uint16_t vendor);

/* Standard config registers and capability ids used by keel. */
#define PCI_VENDOR_ID 0x00
#define PCI_COMMAND 0x04
#define PCI_COMMAND_IO 0x1
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS 0x06
#define PCI_STATUS_CAP_LIST 0x10
#define PCI_CLASS_REVISION 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19
#define PCI_SUBSYSTEM_VENDOR 0x2c
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d
#define PCI_CAP_ID_MSI 0x05
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_EXP 0x10
#define PCI_CAP_ID_MSIX 0x11

/* Per-driver entry points, listed in drivers/pci/pci.c's driver table. */
extern const struct pci_driver virtio_blk_driver;
extern const struct pci_driver nvme_driver;
extern const struct pci_driver virtio_net_driver;
extern const struct pci_driver e1000_driver;

#endif

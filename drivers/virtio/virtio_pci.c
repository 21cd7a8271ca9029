/*
 * virtio 1.0 PCI transport (see include/keel/virtio_pci.h).  Register
 * windows are found through vendor-specific capabilities (cfg_type 1
 * common, 2 notify, 3 ISR, 4 device), each mapped on its own so no mapping
 * ever covers the MSI-X table Xen keeps.  All virtio fields are
 * little-endian, as x86 is.
 */
#include <arch/io.h>
#include <keel/kernel.h>
#include <keel/virtio_pci.h>

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* Common configuration register offsets (virtio 1.0, 4.1.4.3). */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX 0x10
#define C_NUMQ 0x12
#define C_STATUS 0x14
#define C_QSELECT 0x16
#define C_QSIZE 0x18
#define C_QMSIX 0x1a
#define C_QENABLE 0x1c
#define C_QNOFF 0x1e
#define C_QDESC 0x20
#define C_QAVAIL 0x28
#define C_QUSED 0x30

static void *map_cap(struct pci_dev *d, unsigned int cap, uint32_t *len_out)
{
	uint8_t bar = pci_cfg_read8(d, cap + 4);
	uint32_t off = pci_cfg_read32(d, cap + 8);
	uint32_t len = pci_cfg_read32(d, cap + 12);

	if (len_out)
		*len_out = len;
	if (len == 0 || len > 1u << 20)
		return NULL;
	return pci_map_bar(d, bar, off, len);
}

int virtio_pci_init(struct virtio_pci *vp, struct pci_dev *d)
{
	vp->pci = d;
	for (unsigned int cap = pci_find_cap(d, PCI_CAP_ID_VNDR, 0); cap;
	     cap = pci_find_cap(d, PCI_CAP_ID_VNDR, cap)) {
		uint8_t type = pci_cfg_read8(d, cap + 3);
		if (type == CAP_COMMON && !vp->common)
			vp->common = map_cap(d, cap, NULL);
		else if (type == CAP_ISR && !vp->isr)
			vp->isr = map_cap(d, cap, NULL);
		else if (type == CAP_DEVICE && !vp->device_cfg)
			vp->device_cfg = map_cap(d, cap, NULL);
		else if (type == CAP_NOTIFY && !vp->notify_base) {
			vp->notify_base = map_cap(d, cap, NULL);
			vp->notify_mult = pci_cfg_read32(d, cap + 16);
		}
	}
	if (!vp->common || !vp->isr || !vp->device_cfg || !vp->notify_base)
		return -ENODEV;  /* a legacy-only device: keel drives virtio 1.0 only */
	pci_enable_device(d);
	virtio_pci_reset(vp);
	mmio_write8(vp->common + C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	mmio_write8(vp->common + C_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	return 0;
}

void virtio_pci_reset(struct virtio_pci *vp)
{
	mmio_write8(vp->common + C_STATUS, 0);
	/* The reset is complete when the device reads back 0 (4.1.4.3.2). */
	for (int i = 0; i < 100000 && mmio_read8(vp->common + C_STATUS); i++)
		cpu_relax();
}

int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted)
{
	uint64_t dev = 0;

	for (uint32_t sel = 0; sel < 2; sel++) {
		mmio_write32(vp->common + C_DFSELECT, sel);
		dev |= (uint64_t)mmio_read32(vp->common + C_DF) << (32 * sel);
	}
	if (!(dev & (1ull << VIRTIO_F_VERSION_1)))
		return -ENODEV;
	vp->features = (dev & wanted) | (1ull << VIRTIO_F_VERSION_1);
	for (uint32_t sel = 0; sel < 2; sel++) {
		mmio_write32(vp->common + C_GFSELECT, sel);
		mmio_write32(vp->common + C_GF, (uint32_t)(vp->features >> (32 * sel)));
	}
	uint8_t st = mmio_read8(vp->common + C_STATUS);
	mmio_write8(vp->common + C_STATUS, st | VIRTIO_STATUS_FEATURES_OK);
	if (!(mmio_read8(vp->common + C_STATUS) & VIRTIO_STATUS_FEATURES_OK)) {
		mmio_write8(vp->common + C_STATUS, st | VIRTIO_STATUS_FAILED);
		return -ENODEV;
	}
	return 0;
}

int virtio_pci_setup_queue(struct virtio_pci *vp, struct virtqueue *vq, uint16_t q,
			   uint16_t max_size, uint16_t msix_vec)
{
	void *va;
	int rc;

	mmio_write16(vp->common + C_QSELECT, q);
	uint16_t size = mmio_read16(vp->common + C_QSIZE);
	if (size == 0)
		return -ENODEV;
	if (size > max_size)
		size = max_size;
	if (size > 256)
		size = 256;
	/* Queue sizes are powers of two in split rings. */
	while (size & (size - 1))
		size &= size - 1;
	vq->index = q;
	vq->size = size;
	vq->avail_idx = 0;
	vq->used_seen = 0;
	if ((rc = dma_alloc_page(&va, &vq->desc_dma)))
		return rc;
	vq->desc = va;
	if ((rc = dma_alloc_page(&va, &vq->avail_dma)))
		goto err_desc;
	vq->avail = va;
	if ((rc = dma_alloc_page(&va, &vq->used_dma)))
		goto err_avail;
	vq->used = va;
	mmio_write16(vp->common + C_QSIZE, size);
	mmio_write16(vp->common + C_QMSIX, msix_vec);
	if (msix_vec != 0xffff && mmio_read16(vp->common + C_QMSIX) != msix_vec) {
		rc = -EIO;
		goto err_used;
	}
	mmio_write64(vp->common + C_QDESC, dma_x(vq->desc_dma));
	mmio_write64(vp->common + C_QAVAIL, dma_x(vq->avail_dma));
	mmio_write64(vp->common + C_QUSED, dma_x(vq->used_dma));
	uint16_t noff = mmio_read16(vp->common + C_QNOFF);
	vq->notify = (volatile uint16_t *)(vp->notify_base + (uint32_t)noff * vp->notify_mult);
	mmio_write16(vp->common + C_QENABLE, 1);
	return 0;

err_used:
	dma_free_page((void *)vq->used);
err_avail:
	dma_free_page((void *)vq->avail);
err_desc:
	dma_free_page(vq->desc);
	return rc;
}

void virtio_pci_free_queue(struct virtqueue *vq)
{
	dma_free_page((void *)vq->used);
	dma_free_page((void *)vq->avail);
	dma_free_page(vq->desc);
}

void virtio_pci_driver_ok(struct virtio_pci *vp)
{
	uint8_t st = mmio_read8(vp->common + C_STATUS);
	mmio_write8(vp->common + C_STATUS, st | VIRTIO_STATUS_DRIVER_OK);
}

uint8_t virtio_pci_isr(struct virtio_pci *vp)
{
	return mmio_read8(vp->isr);
}

int virtio_pci_set_config_vector(struct virtio_pci *vp, uint16_t vec)
{
	mmio_write16(vp->common + C_MSIX, vec);
	if (vec != 0xffff && mmio_read16(vp->common + C_MSIX) != vec)
		return -EIO;
	return 0;
}

void virtq_publish(struct virtqueue *vq, uint16_t head)
{
	vq->avail[2 + (vq->avail_idx % vq->size)] = head;
	/* The ring entry must be visible before the index that publishes it. */
	dma_wmb();
	vq->avail_idx++;
	vq->avail[1] = vq->avail_idx;
}

void virtq_notify(struct virtqueue *vq)
{
	/* The index must be visible before the device is told to look. */
	mb();
	mmio_write16(vq->notify, vq->index);
}

uint16_t virtq_used_pending(const struct virtqueue *vq)
{
	uint16_t idx = *(const volatile uint16_t *)(vq->used + 2);

	return (uint16_t)(idx - vq->used_seen);
}

void virtq_peek_used(const struct virtqueue *vq, uint16_t n, uint32_t *id, uint32_t *len)
{
	/* Entries are read only after the index that covers them was seen
	 * (virtq_used_pending). */
	dma_rmb();
	const volatile struct virtq_used_elem *e =
		(const volatile struct virtq_used_elem *)(vq->used + 4) +
		((uint16_t)(vq->used_seen + n) % vq->size);
	*id = e->id;
	*len = e->len;
}

void virtq_push(struct virtqueue *vq, uint16_t head)
{
	vq->avail[2 + (vq->avail_idx % vq->size)] = head;
	/* The ring entry must be visible before the index that publishes it. */
	dma_wmb();
	vq->avail_idx++;
	vq->avail[1] = vq->avail_idx;
	/* The index must be visible before the device is told to look. */
	mb();
	mmio_write16(vq->notify, vq->index);
}

bool virtq_pop_used(struct virtqueue *vq, uint32_t *id, uint32_t *len)
{
	uint16_t idx = *(volatile uint16_t *)(vq->used + 2);

	if (idx == vq->used_seen)
		return false;
	/* Read the entry only after seeing the index that covers it. */
	dma_rmb();
	const volatile struct virtq_used_elem *e =
		(const volatile struct virtq_used_elem *)(vq->used + 4) + (vq->used_seen % vq->size);
	*id = e->id;
	*len = e->len;
	vq->used_seen++;
	return true;
}

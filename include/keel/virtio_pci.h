/*
 * Modern (1.0) virtio over PCI, the transport part shared by virtio devices
 * (drivers/virtio/virtio_pci.c): finding the capability-described register
 * windows, the status and feature handshake, and split virtqueues whose
 * three parts each live in one DMA page (so queues are at most 256 entries
 * and never need machine-contiguous multi-page memory).
 * Device specifics (virtio-blk, later virtio-net) sit in their own files.
 */
#ifndef KEEL_VIRTIO_PCI_H
#define KEEL_VIRTIO_PCI_H

#include <keel/dma.h>
#include <keel/pci.h>
#include <keel/pci_irq.h>

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_VERSION_1 32

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtqueue {
	uint16_t index;
	uint16_t size;
	struct virtq_desc *desc;
	volatile uint16_t *avail;      /* flags, idx, ring[size] */
	volatile uint8_t *used;        /* flags, idx, ring[size] of used_elem */
	dma_addr_t desc_dma, avail_dma, used_dma;
	uint16_t avail_idx;            /* next avail slot we fill */
	uint16_t used_seen;            /* used entries consumed */
	volatile uint16_t *notify;     /* doorbell */
};

struct virtio_pci {
	struct pci_dev *pci;
	volatile uint8_t *common, *isr, *device_cfg;
	volatile uint8_t *notify_base;
	uint32_t notify_mult;
	uint64_t features;             /* negotiated */
	struct pci_irqs irqs;
};

/* Finds and maps the register windows; resets the device and acknowledges
 * it (ACKNOWLEDGE | DRIVER).  0 or -errno. */
int virtio_pci_init(struct virtio_pci *vp, struct pci_dev *d);
/* Accepts (device & wanted) | VERSION_1 and sets FEATURES_OK; -ENODEV if
 * the device refuses or is not a 1.0 device. */
int virtio_pci_negotiate(struct virtio_pci *vp, uint64_t wanted);
/* Sets up queue q with at most max_size entries, on MSI-X vector msix_vec
 * (0xffff: none).  0 or -errno. */
int virtio_pci_setup_queue(struct virtio_pci *vp, struct virtqueue *vq, uint16_t q,
			   uint16_t max_size, uint16_t msix_vec);
void virtio_pci_driver_ok(struct virtio_pci *vp);
void virtio_pci_reset(struct virtio_pci *vp);
void virtio_pci_free_queue(struct virtqueue *vq);
/* Reads the ISR (clears it: INTx acknowledge). */
uint8_t virtio_pci_isr(struct virtio_pci *vp);
/* Routes configuration-change interrupts to MSI-X vector vec (0xffff:
 * none).  0, or -EIO if the device refused the vector. */
int virtio_pci_set_config_vector(struct virtio_pci *vp, uint16_t vec);

/* Publishes descriptor head `head` and rings the doorbell. */
void virtq_push(struct virtqueue *vq, uint16_t head);
/* Takes one used entry if there is one; true with *id, *len. */
bool virtq_pop_used(struct virtqueue *vq, uint32_t *id, uint32_t *len);
/* Publishes head without ringing the doorbell (a batch ends with
 * virtq_notify). */
void virtq_publish(struct virtqueue *vq, uint16_t head);
void virtq_notify(struct virtqueue *vq);
/* Used entries the device has returned and the driver not yet taken; more
 * than vq->size means the device wrote an impossible index. */
uint16_t virtq_used_pending(const struct virtqueue *vq);
/* The n-th (0: next) returned entry, without taking it (n < pending). */
void virtq_peek_used(const struct virtqueue *vq, uint16_t n, uint32_t *id, uint32_t *len);

#endif

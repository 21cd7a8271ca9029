/*
 * virtio-blk (virtio 1.0, 5.2) driver: one request queue, every request
 * described by an indirect descriptor table in a per-request DMA page that
 * also holds the request header, the discard range and the status byte, so
 * the ring never runs out of descriptors before it runs out of requests.
 *
 * Locking: `lock` (class 2 in sync.h) protects the free-slot bitmap and the
 * ring; submit takes it in thread context, the interrupt handler in upcall
 * context.  A request's done callback is called from the handler with the
 * lock released.
 */
#include <arch/io.h>
#include <keel/blkdev.h>
#include <keel/kernel.h>
#include <keel/sync.h>
#include <keel/virtio_pci.h>
#include <lib/printf.h>

#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

/* Device configuration offsets (5.2.4). */
#define CFG_CAPACITY 0
#define CFG_SIZE_MAX 8
#define CFG_SEG_MAX 12
#define CFG_BLK_SIZE 20
#define CFG_PHYS_EXP 24
#define CFG_MAX_DISCARD_SECTORS 36
#define CFG_MAX_DISCARD_SEG 40
#define CFG_DISCARD_ALIGN 44
#define CFG_MAX_WRITE_ZEROES_SECTORS 48

#define MAX_SLOTS 64
#define SLOT_HDR 0
#define SLOT_STATUS 16
#define SLOT_RANGE 32
#define SLOT_TABLE 256
#define TABLE_ENTRIES ((PAGE_SIZE - SLOT_TABLE) / sizeof(struct virtq_desc))

struct vblk_slot {
	uint8_t *page;
	dma_addr_t dma;
	struct blk_request *req;
};

struct vblk {
	struct virtio_pci vp;
	struct virtqueue vq;
	struct spinlock lock;
	uint64_t free_mask;           /* bit i: slot i free */
	unsigned int nr_slots;
	struct vblk_slot slots[MAX_SLOTS];
	struct blkdev bdev;
	uint64_t irqs;
};

static bool vblk_match(const struct pci_dev *d)
{
	return d->vendor == 0x1af4 && (d->device == 0x1001 || d->device == 0x1042);
}

/* Consumes every used entry and completes its request (any context). */
static void vblk_reap(struct vblk *v)
{
	uint32_t id, len;

	for (;;) {
		unsigned long f = spin_lock_irqsave(&v->lock);
		bool got = virtq_pop_used(&v->vq, &id, &len);
		struct blk_request *req = NULL;
		int status = 0;
		if (got && id < v->nr_slots && !(v->free_mask & (1ull << id))) {
			struct vblk_slot *s = &v->slots[id];
			uint8_t st = *(volatile uint8_t *)(s->page + SLOT_STATUS);
			status = st == VIRTIO_BLK_S_OK ? 0 : st == VIRTIO_BLK_S_UNSUPP ? -EOPNOTSUPP : -EIO;
			req = s->req;
			s->req = NULL;
			v->free_mask |= 1ull << id;
		} else if (got) {
			klog("virtio-blk: %s: device returned unknown request id %u\n", v->bdev.name, id);
		}
		spin_unlock_irqrestore(&v->lock, f);
		if (!got)
			break;
		if (req) {
			if (status)
				v->bdev.errors++;
			req->done(req, status);
		}
	}
	blkdev_kick_backlog(&v->bdev);
}

/* Upcall context. */
static void vblk_interrupt(void *ctx)
{
	struct vblk *v = ctx;

	v->irqs++;
	if (v->vp.irqs.mode == PCI_IRQ_INTX && !(virtio_pci_isr(&v->vp) & 1))
		return;
	vblk_reap(v);
}

/* Thread context: the used ring without waiting for the interrupt. */
static void vblk_poll(struct blkdev *dev)
{
	vblk_reap(dev->drv);
}

static int vblk_submit(struct blkdev *dev, struct blk_request *req)
{
	struct vblk *v = dev->drv;
	uint32_t type;

	switch (req->op) {
	case BLK_OP_READ:
		type = VIRTIO_BLK_T_IN;
		break;
	case BLK_OP_WRITE:
		type = VIRTIO_BLK_T_OUT;
		break;
	case BLK_OP_FLUSH:
		if (!dev->can_flush) {
			return -EOPNOTSUPP;
		}
		type = VIRTIO_BLK_T_FLUSH;
		break;
	case BLK_OP_DISCARD:
		type = VIRTIO_BLK_T_DISCARD;
		break;
	case BLK_OP_WRITE_ZEROES:
		type = VIRTIO_BLK_T_WRITE_ZEROES;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (req->nr_segs > dev->max_segs)
		return -EINVAL;

	unsigned long f = spin_lock_irqsave(&v->lock);
	if (!v->free_mask) {
		spin_unlock_irqrestore(&v->lock, f);
		return -EAGAIN;
	}
	unsigned int id = (unsigned int)__builtin_ctzll(v->free_mask);
	v->free_mask &= ~(1ull << id);
	struct vblk_slot *s = &v->slots[id];
	s->req = req;

	/* The header, range and status live in the slot page. */
	uint32_t *hdr = (uint32_t *)(s->page + SLOT_HDR);
	hdr[0] = type;
	hdr[1] = 0;
	*(uint64_t *)(s->page + SLOT_HDR + 8) =
		(req->op == BLK_OP_READ || req->op == BLK_OP_WRITE) ? req->sector : 0;
	s->page[SLOT_STATUS] = 0xff;
	struct virtq_desc *t = (struct virtq_desc *)(s->page + SLOT_TABLE);
	unsigned int n = 0;
	t[n++] = (struct virtq_desc){ dma_x(s->dma) + SLOT_HDR, 16, VIRTQ_DESC_F_NEXT, 0 };
	if (req->op == BLK_OP_READ || req->op == BLK_OP_WRITE) {
		uint16_t wflag = req->op == BLK_OP_READ ? VIRTQ_DESC_F_WRITE : 0;
		for (unsigned int i = 0; i < req->nr_segs; i++)
			t[n++] = (struct virtq_desc){ dma_x(req->segs[i].addr), req->segs[i].len_bytes,
						      (uint16_t)(wflag | VIRTQ_DESC_F_NEXT), 0 };
	} else if (req->op == BLK_OP_DISCARD || req->op == BLK_OP_WRITE_ZEROES) {
		uint8_t *r = s->page + SLOT_RANGE;
		*(uint64_t *)r = req->sector;
		*(uint32_t *)(r + 8) = (uint32_t)req->nr_sectors;  /* <= max_*_sectors */
		*(uint32_t *)(r + 12) = 0;  /* flags: unmap 0 */
		t[n++] = (struct virtq_desc){ dma_x(s->dma) + SLOT_RANGE, 16, VIRTQ_DESC_F_NEXT, 0 };
	}
	t[n++] = (struct virtq_desc){ dma_x(s->dma) + SLOT_STATUS, 1, VIRTQ_DESC_F_WRITE, 0 };
	for (unsigned int i = 0; i + 1 < n; i++)
		t[i].next = (uint16_t)(i + 1);
	v->vq.desc[id] = (struct virtq_desc){ dma_x(s->dma) + SLOT_TABLE,
					      (uint32_t)(n * sizeof(struct virtq_desc)),
					      VIRTQ_DESC_F_INDIRECT, 0 };
	virtq_push(&v->vq, (uint16_t)id);
	spin_unlock_irqrestore(&v->lock, f);
	return 0;
}

static const struct blkdev_ops vblk_ops = { .submit = vblk_submit, .poll = vblk_poll };

static void name_disk(char *buf, size_t len, unsigned int index)
{
	/* vda..vdz, vdaa.. as Linux's virtio_blk names them. */
	if (index < 26)
		ksnprintf(buf, len, "vd%c", 'a' + index);
	else
		ksnprintf(buf, len, "vd%c%c", 'a' + index / 26 - 1, 'a' + index % 26);
}

static int vblk_probe(struct pci_dev *d)
{
	struct vblk *v = kzalloc(sizeof(*v));
	int rc;

	if (!v)
		return -ENOMEM;
	spin_init(&v->lock, "virtio-blk ring");
	if ((rc = virtio_pci_init(&v->vp, d)))
		goto err_free;
	uint64_t want = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_SIZE_MAX |
			1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE |
			1ull << VIRTIO_BLK_F_FLUSH | 1ull << VIRTIO_BLK_F_TOPOLOGY |
			1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES |
			1ull << VIRTIO_F_INDIRECT_DESC;
	if ((rc = virtio_pci_negotiate(&v->vp, want)))
		goto err_free;
	if (!(v->vp.features & (1ull << VIRTIO_F_INDIRECT_DESC))) {
		klog("virtio-blk: device lacks indirect descriptors, which keel needs\n");
		rc = -ENODEV;
		goto err_reset;
	}
	void *ctxs[1] = { v };
	if ((rc = pci_irq_setup(d, &v->vp.irqs, 1, vblk_interrupt, ctxs)))
		goto err_reset;
	uint16_t vec = v->vp.irqs.mode == PCI_IRQ_MSIX ? 0 : 0xffff;
	if ((rc = virtio_pci_setup_queue(&v->vp, &v->vq, 0, 256, vec)))
		goto err_irq;
	v->nr_slots = MIN((unsigned int)v->vq.size, (unsigned int)MAX_SLOTS);
	for (unsigned int i = 0; i < v->nr_slots; i++) {
		void *va;
		if ((rc = dma_alloc_page(&va, &v->slots[i].dma)))
			goto err_slots;
		v->slots[i].page = va;
		v->free_mask |= 1ull << i;
	}

	struct blkdev *b = &v->bdev;
	volatile uint8_t *cfg = v->vp.device_cfg;
	uint64_t f = v->vp.features;
	unsigned int index = blkdev_next_index("vd");
	name_disk(b->name, sizeof(b->name), index);
	/* Linux gives virtio_blk a dynamic major, 254 on a Debian host, and
	 * 16 minors per disk (15 partitions). */
	b->major = 254;
	b->minor = index * 16;
	b->nr_sectors = mmio_read32(cfg + CFG_CAPACITY) |
			(uint64_t)mmio_read32(cfg + CFG_CAPACITY + 4) << 32;
	b->logical_block_bytes = 512;
	if (f & (1ull << VIRTIO_BLK_F_BLK_SIZE)) {
		uint32_t bs = mmio_read32(cfg + CFG_BLK_SIZE);
		if (bs >= 512 && bs <= 4096 && !(bs & (bs - 1)))
			b->logical_block_bytes = bs;
	}
	b->physical_block_bytes = b->logical_block_bytes;
	if (f & (1ull << VIRTIO_BLK_F_TOPOLOGY)) {
		uint8_t e = mmio_read8(cfg + CFG_PHYS_EXP);
		if (e <= 3)
			b->physical_block_bytes = b->logical_block_bytes << e;
	}
	b->read_only = f & (1ull << VIRTIO_BLK_F_RO);
	b->can_flush = f & (1ull << VIRTIO_BLK_F_FLUSH);
	b->can_discard = f & (1ull << VIRTIO_BLK_F_DISCARD);
	b->can_write_zeroes = f & (1ull << VIRTIO_BLK_F_WRITE_ZEROES);
	if (b->can_discard) {
		uint32_t al = mmio_read32(cfg + CFG_DISCARD_ALIGN);
		b->discard_granularity_bytes = al ? al * 512 : b->logical_block_bytes;
		/* One range per command (keel never sends more): longer ones are
		 * cut by the block layer at a multiple of the granularity. */
		uint32_t max = mmio_read32(cfg + CFG_MAX_DISCARD_SECTORS);
		if (!max)
			max = UINT32_MAX;  /* the range's own field */
		uint32_t g = b->discard_granularity_bytes / 512;
		if (g > 1 && max >= g)
			max -= max % g;
		b->max_discard_sectors = max;
	}
	if (b->can_write_zeroes) {
		b->max_write_zeroes_sectors = mmio_read32(cfg + CFG_MAX_WRITE_ZEROES_SECTORS);
		if (!b->max_write_zeroes_sectors)
			b->max_write_zeroes_sectors = UINT32_MAX;
	}
	b->max_segs = (uint16_t)(TABLE_ENTRIES - 2);
	if (f & (1ull << VIRTIO_BLK_F_SEG_MAX)) {
		uint32_t sm = mmio_read32(cfg + CFG_SEG_MAX);
		if (sm && sm < b->max_segs)
			b->max_segs = (uint16_t)sm;
	}
	b->max_sectors = 2048;
	ksnprintf(b->model, sizeof(b->model), "virtio-blk");
	b->ops = &vblk_ops;
	b->drv = v;
	d->driver_data = v;
	virtio_pci_driver_ok(&v->vp);
	char bdf[16];
	pci_format_bdf(d, bdf, sizeof(bdf));
	klog("virtio-blk: %s: %s, queue %u, %s, %u segments per request\n", bdf, b->name,
	     v->vq.size, pci_irq_mode_name(v->vp.irqs.mode), b->max_segs);
	return blkdev_register_disk(b);

err_slots:
	for (unsigned int i = 0; i < v->nr_slots; i++)
		if (v->slots[i].page)
			dma_free_page(v->slots[i].page);
	virtio_pci_reset(&v->vp);
	virtio_pci_free_queue(&v->vq);
err_irq:
	pci_irq_teardown(d, &v->vp.irqs);
err_reset:
	virtio_pci_reset(&v->vp);
err_free:
	kfree(v);
	return rc;
}

/* Flushes the write cache, then stops the device: no DMA after this. */
static void vblk_shutdown(struct pci_dev *d)
{
	struct vblk *v = d->driver_data;

	if (!v)
		return;
	int rc = blk_flush_sync(&v->bdev);
	klog("virtio-blk: %s: cache flushed (%d), device stopped\n", v->bdev.name, rc);
	virtio_pci_reset(&v->vp);
	pci_disable_bus_master(d);
}

const struct pci_driver virtio_blk_driver = {
	.name = "virtio-blk",
	.match = vblk_match,
	.probe = vblk_probe,
	.shutdown = vblk_shutdown,
};

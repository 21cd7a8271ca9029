/*
 * NVM Express driver: one admin queue and one I/O queue pair per
 * controller, every queue one page (I/O SQ 64 entries of 64 bytes, CQ 256
 * entries of 16 bytes), so each is machine-contiguous without an exchange.
 * Each active namespace becomes a disk named as Linux names it (nvme0n1,
 * major 259).  Not here: several I/O queues, SGLs, metadata/PI formats,
 * namespace management, hot removal.
 *
 * Requests and commands.  A blk_request is held by a tracker (a fixed pool,
 * so submission never allocates) with a cursor into its segment list; the
 * tracker issues as many NVMe commands as the request needs, one command
 * slot each (63 slots: the SQ has 64 entries and a full SQ is 63).  A
 * command ends where a transfer would exceed MDTS, or where the PRP rules
 * break: every data page but the first must start at a page boundary and
 * every one but the last must end at one, and blkback sends lists (a guest's
 * 512-byte-aligned segments) that violate this (the cutting is pure code in
 * prp.c, unit-tested and fuzzed).  Splitting into commands is
 * chosen over SGLs because PRPs are mandatory and SGLs are optional for I/O
 * commands (many drives lack them); the cost is more commands for such
 * lists.  A tracker that cannot get a slot waits on the pending list and is
 * continued from the interrupt handler as slots free up; the request
 * completes when the last of its commands has.  On a namespace of 4096-byte
 * LBAs every cut must fall on an LBA boundary, else the request is refused
 * with -EINVAL (there is no bounce buffer).
 *
 * Timeouts and reset.  Each command carries a deadline (admin 5 s, I/O 30 s
 * by default).  A timer checks the deadlines once a second while commands
 * are outstanding and wakes the controller's watchdog thread, which (after
 * polling the completion queues once, in case only an interrupt was lost)
 * disables the controller, fails commands that already timed out twice
 * with -ETIMEDOUT, re-enables it, re-creates the I/O queues and re-issues
 * the other outstanding commands with their original identifiers.  A
 * controller that does not come back is dead: every request fails -ENXIO.
 *
 * Locking (see <keel/sync.h>): `admin_lock` (mutex, class 1) serialises
 * admin commands and is held across a whole reset; `lock` (spinlock, class
 * 2) protects the queues, slots, trackers, pending list and state, and is
 * taken by submit, the interrupt handler and the watchdog timer.  Done
 * callbacks run with `lock` released.
 */
#include <arch/io.h>
#include <keel/blkdev.h>
#include <keel/blkscan.h>
#include <keel/dma.h>
#include <keel/kernel.h>
#include <keel/nvme.h>
#include <keel/pci.h>
#include <keel/pci_irq.h>
#include <keel/sync.h>
#include <lib/printf.h>

#include "nvme_prp.h"
#include "nvme_reg.h"

#define NVME_MAJOR 259
#define SQ_ENTRIES 64u
#define CQ_ENTRIES 256u
#define IO_SLOTS (SQ_ENTRIES - 1)
#define TRACKERS 64u
#define MAX_NS 16u
#define MAX_XFER_BYTES NVME_PRP_MAX_BYTES
#define ADMIN_TIMEOUT_NS 5000000000ull
#define WATCHDOG_PERIOD_NS 1000000000ull
#define MAX_TIMEOUTS 2                  /* a command is retried once */
#define MAX_ERROR_LOGS 10

/* The I/O command timeout, settable with `nvme timeout SECONDS`. */
static uint64_t io_timeout_ns = 30000000000ull;

enum ctrl_state { ST_PROBING, ST_LIVE, ST_RESETTING, ST_DEAD, ST_SHUTDOWN };

struct nvme_ctrl;

struct nvme_queue {
	struct nvme_ctrl *ctrl;
	uint16_t qid;
	struct nvme_sqe *sq;
	dma_addr_t sq_dma;
	volatile struct nvme_cqe *cq;
	dma_addr_t cq_dma;
	uint16_t sq_tail, cq_head;
	uint8_t cq_phase;           /* the phase tag a new entry carries */
	volatile uint32_t *sq_db, *cq_db;
};

struct nvme_tracker;

/* One NVMe I/O command in flight; its index is the command identifier. */
struct nvme_slot {
	bool busy;
	uint8_t timeouts;           /* times this command has timed out */
	uint64_t deadline_ns;
	struct nvme_tracker *trk;
	struct nvme_sqe sqe;        /* kept to re-issue after a reset */
	void *page;                 /* PRP list or DSM range */
	dma_addr_t page_dma;
};

struct nvme_ns;

/* One blk_request being turned into commands. */
struct nvme_tracker {
	struct blk_request *req;
	struct nvme_ns *ns;
	uint16_t seg;               /* READ/WRITE cursor: next segment... */
	uint32_t seg_off;           /* ...and byte within it */
	uint64_t lba;               /* next LBA to cover */
	uint64_t lbas_left;         /* DISCARD / WRITE_ZEROES: LBAs still to issue */
	uint32_t cmds_out;          /* commands in flight */
	bool more;                  /* commands still to issue */
	bool pending;               /* on the pending list */
	int status;                 /* first error */
	struct nvme_tracker *next;  /* free or pending list */
};

struct nvme_ns {
	struct nvme_ctrl *ctrl;
	uint32_t nsid;
	unsigned int lba_shift;
	struct blkdev bdev;
};

struct nvme_ctrl {
	struct pci_dev *pci;
	char name[16];              /* "nvme0" */
	volatile uint8_t *regs;
	volatile uint8_t *dbs;
	size_t dbs_len;
	uint64_t cap;
	uint32_t db_stride;
	uint64_t ready_timeout_ns;
	struct pci_irqs irqs;

	struct mutex admin_lock;
	struct spinlock lock;
	enum ctrl_state state;
	struct nvme_queue adminq, ioq;

	/* The one admin command in flight (under admin_lock). */
	struct completion admin_done;
	bool admin_busy;
	uint16_t admin_cid;
	uint16_t admin_status;
	uint32_t admin_dw0;

	struct nvme_slot slots[IO_SLOTS];
	uint64_t free_slots;        /* bit i: slot i free */
	struct nvme_tracker trackers[TRACKERS];
	struct nvme_tracker *free_trk;
	struct nvme_tracker *pend_head, *pend_tail;

	/* Identify Controller. */
	char model[41], serial[21], firmware[9];
	uint32_t version;
	uint32_t max_xfer_bytes;
	uint16_t oncs;
	bool vwc;
	uint32_t nn;
	uint32_t rtd3e_us;
	void *ident;
	dma_addr_t ident_dma;

	unsigned int nr_ns;
	struct nvme_ns *ns[MAX_NS];

	/* Watchdog and reset. */
	struct timer wd_timer;
	struct waitq wd_wq;
	bool reset_requested;
	int timed_out_cid;          /* -1: admin command */
	uint32_t inject_drops;      /* test hook: completions to drop */

	uint64_t irqs_handled, polls, polled, resets, timeouts, errors_logged, cmds_issued;
	struct nvme_ctrl *next;
};

static struct nvme_ctrl *controllers;

static bool nvme_match(const struct pci_dev *d)
{
	/* Class 01 (mass storage), subclass 08 (NVM), interface 02 (NVMe). */
	return d->class_code == 0x01 && d->subclass == 0x08 && d->prog_if == 0x02;
}

static inline uint32_t rd32(struct nvme_ctrl *c, unsigned int off)
{
	return mmio_read32(c->regs + off);
}

static inline void wr32(struct nvme_ctrl *c, unsigned int off, uint32_t v)
{
	mmio_write32(c->regs + off, v);
}

/* 64-bit registers as two halves, low first: what every controller takes. */
static void wr64(struct nvme_ctrl *c, unsigned int off, uint64_t v)
{
	wr32(c, off, (uint32_t)v);
	wr32(c, off + 4, (uint32_t)(v >> 32));
}

/* ---- queues ---- */

static int queue_alloc(struct nvme_ctrl *c, struct nvme_queue *q, uint16_t qid)
{
	void *va;
	int rc;

	q->ctrl = c;
	q->qid = qid;
	if ((rc = dma_alloc_page(&va, &q->sq_dma)))
		return rc;
	q->sq = va;
	if ((rc = dma_alloc_page(&va, &q->cq_dma))) {
		dma_free_page(q->sq);
		q->sq = NULL;
		return rc;
	}
	q->cq = va;
	q->sq_db = (volatile uint32_t *)(c->dbs + (2u * qid) * c->db_stride);
	q->cq_db = (volatile uint32_t *)(c->dbs + (2u * qid + 1) * c->db_stride);
	return 0;
}

static void queue_free(struct nvme_queue *q)
{
	if (q->sq)
		dma_free_page(q->sq);
	if (q->cq)
		dma_free_page((void *)q->cq);
	q->sq = NULL;
	q->cq = NULL;
}

/* Empties a queue for a (re-)enabled controller, which starts both at 0.
 * Under the lock: the handler must never see the zeroed entries with the
 * old phase (they would look new). */
static void queue_reset(struct nvme_queue *q)
{
	unsigned long f = spin_lock_irqsave(&q->ctrl->lock);
	memset(q->sq, 0, PAGE_SIZE);
	memset((void *)q->cq, 0, PAGE_SIZE);
	q->sq_tail = 0;
	q->cq_head = 0;
	q->cq_phase = 1;
	spin_unlock_irqrestore(&q->ctrl->lock, f);
}

/* Copies sqe into the SQ; the caller rings the doorbell. */
static void queue_put(struct nvme_queue *q, const struct nvme_sqe *sqe)
{
	q->sq[q->sq_tail] = *sqe;
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % SQ_ENTRIES);
}

static void queue_ring(struct nvme_queue *q)
{
	/* The entries are in write-back memory and x86 keeps store order, so
	 * they are visible to the controller before this uncached store. */
	mmio_write32(q->sq_db, q->sq_tail);
}

/* ---- completion ---- */

struct done_list {
	unsigned int n;
	struct {
		struct blk_request *req;
		int status;
	} e[TRACKERS];
};

static void trk_free(struct nvme_ctrl *c, struct nvme_tracker *t)
{
	t->req = NULL;
	t->next = c->free_trk;
	c->free_trk = t;
}

/* A tracker with nothing left to issue and nothing in flight is done. */
static void trk_maybe_finish(struct nvme_ctrl *c, struct nvme_tracker *t, struct done_list *dl)
{
	if (t->more || t->cmds_out || t->pending)
		return;
	if (t->status)
		t->ns->bdev.errors++;
	dl->e[dl->n].req = t->req;
	dl->e[dl->n].status = t->status;
	dl->n++;
	trk_free(c, t);
}

/* Calls the done callbacks (lock released); trackers came free, so the
 * block layer may resubmit what it holds back for our disks. */
static void run_done(struct nvme_ctrl *c, struct done_list *dl)
{
	if (!dl->n)
		return;
	for (unsigned int i = 0; i < dl->n; i++)
		dl->e[i].req->done(dl->e[i].req, dl->e[i].status);
	dl->n = 0;
	for (unsigned int i = 0; i < c->nr_ns; i++)
		blkdev_kick_backlog(&c->ns[i]->bdev);
}

static int status_errno(uint16_t st)
{
	if (st == 0)
		return 0;
	if (st == NVME_SC_INVALID_OPCODE)
		return -EOPNOTSUPP;
	if (st == NVME_SC_LBA_RANGE)
		return -ENOSPC;
	return -EIO;
}

static void slot_release(struct nvme_ctrl *c, unsigned int id)
{
	c->slots[id].busy = false;
	c->slots[id].trk = NULL;
	c->free_slots |= 1ull << id;
}

/* Consumes new entries of q; under c->lock. */
static void process_cq(struct nvme_ctrl *c, struct nvme_queue *q, struct done_list *dl)
{
	bool any = false;

	for (;;) {
		volatile struct nvme_cqe *e = &q->cq[q->cq_head];
		uint16_t status = e->status;
		if ((status & 1) != q->cq_phase)
			break;
		/* The rest of the entry only after the phase tag that says it is
		 * new (the controller writes the tag last). */
		dma_rmb();
		uint16_t cid = e->cid;
		uint32_t dw0 = e->dw0;
		uint16_t st = NVME_STATUS(status);
		any = true;
		if (++q->cq_head == CQ_ENTRIES) {
			q->cq_head = 0;
			q->cq_phase ^= 1;
		}
		if (q == &c->adminq) {
			if (c->admin_busy && cid == c->admin_cid) {
				c->admin_busy = false;
				c->admin_status = st;
				c->admin_dw0 = dw0;
				complete(&c->admin_done);
			}
			continue;
		}
		if (cid >= IO_SLOTS || !c->slots[cid].busy) {
			klog("%s: completion for unknown command %u ignored\n", c->name, cid);
			continue;
		}
		if (c->inject_drops) {
			/* Test hook: behave as if this completion never came. */
			c->inject_drops--;
			continue;
		}
		struct nvme_slot *s = &c->slots[cid];
		struct nvme_tracker *t = s->trk;
		slot_release(c, cid);
		if (st) {
			if (c->errors_logged++ < MAX_ERROR_LOGS)
				klog("%s: command %u (opcode %#x, nsid %u) failed: status %#x\n",
				     c->name, cid, s->sqe.opcode, s->sqe.nsid, st);
			if (!t->status)
				t->status = status_errno(st);
		}
		t->cmds_out--;
		trk_maybe_finish(c, t, dl);
	}
	if (any)
		mmio_write32(q->cq_db, q->cq_head);
}

static void pump(struct nvme_ctrl *c, struct done_list *dl);

/* The interrupt of one vector: ctx is the queue it serves (with a single
 * vector, both).  Upcall context. */
static void nvme_interrupt(void *ctx)
{
	struct nvme_queue *q = ctx;
	struct nvme_ctrl *c = q->ctrl;
	struct done_list dl;
	bool intx = c->irqs.mode == PCI_IRQ_INTX;

	dl.n = 0;
	/* INTx is level-triggered: mask the controller's interrupt while the
	 * queues are drained, unmask when they are (NVMe 7.5.1.1). */
	if (intx)
		wr32(c, NVME_REG_INTMS, 1);
	unsigned long f = spin_lock_irqsave(&c->lock);
	c->irqs_handled++;
	if (c->irqs.nvec == 1 || q == &c->adminq)
		process_cq(c, &c->adminq, &dl);
	if (c->irqs.nvec == 1 || q == &c->ioq) {
		process_cq(c, &c->ioq, &dl);
		pump(c, &dl);
	}
	spin_unlock_irqrestore(&c->lock, f);
	if (intx)
		wr32(c, NVME_REG_INTMC, 1);
	run_done(c, &dl);
}

/* ---- building I/O commands ---- */

/* The next READ/WRITE command of t: as many bytes from the cursor as PRPs
 * can describe in one command (drivers/nvme/prp.c).  Returns the byte
 * count (0: malformed, cannot happen after the submit checks). */
static uint32_t build_rw(struct nvme_ctrl *c, struct nvme_tracker *t, struct nvme_slot *s,
			 struct nvme_sqe *sqe)
{
	struct blk_request *req = t->req;
	uint64_t *list = s->page;
	uint64_t prp1;
	uint32_t npages;
	struct nvme_prp_cursor cur = { t->seg, t->seg_off };
	uint32_t total = nvme_prp_build(req->segs, req->nr_segs, &cur, c->max_xfer_bytes, &prp1,
					list, &npages);
	unsigned int shift = t->ns->lba_shift;

	if (total == 0 || (total & ((1u << shift) - 1)))
		return 0;
	t->seg = cur.seg;
	t->seg_off = cur.seg_off;
	uint32_t nlb = total >> shift;
	sqe->opcode = req->op == BLK_OP_READ ? NVME_CMD_READ : NVME_CMD_WRITE;
	sqe->prp1 = prp1;
	/* Two pages: the second goes in PRP2; more: PRP2 points at the list. */
	sqe->prp2 = npages == 2 ? list[0] : npages > 2 ? dma_x(s->page_dma) : 0;
	sqe->cdw10 = (uint32_t)t->lba;
	sqe->cdw11 = (uint32_t)(t->lba >> 32);
	sqe->cdw12 = (nlb - 1) | (req->op == BLK_OP_WRITE && req->fua ? NVME_RW_FUA : 0);
	t->lba += nlb;
	t->more = t->seg < req->nr_segs;
	return total;
}

/* Fills slot s with the next command of t; 0 or -errno (t then fails). */
static int build_cmd(struct nvme_ctrl *c, struct nvme_tracker *t, struct nvme_slot *s,
		     unsigned int cid)
{
	struct nvme_sqe *sqe = &s->sqe;

	memset(sqe, 0, sizeof(*sqe));
	sqe->cid = (uint16_t)cid;
	sqe->nsid = t->ns->nsid;
	switch (t->req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (!build_rw(c, t, s, sqe))
			return -EINVAL;
		break;
	case BLK_OP_FLUSH:
		sqe->opcode = NVME_CMD_FLUSH;
		t->more = false;
		break;
	case BLK_OP_DISCARD: {
		struct nvme_dsm_range *r = s->page;
		uint32_t n = (uint32_t)MIN(t->lbas_left, (uint64_t)UINT32_MAX);
		r->attributes = 0;
		r->nlb = n;
		r->slba = t->lba;
		sqe->opcode = NVME_CMD_DSM;
		sqe->prp1 = dma_x(s->page_dma);
		sqe->cdw10 = 0;  /* one range */
		sqe->cdw11 = NVME_DSM_AD;
		t->lba += n;
		t->lbas_left -= n;
		t->more = t->lbas_left != 0;
		break;
	}
	case BLK_OP_WRITE_ZEROES: {
		uint32_t n = (uint32_t)MIN(t->lbas_left, 65536ull);
		sqe->opcode = NVME_CMD_WRITE_ZEROES;
		sqe->cdw10 = (uint32_t)t->lba;
		sqe->cdw11 = (uint32_t)(t->lba >> 32);
		sqe->cdw12 = n - 1;
		t->lba += n;
		t->lbas_left -= n;
		t->more = t->lbas_left != 0;
		break;
	}
	default:
		return -EOPNOTSUPP;
	}
	return 0;
}

static void watchdog_arm(struct nvme_ctrl *c)
{
	if (!c->wd_timer.armed)
		timer_arm(&c->wd_timer, time_now_ns() + WATCHDOG_PERIOD_NS);
}

/* Issues commands of pending trackers while slots are free; under lock. */
static void pump(struct nvme_ctrl *c, struct done_list *dl)
{
	bool issued = false;

	while (c->state == ST_LIVE && c->pend_head && c->free_slots) {
		struct nvme_tracker *t = c->pend_head;
		unsigned int id = (unsigned int)__builtin_ctzll(c->free_slots);
		struct nvme_slot *s = &c->slots[id];
		int rc = build_cmd(c, t, s, id);
		if (rc) {
			t->status = t->status ? t->status : rc;
			t->more = false;
		} else {
			c->free_slots &= ~(1ull << id);
			s->busy = true;
			s->timeouts = 0;
			s->trk = t;
			s->deadline_ns = time_now_ns() + io_timeout_ns;
			t->cmds_out++;
			c->cmds_issued++;
			queue_put(&c->ioq, &s->sqe);
			issued = true;
		}
		if (!t->more) {
			c->pend_head = t->next;
			if (!c->pend_head)
				c->pend_tail = NULL;
			t->pending = false;
			trk_maybe_finish(c, t, dl);
		}
	}
	if (issued) {
		queue_ring(&c->ioq);
		watchdog_arm(c);
	}
}

/* ---- submission ---- */

/* A READ/WRITE whose every command covers whole LBAs (only a namespace
 * with LBAs over 512 bytes can fail this). */
static bool rw_fits_lbas(const struct blk_request *req, unsigned int shift)
{
	uint64_t mask = (1ull << shift) - 1;

	if ((req->sector << SECTOR_SHIFT) & mask)
		return false;
	return nvme_prp_cuts_aligned(req->segs, req->nr_segs, 1u << shift);
}

static int nvme_submit(struct blkdev *dev, struct blk_request *req)
{
	struct nvme_ns *ns = dev->drv;
	struct nvme_ctrl *c = ns->ctrl;
	unsigned int shift = ns->lba_shift;
	uint64_t lba = req->sector >> (shift - SECTOR_SHIFT), lbas = 0;

	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (!req->nr_segs || !rw_fits_lbas(req, shift))
			return -EINVAL;
		break;
	case BLK_OP_FLUSH:
		if (!c->vwc) {
			/* No volatile cache: every write is already on media. */
			req->done(req, 0);
			return 0;
		}
		break;
	case BLK_OP_DISCARD: {
		if (!(c->oncs & NVME_ONCS_DSM))
			return -EOPNOTSUPP;
		/* Deallocation is advisory: only whole LBAs inside the range. */
		uint64_t per = 1ull << (shift - SECTOR_SHIFT);
		uint64_t first = ALIGN_UP(req->sector, per), end = ALIGN_DOWN(req->sector + req->nr_sectors, per);
		if (end <= first) {
			req->done(req, 0);
			return 0;
		}
		lba = first / per;
		lbas = (end - first) / per;
		break;
	}
	case BLK_OP_WRITE_ZEROES: {
		if (!(c->oncs & NVME_ONCS_WRITE_ZEROES))
			return -EOPNOTSUPP;
		uint64_t mask = (1ull << (shift - SECTOR_SHIFT)) - 1;
		if ((req->sector & mask) || (req->nr_sectors & mask))
			return -EINVAL;
		lbas = (uint64_t)req->nr_sectors >> (shift - SECTOR_SHIFT);
		break;
	}
	default:
		return -EOPNOTSUPP;
	}

	struct done_list dl;
	dl.n = 0;
	unsigned long f = spin_lock_irqsave(&c->lock);
	if (c->state == ST_DEAD || c->state == ST_SHUTDOWN) {
		spin_unlock_irqrestore(&c->lock, f);
		return -ENXIO;
	}
	struct nvme_tracker *t = c->free_trk;
	if (!t) {
		spin_unlock_irqrestore(&c->lock, f);
		return -EAGAIN;
	}
	c->free_trk = t->next;
	*t = (struct nvme_tracker){ .req = req, .ns = ns, .lba = lba, .lbas_left = lbas,
				    .more = true, .pending = true };
	/* Behind the others: commands of one request go out in order, and
	 * requests in the order submitted.  While a reset runs it waits here. */
	if (c->pend_tail)
		c->pend_tail->next = t;
	else
		c->pend_head = t;
	c->pend_tail = t;
	pump(c, &dl);
	spin_unlock_irqrestore(&c->lock, f);
	run_done(c, &dl);
	return 0;
}

/* The I/O queue's completions, taken without its interrupt. */
static void nvme_poll(struct blkdev *dev)
{
	struct nvme_ns *ns = dev->drv;
	struct nvme_ctrl *c = ns->ctrl;
	struct done_list dl;

	dl.n = 0;
	unsigned long f = spin_lock_irqsave(&c->lock);
	if (c->state == ST_LIVE) {
		c->polls++;
		process_cq(c, &c->ioq, &dl);
		pump(c, &dl);
	}
	spin_unlock_irqrestore(&c->lock, f);
	run_done(c, &dl);
}

static const struct blkdev_ops nvme_ops = { .submit = nvme_submit, .poll = nvme_poll };

/* ---- admin commands ---- */

/*
 * Runs one admin command and waits for it (admin_lock held).  The wait
 * polls the admin CQ every 100 ms too, so a controller whose interrupt is
 * lost still gets through probe (the poll is counted and shown by `nvme
 * list`).  0, -EIO (status in *status_out if given), -ETIMEDOUT, -ENXIO.
 */
static int admin_exec(struct nvme_ctrl *c, struct nvme_sqe *sqe, uint32_t *dw0,
		      uint16_t *status_out)
{
	ASSERT(mutex_held_by_me(&c->admin_lock));
	completion_init(&c->admin_done);
	unsigned long f = spin_lock_irqsave(&c->lock);
	if (c->state == ST_DEAD) {
		spin_unlock_irqrestore(&c->lock, f);
		return -ENXIO;
	}
	c->admin_cid = (uint16_t)(c->admin_cid + 1);
	sqe->cid = c->admin_cid;
	c->admin_busy = true;
	queue_put(&c->adminq, sqe);
	queue_ring(&c->adminq);
	spin_unlock_irqrestore(&c->lock, f);

	uint64_t deadline = time_now_ns() + ADMIN_TIMEOUT_NS;
	while (!completion_wait(&c->admin_done, 100000000ull)) {
		struct done_list dl;
		dl.n = 0;
		f = spin_lock_irqsave(&c->lock);
		process_cq(c, &c->adminq, &dl);
		spin_unlock_irqrestore(&c->lock, f);
		if (completion_done(&c->admin_done)) {
			c->polled++;
			break;
		}
		if (time_now_ns() >= deadline) {
			f = spin_lock_irqsave(&c->lock);
			c->admin_busy = false;
			/* A live controller that stops answering is reset (not
			 * during probe, a reset or shutdown: those give up). */
			bool reset = c->state == ST_LIVE && !c->reset_requested;
			if (reset) {
				c->reset_requested = true;
				c->timed_out_cid = -1;
			}
			spin_unlock_irqrestore(&c->lock, f);
			if (reset)
				waitq_wake_all(&c->wd_wq);
			klog("%s: admin command %#x timed out\n", c->name, sqe->opcode);
			return -ETIMEDOUT;
		}
	}
	if (dw0)
		*dw0 = c->admin_dw0;
	if (status_out)
		*status_out = c->admin_status;
	if (c->admin_status) {
		klog("%s: admin command %#x failed: status %#x\n", c->name, sqe->opcode,
		     c->admin_status);
		return -EIO;
	}
	return 0;
}

static int identify(struct nvme_ctrl *c, uint8_t cns, uint32_t nsid, uint16_t *status)
{
	struct nvme_sqe sqe = { .opcode = NVME_ADMIN_IDENTIFY, .nsid = nsid,
				.prp1 = dma_x(c->ident_dma), .cdw10 = cns };
	memset(c->ident, 0, PAGE_SIZE);
	return admin_exec(c, &sqe, NULL, status);
}

/* Set Features (Number of Queues), then the I/O CQ and SQ (qid 1). */
static int create_io_queues(struct nvme_ctrl *c)
{
	uint32_t dw0;
	int rc;
	struct nvme_sqe nq = { .opcode = NVME_ADMIN_SET_FEATURES, .cdw10 = NVME_FEAT_NUM_QUEUES,
			       .cdw11 = 0 };  /* one SQ and one CQ (0-based counts) */
	if ((rc = admin_exec(c, &nq, &dw0, NULL)))
		return rc;
	uint16_t iv = c->irqs.nvec > 1 ? 1 : 0;
	struct nvme_sqe cq = { .opcode = NVME_ADMIN_CREATE_CQ, .prp1 = dma_x(c->ioq.cq_dma),
			       .cdw10 = (CQ_ENTRIES - 1) << 16 | c->ioq.qid,
			       .cdw11 = (uint32_t)iv << 16 | NVME_CQ_IEN | NVME_QUEUE_PC };
	if ((rc = admin_exec(c, &cq, NULL, NULL)))
		return rc;
	struct nvme_sqe sq = { .opcode = NVME_ADMIN_CREATE_SQ, .prp1 = dma_x(c->ioq.sq_dma),
			       .cdw10 = (SQ_ENTRIES - 1) << 16 | c->ioq.qid,
			       .cdw11 = (uint32_t)c->ioq.qid << 16 | NVME_QUEUE_PC };
	return admin_exec(c, &sq, NULL, NULL);
}

/* ---- controller enable/disable (7.6.1) ---- */

static int wait_csts(struct nvme_ctrl *c, uint32_t mask, uint32_t want, uint64_t timeout_ns)
{
	uint64_t deadline = time_now_ns() + timeout_ns;

	for (;;) {
		uint32_t csts = rd32(c, NVME_REG_CSTS);
		if (csts == 0xffffffff)
			return -ENODEV;  /* the device no longer answers */
		if ((csts & mask) == want)
			return 0;
		if (time_now_ns() >= deadline)
			return -ETIMEDOUT;
		thread_sleep_ns(1000000);
	}
}

static int ctrl_disable(struct nvme_ctrl *c)
{
	uint32_t cc = rd32(c, NVME_REG_CC);

	wr32(c, NVME_REG_CC, cc & ~(NVME_CC_EN | NVME_CC_SHN_MASK));
	return wait_csts(c, NVME_CSTS_RDY, 0, c->ready_timeout_ns);
}

/* Programs the admin queue and enables the controller (it must be off). */
static int ctrl_enable(struct nvme_ctrl *c)
{
	queue_reset(&c->adminq);
	wr32(c, NVME_REG_AQA, (CQ_ENTRIES - 1) << 16 | (SQ_ENTRIES - 1));
	wr64(c, NVME_REG_ASQ, dma_x(c->adminq.sq_dma));
	wr64(c, NVME_REG_ACQ, dma_x(c->adminq.cq_dma));
	wr32(c, NVME_REG_CC, NVME_CC_CSS_NVM | NVME_CC_MPS(PAGE_SHIFT) | NVME_CC_AMS_RR |
				     NVME_CC_IOSQES(NVME_SQES_LOG2) | NVME_CC_IOCQES(NVME_CQES_LOG2));
	wr32(c, NVME_REG_CC, rd32(c, NVME_REG_CC) | NVME_CC_EN);
	int rc = wait_csts(c, NVME_CSTS_RDY | NVME_CSTS_CFS, NVME_CSTS_RDY, c->ready_timeout_ns);
	if (rc == -ETIMEDOUT && (rd32(c, NVME_REG_CSTS) & NVME_CSTS_CFS))
		rc = -EIO;
	return rc;
}

/* ---- watchdog and reset ---- */

/* Timer (upcall context): looks for a command past its deadline. */
static void watchdog_tick(void *ctx)
{
	struct nvme_ctrl *c = ctx;
	uint64_t now = time_now_ns();
	bool busy = false;

	unsigned long f = spin_lock_irqsave(&c->lock);
	for (unsigned int i = 0; i < IO_SLOTS; i++) {
		if (!c->slots[i].busy)
			continue;
		busy = true;
		if (c->state == ST_LIVE && !c->reset_requested && c->slots[i].deadline_ns <= now) {
			c->reset_requested = true;
			c->timed_out_cid = (int)i;
		}
	}
	if (busy && (c->state == ST_LIVE || c->state == ST_RESETTING))
		timer_arm(&c->wd_timer, now + WATCHDOG_PERIOD_NS);
	spin_unlock_irqrestore(&c->lock, f);
	if (c->reset_requested)
		waitq_wake_all(&c->wd_wq);
}

static bool expired_io(struct nvme_ctrl *c)
{
	uint64_t now = time_now_ns();
	for (unsigned int i = 0; i < IO_SLOTS; i++)
		if (c->slots[i].busy && c->slots[i].deadline_ns <= now)
			return true;
	return false;
}

/* Fails every queued and in-flight request with `err` (controller dead). */
static void fail_all(struct nvme_ctrl *c, int err, struct done_list *dl)
{
	for (unsigned int i = 0; i < IO_SLOTS; i++) {
		struct nvme_slot *s = &c->slots[i];
		if (!s->busy)
			continue;
		struct nvme_tracker *t = s->trk;
		slot_release(c, i);
		t->status = t->status ? t->status : err;
		t->cmds_out--;
		trk_maybe_finish(c, t, dl);
	}
	while (c->pend_head) {
		struct nvme_tracker *t = c->pend_head;
		c->pend_head = t->next;
		t->pending = false;
		t->more = false;
		t->status = t->status ? t->status : err;
		trk_maybe_finish(c, t, dl);
	}
	c->pend_tail = NULL;
}

/*
 * The reset (watchdog thread, admin_lock held): see the top of the file.
 * `why` names the command that timed out (-1: an admin command).
 */
static void ctrl_reset(struct nvme_ctrl *c, int why)
{
	struct done_list dl;
	unsigned long f;
	int rc;

	dl.n = 0;
	if (why >= 0)
		klog("%s: command %d timed out, controller reset\n", c->name, why);
	else
		klog("%s: admin command timed out, controller reset\n", c->name);
	f = spin_lock_irqsave(&c->lock);
	if (c->state != ST_LIVE) {
		spin_unlock_irqrestore(&c->lock, f);
		return;
	}
	c->state = ST_RESETTING;
	c->resets++;
	spin_unlock_irqrestore(&c->lock, f);

	rc = ctrl_disable(c);
	/* Disabled, the controller no longer touches the queues or memory; a
	 * command still in a slot is lost to it and is ours to retry or fail. */
	uint64_t now = time_now_ns();
	unsigned int failed = 0, retried = 0;
	f = spin_lock_irqsave(&c->lock);
	c->admin_busy = false;
	for (unsigned int i = 0; i < IO_SLOTS; i++) {
		struct nvme_slot *s = &c->slots[i];
		if (!s->busy)
			continue;
		if (s->deadline_ns <= now && ++s->timeouts >= MAX_TIMEOUTS) {
			struct nvme_tracker *t = s->trk;
			slot_release(c, i);
			t->status = t->status ? t->status : -ETIMEDOUT;
			t->cmds_out--;
			c->timeouts++;
			failed++;
			trk_maybe_finish(c, t, &dl);
		} else {
			retried++;
		}
	}
	spin_unlock_irqrestore(&c->lock, f);
	run_done(c, &dl);

	if (rc == 0)
		rc = ctrl_enable(c);
	if (rc == 0) {
		queue_reset(&c->ioq);
		rc = create_io_queues(c);
	}
	f = spin_lock_irqsave(&c->lock);
	if (rc) {
		c->state = ST_DEAD;
		fail_all(c, -ENXIO, &dl);
	} else {
		/* Re-issue what was in flight, with the same identifiers (each
		 * slot keeps its PRP list) and fresh deadlines. */
		c->state = ST_LIVE;
		for (unsigned int i = 0; i < IO_SLOTS; i++) {
			struct nvme_slot *s = &c->slots[i];
			if (!s->busy)
				continue;
			s->deadline_ns = time_now_ns() + io_timeout_ns;
			queue_put(&c->ioq, &s->sqe);
		}
		if (retried) {
			queue_ring(&c->ioq);
			watchdog_arm(c);
		}
		pump(c, &dl);
	}
	spin_unlock_irqrestore(&c->lock, f);
	run_done(c, &dl);
	if (rc)
		klog("%s: controller did not come back from reset (%d): disabled, I/O fails\n",
		     c->name, rc);
	else
		klog("%s: reset done: %u command(s) failed with -ETIMEDOUT, %u retried\n", c->name,
		     failed, retried);
}

static bool reset_cond(void *ctx)
{
	return ((struct nvme_ctrl *)ctx)->reset_requested;
}

static void watchdog_thread(void *arg)
{
	struct nvme_ctrl *c = arg;

	for (;;) {
		waitq_wait_until(&c->wd_wq, reset_cond, c, 0);
		mutex_lock(&c->admin_lock);
		/* First poll: an entry already posted means only an interrupt
		 * went missing, which is no reason to reset. */
		struct done_list dl;
		dl.n = 0;
		unsigned long f = spin_lock_irqsave(&c->lock);
		int why = c->timed_out_cid;
		process_cq(c, &c->ioq, &dl);
		pump(c, &dl);
		bool still = why < 0 || expired_io(c);
		spin_unlock_irqrestore(&c->lock, f);
		run_done(c, &dl);
		if (still)
			ctrl_reset(c, why);
		else
			klog("%s: command %d completed without an interrupt\n", c->name, why);
		c->reset_requested = false;
		mutex_unlock(&c->admin_lock);
	}
}

/* ---- probe ---- */

static void copy_trimmed(char *dst, size_t dst_len, const uint8_t *src, size_t n)
{
	size_t len = MIN(n, dst_len - 1);
	memcpy(dst, src, len);
	while (len && (dst[len - 1] == ' ' || dst[len - 1] == 0))
		len--;
	dst[len] = 0;
	for (size_t i = 0; i < len; i++)
		if (dst[i] < 0x20 || dst[i] > 0x7e)
			dst[i] = '?';
}

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64_at(const uint8_t *p)
{
	return le32_at(p) | (uint64_t)le32_at(p + 4) << 32;
}

static int identify_ctrl(struct nvme_ctrl *c)
{
	int rc = identify(c, NVME_CNS_CTRL, 0, NULL);
	if (rc)
		return rc;
	const uint8_t *id = c->ident;
	copy_trimmed(c->serial, sizeof(c->serial), id + NVME_IDC_SN, 20);
	copy_trimmed(c->model, sizeof(c->model), id + NVME_IDC_MN, 40);
	copy_trimmed(c->firmware, sizeof(c->firmware), id + NVME_IDC_FR, 8);
	uint8_t mdts = id[NVME_IDC_MDTS];
	uint64_t mps_min = PAGE_SIZE << NVME_CAP_MPSMIN(c->cap);
	c->max_xfer_bytes = MAX_XFER_BYTES;
	if (mdts && mdts < 20 && (mps_min << mdts) < MAX_XFER_BYTES)
		c->max_xfer_bytes = (uint32_t)(mps_min << mdts);
	c->nn = le32_at(id + NVME_IDC_NN);
	c->oncs = (uint16_t)(id[NVME_IDC_ONCS] | id[NVME_IDC_ONCS + 1] << 8);
	c->vwc = id[NVME_IDC_VWC] & 1;
	c->rtd3e_us = le32_at(id + NVME_IDC_RTD3E);
	/* The entry sizes keel programs in CC must be within SQES/CQES. */
	uint8_t sqes = id[NVME_IDC_SQES], cqes = id[NVME_IDC_CQES];
	if ((sqes & 0xf) > NVME_SQES_LOG2 || (sqes >> 4) < NVME_SQES_LOG2 ||
	    (cqes & 0xf) > NVME_CQES_LOG2 || (cqes >> 4) < NVME_CQES_LOG2) {
		klog("%s: unsupported queue entry sizes (SQES %#x, CQES %#x)\n", c->name, sqes,
		     cqes);
		return -ENODEV;
	}
	return 0;
}

static void ns_name(struct nvme_ctrl *c, unsigned int index, char *buf, size_t len)
{
	ksnprintf(buf, len, "%sn%u", c->name, index);
}

/* Identifies namespace nsid and registers it as a disk if keel can drive it. */
static int ns_add(struct nvme_ctrl *c, uint32_t nsid)
{
	char name[24];
	int rc;

	mutex_lock(&c->admin_lock);
	rc = identify(c, NVME_CNS_NS, nsid, NULL);
	mutex_unlock(&c->admin_lock);
	if (rc)
		return rc;
	const uint8_t *id = c->ident;
	uint64_t nsze = le64_at(id + NVME_IDNS_NSZE);
	unsigned int fmt = id[NVME_IDNS_FLBAS] & 0xf;
	uint32_t lbaf = le32_at(id + NVME_IDNS_LBAF + 4 * fmt);
	unsigned int ms = lbaf & 0xffff, lbads = (lbaf >> 16) & 0xff;
	if (nsze == 0)
		return 0;  /* inactive */
	if (c->nr_ns >= MAX_NS) {
		klog("%s: namespace %u ignored: keel drives at most %u per controller\n", c->name,
		     nsid, MAX_NS);
		return -ENOSPC;
	}
	ns_name(c, c->nr_ns + 1, name, sizeof(name));
	if (lbads != 9 && lbads != 12) {
		klog("%s: %s (nsid %u): %u-byte blocks not supported (512 and 4096 are)\n", c->name,
		     name, nsid, 1u << (lbads & 31));
		return -EOPNOTSUPP;
	}
	if (ms) {
		klog("%s: %s (nsid %u): formatted with %u bytes of metadata per block, not "
		     "supported\n", c->name, name, nsid, ms);
		return -EOPNOTSUPP;
	}
	if (nsze > (UINT64_MAX >> lbads)) {
		klog("%s: %s: size out of range\n", c->name, name);
		return -EINVAL;
	}
	struct nvme_ns *ns = kzalloc(sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	ns->ctrl = c;
	ns->nsid = nsid;
	ns->lba_shift = lbads;
	struct blkdev *b = &ns->bdev;
	ksnprintf(b->name, sizeof(b->name), "%s", name);
	b->major = NVME_MAJOR;
	/* Linux's blkext minors: handed out in order, partitions included. */
	b->minor = blkdev_alloc_ext_minor();
	b->nr_sectors = nsze << (lbads - SECTOR_SHIFT);
	b->logical_block_bytes = 1u << lbads;
	b->physical_block_bytes = b->logical_block_bytes;
	uint16_t npwg = (uint16_t)(id[NVME_IDNS_NPWG] | id[NVME_IDNS_NPWG + 1] << 8);
	if ((id[NVME_IDNS_NSFEAT] & (1u << 4)) && npwg) {
		uint32_t pb = (npwg + 1u) << lbads;
		if (!(pb & (pb - 1)) && pb <= 65536)
			b->physical_block_bytes = pb;
	}
	b->can_flush = c->vwc;
	b->can_fua = true;
	b->can_discard = c->oncs & NVME_ONCS_DSM;
	b->can_write_zeroes = c->oncs & NVME_ONCS_WRITE_ZEROES;
	b->discard_granularity_bytes = b->logical_block_bytes;
	b->max_sectors = c->max_xfer_bytes >> SECTOR_SHIFT;
	/* A request of max_sectors in whole pages, not page-aligned, spans one
	 * page more; larger segment lists are accepted too (split). */
	b->max_segs = (uint16_t)(c->max_xfer_bytes / PAGE_SIZE + 1);
	ksnprintf(b->model, sizeof(b->model), "%s", c->model);
	b->ops = &nvme_ops;
	b->drv = ns;
	c->ns[c->nr_ns] = ns;
	/* The interrupt handler walks ns[0..nr_ns): the entry first. */
	__atomic_store_n(&c->nr_ns, c->nr_ns + 1, __ATOMIC_RELEASE);
	klog("%s: %s: nsid %u, %llu blocks of %u bytes\n", c->name, name, nsid,
	     (unsigned long long)nsze, b->logical_block_bytes);
	return blkdev_register_disk(b);
}

static void scan_namespaces(struct nvme_ctrl *c)
{
	/* The active namespace list (NVMe 1.1+); else try 1..NN. */
	uint32_t *ids = kmalloc(PAGE_SIZE);
	unsigned int n = 0;
	uint16_t st = 0;

	if (!ids)
		return;
	mutex_lock(&c->admin_lock);
	int rc = identify(c, NVME_CNS_NS_ACTIVE_LIST, 0, &st);
	if (rc == 0)
		memcpy(ids, c->ident, PAGE_SIZE);
	mutex_unlock(&c->admin_lock);
	if (rc == 0) {
		while (n < PAGE_SIZE / 4 && ids[n])
			n++;
	} else {
		for (uint32_t i = 1; i <= c->nn && n < MAX_NS; i++)
			ids[n++] = i;
	}
	for (unsigned int i = 0; i < n; i++)
		ns_add(c, ids[i]);
	kfree(ids);
}

static void ctrl_free(struct nvme_ctrl *c)
{
	for (unsigned int i = 0; i < IO_SLOTS; i++)
		if (c->slots[i].page)
			dma_free_page(c->slots[i].page);
	if (c->ident)
		dma_free_page(c->ident);
	queue_free(&c->adminq);
	queue_free(&c->ioq);
	kfree(c);
}

static int nvme_probe(struct pci_dev *d)
{
	char bdf[16];
	int rc;

	pci_format_bdf(d, bdf, sizeof(bdf));
	if (!d->bars[0].size_bytes || d->bars[0].is_io) {
		klog("nvme: %s: BAR0 is not a memory BAR\n", bdf);
		return -ENODEV;
	}
	struct nvme_ctrl *c = kzalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pci = d;
	ksnprintf(c->name, sizeof(c->name), "nvme%u", blkdev_next_index("nvme"));
	mutex_init(&c->admin_lock, "nvme admin");
	spin_init(&c->lock, "nvme queues");
	c->state = ST_PROBING;
	c->timed_out_cid = -1;
	c->wd_timer.fn = watchdog_tick;
	c->wd_timer.ctx = c;

	pci_enable_device(d);
	c->regs = pci_map_bar(d, 0, 0, NVME_REGS_BYTES);
	if (!c->regs) {
		rc = -ENOMEM;
		goto err_free;
	}
	c->cap = mmio_read64(c->regs + NVME_REG_CAP);
	c->db_stride = 4u << NVME_CAP_DSTRD(c->cap);
	c->ready_timeout_ns = (uint64_t)MAX(NVME_CAP_TO(c->cap), 1u) * 500000000ull;
	c->version = rd32(c, NVME_REG_VS);
	if (!NVME_CAP_CSS_NVM(c->cap) || NVME_CAP_MPSMIN(c->cap) > 0) {
		klog("%s: %s: needs the NVM command set and 4 KiB pages (CAP %#llx)\n", c->name,
		     bdf, (unsigned long long)c->cap);
		rc = -ENODEV;
		goto err_unmap;
	}
	if (NVME_CAP_MQES(c->cap) + 1 < SQ_ENTRIES) {
		klog("%s: %s: queues of %u entries are too small\n", c->name, bdf,
		     NVME_CAP_MQES(c->cap) + 1);
		rc = -ENODEV;
		goto err_unmap;
	}
	/* Doorbells of queues 0 and 1: SQ0 CQ0 SQ1 CQ1. */
	c->dbs_len = 4 * c->db_stride;
	c->dbs = pci_map_bar(d, 0, NVME_REG_DBS, c->dbs_len);
	if (!c->dbs) {
		rc = -ENOMEM;
		goto err_unmap;
	}
	if ((rc = ctrl_disable(c))) {
		klog("%s: %s: controller does not disable (%d)\n", c->name, bdf, rc);
		goto err_unmap_db;
	}
	if ((rc = queue_alloc(c, &c->adminq, 0)) || (rc = queue_alloc(c, &c->ioq, 1)) ||
	    (rc = dma_alloc_page(&c->ident, &c->ident_dma)))
		goto err_pages;
	for (unsigned int i = 0; i < IO_SLOTS; i++) {
		if ((rc = dma_alloc_page(&c->slots[i].page, &c->slots[i].page_dma)))
			goto err_pages;
		c->free_slots |= 1ull << i;
	}
	for (unsigned int i = 0; i < TRACKERS; i++)
		trk_free(c, &c->trackers[TRACKERS - 1 - i]);
	queue_reset(&c->ioq);

	void *ctxs[2] = { &c->adminq, &c->ioq };
	if ((rc = pci_irq_setup(d, &c->irqs, 2, nvme_interrupt, ctxs)))
		goto err_pages;
	if ((rc = ctrl_enable(c))) {
		klog("%s: %s: controller does not become ready (%d, CSTS %#x)\n", c->name, bdf, rc,
		     rd32(c, NVME_REG_CSTS));
		goto err_irq;
	}
	mutex_lock(&c->admin_lock);
	rc = identify_ctrl(c);
	if (rc == 0)
		rc = create_io_queues(c);
	mutex_unlock(&c->admin_lock);
	if (rc) {
		klog("%s: %s: setup failed (%d)\n", c->name, bdf, rc);
		goto err_disable;
	}
	c->state = ST_LIVE;
	d->driver_data = c;
	c->next = controllers;
	controllers = c;
	if (!thread_create("nvme-watchdog", watchdog_thread, c))
		klog("%s: no watchdog thread: timeouts will not reset the controller\n", c->name);
	klog("%s: %s: %s, serial %s, firmware %s, NVMe %u.%u, %s, %u KiB per command%s%s%s\n",
	     c->name, bdf, c->model, c->serial, c->firmware, c->version >> 16,
	     (c->version >> 8) & 0xff, pci_irq_mode_name(c->irqs.mode), c->max_xfer_bytes / 1024,
	     c->vwc ? ", volatile cache" : "", c->oncs & NVME_ONCS_DSM ? ", deallocate" : "",
	     c->oncs & NVME_ONCS_WRITE_ZEROES ? ", write zeroes" : "");
	scan_namespaces(c);
	return 0;

err_disable:
	ctrl_disable(c);
err_irq:
	pci_irq_teardown(d, &c->irqs);
err_pages:
	ctrl_disable(c);
	pci_disable_bus_master(d);
	pci_unmap_bar((void *)c->dbs, c->dbs_len);
	pci_unmap_bar((void *)c->regs, NVME_REGS_BYTES);
	ctrl_free(c);
	return rc;
err_unmap_db:
	pci_unmap_bar((void *)c->dbs, c->dbs_len);
err_unmap:
	pci_unmap_bar((void *)c->regs, NVME_REGS_BYTES);
err_free:
	kfree(c);
	return rc;
}

/* Flushes every namespace's cache, deletes the I/O queues, then a normal
 * shutdown (CC.SHN, wait CSTS.SHST) and no more DMA. */
static void nvme_shutdown(struct pci_dev *d)
{
	struct nvme_ctrl *c = d->driver_data;
	int rc = 0;

	if (!c)
		return;
	for (unsigned int i = 0; i < c->nr_ns && c->vwc; i++) {
		int r = blk_flush_sync(&c->ns[i]->bdev);
		if (r) {
			klog("%s: %s: cache flush failed (%d)\n", c->name, c->ns[i]->bdev.name, r);
			rc = r;
		}
	}
	mutex_lock(&c->admin_lock);
	unsigned long f = spin_lock_irqsave(&c->lock);
	bool live = c->state == ST_LIVE;
	c->state = ST_SHUTDOWN;
	spin_unlock_irqrestore(&c->lock, f);
	if (live) {
		struct nvme_sqe dsq = { .opcode = NVME_ADMIN_DELETE_SQ, .cdw10 = c->ioq.qid };
		struct nvme_sqe dcq = { .opcode = NVME_ADMIN_DELETE_CQ, .cdw10 = c->ioq.qid };
		admin_exec(c, &dsq, NULL, NULL);
		admin_exec(c, &dcq, NULL, NULL);
		uint32_t cc = rd32(c, NVME_REG_CC);
		wr32(c, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
		uint64_t t = c->rtd3e_us ? MIN((uint64_t)c->rtd3e_us * 1000, 60000000000ull)
					 : 5000000000ull;
		int r = wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_DONE, MAX(t, 1000000000ull));
		if (r)
			klog("%s: shutdown did not complete (%d)\n", c->name, r);
		rc = rc ? rc : r;
	}
	mutex_unlock(&c->admin_lock);
	pci_disable_bus_master(d);
	klog("%s: %s, shut down\n", c->name, rc ? "errors while stopping" : "caches flushed");
}

const struct pci_driver nvme_driver = {
	.name = "nvme",
	.match = nvme_match,
	.probe = nvme_probe,
	.shutdown = nvme_shutdown,
};

/* ---- the `nvme` shell command ---- */

static struct nvme_ctrl *find_ctrl(const char *name)
{
	for (struct nvme_ctrl *c = controllers; c; c = c->next)
		if (!strcmp(c->name, name) || (!strncmp(name, "/dev/", 5) && !strcmp(c->name, name + 5)))
			return c;
	return NULL;
}

static const char *state_name(enum ctrl_state s)
{
	static const char *const names[] = { "probing", "live", "resetting", "dead", "shut down" };
	return names[s];
}

struct prp_wait {
	struct completion done;
	int status;
};

static void prp_test_done(struct blk_request *req, int status)
{
	struct prp_wait *w = req->ctx;
	w->status = status;
	complete(&w->done);
}

static int prp_test_io(struct blkdev *dev, enum blk_op op, uint64_t sector, struct blk_seg *segs,
		       unsigned int n)
{
	struct prp_wait w = { .status = 0 };
	struct blk_request req = { .op = op, .sector = sector, .nr_segs = (uint16_t)n, .segs = segs,
				   .done = prp_test_done, .ctx = &w };
	completion_init(&w.done);
	int rc = blk_submit(dev, &req);
	if (rc)
		return rc;
	completion_wait(&w.done, 0);
	return w.status;
}

/*
 * `nvme prp-test DEV OFFSET`: writes 16 KiB at OFFSET (destroying it)
 * through a segment list that breaks the PRP rules in four places, reads it
 * back page-aligned and compares, then reads it through the broken list
 * and compares again.  Shows how many NVMe commands the request took.
 */
static int prp_test(const char *name, uint64_t off)
{
	static const struct { uint16_t page, offset, len; } layout[] = {
		{ 0, 3584, 512 }, { 1, 0, 4096 }, { 2, 0, 1024 },  /* one command */
		{ 3, 512, 1536 },                                  /* starts and ends mid-page */
		{ 4, 2048, 2048 }, { 5, 0, 4096 },                 /* one command */
		{ 6, 1024, 512 },
		{ 7, 0, 2560 },
	};
	const unsigned int n = ARRAY_SIZE(layout), bytes = 16384;
	struct blkdev *dev = blkdev_find(name);
	struct blk_seg segs[ARRAY_SIZE(layout)];
	int rc;

	if (!dev || blkdev_disk_of(dev)->ops != &nvme_ops) {
		kprintf("nvme: %s: not an NVMe namespace\n", name);
		return -ENOENT;
	}
	if (off % 512 || off / 512 + bytes / 512 > dev->nr_sectors) {
		kprintf("nvme: prp-test: OFFSET must be a multiple of 512 inside the device\n");
		return -EINVAL;
	}
	struct nvme_ctrl *c = ((struct nvme_ns *)blkdev_disk_of(dev)->drv)->ctrl;
	uint8_t *frag = page_alloc(8), *flat = page_alloc(4);
	if (!frag || !flat) {
		rc = -ENOMEM;
		goto out;
	}
	unsigned int pos = 0;
	for (unsigned int i = 0; i < n; i++) {
		uint8_t *p = frag + layout[i].page * PAGE_SIZE + layout[i].offset;
		for (unsigned int j = 0; j < layout[i].len; j++)
			p[j] = (uint8_t)((pos + j) * 7 + (pos + j) / 251 + 1);
		segs[i] = (struct blk_seg){ dma_map_virt(p), layout[i].len };
		pos += layout[i].len;
	}
	uint64_t before = c->cmds_issued;
	rc = prp_test_io(dev, BLK_OP_WRITE, off / 512, segs, n);
	uint64_t cmds = c->cmds_issued - before;
	if (rc) {
		kprintf("nvme: prp-test: %s: fragmented write failed (%d)\n", name, rc);
		goto out;
	}
	if ((rc = blk_read_sync(dev, off / 512, flat, bytes)))
		goto out;
	pos = 0;
	for (unsigned int i = 0; i < n && !rc; i++) {
		if (memcmp(flat + pos, frag + layout[i].page * PAGE_SIZE + layout[i].offset,
			   layout[i].len))
			rc = -EIO;
		pos += layout[i].len;
	}
	if (rc) {
		kprintf("nvme: prp-test: %s: bytes read back differ from the fragmented write\n",
			name);
		goto out;
	}
	memset(frag, 0, 8 * PAGE_SIZE);
	if ((rc = prp_test_io(dev, BLK_OP_READ, off / 512, segs, n))) {
		kprintf("nvme: prp-test: %s: fragmented read failed (%d)\n", name, rc);
		goto out;
	}
	pos = 0;
	for (unsigned int i = 0; i < n && !rc; i++) {
		if (memcmp(flat + pos, frag + layout[i].page * PAGE_SIZE + layout[i].offset,
			   layout[i].len))
			rc = -EIO;
		pos += layout[i].len;
	}
	if (rc)
		kprintf("nvme: prp-test: %s: fragmented read differs\n", name);
	else
		kprintf("nvme: prp-test: %s: %u bytes in %u segments as %llu commands: write and "
			"read ok\n", name, bytes, n, (unsigned long long)cmds);
out:
	if (frag)
		page_free(frag, 8);
	if (flat)
		page_free(flat, 4);
	return rc;
}

int nvme_command(int argc, char **argv)
{
	pci_probe_wait(10000000000ull);
	if (argc >= 2 && !strcmp(argv[1], "list")) {
		for (struct nvme_ctrl *c = controllers; c; c = c->next) {
			char bdf[16];
			pci_format_bdf(c->pci, bdf, sizeof(bdf));
			uint64_t vec[2] = { 0, 0 };
			for (unsigned int i = 0; i < c->irqs.nvec && i < 2; i++)
				vec[i] = c->irqs.vec[i].count;
			kprintf("%s %s %s sn %s fw %s: %s, %s %u vector(s) (%llu, %llu interrupts), "
				"%llu polled, %llu reset(s), %llu timed out; I/O queue polled %llu times\n",
				c->name, bdf, c->model, c->serial, c->firmware, state_name(c->state),
				pci_irq_mode_name(c->irqs.mode), c->irqs.nvec,
				(unsigned long long)vec[0], (unsigned long long)vec[1],
				(unsigned long long)c->polled, (unsigned long long)c->resets,
				(unsigned long long)c->timeouts, (unsigned long long)c->polls);
			for (unsigned int i = 0; i < c->nr_ns; i++)
				kprintf("  %s nsid %u: %llu sectors, %u-byte blocks\n",
					c->ns[i]->bdev.name, c->ns[i]->nsid,
					(unsigned long long)c->ns[i]->bdev.nr_sectors,
					c->ns[i]->bdev.logical_block_bytes);
		}
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "inject-timeout")) {
		struct nvme_ctrl *c = find_ctrl(argv[2]);
		if (!c) {
			kprintf("nvme: %s: no such controller\n", argv[2]);
			return -ENOENT;
		}
		uint32_t n = argc >= 4 ? (uint32_t)strtoul(argv[3], NULL, 0) : 1;
		unsigned long f = spin_lock_irqsave(&c->lock);
		c->inject_drops = n;
		spin_unlock_irqrestore(&c->lock, f);
		kprintf("nvme: %s: the next %u I/O completion(s) will be dropped\n", c->name, n);
		return 0;
	}
	if (argc >= 3 && !strcmp(argv[1], "timeout")) {
		uint64_t s = strtoull(argv[2], NULL, 0);
		if (s == 0 || s > 3600) {
			kprintf("nvme: timeout must be 1..3600 seconds\n");
			return -EINVAL;
		}
		io_timeout_ns = s * 1000000000ull;
		kprintf("nvme: I/O command timeout %llu s\n", (unsigned long long)s);
		return 0;
	}
	if (argc >= 4 && !strcmp(argv[1], "prp-test"))
		return prp_test(argv[2], strtoull(argv[3], NULL, 0));
	kprintf("usage: nvme list | nvme inject-timeout CTRL [N] | nvme timeout SECONDS | "
		"nvme prp-test DEV OFFSET\n");
	return -EINVAL;
}

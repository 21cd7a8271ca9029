/*
 * `blk-bench DEV [-w] [-t SECONDS]`: the raw figures of a block device from
 * keel itself, through the blkdev API only (so any driver can be measured):
 * sequential 1 MiB reads and 4 KiB random reads, and with -w the same
 * writes (which destroy the data), each at queue depth 1 and 32, for a few
 * seconds each; prints MB/s (10^6 bytes) and IOPS.
 *
 * An I/O of the test (a "unit": 1 MiB or 4 KiB) is cut into as many
 * requests as the device's max_sectors and max_segs demand, all submitted
 * at once; the unit completes when its last request does.  Buffers: one
 * 1 MiB area of dom0 pages; 4 KiB unit i uses page i, and every 1 MiB unit
 * uses the whole area (concurrent reads into the same pages are harmless:
 * the contents are not looked at).
 */
#include <keel/blkdev.h>
#include <keel/dma.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/pci.h>
#include <lib/printf.h>

#define BENCH_MAX_QD 32u
#define BIG_BYTES (1u << 20)
#define SMALL_BYTES 4096u
#define BUF_PAGES (BIG_BYTES / PAGE_SIZE)
#define STALL_NS 60000000000ull

struct bench;

struct bench_unit {
	struct bench *b;
	unsigned int index;
	unsigned int nreq;
	unsigned int cap_reqs, cap_pages;  /* sizes of reqs and segs */
	uint32_t left;            /* requests still in flight */
	int status;
	struct blk_request *reqs;
	struct blk_seg *segs;
};

struct bench {
	struct blkdev *dev;
	char *buf;
	uint32_t req_bytes;       /* largest request the device takes */
	struct bench_unit units[BENCH_MAX_QD];
	/* Finished units, written by done callbacks (upcall context). */
	uint32_t ring[BENCH_MAX_QD];
	uint32_t ring_head, ring_tail;
	struct waitq wq;
};

static void unit_finished(struct bench_unit *u)
{
	struct bench *b = u->b;
	b->ring[b->ring_tail++ % BENCH_MAX_QD] = u->index;
	waitq_wake_all(&b->wq);
}

/* A request of a unit completed (any context). */
static void bench_done(struct blk_request *req, int status)
{
	struct bench_unit *u = req->ctx;
	unsigned long f = irq_save();
	if (status && !u->status)
		u->status = status;
	if (--u->left == 0)
		unit_finished(u);
	irq_restore(f);
}

static bool ring_nonempty(void *ctx)
{
	struct bench *b = ctx;
	return b->ring_head != b->ring_tail;
}

/* Sets up unit u's requests for `bytes` at byte `off` of the device. */
static int unit_prepare(struct bench *b, struct bench_unit *u, bool write, uint64_t off,
			uint32_t bytes)
{
	char *base = bytes == BIG_BYTES ? b->buf : b->buf + (size_t)u->index * PAGE_SIZE;
	unsigned int nreq = (bytes + b->req_bytes - 1) / b->req_bytes;
	unsigned int npages = bytes / PAGE_SIZE;

	if (u->cap_reqs < nreq || u->cap_pages < npages) {
		kfree(u->reqs);
		kfree(u->segs);
		u->reqs = kzalloc(nreq * sizeof(*u->reqs));
		u->segs = kzalloc(npages * sizeof(*u->segs));
		u->cap_reqs = u->cap_pages = 0;
		if (!u->reqs || !u->segs)
			return -ENOMEM;
		u->cap_reqs = nreq;
		u->cap_pages = npages;
	}
	u->nreq = nreq;
	u->status = 0;
	for (unsigned int p = 0; p < npages; p++)
		u->segs[p] = (struct blk_seg){ dma_map_virt(base + (size_t)p * PAGE_SIZE),
					       (uint32_t)PAGE_SIZE };
	uint32_t per = b->req_bytes / PAGE_SIZE;
	for (unsigned int r = 0; r < nreq; r++) {
		uint32_t first = r * per;
		uint32_t n = MIN(per, npages - first);
		u->reqs[r] = (struct blk_request){ .op = write ? BLK_OP_WRITE : BLK_OP_READ,
						   .sector = (off + (uint64_t)first * PAGE_SIZE) / SECTOR_BYTES,
						   .nr_segs = (uint16_t)n, .segs = u->segs + first,
						   .done = bench_done, .ctx = u };
	}
	return 0;
}

/* Submits every request of u, waiting out -EAGAIN; 0 or -errno (then the
 * requests not sent count as failed). */
static int unit_submit(struct bench *b, struct bench_unit *u)
{
	unsigned long f = irq_save();
	u->left = u->nreq;
	irq_restore(f);
	for (unsigned int r = 0; r < u->nreq; r++) {
		uint64_t give_up = time_now_ns() + STALL_NS;
		int rc;
		while ((rc = blk_submit(b->dev, &u->reqs[r])) == -EAGAIN && time_now_ns() < give_up)
			thread_sleep_ns(50000);
		if (rc) {
			f = irq_save();
			if (!u->status)
				u->status = rc;
			u->left -= u->nreq - r;
			if (u->left == 0)
				unit_finished(u);
			irq_restore(f);
			return rc;
		}
	}
	return 0;
}

struct bench_result {
	uint64_t ios, bytes, ns;
	int status;
};

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void run_test(struct bench *b, bool write, bool random, unsigned int qd, uint64_t dur_ns,
		     struct bench_result *res)
{
	uint32_t bytes = random ? SMALL_BYTES : BIG_BYTES;
	uint64_t dev_bytes = b->dev->nr_sectors * SECTOR_BYTES;
	uint64_t slots = dev_bytes / bytes, seq = 0, rng = 0x9e3779b97f4a7c15ull;
	unsigned int inflight = 0;

	*res = (struct bench_result){ 0, 0, 0, 0 };
	b->ring_head = b->ring_tail = 0;
	uint64_t start = time_now_ns(), end = start + dur_ns;
	for (unsigned int i = 0; i < qd; i++) {
		struct bench_unit *u = &b->units[i];
		uint64_t off = random ? (xorshift(&rng) % slots) * bytes : (seq++ % slots) * bytes;
		if ((res->status = unit_prepare(b, u, write, off, bytes)))
			break;
		inflight++;
		if ((res->status = unit_submit(b, u)))
			break;
	}
	while (inflight) {
		if (!waitq_wait_until(&b->wq, ring_nonempty, b, STALL_NS)) {
			/* Requests the device never completed: their buffers stay
			 * ours for good (they may still be written). */
			res->status = -ETIMEDOUT;
			break;
		}
		unsigned long f = irq_save();
		struct bench_unit *u = &b->units[b->ring[b->ring_head++ % BENCH_MAX_QD]];
		irq_restore(f);
		if (u->status && !res->status)
			res->status = u->status;
		if (!u->status) {
			res->ios++;
			res->bytes += bytes;
		}
		uint64_t now = time_now_ns();
		if (now >= end || res->status) {
			inflight--;
			continue;
		}
		uint64_t off = random ? (xorshift(&rng) % slots) * bytes : (seq++ % slots) * bytes;
		if ((res->status = unit_prepare(b, u, write, off, bytes))) {
			inflight--;
			continue;
		}
		/* On failure the unit comes back through the ring with its
		 * status (once what was sent of it completes). */
		unit_submit(b, u);
	}
	res->ns = time_now_ns() - start;
}

static void print_result(const char *what, unsigned int qd, const struct bench_result *r)
{
	if (r->status) {
		kprintf("%-24s QD%-2u: failed (%d) after %llu I/Os\n", what, qd, r->status,
			(unsigned long long)r->ios);
		return;
	}
	uint64_t ns = r->ns ? r->ns : 1;
	uint64_t mbps10 = r->bytes * 10000 / ns;
	uint64_t iops = r->ios * 1000000000ull / ns;
	kprintf("%-24s QD%-2u: %6llu.%llu MB/s %8llu IOPS\n", what, qd,
		(unsigned long long)(mbps10 / 10), (unsigned long long)(mbps10 % 10),
		(unsigned long long)iops);
}

int cmd_blk_bench(int argc, char **argv)
{
	bool write = false;
	uint64_t secs = 3;
	const char *name = NULL;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-w")) {
			write = true;
		} else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			secs = strtoull(argv[++i], NULL, 0);
			if (secs == 0 || secs > 600) {
				kprintf("blk-bench: -t takes 1..600 seconds\n");
				return -EINVAL;
			}
		} else if (argv[i][0] != '-' && !name) {
			name = argv[i];
		} else {
			name = NULL;
			break;
		}
	}
	if (!name) {
		kprintf("usage: blk-bench DEV [-w] [-t SECONDS]  (-w destroys the data on DEV)\n");
		return -EINVAL;
	}
	pci_probe_wait(10000000000ull);
	struct blkdev *dev = blkdev_find(name);
	if (!dev) {
		kprintf("blk-bench: %s: no such block device\n", name);
		return -ENOENT;
	}
	struct blkdev *disk = blkdev_disk_of(dev);
	if (write && dev->read_only) {
		kprintf("blk-bench: %s: read-only\n", name);
		return -EROFS;
	}
	if (dev->nr_sectors * SECTOR_BYTES < BIG_BYTES) {
		kprintf("blk-bench: %s: smaller than 1 MiB\n", name);
		return -EINVAL;
	}
	/* Largest request in whole pages that the disk takes. */
	uint64_t by_sectors = (uint64_t)disk->max_sectors * SECTOR_BYTES;
	uint64_t by_segs = (uint64_t)(disk->max_segs ? disk->max_segs : 1) * PAGE_SIZE;
	uint64_t rb = MIN(MIN(by_sectors, by_segs), (uint64_t)BIG_BYTES);
	rb = ALIGN_DOWN(rb, PAGE_SIZE);
	if (rb == 0)
		rb = PAGE_SIZE;

	struct bench *b = kzalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->dev = dev;
	b->req_bytes = (uint32_t)rb;
	b->buf = page_alloc(BUF_PAGES);
	if (!b->buf) {
		kfree(b);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < BENCH_MAX_QD; i++) {
		b->units[i].b = b;
		b->units[i].index = i;
	}
	kprintf("blk-bench: %s (%s): %llu MiB, requests up to %u KiB, %llu s per test%s\n", name,
		disk->model, (unsigned long long)(dev->nr_sectors >> 11), b->req_bytes / 1024,
		(unsigned long long)secs, write ? ", WRITES" : "");
	static const struct {
		const char *what;
		bool write, random;
	} tests[] = {
		{ "sequential read 1 MiB", false, false },
		{ "random read 4 KiB", false, true },
		{ "sequential write 1 MiB", true, false },
		{ "random write 4 KiB", true, true },
	};
	static const unsigned int qds[] = { 1, 32 };
	int rc = 0;
	for (size_t t = 0; t < ARRAY_SIZE(tests) && !rc; t++) {
		if (tests[t].write && !write)
			continue;
		for (size_t q = 0; q < ARRAY_SIZE(qds) && !rc; q++) {
			struct bench_result r;
			run_test(b, tests[t].write, tests[t].random, qds[q], secs * 1000000000ull, &r);
			print_result(tests[t].what, qds[q], &r);
			rc = r.status;
		}
	}
	if (write && !rc) {
		rc = blk_flush_sync(dev);
		if (rc)
			kprintf("blk-bench: %s: flush failed (%d)\n", name, rc);
	}
	if (rc == -ETIMEDOUT) {
		/* Requests the device never completed still point at these:
		 * they stay allocated for good. */
		kprintf("blk-bench: %s: requests not completed after %llu s\n", name,
			STALL_NS / 1000000000ull);
		return rc;
	}
	for (unsigned int i = 0; i < BENCH_MAX_QD; i++) {
		kfree(b->units[i].reqs);
		kfree(b->units[i].segs);
	}
	page_free(b->buf, BUF_PAGES);
	kfree(b);
	return rc;
}

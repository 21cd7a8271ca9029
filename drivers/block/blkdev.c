/*
 * The block-device registry and request path (include/keel/blkdev.h).
 *
 * Stacking: a partition or logical volume is a blkdev with a parent and a
 * list of extents; blk_submit() walks down to the disk, translating the
 * sector at each level.  A request that crosses from one extent to the next
 * (only LVs with several segments can) is split into children, each a
 * slice of the parent's segment list; the parent completes when the last
 * child does, with the first error any child saw.
 *
 * The registry is only changed from thread context (driver probe, lvcreate,
 * lvremove), and readers never sleep while walking it.
 */
#include <keel/blkdev.h>
#include <keel/blkscan.h>
#include <keel/kernel.h>
#include <keel/sync.h>
#include <lib/printf.h>

static struct blkdev *devices;
static struct mutex registry_lock = MUTEX_INIT("blkdev registry");

struct blkdev *blkdev_first(void)
{
	return devices;
}

static void list_add(struct blkdev *dev)
{
	struct blkdev **pp = &devices;
	while (*pp)
		pp = &(*pp)->next;
	dev->next = NULL;
	*pp = dev;
}

struct blkdev *blkdev_disk_of(struct blkdev *dev)
{
	while (dev->parent)
		dev = dev->parent;
	return dev;
}

unsigned int blkdev_next_index(const char *family)
{
	static struct {
		const char *family;
		unsigned int next;
	} counters[8];
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++) {
		if (!counters[i].family) {
			counters[i].family = family;
			return counters[i].next++;
		}
		if (strcmp(counters[i].family, family) == 0)
			return counters[i].next++;
	}
	return 99;
}

struct blkdev *blkdev_find(const char *name)
{
	const char *n = name;
	char lvname[48];

	if (strncmp(n, "/dev/mapper/", 12) == 0) {
		/* VG-LV, with "--" standing for a dash inside a name, as dm does. */
		n += 12;
		size_t j = 0;
		bool split = false;
		for (size_t i = 0; n[i] && j + 1 < sizeof(lvname); i++) {
			if (n[i] == '-' && n[i + 1] == '-') {
				lvname[j++] = '-';
				i++;
			} else if (n[i] == '-' && !split) {
				lvname[j++] = '/';
				split = true;
			} else {
				lvname[j++] = n[i];
			}
		}
		lvname[j] = 0;
		n = lvname;
	} else if (strncmp(n, "/dev/", 5) == 0) {
		n += 5;
	}
	for (struct blkdev *d = devices; d; d = d->next)
		if (strcmp(d->name, n) == 0)
			return d;
	return NULL;
}

static uint64_t segs_sectors(const struct blk_request *req, bool *ok)
{
	uint64_t bytes = 0;

	*ok = true;
	for (unsigned int i = 0; i < req->nr_segs; i++) {
		const struct blk_seg *s = &req->segs[i];
		uint64_t off = dma_x(s->addr) & (PAGE_SIZE - 1);
		if (s->len_bytes == 0 || s->len_bytes % SECTOR_BYTES || (off & 511) ||
		    off + s->len_bytes > PAGE_SIZE)
			*ok = false;
		bytes += s->len_bytes;
	}
	return bytes / SECTOR_BYTES;
}

static int check(struct blkdev *dev, struct blk_request *req)
{
	bool ok;

	switch (req->op) {
	case BLK_OP_READ:
	case BLK_OP_WRITE:
		if (req->nr_segs == 0 || !req->segs)
			return -EINVAL;
		req->nr_sectors = (uint32_t)segs_sectors(req, &ok);
		if (!ok)
			return -EINVAL;
		if (req->op == BLK_OP_WRITE && dev->read_only)
			return -EROFS;
		break;
	case BLK_OP_FLUSH:
		return 0;
	case BLK_OP_DISCARD:
	case BLK_OP_WRITE_ZEROES:
		if (dev->read_only)
			return -EROFS;
		if (req->nr_sectors == 0)
			return -EINVAL;
		if (!(req->op == BLK_OP_DISCARD ? blkdev_disk_of(dev)->can_discard
						: blkdev_disk_of(dev)->can_write_zeroes))
			return -EOPNOTSUPP;
		break;
	default:
		return -EINVAL;
	}
	if (req->sector > dev->nr_sectors || req->nr_sectors > dev->nr_sectors - req->sector)
		return -ENOSPC;
	return 0;
}

static const struct blk_extent *extent_at(const struct blkdev *dev, uint64_t sector)
{
	for (unsigned int i = 0; i < dev->nr_extents; i++) {
		const struct blk_extent *e = &dev->extents[i];
		if (sector >= e->sector && sector - e->sector < e->nr_sectors)
			return e;
	}
	return NULL;
}

static void child_done(struct blk_request *child, int status)
{
	struct blk_request *parent = child->parent;

	if (status && !parent->child_status)
		parent->child_status = status;
	kfree(child);
	if (--parent->children_left == 0)
		parent->done(parent, parent->child_status);
}

/* ---- backlog: requests a full driver queue could not take ---- */

static struct spinlock backlog_lock = SPINLOCK_INIT("blk backlog");
static struct waitq requeue_wq;
static bool requeue_wanted;
static bool requeue_started;

static void backlog_append(struct blkdev *disk, struct blk_request *req)
{
	req->backlog_next = NULL;
	if (disk->backlog_tail)
		disk->backlog_tail->backlog_next = req;
	else
		disk->backlog_head = req;
	disk->backlog_tail = req;
	disk->backlogged++;
}

bool blkdev_poll(struct blkdev *dev)
{
	struct blkdev *disk = blkdev_disk_of(dev);

	if (!disk->ops || !disk->ops->poll)
		return false;
	disk->ops->poll(disk);
	return true;
}

void blkdev_kick_backlog(struct blkdev *disk)
{
	if (!__atomic_load_n(&disk->backlog_head, __ATOMIC_RELAXED))
		return;
	requeue_wanted = true;
	waitq_wake_all(&requeue_wq);
}

static bool requeue_cond(void *ctx)
{
	(void)ctx;
	return requeue_wanted;
}

/* Resubmits each disk's backlog in order until the driver is full again. */
static void requeue_thread(void *unused)
{
	(void)unused;
	for (;;) {
		waitq_wait_until(&requeue_wq, requeue_cond, NULL, 0);
		requeue_wanted = false;
		for (struct blkdev *d = devices; d; d = d->next) {
			for (;;) {
				unsigned long f = spin_lock_irqsave(&backlog_lock);
				struct blk_request *req = d->backlog_head;
				if (req) {
					d->backlog_head = req->backlog_next;
					if (!d->backlog_head)
						d->backlog_tail = NULL;
				}
				spin_unlock_irqrestore(&backlog_lock, f);
				if (!req)
					break;
				int rc = d->ops->submit(d, req);
				if (rc == -EAGAIN) {
					f = spin_lock_irqsave(&backlog_lock);
					req->backlog_next = d->backlog_head;
					d->backlog_head = req;
					if (!d->backlog_tail)
						d->backlog_tail = req;
					spin_unlock_irqrestore(&backlog_lock, f);
					break;
				}
				if (rc)
					req->done(req, rc);
			}
		}
	}
}

/* A DISCARD the disk finished: counted (on success), then handed back to
 * whoever submitted it.  Any context: the counters are atomic. */
static void discard_done(struct blk_request *req, int status)
{
	struct blkdev *disk = req->acct_disk;

	req->done = req->acct_done;
	if (status == 0) {
		__atomic_fetch_add(&disk->discards_done, 1, __ATOMIC_RELAXED);
		__atomic_fetch_add(&disk->discard_sectors_done, req->nr_sectors, __ATOMIC_RELAXED);
	}
	req->done(req, status);
}

static int submit_to_disk(struct blkdev *disk, struct blk_request *req)
{
	if (req->op == BLK_OP_READ)
		disk->reads++;
	else if (req->op == BLK_OP_WRITE)
		disk->writes++;
	else if (req->op == BLK_OP_FLUSH)
		disk->flushes++;
	else if (req->op == BLK_OP_WRITE_ZEROES)
		disk->write_zeroes++;
	if (req->op == BLK_OP_DISCARD) {
		disk->discards++;
		req->acct_done = req->done;
		req->acct_disk = disk;
		req->done = discard_done;
	}
	/* Behind a backlog, a new request waits its turn (FIFO). */
	unsigned long f = spin_lock_irqsave(&backlog_lock);
	if (disk->backlog_head) {
		backlog_append(disk, req);
		spin_unlock_irqrestore(&backlog_lock, f);
		return 0;
	}
	spin_unlock_irqrestore(&backlog_lock, f);
	int rc = disk->ops->submit(disk, req);
	if (rc != -EAGAIN) {
		if (rc && req->op == BLK_OP_DISCARD)
			req->done = req->acct_done;  /* refused: done is not called */
		return rc;
	}
	f = spin_lock_irqsave(&backlog_lock);
	backlog_append(disk, req);
	spin_unlock_irqrestore(&backlog_lock, f);
	/* A completion may have come between the driver's refusal and the
	 * append: make sure the requeue thread looks. */
	blkdev_kick_backlog(disk);
	return 0;
}

static int split_and_submit(struct blkdev *dev, struct blk_request *req);

/* Sends req (checked against dev) one level down, translating its sector. */
static int submit_down(struct blkdev *dev, struct blk_request *req)
{
	if (!dev->parent)
		return submit_to_disk(dev, req);
	if (req->op == BLK_OP_FLUSH)
		return submit_down(dev->parent, req);
	const struct blk_extent *e = extent_at(dev, req->sector);
	if (!e)
		return -EIO;
	if (req->sector + req->nr_sectors <= e->sector + e->nr_sectors) {
		req->sector = e->parent_sector + (req->sector - e->sector);
		return submit_down(dev->parent, req);
	}
	return split_and_submit(dev, req);
}

/*
 * Sends the pieces of req, each in dev's sectors, and frees the array.  The
 * parent's count is set before the first goes (a child may complete at
 * once); a piece refused fails with those not yet sent, and the parent then
 * completes through the ones already queued.
 */
static int submit_kids(struct blkdev *dev, struct blk_request *req, struct blk_request **kids,
		       unsigned int pieces)
{
	req->children_left = pieces;
	req->child_status = 0;
	for (unsigned int k = 0; k < pieces; k++) {
		int r = submit_down(dev, kids[k]);
		if (r) {
			for (unsigned int j = k; j < pieces; j++)
				child_done(kids[j], r);
			break;
		}
	}
	kfree(kids);
	return 0;
}

/* A piece could not be allocated: the k made so far and the array go. */
static int free_kids(struct blk_request **kids, unsigned int k)
{
	while (k)
		kfree(kids[--k]);
	kfree(kids);
	return -ENOMEM;
}

/*
 * Splits req at dev's extent boundaries.  The segment list is cut where a
 * piece ends; a segment that straddles the cut is divided in two.
 */
static int split_and_submit(struct blkdev *dev, struct blk_request *req)
{
	/* Count the pieces first so the parent's count is final before any
	 * child can complete. */
	unsigned int pieces = 0;
	for (uint64_t s = req->sector, left = req->nr_sectors; left;) {
		const struct blk_extent *e = extent_at(dev, s);
		if (!e)
			return -EIO;
		uint64_t n = MIN(left, e->sector + e->nr_sectors - s);
		s += n;
		left -= n;
		pieces++;
	}
	struct blk_request **kids = kzalloc(pieces * sizeof(*kids));
	if (!kids)
		return -ENOMEM;
	bool data = req->op == BLK_OP_READ || req->op == BLK_OP_WRITE;
	unsigned int seg = 0;
	uint32_t seg_off = 0;
	uint64_t s = req->sector;
	for (unsigned int k = 0; k < pieces; k++) {
		const struct blk_extent *e = extent_at(dev, s);
		uint64_t n = MIN(req->sector + req->nr_sectors - s, e->sector + e->nr_sectors - s);
		unsigned int max_segs = data ? req->nr_segs - seg + 1 : 0;
		struct blk_request *c = kzalloc(sizeof(*c) + max_segs * sizeof(struct blk_seg));
		if (!c)
			return free_kids(kids, k);
		*c = (struct blk_request){ .op = req->op, .fua = req->fua,
					   .sector = e->parent_sector + (s - e->sector),
					   .nr_sectors = n, .done = child_done, .parent = req };
		if (data) {
			c->segs = (struct blk_seg *)(c + 1);
			uint64_t want = n * SECTOR_BYTES;
			while (want) {
				struct blk_seg *src = &req->segs[seg];
				uint32_t take = (uint32_t)MIN((uint64_t)src->len_bytes - seg_off, want);
				c->segs[c->nr_segs++] = (struct blk_seg){
					_dma(dma_x(src->addr) + seg_off), take };
				want -= take;
				seg_off += take;
				if (seg_off == src->len_bytes) {
					seg++;
					seg_off = 0;
				}
			}
		}
		kids[k] = c;
		s += n;
	}
	return submit_kids(dev->parent, req, kids, pieces);
}

/*
 * A request with more segments than the disk takes in one command is sent
 * as several, each a run of the parent's segments (and so of its sectors):
 * the children point into the parent's segment array, nothing is copied.
 */
static int split_by_segs(struct blkdev *dev, struct blk_request *req, unsigned int max)
{
	unsigned int pieces = (req->nr_segs + max - 1) / max;
	struct blk_request **kids = kzalloc(pieces * sizeof(*kids));

	if (!kids)
		return -ENOMEM;
	uint64_t sector = req->sector;
	for (unsigned int k = 0; k < pieces; k++) {
		struct blk_request *c = kzalloc(sizeof(*c));
		if (!c)
			return free_kids(kids, k);
		unsigned int first = k * max;
		unsigned int n = MIN(max, (unsigned int)req->nr_segs - first);
		uint64_t bytes = 0;
		for (unsigned int i = 0; i < n; i++)
			bytes += req->segs[first + i].len_bytes;
		*c = (struct blk_request){ .op = req->op, .fua = req->fua, .sector = sector,
					   .nr_sectors = (uint32_t)(bytes / SECTOR_BYTES),
					   .nr_segs = (uint16_t)n, .segs = req->segs + first,
					   .done = child_done, .parent = req };
		sector += bytes / SECTOR_BYTES;
		kids[k] = c;
	}
	return submit_kids(dev, req, kids, pieces);
}

/* Commands one DISCARD or WRITE_ZEROES may be cut into (128 TiB at QEMU's
 * 2 GiB per virtio discard); a disk with a tinier limit gets -E2BIG past it
 * rather than an allocation the size of its sector count. */
#define MAX_ZERO_PIECES 65536u

/*
 * A DISCARD or WRITE_ZEROES longer than the disk takes in one command (a
 * virtio disk's max-discard-sectors: 2 GiB on QEMU, while a guest may trim
 * its whole disk at once) is sent as runs of at most max sectors.
 */
static int split_by_sectors(struct blkdev *dev, struct blk_request *req, uint32_t max)
{
	uint64_t n = (req->nr_sectors + (uint64_t)max - 1) / max;
	if (n > MAX_ZERO_PIECES) {
		static uint64_t last_ns;
		if (klog_due(&last_ns))
			klog("blk: %s: a %s of %llu sectors needs %llu commands of at most %u; "
			     "refused (at most %u)\n", dev->name,
			     req->op == BLK_OP_DISCARD ? "discard" : "write-zeroes",
			     (unsigned long long)req->nr_sectors, (unsigned long long)n, max,
			     MAX_ZERO_PIECES);
		dev->errors++;
		return -E2BIG;
	}
	unsigned int pieces = (unsigned int)n;
	struct blk_request **kids = kzalloc(pieces * sizeof(*kids));

	if (!kids)
		return -ENOMEM;
	for (unsigned int k = 0; k < pieces; k++) {
		struct blk_request *c = kzalloc(sizeof(*c));
		if (!c)
			return free_kids(kids, k);
		uint64_t first = (uint64_t)k * max;
		*c = (struct blk_request){ .op = req->op, .sector = req->sector + first,
					   .nr_sectors = (uint32_t)MIN((uint64_t)max,
								       req->nr_sectors - first),
					   .done = child_done, .parent = req };
		kids[k] = c;
	}
	return submit_kids(dev, req, kids, pieces);
}

int blk_submit(struct blkdev *dev, struct blk_request *req)
{
	int rc = check(dev, req);

	if (rc) {
		dev->errors++;
		return rc;
	}
	req->parent = NULL;
	const struct blkdev *disk = blkdev_disk_of(dev);
	unsigned int max = disk->max_segs;
	if ((req->op == BLK_OP_READ || req->op == BLK_OP_WRITE) && max && req->nr_segs > max)
		return split_by_segs(dev, req, max);
	uint32_t zmax = req->op == BLK_OP_DISCARD ? disk->max_discard_sectors
		      : req->op == BLK_OP_WRITE_ZEROES ? disk->max_write_zeroes_sectors : 0;
	if (zmax && req->nr_sectors > zmax)
		return split_by_sectors(dev, req, zmax);
	return submit_down(dev, req);
}

/* ---- synchronous helpers ---- */

struct sync_wait {
	struct completion done;
	int status;
};

static void sync_done(struct blk_request *req, int status)
{
	struct sync_wait *w = req->ctx;
	w->status = status;
	complete(&w->done);
}

static int sync_op(struct blkdev *dev, enum blk_op op, uint64_t sector, void *buf, size_t bytes,
		   uint64_t nr_sectors)
{
	struct sync_wait w = { .status = 0 };
	struct blk_request req = { .op = op, .sector = sector, .nr_sectors = nr_sectors,
				   .done = sync_done, .ctx = &w };
	struct blk_seg *segs = NULL;

	completion_init(&w.done);
	if (buf) {
		if (bytes == 0 || bytes % SECTOR_BYTES || ((uintptr_t)buf & 511))
			return -EINVAL;
		size_t n = 0;
		for (size_t off = 0; off < bytes;) {
			size_t in_page = PAGE_SIZE - (((uintptr_t)buf + off) & (PAGE_SIZE - 1));
			off += MIN(in_page, bytes - off);
			n++;
		}
		if (n > 0xffff)
			return -EINVAL;
		segs = kmalloc(n * sizeof(*segs));
		if (!segs)
			return -ENOMEM;
		n = 0;
		for (size_t off = 0; off < bytes;) {
			char *p = (char *)buf + off;
			size_t in_page = PAGE_SIZE - ((uintptr_t)p & (PAGE_SIZE - 1));
			size_t len = MIN(in_page, bytes - off);
			segs[n++] = (struct blk_seg){ dma_map_virt(p), (uint32_t)len };
			off += len;
		}
		req.segs = segs;
		req.nr_segs = (uint16_t)n;
	}
	int rc = blk_submit(dev, &req);
	if (rc == 0) {
		completion_wait(&w.done, 0);
		rc = w.status;
	}
	kfree(segs);
	return rc;
}

/* Requests larger than the device takes are issued in pieces. */
static int sync_rw(struct blkdev *dev, enum blk_op op, uint64_t sector, void *buf, size_t bytes)
{
	struct blkdev *disk = blkdev_disk_of(dev);
	uint64_t by_segs = disk->max_segs > 1 ? (uint64_t)(disk->max_segs - 1) * 8 : 1;
	size_t chunk = (size_t)MIN((uint64_t)disk->max_sectors, by_segs) * SECTOR_BYTES;

	if (chunk == 0)
		chunk = SECTOR_BYTES;
	for (size_t off = 0; off < bytes; off += chunk) {
		size_t len = MIN(chunk, bytes - off);
		int rc = sync_op(dev, op, sector + off / SECTOR_BYTES, (char *)buf + off, len, 0);
		if (rc)
			return rc;
	}
	return 0;
}

int blk_read_sync(struct blkdev *dev, uint64_t sector, void *buf, size_t bytes)
{
	return sync_rw(dev, BLK_OP_READ, sector, buf, bytes);
}

int blk_write_sync(struct blkdev *dev, uint64_t sector, const void *buf, size_t bytes)
{
	return sync_rw(dev, BLK_OP_WRITE, sector, (void *)buf, bytes);
}

int blk_flush_sync(struct blkdev *dev)
{
	if (!blkdev_disk_of(dev)->can_flush)
		return 0;
	return sync_op(dev, BLK_OP_FLUSH, 0, NULL, 0, 0);
}

int blk_discard_sync(struct blkdev *dev, uint64_t sector, uint64_t nr_sectors)
{
	return sync_op(dev, BLK_OP_DISCARD, sector, NULL, 0, nr_sectors);
}

/* ---- registry ---- */

int blkdev_register_disk(struct blkdev *dev)
{
	if (!dev->ops || !dev->nr_sectors)
		return -EINVAL;
	if (!requeue_started) {
		requeue_started = true;
		if (!thread_create("blk-requeue", requeue_thread, NULL))
			klog("blk: cannot start the requeue thread: a full queue will fail requests\n");
	}
	dev->type = BLKDEV_DISK;
	dev->parent = NULL;
	mutex_lock(&registry_lock);
	list_add(dev);
	mutex_unlock(&registry_lock);
	klog("blk: %s: %llu sectors (%llu MiB)%s%s%s\n", dev->name,
	     (unsigned long long)dev->nr_sectors, (unsigned long long)(dev->nr_sectors >> 11),
	     dev->can_flush ? ", write cache" : "", dev->can_discard ? ", discard" : "",
	     dev->read_only ? ", read-only" : "");
	blkscan_disk(dev);
	return 0;
}

/* Removes every device stacked on disk (and disk itself if with_disk). */
void blkdev_remove_children(struct blkdev *disk, bool with_disk)
{
	mutex_lock(&registry_lock);
	for (struct blkdev **pp = &devices; *pp;) {
		struct blkdev *x = *pp;
		if (x != disk && blkdev_disk_of(x) == disk) {
			*pp = x->next;
			kfree(x->extents);
			kfree(x);
			continue;
		}
		if (x == disk && with_disk) {
			*pp = x->next;
			continue;
		}
		pp = &x->next;
	}
	mutex_unlock(&registry_lock);
}

void blkdev_remove_one(struct blkdev *dev)
{
	mutex_lock(&registry_lock);
	for (struct blkdev **pp = &devices; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	mutex_unlock(&registry_lock);
	kfree(dev->extents);
	kfree(dev);
}

void blkdev_unregister_disk(struct blkdev *dev)
{
	blkdev_remove_children(dev, true);
}

struct blkdev *blkdev_add_child(struct blkdev *parent, enum blkdev_type type, const char *name,
				unsigned int nr_extents)
{
	struct blkdev *c = kzalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->extents = kzalloc(MAX(nr_extents, 1u) * sizeof(*c->extents));
	if (!c->extents) {
		kfree(c);
		return NULL;
	}
	ksnprintf(c->name, sizeof(c->name), "%s", name);
	c->type = type;
	c->parent = parent;
	c->nr_extents = nr_extents;
	c->logical_block_bytes = parent->logical_block_bytes;
	c->physical_block_bytes = parent->physical_block_bytes;
	c->read_only = parent->read_only;
	c->max_segs = parent->max_segs;
	c->max_sectors = parent->max_sectors;
	mutex_lock(&registry_lock);
	list_add(c);
	mutex_unlock(&registry_lock);
	return c;
}

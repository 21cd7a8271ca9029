/*
 * A hostile blkfront for keel's test domU (put in its ramdisk as
 * /bin/blkhostile by scripts/mk-domu.sh, built there with the host's gcc
 * -static), driven by tests/integration/test_blk_hostile.py.
 *
 * The guest runs without xen-blkfront (keelnomod=xen-blkfront), so the vbds
 * dom0 attaches to it (block-attach) are nobody's; this program plays
 * blkfront by hand through Linux's user-space Xen devices:
 *   /dev/xen/gntalloc  pages granted to dom0 (the ring, indirect pages, data)
 *   /dev/xen/evtchn    an unbound port for dom0 to bind, and notifies
 *   /dev/xen/xenbus    xenstore's raw wire protocol (xen/io/xs_wire.h)
 * and the ring layout of <xen/io/blkif.h> and <xen/io/ring.h>.
 *
 *   blkhostile all|MODE...   runs each mode in turn (`all`: every mode)
 *   blkhostile warm          mq, then the flood for 3 s (the test's warm-up)
 *   blkhostile good DEV      a well-behaved guest's checksum loop on DEV
 *
 * For each mode it prints "KEEL-BLKHOSTILE-WAIT <mode>", waits for dom0 to
 * attach a fresh vbd (frontend Initialising, backend InitWait), connects it
 * as blkfront would (ring-ref, event-channel, protocol, state Initialised,
 * then Connected), misbehaves, and prints "KEEL-TEST <mode> ok|fail
 * <detail>".  Then it waits for dom0 to detach the vbd (backend online=0)
 * and closes its side (Closing, Closed), as blkfront does, and prints
 * "KEEL-BLKHOSTILE-CLOSED <devid> <mode>".
 *
 *   segs      ERROR: nr_segments 12, 255, 0 (READ and WRITE); INDIRECT with
 *             0, max+1 and 65535 segments; then 11 and max segments: OKAY
 *   sects     ERROR: first_sect > last_sect, last_sect 8, a bad segment in
 *             an indirect page, a WRITE_BARRIER and a FLUSH with a bad
 *             segment (each followed by a READ that must still be answered)
 *   pastend   ERROR: sectors at and past the end, a sector number that
 *             wraps, an INDIRECT and a DISCARD past the end; OKAY: the last
 *             4 KiB of the device
 *   badgref   ERROR: refs taken back, granted to another domain, huge, never
 *             granted; a READ into a page granted read-only; a good segment
 *             then a bad one; bad indirect pages; a bad ref inside one
 *   persist   (feature-persistent) ERROR: bad refs after refs dom0 keeps
 *             mapped, or after new ones; the good ones work afterwards
 *   badop     EOPNOTSUPP: unknown operations; ERROR: INDIRECT around an
 *             operation other than READ/WRITE
 *   dupid     16 requests with one id in one push: 16 answers with that id
 *   indrace   INDIRECT READs while a second process rewrites the indirect
 *             page and the slots' page ref and sector: each answered OKAY
 *             or ERROR
 *   readonly  (a vbd attached read-only) ERROR: WRITE, INDIRECT WRITE, a
 *             barrier or flush with data; DISCARD refused; READs return
 *             the host's pattern
 *   runahead  fatal: req_prod one past the ring size ahead of the backend
 *   mq        two queues answer on their own rings; then fatal: one queue's
 *             req_prod past its ring
 *   badring   fatal at connect: an event channel that does not exist
 *   badnum    fatal at connect: ring-page-order "1x" (read as 1 it would
 *             pass the bound check with the wrong number of ring refs)
 *   flood     a 4-page ring kept full for FLOOD_SECONDS, responses never
 *             read (every 8th request bad); then everything is answered
 *   badflood  requests refused at once, a 16-page ring kept full without
 *             a pause and the backend's state ignored, until dom0 removes
 *             the vbd (the test's block-detach --force)
 *   endless   (after KEEL-TEST-DONE, once dom0 writes data/blkhostile-flood)
 *             the flood for ever: the test destroys the guest mid-flood
 *
 * Every response is checked: the id of a request in flight, and zero in
 * its padding bytes (the slot held the request's non-zero id bytes there;
 * XSA-216).  Fatal modes check that the backend goes to Closing (5) with an
 * `error` node, that nothing more was answered, and that dom0 survives more
 * notifies on the dead vbd.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

/* ring.h maps xen_*mb() onto mb()/rmb()/wmb() of its includer. */
#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#include <xen/xen.h>
#include <xen/io/blkif.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include <xen/gntalloc.h> /* Linux uapi (linux-libc-dev): IOCTL_GNTALLOC_* */
#include <xen/evtchn.h>   /* Linux uapi (linux-libc-dev): IOCTL_EVTCHN_* */

#define PAGE 4096
#define FLOOD_SECONDS 12
#define SEGS_PER_IND (PAGE / sizeof(struct blkif_request_segment))

/* Pages of one vbd, all granted to dom0. */
enum { PG_RING, NRING = 16, PG_IND = PG_RING + NRING, NIND = 8, PG_DATA = PG_IND + NIND,
       NDATA = 64, NPAGES = PG_DATA + NDATA };

struct vbd {
	int devid;
	char fe[64], be[128];
	uint64_t sectors;
	unsigned int max_indirect;
	int discard;
	void *pages;
	uint32_t grefs[NPAGES];
	uint64_t index;
	blkif_front_ring_t ring;
	unsigned int ring_pages;
	unsigned int port;
	unsigned int nq, qport[NRING];   /* multi-queue: queue q's ring is page q */
	unsigned int seq;
	uint64_t last_id;
	unsigned int dirty_pad;  /* responses with non-zero padding */
	unsigned int stray;      /* responses whose id was never sent */
};

static int xs_fd, gnt_fd, evt_fd;
static unsigned int my_domid;

/* Appends to a detail string. */
static void add(char *d, size_t max, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void add(char *d, size_t max, const char *fmt, ...)
{
	size_t l = strlen(d);
	va_list ap;

	if (l + 3 >= max)
		return;
	if (l) {
		d[l++] = ';';
		d[l++] = ' ';
		d[l] = 0;
	}
	va_start(ap, fmt);
	vsnprintf(d + l, max - l, fmt, ap);
	va_end(ap);
}

#include "guestxs.h"

/* A node of dir as a number; -1 if it cannot be read. */
static long long xs_num(const char *dir, const char *node)
{
	char path[256], val[64];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(path, val, sizeof(val)) || !val[0])
		return -1;
	return strtoll(val, NULL, 10);
}

/* ---- grants and event channels ---- */

static void *grant_pages(unsigned int count, uint16_t domid, int writable, uint32_t *grefs,
			 uint64_t *index)
{
	size_t sz = sizeof(struct ioctl_gntalloc_alloc_gref) + count * sizeof(uint32_t);
	struct ioctl_gntalloc_alloc_gref *a = calloc(1, sz);
	void *p;

	if (!a)
		return NULL;
	a->domid = domid;
	a->flags = writable ? GNTALLOC_FLAG_WRITABLE : 0;
	a->count = count;
	if (ioctl(gnt_fd, IOCTL_GNTALLOC_ALLOC_GREF, a)) {
		out("blkhostile: IOCTL_GNTALLOC_ALLOC_GREF(%u pages): %s\n", count, strerror(errno));
		free(a);
		return NULL;
	}
	memcpy(grefs, a->gref_ids, count * sizeof(uint32_t));
	*index = a->index;
	free(a);
	p = mmap(NULL, (size_t)count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gnt_fd,
		 (off_t)*index);
	if (p == MAP_FAILED) {
		out("blkhostile: mmap of granted pages: %s\n", strerror(errno));
		return NULL;
	}
	memset(p, 0, (size_t)count * PAGE);
	return p;
}

static void ungrant(void *p, uint64_t index, unsigned int count)
{
	struct ioctl_gntalloc_dealloc_gref d = { .index = index, .count = count };

	if (p)
		munmap(p, (size_t)count * PAGE);
	if (ioctl(gnt_fd, IOCTL_GNTALLOC_DEALLOC_GREF, &d))
		out("blkhostile: IOCTL_GNTALLOC_DEALLOC_GREF: %s\n", strerror(errno));
}

/* ---- a vbd, connected by hand ---- */

static void *pg(struct vbd *v, unsigned int i)
{
	return (char *)v->pages + (size_t)i * PAGE;
}

static int be_state(struct vbd *v)
{
	return (int)xs_num(v->be, "state");
}

static int wait_be_state(struct vbd *v, int want, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	int st;

	while ((st = be_state(v)) != want && now_ms() < end)
		sleep_ms(50);
	return st;
}

/* A vbd dom0 has just attached: frontend Initialising, backend InitWait. */
static int find_fresh_vbd(void)
{
	char list[4096], dir[64], be[128];
	size_t len = 0;

	if (xs_req(XS_DIRECTORY, "device/vbd", NULL, list, sizeof(list), &len))
		return -1;
	for (size_t i = 0; i < len; i += strlen(list + i) + 1) {
		int devid = atoi(list + i);
		if (!list[i])
			continue;
		snprintf(dir, sizeof(dir), "device/vbd/%d", devid);
		snprintf(be, sizeof(be), "%s/backend", dir);
		if (xs_num(dir, "state") != XenbusStateInitialising || xs_read(be, be, sizeof(be)))
			continue;
		if (xs_num(be, "state") == XenbusStateInitWait)
			return devid;
	}
	return -1;
}

static int wait_vbd(void)
{
	uint64_t end = now_ms() + 300000;
	int devid;

	while ((devid = find_fresh_vbd()) < 0 && now_ms() < end)
		sleep_ms(100);
	return devid;
}

/*
 * Connects vbd devid as blkfront does, with a ring of 1 << order pages (and
 * feature-persistent if persistent); with nq > 1 queues, one one-page ring
 * and event channel per queue under queue-N/ (ring q on page q).
 * With bad_port, names an event channel that does not exist and returns the
 * backend state it ends in; else 0 once Connected, -1 on failure.
 */
static int vbd_connect(struct vbd *v, int devid, unsigned int order, unsigned int nq,
		       int persistent, int bad_port)
{
	char path[160];

	memset(v, 0, sizeof(*v));
	v->devid = devid;
	v->seq = 1;
	snprintf(v->fe, sizeof(v->fe), "device/vbd/%d", devid);
	snprintf(path, sizeof(path), "%s/backend", v->fe);
	if (xs_read(path, v->be, sizeof(v->be)))
		return -1;
	long long s = xs_num(v->be, "sectors"), mi = xs_num(v->be, "feature-max-indirect-segments");
	v->sectors = s > 0 ? (uint64_t)s : 0;
	v->max_indirect = mi > 0 ? (unsigned int)mi : 0;
	v->discard = xs_num(v->be, "feature-discard") == 1;
	v->pages = grant_pages(NPAGES, 0, 1, v->grefs, &v->index);
	if (!v->pages)
		return -1;
	v->ring_pages = 1u << order;
	blkif_sring_t *sr = pg(v, PG_RING);
	SHARED_RING_INIT(sr);
	FRONT_RING_INIT(&v->ring, sr, (size_t)PAGE * v->ring_pages);
	struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = 0 };
	int port = ioctl(evt_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
	if (port < 0) {
		out("blkhostile: IOCTL_EVTCHN_BIND_UNBOUND_PORT: %s\n", strerror(errno));
		return -1;
	}
	v->port = (unsigned int)port;
	int rc = 0;
	v->nq = nq;
	if (nq > 1) {
		rc |= xs_printf(v->fe, "multi-queue-num-queues", "%u", nq);
		for (unsigned int q = 0; q < nq; q++) {
			char dir[96];
			if (q) {
				port = ioctl(evt_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
				if (port < 0)
					return -1;
				SHARED_RING_INIT((blkif_sring_t *)pg(v, PG_RING + q));
			}
			v->qport[q] = (unsigned int)port;
			snprintf(dir, sizeof(dir), "%s/queue-%u", v->fe, q);
			rc |= xs_printf(dir, "ring-ref", "%u", v->grefs[PG_RING + q]);
			rc |= xs_printf(dir, "event-channel", "%u", v->qport[q]);
		}
	} else if (order == 0) {
		rc |= xs_printf(v->fe, "ring-ref", "%u", v->grefs[PG_RING]);
	} else {
		rc |= xs_printf(v->fe, "ring-page-order", "%u", order);
		for (unsigned int i = 0; i < v->ring_pages; i++) {
			char node[16];
			snprintf(node, sizeof(node), "ring-ref%u", i);
			rc |= xs_printf(v->fe, node, "%u", v->grefs[PG_RING + i]);
		}
	}
	if (nq <= 1)
		rc |= xs_printf(v->fe, "event-channel", "%u", bad_port ? 65000 : v->port);
	rc |= xs_printf(v->fe, "protocol", "%s", XEN_IO_PROTO_ABI_X86_64);
	if (persistent)
		rc |= xs_printf(v->fe, "feature-persistent", "1");
	rc |= xs_printf(v->fe, "state", "%d", XenbusStateInitialised);
	if (rc)
		return -1;
	if (bad_port)
		return wait_be_state(v, XenbusStateClosing, 10000);
	int st = wait_be_state(v, XenbusStateConnected, 20000);
	if (st != XenbusStateConnected) {
		out("blkhostile: vbd %d: backend state %d, not Connected\n", devid, st);
		return -1;
	}
	xs_printf(v->fe, "state", "%d", XenbusStateConnected);
	out("KEEL-BLKHOSTILE-CONNECTED vbd %d sectors %llu max-indirect %u discard %d ring %u "
	    "pages (%u slots) port %u\n", devid, (unsigned long long)v->sectors, v->max_indirect,
	    v->discard, v->ring_pages, RING_SIZE(&v->ring), v->port);
	return 0;
}

/* blkfront's teardown: when dom0 detaches (online=0), go to Closing and
 * Closed; wait for the directories to go. */
static void vbd_close(struct vbd *v, const char *mode, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (xs_num(v->be, "online") == 1 && now_ms() < end)
		sleep_ms(100);
	/* (A vbd dom0 removed by force has no directories left to close.) */
	if (be_state(v) >= 0) {
		xs_printf(v->fe, "state", "%d", XenbusStateClosing);
		xs_printf(v->fe, "state", "%d", XenbusStateClosed);
	}
	while (be_state(v) >= 0 && now_ms() < end)
		sleep_ms(100);
	struct ioctl_evtchn_unbind u = { .port = v->port };
	ioctl(evt_fd, IOCTL_EVTCHN_UNBIND, &u);
	for (unsigned int q = 1; q < v->nq; q++) {
		u.port = v->qport[q];
		ioctl(evt_fd, IOCTL_EVTCHN_UNBIND, &u);
	}
	ungrant(v->pages, v->index, NPAGES);
	out("KEEL-BLKHOSTILE-CLOSED %d %s\n", v->devid, mode);
}

/* ---- requests ---- */

/*
 * Request ids: byte 1 and bytes 4..7 are never zero, so a response that
 * leaves the slot's padding as the request had it shows (a response lays
 * its operation, padding and status over the request's id bytes).
 */
static uint64_t make_id(unsigned int n)
{
	return 0xa5a5a5a500000000ull | ((uint64_t)((n >> 8) & 0xff) << 16) | (0xa5u << 8) |
	       (n & 0xff);
}

/* The next free slot, filled with 0xa5 (so nothing in it is zero). */
static void *next_slot(struct vbd *v)
{
	void *s = RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt);

	memset(s, 0xa5, sizeof(union blkif_sring_entry));
	return s;
}

static struct blkif_request_segment seg(struct vbd *v, unsigned int k, uint8_t first,
					uint8_t last)
{
	return (struct blkif_request_segment){ v->grefs[PG_DATA + k % NDATA], first, last };
}

/* A READ/WRITE/FLUSH/BARRIER or any operation byte with direct segments
 * (nr may claim more than segs holds: only n are written). */
static uint64_t put_rw(struct vbd *v, uint8_t op, uint8_t nr, uint64_t sector,
		       const struct blkif_request_segment *segs, unsigned int n)
{
	blkif_request_t *r = next_slot(v);

	r->operation = op;
	r->nr_segments = nr;
	r->handle = (blkif_vdev_t)v->devid;
	r->id = make_id(v->seq++);
	r->sector_number = sector;
	for (unsigned int i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		r->seg[i] = segs[i];
	v->ring.req_prod_pvt++;
	v->last_id = r->id;
	return r->id;
}

/* n full-page segments over data pages first..: the common good request. */
static uint64_t put_pages(struct vbd *v, uint8_t op, uint64_t sector, unsigned int n,
			  unsigned int first)
{
	struct blkif_request_segment s[BLKIF_MAX_SEGMENTS_PER_REQUEST];

	for (unsigned int i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
		s[i] = seg(v, first + i, 0, 7);
	return put_rw(v, op, (uint8_t)n, sector, s, n);
}

/* Fills indirect pages 0.. with nr full-page segments over the data pages. */
static void fill_indirect(struct vbd *v, unsigned int nr)
{
	struct blkif_request_segment *s = pg(v, PG_IND);

	for (unsigned int i = 0; i < nr && i < NIND * SEGS_PER_IND; i++)
		s[i] = seg(v, i, 0, 7);
}

/* An INDIRECT request naming nind indirect pages (grefs: ind, or v's own). */
static uint64_t put_ind(struct vbd *v, uint8_t op, uint16_t nr, uint64_t sector,
			const uint32_t *ind, unsigned int nind)
{
	blkif_request_indirect_t *r = next_slot(v);

	r->operation = BLKIF_OP_INDIRECT;
	r->indirect_op = op;
	r->nr_segments = nr;
	r->id = make_id(v->seq++);
	r->sector_number = sector;
	r->handle = (blkif_vdev_t)v->devid;
	for (unsigned int i = 0; i < nind && i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++)
		r->indirect_grefs[i] = ind ? ind[i] : v->grefs[PG_IND + i];
	v->ring.req_prod_pvt++;
	v->last_id = r->id;
	return r->id;
}

static unsigned int ind_pages(unsigned int nr)
{
	unsigned int n = (unsigned int)((nr + SEGS_PER_IND - 1) / SEGS_PER_IND);
	return n ? (n > NIND ? NIND : n) : 1;
}

static uint64_t put_discard(struct vbd *v, uint64_t sector, uint64_t nr)
{
	blkif_request_discard_t *r = next_slot(v);

	r->operation = BLKIF_OP_DISCARD;
	r->flag = 0;
	r->handle = (blkif_vdev_t)v->devid;
	r->id = make_id(v->seq++);
	r->sector_number = sector;
	r->nr_sectors = nr;
	v->ring.req_prod_pvt++;
	v->last_id = r->id;
	return r->id;
}

static void push(struct vbd *v)
{
	RING_PUSH_REQUESTS(&v->ring);
	notify(v->port);
}

struct rsp {
	uint64_t id;
	uint8_t op;
	int16_t status;
};

/* Reads the response at rsp_cons: checks its padding, returns it. */
static struct rsp take(struct vbd *v)
{
	const uint8_t *b = (const void *)RING_GET_RESPONSE(&v->ring, v->ring.rsp_cons);
	struct blkif_response r;

	memcpy(&r, b, sizeof(r));
	if (b[9] || b[12] || b[13] || b[14] || b[15])
		v->dirty_pad++;
	v->ring.rsp_cons++;
	return (struct rsp){ r.id, r.operation, r.status };
}

/* Collects up to n responses within ms. */
static int collect(struct vbd *v, int n, struct rsp *got, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	int k = 0;

	while (k < n) {
		RING_IDX prod = __atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
		while (v->ring.rsp_cons != prod && k < n)
			got[k++] = take(v);
		if (k >= n || now_ms() >= end)
			break;
		sleep_ms(1);
	}
	return k;
}

static unsigned int unanswered(struct vbd *v)
{
	return __atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE) - v->ring.rsp_cons;
}

enum { W_OKAY = 1, W_ERROR = 2, W_NOTSUPP = 4 };

static const char *status_name(int st)
{
	switch (st) {
	case BLKIF_RSP_OKAY: return "OKAY";
	case BLKIF_RSP_ERROR: return "ERROR";
	case BLKIF_RSP_EOPNOTSUPP: return "EOPNOTSUPP";
	case -99: return "no answer";
	default: return "other";
	}
}

static int wanted(int st, int want)
{
	return (st == BLKIF_RSP_OKAY && (want & W_OKAY)) ||
	       (st == BLKIF_RSP_ERROR && (want & W_ERROR)) ||
	       (st == BLKIF_RSP_EOPNOTSUPP && (want & W_NOTSUPP));
}

/* Pushes what was put, waits for its one answer; appends "what: STATUS". */
static int expect1(struct vbd *v, const char *what, int want, char *d, size_t max)
{
	struct rsp r = { 0, 0, -99 };
	uint64_t id = v->last_id;

	push(v);
	int got = collect(v, 1, &r, 5000);
	if (got && r.id != id)
		v->stray++;
	int ok = got == 1 && r.id == id && wanted(r.status, want);
	add(d, max, "%s: %s%s", what, status_name(got ? r.status : -99), ok ? "" : " (WRONG)");
	return ok;
}

/* ---- the checks every live mode ends with ---- */

/* A good READ is still answered OKAY and the backend is Connected. */
static void still_alive(struct vbd *v, const char *mode, int ok, char *d, size_t max)
{
	put_pages(v, BLKIF_OP_READ, 0, 8, 0);
	ok &= expect1(v, "then a good READ", W_OKAY, d, max);
	int bs = be_state(v);
	add(d, max, "backend state %d, %u dirty paddings, %u stray ids", bs, v->dirty_pad, v->stray);
	result(mode, ok && bs == XenbusStateConnected && !v->dirty_pad && !v->stray, "%s", d);
}

/* Closing with an error node, nothing answered, and more notifies on the
 * dead vbd change nothing. */
static void expect_fatal(struct vbd *v, const char *mode, const char *what, const char *before)
{
	char path[256], err[256] = "";
	int st = wait_be_state(v, XenbusStateClosing, 10000);
	unsigned int answered = unanswered(v);

	snprintf(path, sizeof(path), "%s/error", v->be);
	if (xs_read(path, err, sizeof(err)))
		snprintf(err, sizeof(err), "(none)");
	for (int i = 0; i < 5; i++) {
		put_pages(v, BLKIF_OP_READ, 0, 1, 0);
		RING_PUSH_REQUESTS(&v->ring);
		notify(v->port);
		sleep_ms(50);
	}
	sleep_ms(500);
	int st2 = be_state(v);
	result(mode, st == XenbusStateClosing && strcmp(err, "(none)") && answered == 0 &&
		     st2 == XenbusStateClosing && !v->dirty_pad,
	       "%s%s%s: backend state %d error=\"%s\" responses=%u; after 5 more notifies state %d",
	       before ? before : "", before ? "; " : "", what, st, err, answered, st2);
}

/* ---- the modes ---- */

static void mode_segs(struct vbd *v, const char *mode)
{
	char d[1536] = "";
	int ok = 1;
	unsigned int max = v->max_indirect;

	put_pages(v, BLKIF_OP_READ, 0, 11, 0);
	RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt - 1)->nr_segments = 12;
	ok &= expect1(v, "READ with 12 segments", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_WRITE, 0, 11, 0);
	RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt - 1)->nr_segments = 255;
	ok &= expect1(v, "WRITE with 255 segments", W_ERROR, d, sizeof(d));
	put_rw(v, BLKIF_OP_READ, 0, 0, NULL, 0);
	ok &= expect1(v, "READ with 0 segments", W_ERROR, d, sizeof(d));
	put_rw(v, BLKIF_OP_WRITE, 0, 0, NULL, 0);
	ok &= expect1(v, "WRITE with 0 segments", W_ERROR, d, sizeof(d));
	if (!max) {
		add(d, sizeof(d), "no feature-max-indirect-segments");
		result(mode, 0, "%s", d);
		return;
	}
	fill_indirect(v, NIND * SEGS_PER_IND);
	put_ind(v, BLKIF_OP_READ, (uint16_t)(max + 1), 0, NULL, ind_pages(max + 1));
	char what[64];
	snprintf(what, sizeof(what), "INDIRECT with %u segments (max %u)", max + 1, max);
	ok &= expect1(v, what, W_ERROR, d, sizeof(d));
	put_ind(v, BLKIF_OP_READ, 0, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT with 0 segments", W_ERROR, d, sizeof(d));
	put_ind(v, BLKIF_OP_WRITE, 65535, 0, NULL, NIND);
	ok &= expect1(v, "INDIRECT with 65535 segments", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_READ, 0, 11, 0);
	ok &= expect1(v, "READ with 11 segments", W_OKAY, d, sizeof(d));
	put_ind(v, BLKIF_OP_READ, (uint16_t)max, 0, NULL, ind_pages(max));
	snprintf(what, sizeof(what), "INDIRECT READ with %u segments", max);
	ok &= expect1(v, what, W_OKAY, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_sects(struct vbd *v, const char *mode)
{
	char d[1536] = "";
	int ok = 1;
	struct blkif_request_segment s[3];

	s[0] = seg(v, 0, 5, 3);
	put_rw(v, BLKIF_OP_READ, 1, 0, s, 1);
	ok &= expect1(v, "first_sect 5 > last_sect 3", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 0, 8);
	put_rw(v, BLKIF_OP_READ, 1, 0, s, 1);
	ok &= expect1(v, "last_sect 8", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 255, 255);
	put_rw(v, BLKIF_OP_WRITE, 1, 0, s, 1);
	ok &= expect1(v, "WRITE first_sect = last_sect = 255", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 0, 7);
	s[1] = seg(v, 1, 7, 0);
	s[2] = seg(v, 2, 0, 7);
	put_rw(v, BLKIF_OP_READ, 3, 0, s, 3);
	ok &= expect1(v, "second of three segments 7..0", W_ERROR, d, sizeof(d));
	fill_indirect(v, 32);
	((struct blkif_request_segment *)pg(v, PG_IND))[20].last_sect = 9;
	put_ind(v, BLKIF_OP_READ, 32, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT, segment 20 of 32 with last_sect 9", W_ERROR, d, sizeof(d));
	if (v->max_indirect > 1) {
		unsigned int m = v->max_indirect;
		fill_indirect(v, m);
		((struct blkif_request_segment *)pg(v, PG_IND))[m - 1].first_sect = 6;
		((struct blkif_request_segment *)pg(v, PG_IND))[m - 1].last_sect = 2;
		put_ind(v, BLKIF_OP_WRITE, (uint16_t)m, 0, NULL, ind_pages(m));
		ok &= expect1(v, "INDIRECT WRITE, its last segment 6..2", W_ERROR, d, sizeof(d));
	}
	/* A barrier or flush the backend refuses must not hold later requests. */
	s[0] = seg(v, 0, 4, 2);
	put_rw(v, BLKIF_OP_WRITE_BARRIER, 1, 0, s, 1);
	ok &= expect1(v, "WRITE_BARRIER with a segment 4..2", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_READ, 0, 1, 0);
	ok &= expect1(v, "a READ after it", W_OKAY, d, sizeof(d));
	put_rw(v, BLKIF_OP_FLUSH_DISKCACHE, 1, 0, s, 1);
	ok &= expect1(v, "FLUSH_DISKCACHE with a segment 4..2", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_READ, 0, 1, 0);
	ok &= expect1(v, "a READ after it", W_OKAY, d, sizeof(d));
	s[0] = seg(v, 0, 7, 7);
	put_rw(v, BLKIF_OP_READ, 1, 0, s, 1);
	ok &= expect1(v, "READ of sector 7..7 of a page", W_OKAY, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_pastend(struct vbd *v, const char *mode)
{
	char d[1536] = "";
	int ok = 1;
	uint64_t n = v->sectors;
	struct blkif_request_segment s[2];

	if (n < 128) {
		result(mode, 0, "backend sectors %llu", (unsigned long long)n);
		return;
	}
	s[0] = seg(v, 0, 0, 0);
	put_rw(v, BLKIF_OP_READ, 1, n, s, 1);
	ok &= expect1(v, "READ of sector `sectors`", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 0, 1);
	put_rw(v, BLKIF_OP_READ, 1, n - 1, s, 1);
	ok &= expect1(v, "READ of 2 sectors from the last", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 0, 0);
	put_rw(v, BLKIF_OP_WRITE, 1, n + 1000000, s, 1);
	ok &= expect1(v, "WRITE a million sectors past the end", W_ERROR, d, sizeof(d));
	put_rw(v, BLKIF_OP_READ, 1, UINT64_MAX, s, 1);
	ok &= expect1(v, "READ of sector 2^64-1", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_READ, UINT64_MAX - 7, 2, 0);
	ok &= expect1(v, "READ of 16 sectors from 2^64-8 (wraps)", W_ERROR, d, sizeof(d));
	fill_indirect(v, 16);
	put_ind(v, BLKIF_OP_READ, 16, n - 64, NULL, 1);
	ok &= expect1(v, "INDIRECT READ of 128 sectors from sectors-64", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 0, 0, 7);
	put_rw(v, BLKIF_OP_FLUSH_DISKCACHE, 1, n, s, 1);
	ok &= expect1(v, "FLUSH with data at `sectors`", W_ERROR, d, sizeof(d));
	if (v->discard) {
		put_discard(v, n - 8, 16);
		ok &= expect1(v, "DISCARD of 16 sectors from sectors-8", W_ERROR, d, sizeof(d));
		put_discard(v, 8, UINT64_MAX);
		ok &= expect1(v, "DISCARD of 2^64-1 sectors", W_ERROR, d, sizeof(d));
		put_discard(v, UINT64_MAX, 2);
		ok &= expect1(v, "DISCARD from sector 2^64-1", W_ERROR, d, sizeof(d));
		put_discard(v, 0, 0);
		ok &= expect1(v, "DISCARD of 0 sectors", W_ERROR, d, sizeof(d));
	} else {
		put_discard(v, n - 8, 16);
		ok &= expect1(v, "DISCARD (not offered)", W_NOTSUPP, d, sizeof(d));
	}
	put_pages(v, BLKIF_OP_READ, n - 8, 1, 0);
	ok &= expect1(v, "READ of the last 8 sectors", W_OKAY, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_badgref(struct vbd *v, const char *mode)
{
	char d[2048] = "";
	int ok = 1;
	uint32_t freed, foreign, ro;
	uint64_t fidx, fidx2, ridx;
	struct blkif_request_segment s[2];

	/* A ref granted to dom0 and then taken back. */
	void *fp0 = grant_pages(1, 0, 1, &freed, &fidx);
	void *fp = grant_pages(1, (uint16_t)(my_domid + 1), 1, &foreign, &fidx2);
	void *rp = grant_pages(1, 0, 0, &ro, &ridx);
	if (!fp0 || !fp || !rp) {
		result(mode, 0, "cannot grant the pages the mode needs");
		return;
	}
	ungrant(fp0, fidx, 1);
	const struct {
		const char *what;
		uint32_t gref;
	} bad[] = {
		{ "READ into a ref taken back", freed },
		{ "READ into a ref granted to another domain", foreign },
		{ "READ into ref 0xfffffff0", 0xfffffff0u },
		{ "WRITE from ref 65000 (never granted)", 65000 },
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		s[0] = (struct blkif_request_segment){ bad[i].gref, 0, 7 };
		put_rw(v, i == 3 ? BLKIF_OP_WRITE : BLKIF_OP_READ, 1, 0, s, 1);
		ok &= expect1(v, bad[i].what, W_ERROR, d, sizeof(d));
	}
	/* The device would write into a page the guest only lets dom0 read. */
	s[0] = (struct blkif_request_segment){ ro, 0, 7 };
	put_rw(v, BLKIF_OP_READ, 1, 0, s, 1);
	ok &= expect1(v, "READ into a page granted read-only", W_ERROR, d, sizeof(d));
	put_rw(v, BLKIF_OP_WRITE, 1, 64, s, 1);
	ok &= expect1(v, "WRITE from that page", W_OKAY, d, sizeof(d));
	s[0] = seg(v, 0, 0, 7);
	s[1] = (struct blkif_request_segment){ 0xfffffff0u, 0, 7 };
	put_rw(v, BLKIF_OP_READ, 2, 0, s, 2);
	ok &= expect1(v, "a good segment, then a bad ref", W_ERROR, d, sizeof(d));
	uint32_t badind = 0xfffffff0u;
	put_ind(v, BLKIF_OP_READ, 8, 0, &badind, 1);
	ok &= expect1(v, "INDIRECT with indirect page ref 0xfffffff0", W_ERROR, d, sizeof(d));
	((struct blkif_request_segment *)fp)[0] = seg(v, 0, 0, 7);
	put_ind(v, BLKIF_OP_READ, 1, 0, &foreign, 1);
	ok &= expect1(v, "INDIRECT with its page granted to another domain", W_ERROR, d,
		      sizeof(d));
	fill_indirect(v, 200);
	((struct blkif_request_segment *)pg(v, PG_IND))[100].gref = 0xfffffff0u;
	put_ind(v, BLKIF_OP_READ, 200, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT, ref 0xfffffff0 at segment 100 of 200", W_ERROR, d, sizeof(d));
	/* One ref 200 times: Xen may refuse that many maps of one grant. */
	struct blkif_request_segment *is = pg(v, PG_IND);
	for (unsigned int i = 0; i < 200; i++)
		is[i] = seg(v, 0, 0, 7);
	put_ind(v, BLKIF_OP_WRITE, 200, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT WRITE, one ref 200 times", W_OKAY | W_ERROR, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
	ungrant(fp, fidx2, 1);
	ungrant(rp, ridx, 1);
}

/* With feature-persistent: bad refs next to refs dom0 keeps mapped. */
static void mode_persist(struct vbd *v, const char *mode)
{
	char d[1536] = "";
	int ok = 1;
	uint32_t foreign, ro;
	uint64_t fidx, ridx;
	struct blkif_request_segment s[3];

	void *fp = grant_pages(1, (uint16_t)(my_domid + 1), 1, &foreign, &fidx);
	void *rp = grant_pages(1, 0, 0, &ro, &ridx);
	if (!fp || !rp) {
		result(mode, 0, "cannot grant the pages the mode needs");
		return;
	}
	put_pages(v, BLKIF_OP_READ, 0, 8, 0);
	ok &= expect1(v, "READ of 8 pages (mapped to keep)", W_OKAY, d, sizeof(d));
	put_pages(v, BLKIF_OP_WRITE, 64, 8, 0);
	ok &= expect1(v, "WRITE from the same pages", W_OKAY, d, sizeof(d));
	s[0] = seg(v, 0, 0, 7);
	s[1] = (struct blkif_request_segment){ 0xfffffff0u, 0, 7 };
	put_rw(v, BLKIF_OP_READ, 2, 0, s, 2);
	ok &= expect1(v, "a kept page, then ref 0xfffffff0", W_ERROR, d, sizeof(d));
	s[0] = seg(v, 20, 0, 7);
	s[1] = seg(v, 21, 0, 7);
	s[2] = (struct blkif_request_segment){ foreign, 0, 7 };
	put_rw(v, BLKIF_OP_READ, 3, 0, s, 3);
	ok &= expect1(v, "two new pages, then a ref granted to another domain", W_ERROR, d,
		      sizeof(d));
	s[0] = (struct blkif_request_segment){ ro, 0, 7 };
	put_rw(v, BLKIF_OP_WRITE, 1, 0, s, 1);
	ok &= expect1(v, "WRITE from a page granted read-only (kept pages are writable)",
		      W_OKAY | W_ERROR, d, sizeof(d));
	put_rw(v, BLKIF_OP_READ, 1, 0, s, 1);
	ok &= expect1(v, "READ into it", W_ERROR, d, sizeof(d));
	fill_indirect(v, 256);
	put_ind(v, BLKIF_OP_READ, 256, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT READ of 256 segments over 64 pages", W_OKAY, d, sizeof(d));
	put_pages(v, BLKIF_OP_READ, 0, 3, 20);
	ok &= expect1(v, "READ into the two pages refused before", W_OKAY, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
	ungrant(fp, fidx, 1);
	ungrant(rp, ridx, 1);
}

static void mode_badop(struct vbd *v, const char *mode)
{
	char d[1536] = "";
	int ok = 1;
	const uint8_t ops[] = { BLKIF_OP_RESERVED_1, 7, 8, 99, 255 };

	for (unsigned int i = 0; i < sizeof(ops); i++) {
		char what[48];
		put_pages(v, ops[i], 0, 1, 0);
		snprintf(what, sizeof(what), "operation %u", ops[i]);
		ok &= expect1(v, what, W_NOTSUPP, d, sizeof(d));
	}
	const uint8_t inner[] = { BLKIF_OP_WRITE_BARRIER, BLKIF_OP_FLUSH_DISKCACHE,
				  BLKIF_OP_DISCARD, BLKIF_OP_INDIRECT, 99 };
	fill_indirect(v, 8);
	for (unsigned int i = 0; i < sizeof(inner); i++) {
		char what[48];
		put_ind(v, inner[i], 8, 0, NULL, 1);
		snprintf(what, sizeof(what), "INDIRECT around operation %u", inner[i]);
		ok &= expect1(v, what, W_ERROR | W_NOTSUPP, d, sizeof(d));
	}
	if (!v->discard) {
		put_discard(v, 0, 8);
		ok &= expect1(v, "DISCARD (not offered)", W_NOTSUPP, d, sizeof(d));
	}
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_dupid(struct vbd *v, const char *mode)
{
	char d[1024] = "";
	struct rsp r[32];
	uint64_t id = make_id(0x4242);
	int same = 0, okays = 0, errs = 0;

	for (unsigned int i = 0; i < 16; i++) {
		put_pages(v, i % 2 ? BLKIF_OP_WRITE : BLKIF_OP_READ, 8 * i, 1, i);
		RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt - 1)->id = id;
	}
	push(v);
	int got = collect(v, 16, r, 10000);
	for (int i = 0; i < got; i++) {
		same += r[i].id == id;
		okays += r[i].status == BLKIF_RSP_OKAY;
	}
	add(d, sizeof(d), "16 READ/WRITEs with one id: %d answered, %d with that id, %d OKAY", got,
	    same, okays);
	int ok = got == 16 && same == 16 && okays == 16;
	/* Good and bad ones under one id: answered one for one. */
	struct blkif_request_segment s = seg(v, 0, 3, 1);
	for (unsigned int i = 0; i < 8; i++) {
		if (i % 2)
			put_rw(v, BLKIF_OP_READ, 1, 0, &s, 1);
		else
			put_pages(v, BLKIF_OP_READ, 8 * i, 1, i);
		RING_GET_REQUEST(&v->ring, v->ring.req_prod_pvt - 1)->id = id;
	}
	push(v);
	got = collect(v, 8, r, 10000);
	okays = errs = same = 0;
	for (int i = 0; i < got; i++) {
		same += r[i].id == id;
		okays += r[i].status == BLKIF_RSP_OKAY;
		errs += r[i].status == BLKIF_RSP_ERROR;
	}
	add(d, sizeof(d), "4 good and 4 bad with one id: %d answered, %d with that id, %d OKAY, "
	    "%d ERROR", got, same, okays, errs);
	ok &= got == 8 && same == 8 && okays == 4 && errs == 4;
	sleep_ms(200);
	add(d, sizeof(d), "%u more answers", unanswered(v));
	ok &= unanswered(v) == 0;
	still_alive(v, mode, ok, d, sizeof(d));
}

/* The second process of indrace: rewrites the indirect page's segments and
 * the ring slots' indirect page ref and sector until killed. */
static void racer(struct vbd *v, unsigned int nr)
{
	struct blkif_request_segment *s = pg(v, PG_IND);
	unsigned int slots = RING_SIZE(&v->ring);
	uint32_t x = 12345;

	for (;;) {
		/* One change, left in place a while, then the page made whole
		 * again for three times as long: requests see both. */
		for (volatile unsigned int spin = 0; spin < 20000; spin++)
			;
		x = x * 1103515245 + 12345;
		unsigned int i = (x >> 8) % nr;
		if ((x >> 28) % 4) {
			for (unsigned int k = 0; k < nr; k++)
				s[k] = seg(v, k, 0, 7);
			continue;
		}
		switch ((x >> 20) % 5) {
		case 0: s[i].last_sect = 9; break;
		case 1: s[i].gref = 0xfffffff0u; break;
		case 2: s[i].first_sect = 7; s[i].last_sect = 1; break;
		case 3: {
			/* Only fields past a response's 16 bytes: the parent reads
			 * the answers that land in these slots. */
			blkif_request_indirect_t *r = (void *)RING_GET_REQUEST(&v->ring, (x >> 4) % slots);
			r->indirect_grefs[0] = x & 0x10000 ? 0xfffffff0u : v->grefs[PG_IND];
			r->sector_number = x & 0x20000 ? UINT64_MAX - 3 : 0;
			break;
		}
		default: s[i] = seg(v, i, 0, 7); break;
		}
	}
}

static void mode_indrace(struct vbd *v, const char *mode)
{
	char d[1024] = "";
	const unsigned int nr = 64, total = 300, depth = 4;
	unsigned int sent = 0, okays = 0, errs = 0, other = 0, wrong = 0, done = 0;
	uint64_t ids[64] = { 0 };

	/* The whole page holds good segments: a count the racer raises past
	 * nr must not name ref 0 (the guest's console ring) for dom0 to write. */
	fill_indirect(v, SEGS_PER_IND);
	pid_t pid = fork();
	if (pid < 0) {
		result(mode, 0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		racer(v, nr);
		_exit(0);
	}
	uint64_t end = now_ms() + 60000;
	while (done < total && now_ms() < end) {
		while (sent < total && sent - done < depth) {
			ids[sent % 64] = put_ind(v, BLKIF_OP_READ, (uint16_t)nr, 8 * sent, NULL, 1);
			sent++;
			push(v);
		}
		struct rsp r;
		if (collect(v, 1, &r, 1000) != 1)
			continue;
		int known = 0;
		for (unsigned int k = 0; k < 64; k++)
			known |= ids[k] == r.id;
		wrong += !known;
		if (r.status == BLKIF_RSP_OKAY)
			okays++;
		else if (r.status == BLKIF_RSP_ERROR)
			errs++;
		else
			other++;
		done++;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	add(d, sizeof(d), "%u INDIRECT READs of %u segments while another process rewrote the "
	    "indirect page and slots: %u answered, %u OKAY, %u ERROR, %u other, %u unknown ids",
	    sent, nr, done, okays, errs, other, wrong);
	int ok = done == total && other == 0 && wrong == 0;
	/* The good request after it, on a clean page. */
	fill_indirect(v, SEGS_PER_IND);
	put_ind(v, BLKIF_OP_READ, (uint16_t)nr, 0, NULL, 1);
	ok &= expect1(v, "then an untouched INDIRECT READ", W_OKAY, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
}

/* The read-only disk's pattern (the test writes it on the host): sector s
 * is "KEEL-RO-SECTOR %08u\n" then bytes (s * 7 + i) & 0xff. */
static unsigned int ro_mismatches(struct vbd *v, unsigned int page0, unsigned int npages,
				  uint64_t sector0)
{
	unsigned int bad = 0;

	for (unsigned int p = 0; p < npages; p++) {
		const uint8_t *b = pg(v, PG_DATA + page0 + p);
		for (unsigned int k = 0; k < 8; k++) {
			uint64_t s = sector0 + p * 8 + k;
			char head[32];
			int hl = snprintf(head, sizeof(head), "KEEL-RO-SECTOR %08u\n", (unsigned int)s);
			const uint8_t *q = b + k * 512;
			int good = memcmp(q, head, (size_t)hl) == 0;
			for (int i = hl; i < 512 && good; i++)
				good = q[i] == (uint8_t)((s * 7 + (uint64_t)i) & 0xff);
			bad += !good;
		}
	}
	return bad;
}

static void mode_readonly(struct vbd *v, const char *mode)
{
	char d[1536] = "", path[200], val[16] = "?";
	int ok = 1;
	struct blkif_request_segment s[1];

	long long info = xs_num(v->be, "info");
	snprintf(path, sizeof(path), "%s/mode", v->be);
	xs_read(path, val, sizeof(val));
	add(d, sizeof(d), "backend mode %s info %lld", val, info);
	ok &= !strcmp(val, "r") && info >= 0 && (info & VDISK_READONLY);
	memset(pg(v, PG_DATA), 0, 8 * PAGE);
	put_pages(v, BLKIF_OP_READ, 0, 8, 0);
	ok &= expect1(v, "READ of 64 sectors", W_OKAY, d, sizeof(d));
	unsigned int bad = ro_mismatches(v, 0, 8, 0);
	add(d, sizeof(d), "%u sectors unlike the host's pattern", bad);
	ok &= bad == 0;
	/* Writes of every kind, from pages full of 0x5a. */
	memset(pg(v, PG_DATA + 16), 0x5a, 16 * PAGE);
	put_pages(v, BLKIF_OP_WRITE, 0, 8, 16);
	ok &= expect1(v, "WRITE", W_ERROR, d, sizeof(d));
	struct blkif_request_segment *is = pg(v, PG_IND);
	for (unsigned int i = 0; i < 16; i++)
		is[i] = seg(v, 16 + i, 0, 7);
	put_ind(v, BLKIF_OP_WRITE, 16, 64, NULL, 1);
	ok &= expect1(v, "INDIRECT WRITE", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_WRITE_BARRIER, 8, 1, 16);
	ok &= expect1(v, "WRITE_BARRIER with data", W_ERROR, d, sizeof(d));
	put_pages(v, BLKIF_OP_FLUSH_DISKCACHE, 16, 1, 16);
	ok &= expect1(v, "FLUSH_DISKCACHE with data", W_ERROR, d, sizeof(d));
	put_discard(v, 0, 64);
	ok &= expect1(v, "DISCARD", W_ERROR | W_NOTSUPP, d, sizeof(d));
	put_rw(v, BLKIF_OP_FLUSH_DISKCACHE, 0, ~0ull, s, 0);
	ok &= expect1(v, "FLUSH_DISKCACHE without data", W_OKAY, d, sizeof(d));
	put_rw(v, BLKIF_OP_WRITE_BARRIER, 0, ~0ull, s, 0);
	ok &= expect1(v, "WRITE_BARRIER without data", W_OKAY, d, sizeof(d));
	memset(pg(v, PG_DATA), 0, 16 * PAGE);
	for (unsigned int i = 0; i < 16; i++)
		is[i] = seg(v, i, 0, 7);
	put_ind(v, BLKIF_OP_READ, 16, 0, NULL, 1);
	ok &= expect1(v, "INDIRECT READ of 128 sectors", W_OKAY, d, sizeof(d));
	bad = ro_mismatches(v, 0, 16, 0);
	add(d, sizeof(d), "then %u sectors unlike the host's pattern", bad);
	ok &= bad == 0;
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_runahead(struct vbd *v, const char *mode)
{
	char d[256] = "";
	int ok;
	unsigned int size = RING_SIZE(&v->ring);

	put_pages(v, BLKIF_OP_READ, 0, 1, 0);
	ok = expect1(v, "a good READ first", W_OKAY, d, sizeof(d));
	if (!ok) {
		result(mode, 0, "%s", d);
		return;
	}
	/* One real request, then req_prod size+1 ahead of the backend. */
	put_pages(v, BLKIF_OP_READ, 0, 1, 0);
	xen_wmb();
	v->ring.sring->req_prod = v->ring.rsp_cons + size + 1;
	notify(v->port);
	char what[96];
	snprintf(what, sizeof(what), "req_prod %u ahead of the backend (ring of %u)", size + 1, size);
	expect_fatal(v, mode, what, d);
}

/* Two queues: each ring answers its own requests; then one ring's req_prod
 * runs ahead and the whole vbd fails. */
static void mode_mq(struct vbd *v, const char *mode)
{
	char d[1024] = "";
	struct vbd q1 = *v;  /* the same pages, ring 1 and its port */
	struct rsp r[8];
	int ok = 1;

	FRONT_RING_INIT(&q1.ring, (blkif_sring_t *)pg(v, PG_RING + 1), PAGE);
	q1.port = v->qport[1];
	v->port = v->qport[0];
	put_pages(v, BLKIF_OP_READ, 0, 1, 0);
	ok &= expect1(v, "a READ on queue 0", W_OKAY, d, sizeof(d));
	put_pages(&q1, BLKIF_OP_READ, 0, 1, 1);
	ok &= expect1(&q1, "a READ on queue 1", W_OKAY, d, sizeof(d));
	uint64_t ids0[4], ids1[4];
	for (unsigned int i = 0; i < 4; i++) {
		ids0[i] = put_pages(v, BLKIF_OP_READ, 8 * i, 1, i);
		q1.seq = v->seq + 1000;
		ids1[i] = put_pages(&q1, BLKIF_OP_WRITE, 64 + 8 * i, 1, 8 + i);
	}
	push(v);
	push(&q1);
	int g0 = collect(v, 4, r, 5000), mine0 = 0;
	for (int i = 0; i < g0; i++)
		for (int k = 0; k < 4; k++)
			mine0 += r[i].id == ids0[k] && r[i].status == BLKIF_RSP_OKAY;
	int g1 = collect(&q1, 4, r + 4, 5000), mine1 = 0;
	for (int i = 0; i < g1; i++)
		for (int k = 0; k < 4; k++)
			mine1 += r[4 + i].id == ids1[k] && r[4 + i].status == BLKIF_RSP_OKAY;
	add(d, sizeof(d), "4 READs on queue 0 and 4 WRITEs on queue 1 at once: %d and %d "
	    "answered OKAY on their own ring", mine0, mine1);
	ok &= mine0 == 4 && mine1 == 4 && !v->dirty_pad && !q1.dirty_pad;
	if (!ok) {
		result(mode, 0, "%s", d);
		return;
	}
	put_pages(&q1, BLKIF_OP_READ, 0, 1, 0);
	xen_wmb();
	q1.ring.sring->req_prod = q1.ring.rsp_cons + RING_SIZE(&q1.ring) + 1;
	notify(q1.port);
	expect_fatal(&q1, mode, "queue 1's req_prod 33 ahead", d);
}

/*
 * Requests dom0 refuses at once (each frees its slot again), a 16-page ring
 * kept full without a pause, the backend's state and block-detach ignored:
 * until dom0 removes the vbd (block-detach --force).  A second process
 * watches for that, so the refilling never stops for a xenstore read.
 */
static void mode_badflood(struct vbd *v, const char *mode)
{
	unsigned int size = RING_SIZE(&v->ring);
	unsigned long pushed = 0;
	struct blkif_request_segment badseg = seg(v, 0, 0, 9);
	volatile int *gone = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
				  -1, 0);

	if (gone == MAP_FAILED) {
		result(mode, 0, "mmap: %s", strerror(errno));
		return;
	}
	*gone = 0;
	pid_t pid = fork();
	if (pid < 0) {
		result(mode, 0, "fork: %s", strerror(errno));
		return;
	}
	if (pid == 0) {
		while (be_state(v) >= 0)
			sleep_ms(100);
		*gone = 1;
		_exit(0);
	}
	out("KEEL-BLKHOSTILE-FLOODING %s until the vbd is removed, ring of %u slots\n", mode, size);
	uint64_t t0 = now_ms();
	while (!*gone) {
		RING_IDX rp = __atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
		unsigned int n = 0;
		while (v->ring.req_prod_pvt - rp < size) {
			put_rw(v, BLKIF_OP_READ, 1, 0, &badseg, 1);
			pushed++;
			n++;
		}
		if (n)
			push(v);
	}
	waitpid(pid, NULL, 0);
	result(mode, 1, "%lu refused requests in %.1f s (%lu answered), backend state ignored; "
	       "flooded until dom0 removed the vbd", pushed, (double)(now_ms() - t0) / 1000,
	       (unsigned long)(__atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE) -
			       v->ring.rsp_cons));
	munmap((void *)gone, PAGE);
}

static void mode_flood(struct vbd *v, const char *mode, unsigned int seconds)
{
	char d[1024] = "";
	unsigned int size = RING_SIZE(&v->ring);
	unsigned long pushed = 0, bad = 0, notifies = 0;
	RING_IDX rsp0 = v->ring.rsp_cons;
	struct blkif_request_segment badseg = seg(v, 0, 0, 9);

	out("KEEL-BLKHOSTILE-FLOODING %s %u s on a ring of %u slots\n", mode, seconds, size);
	uint64_t t0 = now_ms(), end = seconds ? t0 + seconds * 1000ull : UINT64_MAX;
	/* Keep every slot the backend has answered full again; never take a
	 * response (rsp_cons stays put), only look at rsp_prod. */
	while (now_ms() < end) {
		RING_IDX rp = __atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
		unsigned int n = 0;
		while (v->ring.req_prod_pvt - rp < size) {
			if (pushed % 8 == 7) {
				put_rw(v, BLKIF_OP_READ, 1, 0, &badseg, 1);
				bad++;
			} else {
				put_pages(v, BLKIF_OP_READ, (pushed * 64) % (v->sectors - 64), 8,
					  (unsigned int)(pushed % 8) * 8);
			}
			pushed++;
			n++;
		}
		if (n) {
			push(v);
			notifies++;
		}
		sleep_ms(1);
	}
	uint64_t t1 = now_ms();
	RING_PUSH_REQUESTS(&v->ring);
	notify(v->port);
	/* Everything pushed must be answered. */
	uint64_t wend = now_ms() + 20000;
	while (__atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE) != v->ring.req_prod_pvt &&
	       now_ms() < wend)
		sleep_ms(10);
	RING_IDX rp = __atomic_load_n(&v->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
	/* The last ring's worth of answers is still there: check it. */
	unsigned int last = rp - rsp0 < size ? rp - rsp0 : size, okays = 0, errs = 0;
	v->ring.rsp_cons = rp - last;
	for (unsigned int i = 0; i < last; i++) {
		struct rsp r = take(v);
		okays += r.status == BLKIF_RSP_OKAY;
		errs += r.status == BLKIF_RSP_ERROR;
	}
	add(d, sizeof(d), "%lu requests (%lu bad) in %.1f s, %lu notifies, responses never read; "
	    "then %u of %lu answered; the last %u: %u OKAY %u ERROR", pushed, bad,
	    (double)(t1 - t0) / 1000, notifies, rp - rsp0, pushed, last, okays, errs);
	int ok = rp - rsp0 == pushed && okays + errs == last && errs > 0 && okays > 0;
	still_alive(v, mode, ok, d, sizeof(d));
}

static const char *const modes[] = { "segs", "sects", "pastend", "badgref", "persist", "badop",
				     "dupid", "indrace", "readonly", "runahead", "mq", "badring", "badnum",
				     "flood", "badflood", "endless" };

static void run(const char *name, unsigned int flood_seconds)
{
	struct vbd v;
	int found = 0;

	for (unsigned int i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		found |= !strcmp(modes[i], name);
	if (!found) {
		result(name, 0, "no such mode");
		return;
	}
	out("KEEL-BLKHOSTILE-WAIT %s\n", name);
	int devid = wait_vbd();
	if (devid < 0) {
		result(name, 0, "no vbd to connect");
		return;
	}
	if (!strcmp(name, "badnum")) {
		/* A number with junk after it: the vbd fails with an error
		 * naming the node, whatever else the frontend wrote. */
		char path[200], err[256] = "(none)", fe[64], be[128] = "";
		snprintf(fe, sizeof(fe), "device/vbd/%d", devid);
		snprintf(path, sizeof(path), "%s/backend", fe);
		xs_read(path, be, sizeof(be));
		struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = 0 };
		int port = ioctl(evt_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
		int rc = xs_printf(fe, "ring-page-order", "1x");
		rc |= xs_printf(fe, "ring-ref0", "%u", 8);
		rc |= xs_printf(fe, "ring-ref1", "%u", 9);
		rc |= xs_printf(fe, "event-channel", "%d", port);
		rc |= xs_printf(fe, "protocol", "%s", XEN_IO_PROTO_ABI_X86_64);
		rc |= xs_printf(fe, "state", "%d", XenbusStateInitialised);
		memset(&v, 0, sizeof(v));
		v.devid = devid;
		snprintf(v.fe, sizeof(v.fe), "%s", fe);
		snprintf(v.be, sizeof(v.be), "%s", be);
		int st = wait_be_state(&v, XenbusStateClosing, 10000);
		snprintf(path, sizeof(path), "%s/error", be);
		xs_read(path, err, sizeof(err));
		result(name, rc == 0 && port >= 0 && st == XenbusStateClosing &&
		       strstr(err, "ring-page-order is not a number") != NULL,
		       "ring-page-order \"1x\": backend state %d error=\"%s\"", st, err);
		/* vbd_close without the pages (none were granted). */
		uint64_t end = now_ms() + 120000;
		while (xs_num(v.be, "online") == 1 && now_ms() < end)
			sleep_ms(100);
		xs_printf(v.fe, "state", "%d", XenbusStateClosing);
		xs_printf(v.fe, "state", "%d", XenbusStateClosed);
		while (be_state(&v) >= 0 && now_ms() < end)
			sleep_ms(100);
		struct ioctl_evtchn_unbind u = { .port = (unsigned int)port };
		ioctl(evt_fd, IOCTL_EVTCHN_UNBIND, &u);
		out("KEEL-BLKHOSTILE-CLOSED %d %s\n", devid, name);
		return;
	}
	if (!strcmp(name, "badring")) {
		/* dom0 maps the ring, then cannot bind the channel: it must
		 * unmap it again and fail the vbd. */
		char path[200], err[256] = "(none)";
		int st = vbd_connect(&v, devid, 0, 1, 0, 1);
		snprintf(path, sizeof(path), "%s/error", v.be);
		xs_read(path, err, sizeof(err));
		result(name, st == XenbusStateClosing && strcmp(err, "(none)"),
		       "event-channel 65000 (not allocated): backend state %d error=\"%s\"", st, err);
		vbd_close(&v, name, 120000);
		return;
	}
	int flood = !strcmp(name, "flood") || !strcmp(name, "endless") || !strcmp(name, "badflood");
	if (vbd_connect(&v, devid, !strcmp(name, "badflood") ? 4 : flood ? 2 : 0,
			!strcmp(name, "mq") ? 2 : 1,
			!strcmp(name, "persist"), 0)) {
		result(name, 0, "vbd %d did not connect", devid);
		return;
	}
	if (!strcmp(name, "segs"))
		mode_segs(&v, name);
	else if (!strcmp(name, "sects"))
		mode_sects(&v, name);
	else if (!strcmp(name, "pastend"))
		mode_pastend(&v, name);
	else if (!strcmp(name, "badgref"))
		mode_badgref(&v, name);
	else if (!strcmp(name, "persist"))
		mode_persist(&v, name);
	else if (!strcmp(name, "badop"))
		mode_badop(&v, name);
	else if (!strcmp(name, "dupid"))
		mode_dupid(&v, name);
	else if (!strcmp(name, "indrace"))
		mode_indrace(&v, name);
	else if (!strcmp(name, "readonly"))
		mode_readonly(&v, name);
	else if (!strcmp(name, "runahead"))
		mode_runahead(&v, name);
	else if (!strcmp(name, "mq"))
		mode_mq(&v, name);
	else if (!strcmp(name, "flood"))
		mode_flood(&v, name, flood_seconds);
	else if (!strcmp(name, "badflood"))
		mode_badflood(&v, name);
	else if (!strcmp(name, "endless"))
		mode_flood(&v, name, 0);  /* until the guest is destroyed */
	vbd_close(&v, name, 120000);
}

/* ---- the good guest: a checksum loop on its own disk ---- */

#define GOOD_BYTES (4u << 20)

/* Word w of sector s in round r (the test recomputes it on the host). */
static uint64_t good_word(uint64_t r, uint64_t s, uint64_t w)
{
	return (r << 48) ^ (s << 16) ^ w ^ 0x5a5a5a5a5a5a5a5aull;
}

static void fill_round(uint64_t *buf, uint64_t r, uint64_t s0, size_t bytes)
{
	for (size_t s = 0; s < bytes / 512; s++)
		for (size_t w = 0; w < 64; w++)
			buf[s * 64 + w] = good_word(r, s0 + s, w);
}

static int good(const char *dev)
{
	const size_t chunk = 1u << 20;
	uint64_t *wbuf, *rbuf;
	char val[16];
	int fd = -1;

	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = open(dev, O_RDWR | O_DIRECT);
		if (fd < 0)
			sleep_ms(100);
	}
	if (fd < 0 || posix_memalign((void **)&wbuf, PAGE, chunk) ||
	    posix_memalign((void **)&rbuf, PAGE, chunk)) {
		result("blkgood", 0, "cannot open %s: %s", dev, strerror(errno));
		out("KEEL-TEST-DONE\n");
		return 1;
	}
	uint64_t r = 0, bytes = 0, t0 = now_ms();
	out("KEEL-BLKGOOD-START %s\n", dev);
	while (xs_read("data/blkgood-stop", val, sizeof(val))) {
		r++;
		for (size_t off = 0; off < GOOD_BYTES; off += chunk) {
			fill_round(wbuf, r, off / 512, chunk);
			if (pwrite(fd, wbuf, chunk, (off_t)off) != (ssize_t)chunk) {
				result("blkgood", 0, "round %llu: write at %zu: %s",
				       (unsigned long long)r, off, strerror(errno));
				goto done;
			}
		}
		if (fsync(fd)) {
			result("blkgood", 0, "round %llu: fsync: %s", (unsigned long long)r,
			       strerror(errno));
			goto done;
		}
		for (size_t off = 0; off < GOOD_BYTES; off += chunk) {
			if (pread(fd, rbuf, chunk, (off_t)off) != (ssize_t)chunk) {
				result("blkgood", 0, "round %llu: read at %zu: %s",
				       (unsigned long long)r, off, strerror(errno));
				goto done;
			}
			fill_round(wbuf, r, off / 512, chunk);
			if (memcmp(rbuf, wbuf, chunk)) {
				size_t k = 0;
				while (rbuf[k] == wbuf[k])
					k++;
				result("blkgood", 0, "round %llu: byte %zu differs", (unsigned long long)r,
				       off + k * 8);
				goto done;
			}
		}
		bytes += 2ull * GOOD_BYTES;
		out("KEEL-BLKGOOD-ROUND %llu\n", (unsigned long long)r);
	}
	result("blkgood", r > 0, "rounds=%llu bytes=%llu seconds=%.1f last=%llu",
	       (unsigned long long)r, (unsigned long long)bytes, (double)(now_ms() - t0) / 1000,
	       (unsigned long long)r);
done:
	out("KEEL-TEST-DONE\n");
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	char val[32];

	if (argc < 2) {
		fprintf(stderr, "usage: blkhostile all|warm|MODE...|good DEV\n");
		return 2;
	}
	xs_fd = open("/dev/xen/xenbus", O_RDWR);
	if (!strcmp(argv[1], "good") && argc == 3) {
		good(argv[2]);
		for (;;)
			pause();
	}
	gnt_fd = open("/dev/xen/gntalloc", O_RDWR);
	evt_fd = open("/dev/xen/evtchn", O_RDWR);
	if (xs_fd < 0 || gnt_fd < 0 || evt_fd < 0) {
		result("blkhostile-setup", 0, "xenbus %d gntalloc %d evtchn %d: %s", xs_fd, gnt_fd,
		       evt_fd, strerror(errno));
		out("KEEL-TEST-DONE\n");
		return 1;
	}
	if (xs_read("domid", val, sizeof(val)) == 0)
		my_domid = (unsigned int)atoi(val);
	/* Nobody else may play blkfront here. */
	int blkfront = access("/sys/module/xen_blkfront", F_OK) == 0;
	result("blkhostile-setup", !blkfront && my_domid > 0,
	       "domid %u, /dev/xen/{xenbus,gntalloc,evtchn} open, xen-blkfront %s", my_domid,
	       blkfront ? "LOADED" : "not loaded");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "all")) {
			for (unsigned int j = 0; j < sizeof(modes) / sizeof(modes[0]); j++)
				if (strcmp(modes[j], "endless"))
					run(modes[j], FLOOD_SECONDS);
			out("KEEL-TEST-DONE\n");
			/* When dom0 writes data/blkhostile-flood, flood a vbd for
			 * ever: the test destroys this guest in the middle. */
			while (xs_read("data/blkhostile-flood", val, sizeof(val)))
				sleep_ms(200);
			run("endless", 0);
		} else if (!strcmp(argv[i], "warm")) {
			/* The most event channels (mq) and grant maps (flood) any
			 * mode uses at once. */
			run("mq", 0);
			run("flood", 3);
		} else {
			run(argv[i], FLOOD_SECONDS);
		}
	}
	out("KEEL-TEST-DONE\n");
	for (;;)
		pause();
}

/*
 * A hostile netfront for keel's test domU (put in its ramdisk as
 * /bin/nethostile by scripts/mk-domu.sh, built there with the host's gcc
 * -static), driven by tests/integration/test_net_hostile.py.
 *
 * The guest runs without xen-netfront (keelnomod=xen-netfront), so the vifs
 * dom0 attaches to it are nobody's; this program plays netfront by hand
 * through Linux's user-space Xen devices:
 *   /dev/xen/gntalloc  pages granted to dom0 (rings, tx data, rx buffers)
 *   /dev/xen/evtchn    an unbound port for dom0 to bind, and notifies
 *   /dev/xen/xenbus    xenstore's raw wire protocol (xen/io/xs_wire.h)
 * and the ring layout of <xen/io/netif.h> and <xen/io/ring.h>.
 *
 *   nethostile MODE...   runs each mode in turn; `all` means every mode.
 *
 * For each mode it prints "KEEL-NETHOSTILE-WAIT <mode> <nvifs>", waits for
 * dom0 to attach that many fresh vifs (frontend Initialising, backend
 * InitWait), connects them as netfront would (tx-ring-ref, rx-ring-ref,
 * event-channel, request-rx-copy=1, feature-rx-notify=1, feature-sg=1,
 * state=4), misbehaves, and prints "KEEL-TEST <mode> ok|fail <detail>".
 * Then it waits for dom0 to detach the vif (backend online=0) and closes
 * its side (state=6), as netfront does.
 *
 *   oversized     dropped: a first request smaller than its fragments' sum,
 *                 a 10-byte frame; then a good frame goes through
 *   crosspage     fatal: offset 4000 + size 200 in one slot
 *   toomanyfrags  dropped: 20 data slots; then fatal: 24 data slots
 *   endless       fatal: a NETTXF_more_data chain pushed 4 slots at a time
 *                 that never ends
 *   badgref       dropped: grant refs never granted, freed, granted to
 *                 another domain, huge; a good first slot (the header) with
 *                 a bad ref in a later slot: every slot answered ERROR
 *   badextra      dropped: an extra type given twice; fatal: an unknown type
 *   extrachain    fatal: extra-info slots that all say FLAG_MORE
 *   runahead      fatal: req_prod 5000 ahead of what dom0 consumed
 *   badring       fatal at connect: an event channel that does not exist
 *                 (dom0 has mapped the rings by then and must unmap them)
 *   norx          two vifs: a sink that posts no rx buffers and a flooder
 *                 that sends it 1514-byte frames for FLOOD_SECONDS; then the
 *                 sink posts rx buffers with bad grant refs (answered with
 *                 errors) and good ones (answered with data).  Then
 *                 (result "rxrunahead") the sink's rx req_prod runs 5000
 *                 ahead: fatal.  It prints KEEL-TEST-DONE and, once dom0 writes
 *                 data/nethostile-flood, floods for ever (the test destroys
 *                 the guest in the middle of it).
 *
 * Fatal modes check that the backend goes to Closing (5) with an `error`
 * node, that nothing was answered, and that dom0 survives more notifies on
 * the dead vif.  Dropped modes check that each request of the packet is
 * answered (NETIF_RSP_ERROR, NETIF_RSP_NULL for extra-info slots), that the
 * backend stays Connected, and that a good frame still goes through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

/* ring.h (this copy) maps xen_*mb() onto mb()/rmb()/wmb() of its includer. */
#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#include <xen/xen.h>
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>
#include <xen/gntalloc.h> /* Linux uapi (linux-libc-dev): IOCTL_GNTALLOC_* */
#include <xen/evtchn.h>   /* Linux uapi (linux-libc-dev): IOCTL_EVTCHN_* */

#define PAGE 4096
#define FLOOD_SECONDS 12
#define FRAME_LEN 1514
/* Slots in a one-page tx or rx ring (RING_SIZE of either). */
#define NET_TX_RING_SIZE 256
#define NET_RX_RING_SIZE 256

/* Pages of one vif, all granted to dom0. */
enum { PG_TX_RING, PG_RX_RING, PG_TX_DATA, NTXDATA = 32, PG_RX_DATA = PG_TX_DATA + NTXDATA,
       NRXDATA = 64, NPAGES = PG_RX_DATA + NRXDATA };

struct vif {
	int devid;
	char fe[64], be[128];
	uint8_t mac[6];
	void *pages;
	uint32_t grefs[NPAGES];
	uint64_t index;
	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	unsigned int port;
	uint16_t next_id;
};

static int xs_fd, gnt_fd, evt_fd;
static unsigned int my_domid;

#include "guestxs.h"

/* A node of dir as a number; -1 if it cannot be read. */
static long xs_num(const char *dir, const char *node)
{
	char path[256], val[64];

	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (xs_read(path, val, sizeof(val)) || !val[0])
		return -1;
	return strtol(val, NULL, 10);
}

/* ---- grants and event channels ---- */

static void *grant_pages(unsigned int count, uint16_t domid, uint32_t *grefs, uint64_t *index,
			 int map)
{
	size_t sz = sizeof(struct ioctl_gntalloc_alloc_gref) + count * sizeof(uint32_t);
	struct ioctl_gntalloc_alloc_gref *a = calloc(1, sz);
	void *p = NULL;

	if (!a)
		return NULL;
	a->domid = domid;
	a->flags = GNTALLOC_FLAG_WRITABLE;
	a->count = count;
	if (ioctl(gnt_fd, IOCTL_GNTALLOC_ALLOC_GREF, a)) {
		out("nethostile: IOCTL_GNTALLOC_ALLOC_GREF(%u pages): %s\n", count, strerror(errno));
		free(a);
		return NULL;
	}
	memcpy(grefs, a->gref_ids, count * sizeof(uint32_t));
	*index = a->index;
	free(a);
	if (!map)
		return (void *)1;
	p = mmap(NULL, (size_t)count * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, gnt_fd,
		 (off_t)*index);
	if (p == MAP_FAILED) {
		out("nethostile: mmap of granted pages: %s\n", strerror(errno));
		return NULL;
	}
	memset(p, 0, (size_t)count * PAGE);
	return p;
}

static void ungrant(uint64_t index, unsigned int count)
{
	struct ioctl_gntalloc_dealloc_gref d = { .index = index, .count = count };

	if (ioctl(gnt_fd, IOCTL_GNTALLOC_DEALLOC_GREF, &d))
		out("nethostile: IOCTL_GNTALLOC_DEALLOC_GREF: %s\n", strerror(errno));
}

/* ---- a vif, connected by hand ---- */

static void *pg(struct vif *v, unsigned int i)
{
	return (char *)v->pages + (size_t)i * PAGE;
}

static int be_state(struct vif *v)
{
	return (int)xs_num(v->be, "state");
}

/* Polls the backend state until it is `want` or ms pass; returns the last. */
static int wait_be_state(struct vif *v, int want, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	int st;

	while ((st = be_state(v)) != want && now_ms() < end)
		sleep_ms(50);
	return st;
}

/* A vif dom0 has just attached: frontend Initialising, backend InitWait. */
static int find_fresh_vif(int exclude)
{
	char list[4096], dir[64], be[128];
	size_t len = 0;

	if (xs_req(XS_DIRECTORY, "device/vif", NULL, list, sizeof(list), &len))
		return -1;
	for (size_t i = 0; i < len; i += strlen(list + i) + 1) {
		int devid = atoi(list + i);
		if (!list[i] || devid == exclude)
			continue;
		snprintf(dir, sizeof(dir), "device/vif/%d", devid);
		snprintf(be, sizeof(be), "%s/backend", dir);
		if (xs_num(dir, "state") != XenbusStateInitialising || xs_read(be, be, sizeof(be)))
			continue;
		if (xs_num(be, "state") == XenbusStateInitWait)
			return devid;
	}
	return -1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int m[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)m[i];
	return 0;
}

/* Connects vif devid as netfront does; with bad_port, names an event
 * channel that does not exist and returns the backend state it ends in. */
static int vif_connect(struct vif *v, int devid, int bad_port)
{
	char mac[96];

	memset(v, 0, sizeof(*v));
	v->devid = devid;
	snprintf(v->fe, sizeof(v->fe), "device/vif/%d", devid);
	snprintf(mac, sizeof(mac), "%s/backend", v->fe);
	if (xs_read(mac, v->be, sizeof(v->be)))
		return -1;
	snprintf(mac, sizeof(mac), "%s/mac", v->fe);
	char val[32];
	if (xs_read(mac, val, sizeof(val)) || parse_mac(val, v->mac))
		return -1;
	v->pages = grant_pages(NPAGES, 0, v->grefs, &v->index, 1);
	if (!v->pages)
		return -1;
	netif_tx_sring_t *ts = pg(v, PG_TX_RING);
	netif_rx_sring_t *rs = pg(v, PG_RX_RING);
	SHARED_RING_INIT(ts);
	SHARED_RING_INIT(rs);
	FRONT_RING_INIT(&v->tx, ts, PAGE);
	FRONT_RING_INIT(&v->rx, rs, PAGE);
	struct ioctl_evtchn_bind_unbound_port b = { .remote_domain = 0 };
	int port = ioctl(evt_fd, IOCTL_EVTCHN_BIND_UNBOUND_PORT, &b);
	if (port < 0) {
		out("nethostile: IOCTL_EVTCHN_BIND_UNBOUND_PORT: %s\n", strerror(errno));
		return -1;
	}
	v->port = (unsigned int)port;
	if (xs_printf(v->fe, "tx-ring-ref", "%u", v->grefs[PG_TX_RING]) ||
	    xs_printf(v->fe, "rx-ring-ref", "%u", v->grefs[PG_RX_RING]) ||
	    xs_printf(v->fe, "event-channel", "%u", bad_port ? 65000 : v->port) ||
	    xs_printf(v->fe, "request-rx-copy", "1") ||
	    xs_printf(v->fe, "feature-rx-notify", "1") || xs_printf(v->fe, "feature-sg", "1") ||
	    xs_printf(v->fe, "state", "%d", XenbusStateConnected))
		return -1;
	if (bad_port)
		return wait_be_state(v, XenbusStateClosing, 10000);
	int st = wait_be_state(v, XenbusStateConnected, 20000);
	if (st != XenbusStateConnected) {
		out("nethostile: vif %d: backend state %d, not Connected\n", devid, st);
		return -1;
	}
	out("KEEL-NETHOSTILE-CONNECTED vif %d (%s) tx-ring-ref %u rx-ring-ref %u port %u\n", devid,
	    val, v->grefs[PG_TX_RING], v->grefs[PG_RX_RING], v->port);
	return 0;
}

/* Netfront's teardown: when dom0 detaches (online=0) or fails the vif and
 * then detaches, go to Closed; wait for the directories to go. */
static void vif_close(struct vif *v, unsigned int ms)
{
	uint64_t end = now_ms() + ms;

	while (xs_num(v->be, "online") == 1 && now_ms() < end)
		sleep_ms(100);
	xs_printf(v->fe, "state", "%d", XenbusStateClosing);
	xs_printf(v->fe, "state", "%d", XenbusStateClosed);
	while (be_state(v) >= 0 && now_ms() < end)
		sleep_ms(100);
	struct ioctl_evtchn_unbind u = { .port = v->port };
	ioctl(evt_fd, IOCTL_EVTCHN_UNBIND, &u);
	munmap(v->pages, (size_t)NPAGES * PAGE);
	ungrant(v->index, NPAGES);
	out("KEEL-NETHOSTILE-CLOSED vif %d\n", v->devid);
}

/* ---- tx requests ---- */

static void put_req(struct vif *v, uint32_t gref, uint16_t offset, uint16_t flags, uint16_t size)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&v->tx, v->tx.req_prod_pvt);

	r->gref = gref;
	r->offset = offset;
	r->flags = flags;
	r->id = v->next_id++ % NET_TX_RING_SIZE;
	r->size = size;
	v->tx.req_prod_pvt++;
}

static void put_extra(struct vif *v, uint8_t type, uint8_t flags)
{
	struct netif_extra_info *e = (void *)RING_GET_REQUEST(&v->tx, v->tx.req_prod_pvt);

	memset(e, 0, sizeof(*e));
	e->type = type;
	e->flags = flags;
	if (type == XEN_NETIF_EXTRA_TYPE_MCAST_ADD || type == XEN_NETIF_EXTRA_TYPE_MCAST_DEL)
		memcpy(e->u.mcast.addr, "\x01\x00\x5e\x00\x00\x01", 6);
	v->tx.req_prod_pvt++;
}

static void push(struct vif *v)
{
	RING_PUSH_REQUESTS(&v->tx);
	notify(v->port);
}

/* An Ethernet frame from the vif's MAC to dst in tx data page k. */
static uint32_t frame(struct vif *v, unsigned int k, const uint8_t *dst, unsigned int len)
{
	uint8_t *p = pg(v, PG_TX_DATA + k);

	memcpy(p, dst, 6);
	memcpy(p + 6, v->mac, 6);
	p[12] = 0x88; /* 0x88b5: local experimental ethertype */
	p[13] = 0xb5;
	for (unsigned int i = 14; i < len; i++)
		p[i] = (uint8_t)i;
	return v->grefs[PG_TX_DATA + k];
}

static const uint8_t nobody[6] = { 0x02, 0, 0, 0, 0x4b, 0x01 };

/* Collects up to n tx responses within ms; their statuses in st. */
static int tx_wait(struct vif *v, int n, int16_t *st, unsigned int ms)
{
	uint64_t end = now_ms() + ms;
	int got = 0;

	while (got < n) {
		RING_IDX prod = __atomic_load_n(&v->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
		while (v->tx.rsp_cons != prod && got < n) {
			netif_tx_response_t *r = RING_GET_RESPONSE(&v->tx, v->tx.rsp_cons);
			st[got++] = r->status;
			v->tx.rsp_cons++;
		}
		if (got >= n || now_ms() >= end)
			break;
		sleep_ms(5);
	}
	return got;
}

static unsigned int tx_unanswered(struct vif *v)
{
	return __atomic_load_n(&v->tx.sring->rsp_prod, __ATOMIC_ACQUIRE) - v->tx.rsp_cons;
}

/* Sends one good 60-byte frame; its response status (-99: none). */
static int good_frame(struct vif *v)
{
	int16_t st = -99;

	put_req(v, frame(v, 0, nobody, 60), 0, 0, 60);
	push(v);
	tx_wait(v, 1, &st, 5000);
	return st;
}

/* A dropped packet: nslots answered, nextras of them NETIF_RSP_NULL and
 * the rest NETIF_RSP_ERROR.  Appends what it saw to detail. */
static int expect_dropped(struct vif *v, const char *what, int nslots, int nextras, char *detail,
			  size_t max)
{
	int16_t st[64];
	int got = tx_wait(v, nslots, st, 5000), err = 0, null = 0, other = 0;

	for (int i = 0; i < got; i++) {
		if (st[i] == NETIF_RSP_ERROR)
			err++;
		else if (st[i] == NETIF_RSP_NULL)
			null++;
		else
			other++;
	}
	int ok = got == nslots && null == nextras && err == nslots - nextras;
	size_t l = strlen(detail);
	snprintf(detail + l, max - l, "%s%s: %d/%d answered (%d ERROR, %d NULL, %d other)",
		 l ? "; " : "", what, got, nslots, err, null, other);
	return ok;
}

/* The end of a dropped mode: the vif is still Connected and a good frame
 * still goes through. */
static void still_alive(struct vif *v, const char *mode, int ok, char *detail, size_t max)
{
	int st = good_frame(v), bs = be_state(v);
	size_t l = strlen(detail);

	snprintf(detail + l, max - l, "; then a good frame: %s; backend state %d",
		 st == NETIF_RSP_OKAY ? "OKAY" : st == -99 ? "no answer" : "ERROR", bs);
	result(mode, ok && st == NETIF_RSP_OKAY && bs == XenbusStateConnected, "%s", detail);
}

/* The end of a fatal mode: Closing with an error node, nothing answered,
 * and more notifies on the dead vif change nothing. */
static void expect_fatal(struct vif *v, const char *mode, const char *what, const char *before)
{
	char path[256], err[256] = "";
	int st = wait_be_state(v, XenbusStateClosing, 10000);
	unsigned int answered = tx_unanswered(v);

	snprintf(path, sizeof(path), "%s/error", v->be);
	if (xs_read(path, err, sizeof(err)))
		snprintf(err, sizeof(err), "(none)");
	/* Keep poking the failed vif, as a broken frontend would. */
	for (int i = 0; i < 5; i++) {
		put_req(v, frame(v, 0, nobody, 60), 0, 0, 60);
		push(v);
		sleep_ms(50);
	}
	sleep_ms(500);
	int st2 = be_state(v);
	result(mode, st == XenbusStateClosing && strcmp(err, "(none)") && answered == 0 &&
		     st2 == XenbusStateClosing,
	       "%s%s%s: backend state %d error=\"%s\" responses=%u; after 5 more notifies state %d",
	       before ? before : "", before ? "; " : "", what, st, err, answered, st2);
}

/* ---- the modes ---- */

static void mode_oversized(struct vif *v, const char *mode)
{
	char d[512] = "";
	int ok;

	/* First says 100 bytes in all, its fragment alone says 2000. */
	put_req(v, frame(v, 0, nobody, 100), 0, NETTXF_more_data, 100);
	put_req(v, frame(v, 1, nobody, 2000), 0, 0, 2000);
	push(v);
	ok = expect_dropped(v, "first size 100 under a 2000-byte fragment", 2, 0, d, sizeof(d));
	put_req(v, frame(v, 0, nobody, 60), 0, 0, 10);
	push(v);
	ok &= expect_dropped(v, "a 10-byte frame", 1, 0, d, sizeof(d));
	still_alive(v, mode, ok, d, sizeof(d));
}

static void mode_crosspage(struct vif *v, const char *mode)
{
	put_req(v, frame(v, 0, nobody, 60), 4000, 0, 200);
	push(v);
	expect_fatal(v, mode, "offset 4000 + size 200 in one slot", NULL);
}

/* n data slots of 60 bytes each, one packet. */
static void many_slots(struct vif *v, int n)
{
	for (int i = 0; i < n; i++)
		put_req(v, frame(v, (unsigned int)i % NTXDATA, nobody, 60), 0,
			i + 1 < n ? NETTXF_more_data : 0, i == 0 ? (uint16_t)(60 * n) : 60);
	push(v);
}

static void mode_toomanyfrags(struct vif *v, const char *mode)
{
	char d[512] = "";

	many_slots(v, 20);
	int ok = expect_dropped(v, "20 data slots", 20, 0, d, sizeof(d));
	int st = good_frame(v);
	size_t l = strlen(d);
	snprintf(d + l, sizeof(d) - l, "; then a good frame: %s",
		 st == NETIF_RSP_OKAY ? "OKAY" : "not OKAY");
	if (!ok || st != NETIF_RSP_OKAY) {
		result(mode, 0, "%s", d);
		return;
	}
	many_slots(v, 24);
	expect_fatal(v, mode, "24 data slots", d);
}

static void mode_endless(struct vif *v, const char *mode)
{
	unsigned int pushed = 0;
	int st = XenbusStateConnected;

	/* 4 more slots every 200 ms, all with more_data, until dom0 gives up
	 * or the ring is full. */
	while (pushed + 4 <= NET_TX_RING_SIZE) {
		for (int i = 0; i < 4; i++, pushed++)
			put_req(v, frame(v, pushed % NTXDATA, nobody, 60), 0, NETTXF_more_data,
				pushed == 0 ? 65535 : 60);
		push(v);
		sleep_ms(200);
		st = be_state(v);
		if (st != XenbusStateConnected)
			break;
	}
	char what[128];
	snprintf(what, sizeof(what), "a more_data chain, %u slots pushed 4 at a time", pushed);
	expect_fatal(v, mode, what, NULL);
	(void)st;
}

static void mode_badgref(struct vif *v, const char *mode)
{
	char d[1280] = "";
	uint32_t freed, foreign;
	uint64_t idx;
	int ok = 1;

	/* A ref granted to dom0 and then taken back. */
	if (!grant_pages(1, 0, &freed, &idx, 0)) {
		result(mode, 0, "cannot grant a page");
		return;
	}
	ungrant(idx, 1);
	/* A ref granted to another domain, not dom0. */
	uint64_t fidx;
	uint8_t *fp = grant_pages(1, (uint16_t)(my_domid + 1), &foreign, &fidx, 1);
	if (!fp) {
		result(mode, 0, "cannot grant a page to domain %u", my_domid + 1);
		return;
	}
	frame(v, 0, nobody, 60);
	memcpy(fp, pg(v, PG_TX_DATA), 60);
	struct {
		const char *what;
		uint32_t gref;
	} bad[] = {
		{ "a ref taken back", freed },
		{ "a ref granted to another domain", foreign },
		{ "ref 0xfffffff0", 0xfffffff0u },
		{ "ref 65000 (never granted)", 65000 },
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_req(v, bad[i].gref, 0, 0, 60);
		push(v);
		ok &= expect_dropped(v, bad[i].what, 1, 0, d, sizeof(d));
	}
	/* A good first slot with the header, a bad ref behind it: the header
	 * reads fine, the body cannot be read.  Every slot of the frame is
	 * answered NETIF_RSP_ERROR (as Linux answers a packet whose grant map
	 * fails), not OKAY with the error left to whoever receives it. */
	put_req(v, frame(v, 0, nobody, 300), 0, NETTXF_more_data, 300);
	put_req(v, 0xfffffff0u, 0, 0, 100);
	push(v);
	ok &= expect_dropped(v, "good header then a bad ref", 2, 0, d, sizeof(d));
	/* The bad ref third of three slots (two good pages first). */
	frame(v, 1, nobody, 1000);
	put_req(v, frame(v, 0, nobody, 1000), 0, NETTXF_more_data, 3000);
	put_req(v, v->grefs[PG_TX_DATA + 1], 0, NETTXF_more_data, 1000);
	put_req(v, 65000, 0, 0, 1000);
	push(v);
	ok &= expect_dropped(v, "two good slots then a bad ref", 3, 0, d, sizeof(d));
	/* A ref taken back in the body, behind a good header. */
	put_req(v, frame(v, 0, nobody, 300), 0, NETTXF_more_data, 300);
	put_req(v, freed, 0, 0, 100);
	push(v);
	ok &= expect_dropped(v, "good header then a ref taken back", 2, 0, d, sizeof(d));
	/* One burst: good, bad, good.  dom0 reads a burst's headers in one
	 * grant copy; only the bad one may fail. */
	put_req(v, frame(v, 0, nobody, 60), 0, 0, 60);
	put_req(v, 0xfffffff0u, 0, 0, 60);
	put_req(v, frame(v, 1, nobody, 60), 0, 0, 60);
	push(v);
	int16_t b[3] = { -99, -99, -99 };
	int got = tx_wait(v, 3, b, 5000);
	size_t l = strlen(d);
	snprintf(d + l, sizeof(d) - l, "; burst good/bad/good: %d/3 answered (%d, %d, %d)", got,
		 b[0], b[1], b[2]);
	ok &= got == 3 && b[0] == NETIF_RSP_OKAY && b[1] == NETIF_RSP_ERROR &&
	      b[2] == NETIF_RSP_OKAY;
	still_alive(v, mode, ok, d, sizeof(d));
	ungrant(fidx, 1);
}

static void mode_badextra(struct vif *v, const char *mode)
{
	char d[512] = "";

	put_req(v, frame(v, 0, nobody, 60), 0, NETTXF_extra_info, 60);
	put_extra(v, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE);
	put_extra(v, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0);
	push(v);
	int ok = expect_dropped(v, "MCAST_ADD twice", 3, 2, d, sizeof(d));
	int st = good_frame(v);
	size_t l = strlen(d);
	snprintf(d + l, sizeof(d) - l, "; then a good frame: %s",
		 st == NETIF_RSP_OKAY ? "OKAY" : "not OKAY");
	if (!ok || st != NETIF_RSP_OKAY) {
		result(mode, 0, "%s", d);
		return;
	}
	put_req(v, frame(v, 0, nobody, 60), 0, NETTXF_extra_info, 60);
	put_extra(v, 9, 0);
	push(v);
	expect_fatal(v, mode, "extra info of type 9", d);
}

static void mode_extrachain(struct vif *v, const char *mode)
{
	put_req(v, frame(v, 0, nobody, 60), 0, NETTXF_extra_info, 60);
	for (int i = 0; i < 40; i++)
		put_extra(v, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE);
	push(v);
	expect_fatal(v, mode, "40 extra-info slots, all FLAG_MORE", NULL);
}

static void mode_runahead(struct vif *v, const char *mode)
{
	put_req(v, frame(v, 0, nobody, 60), 0, 0, 60);
	xen_wmb();
	v->tx.sring->req_prod = v->tx.req_prod_pvt + 5000;
	notify(v->port);
	expect_fatal(v, mode, "tx req_prod 5000 past the ring", NULL);
}

/* Flooder: keeps up to 200 frames of FRAME_LEN to dst in flight for ms
 * (for ever if ms is 0); returns frames sent, okays in *okays. */
static unsigned long flood(struct vif *v, const uint8_t *dst, unsigned int ms,
			   unsigned long *okays, unsigned long *errors)
{
	uint64_t end = now_ms() + ms;
	unsigned long sent = 0;
	int16_t st[256];

	for (unsigned int k = 0; k < NTXDATA; k++)
		frame(v, k, dst, FRAME_LEN);
	while (ms == 0 || now_ms() < end) {
		unsigned int n = 0;
		while (v->tx.req_prod_pvt - v->tx.rsp_cons < 200) {
			put_req(v, v->grefs[PG_TX_DATA + sent % NTXDATA], 0, 0, FRAME_LEN);
			sent++;
			n++;
		}
		if (n)
			push(v);
		int got = tx_wait(v, 256, st, 2);
		for (int i = 0; i < got; i++) {
			if (st[i] == NETIF_RSP_OKAY)
				(*okays)++;
			else
				(*errors)++;
		}
	}
	return sent;
}

/* The sink's rx side: posts n rx requests (bad refs if bad). */
static void post_rx(struct vif *v, unsigned int n, int bad)
{
	for (unsigned int i = 0; i < n; i++) {
		netif_rx_request_t *r = RING_GET_REQUEST(&v->rx, v->rx.req_prod_pvt);
		r->id = (uint16_t)(v->rx.req_prod_pvt % NET_RX_RING_SIZE);
		r->gref = bad ? 0xfffffff0u - i : v->grefs[PG_RX_DATA + v->rx.req_prod_pvt % NRXDATA];
		v->rx.req_prod_pvt++;
	}
	RING_PUSH_REQUESTS(&v->rx);
	notify(v->port);
}

/* Reads rx responses for ms: counts those with data, errors, and others. */
static void rx_collect(struct vif *v, unsigned int ms, unsigned int want, unsigned int *data,
		       unsigned int *errs, unsigned int *other)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end && *data + *errs + *other < want) {
		RING_IDX prod = __atomic_load_n(&v->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);
		while (v->rx.rsp_cons != prod) {
			netif_rx_response_t *r = RING_GET_RESPONSE(&v->rx, v->rx.rsp_cons);
			if (r->flags & NETRXF_extra_info) {
				(*other)++;
				v->rx.rsp_cons++; /* its extra follows */
			} else if (r->status > 0) {
				(*data)++;
			} else if (r->status < 0) {
				(*errs)++;
			} else {
				(*other)++;
			}
			v->rx.rsp_cons++;
		}
		sleep_ms(5);
	}
}

static void mode_norx(struct vif *sink, struct vif *src, const char *mode)
{
	unsigned long okays = 0, errors = 0, sent;

	/* The sink says something first, as any interface would. */
	int st = good_frame(sink);
	out("KEEL-NETHOSTILE-FLOODING vif %d -> vif %d for %d s\n", src->devid, sink->devid,
	    FLOOD_SECONDS);
	sent = flood(src, sink->mac, FLOOD_SECONDS * 1000, &okays, &errors);
	out("KEEL-NETHOSTILE-FLOODED sent %lu okay %lu error %lu\n", sent, okays, errors);
	/* Let the backlog age out (dom0 keeps a frame 2 s at most). */
	sleep_ms(3000);
	/* rx buffers with bad refs: frames for them are answered with errors. */
	unsigned int data = 0, errs = 0, other = 0;
	post_rx(sink, 8, 1);
	unsigned long o2 = 0, e2 = 0;
	flood(src, sink->mac, 500, &o2, &e2);
	rx_collect(sink, 3000, 8, &data, &errs, &other);
	unsigned int bdata = data, berrs = errs, bother = other;
	/* Good rx buffers: frames arrive with their data. */
	data = errs = other = 0;
	post_rx(sink, 32, 0);
	flood(src, sink->mac, 500, &o2, &e2);
	rx_collect(sink, 3000, 32, &data, &errs, &other);
	int bs1 = be_state(sink), bs2 = be_state(src);
	result(mode,
	       st == NETIF_RSP_OKAY && sent > 0 && okays > 0 && berrs >= 8 && bdata == 0 &&
		       data > 0 && errs == 0 && bs1 == XenbusStateConnected &&
		       bs2 == XenbusStateConnected,
	       "flood vif %d -> vif %d: %lu frames of %d bytes in %d s, %lu OKAY %lu ERROR; "
	       "8 rx buffers with bad refs: %u errors %u data %u other; 32 good rx buffers: "
	       "%u data %u errors %u other; backend states %d %d",
	       src->devid, sink->devid, sent, FRAME_LEN, FLOOD_SECONDS, okays, errors, berrs, bdata,
	       bother, data, errs, other, bs1, bs2);
}

static const struct {
	const char *name;
	void (*fn)(struct vif *, const char *);
} modes[] = {
	{ "oversized", mode_oversized },   { "crosspage", mode_crosspage },
	{ "toomanyfrags", mode_toomanyfrags }, { "endless", mode_endless },
	{ "badgref", mode_badgref },       { "badextra", mode_badextra },
	{ "extrachain", mode_extrachain }, { "runahead", mode_runahead },
	{ "badring", NULL },  { "norx", NULL },
};

static int wait_vif(int exclude)
{
	uint64_t end = now_ms() + 300000;
	int devid;

	while ((devid = find_fresh_vif(exclude)) < 0 && now_ms() < end)
		sleep_ms(100);
	return devid;
}

static void run(const char *name)
{
	unsigned int i;
	struct vif a, b;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (!strcmp(modes[i].name, name))
			break;
	if (i == sizeof(modes) / sizeof(modes[0])) {
		result(name, 0, "no such mode");
		return;
	}
	int two = !strcmp(name, "norx");
	out("KEEL-NETHOSTILE-WAIT %s %d\n", name, two ? 2 : 1);
	int d1 = wait_vif(-1);
	if (d1 >= 0 && !strcmp(name, "badring")) {
		/* dom0 maps both rings, then cannot bind the channel: it must
		 * unmap them again and fail the vif. */
		char path[200], err[256] = "(none)";
		int st = vif_connect(&a, d1, 1);
		snprintf(path, sizeof(path), "%s/error", a.be);
		xs_read(path, err, sizeof(err));
		result(name, st == XenbusStateClosing && strcmp(err, "(none)"),
		       "event-channel 65000 (not allocated): backend state %d error=\"%s\"", st, err);
		vif_close(&a, 120000);
		return;
	}
	if (d1 < 0 || vif_connect(&a, d1, 0)) {
		result(name, 0, "no vif to connect (devid %d)", d1);
		return;
	}
	if (!two) {
		modes[i].fn(&a, name);
		vif_close(&a, 120000);
		return;
	}
	int d2 = wait_vif(d1);
	if (d2 < 0 || vif_connect(&b, d2, 0)) {
		result(name, 0, "no second vif to connect (devid %d)", d2);
		return;
	}
	mode_norx(&a, &b, name);
	/* Last, the sink's rx req_prod runs 5000 ahead: fatal at the next
	 * frame dom0 has for it. */
	xen_wmb();
	a.rx.sring->req_prod = a.rx.req_prod_pvt + 5000;
	notify(a.port);
	unsigned long o1 = 0, e1 = 0;
	flood(&b, a.mac, 300, &o1, &e1);
	expect_fatal(&a, "rxrunahead", "rx req_prod 5000 past the ring", NULL);
	out("KEEL-TEST-DONE\n");
	/* When dom0 writes data/nethostile-flood, flood for ever: the test
	 * destroys this guest in the middle. */
	char val[16];
	while (xs_read("data/nethostile-flood", val, sizeof(val)))
		sleep_ms(200);
	out("KEEL-NETHOSTILE-FLOODING again\n");
	unsigned long o = 0, e = 0;
	flood(&b, a.mac, 0, &o, &e);
}

int main(int argc, char **argv)
{
	char val[32];

	if (argc < 2) {
		fprintf(stderr, "usage: nethostile all|MODE...\n");
		return 2;
	}
	xs_fd = open("/dev/xen/xenbus", O_RDWR);
	gnt_fd = open("/dev/xen/gntalloc", O_RDWR);
	evt_fd = open("/dev/xen/evtchn", O_RDWR);
	if (xs_fd < 0 || gnt_fd < 0 || evt_fd < 0) {
		result("nethostile-setup", 0, "xenbus %d gntalloc %d evtchn %d: %s", xs_fd, gnt_fd,
		       evt_fd, strerror(errno));
		out("KEEL-TEST-DONE\n");
		return 1;
	}
	if (xs_read("domid", val, sizeof(val)) == 0)
		my_domid = (unsigned int)atoi(val);
	/* Nobody else may play netfront here. */
	int netfront = access("/sys/module/xen_netfront", F_OK) == 0;
	result("nethostile-setup", !netfront && my_domid > 0,
	       "domid %u, /dev/xen/{xenbus,gntalloc,evtchn} open, xen-netfront %s", my_domid,
	       netfront ? "LOADED" : "not loaded");
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "all")) {
			for (unsigned int j = 0; j < sizeof(modes) / sizeof(modes[0]); j++)
				run(modes[j].name);
		} else {
			run(argv[i]);
		}
	}
	out("KEEL-TEST-DONE\n");
	for (;;)
		pause();
}

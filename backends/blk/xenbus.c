/*
 * blkback's control path: the xenstore directories of a vbd, the XenbusState
 * handshake with the guest's blkfront, and the vbd thread that runs both
 * paths (the data path is io.c).
 *
 * States (backend side, xen/io/xenbus.h):
 *   attach: nodes written, device opened    -> InitWait (2)
 *   frontend Initialised/Connected: ring mapped, channel bound -> Connected (4)
 *   frontend Closing: in-flight drained, ring unmapped -> Closing (5)
 *   frontend Closed -> Closed (6); removed if `online` is 0, else ready
 *   again (InitWait) when the frontend returns to Initialising.
 *   A guest that breaks the protocol gets `error` and Closing; dom0 goes on.
 * Detach writes online=0 and Closing, waits for the guest, then removes;
 * a dead domain's vbds are drained and removed at once.
 */
#include <keel/blkback.h>
#include <keel/kernel.h>
#include <keel/xenstored.h>
#include <keel/xenbus.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <keel/pci.h>
#include <xen/io/protocols.h>
#include <xen/io/xenbus.h>
#include "vbd.h"

static struct vbd *vbds;
static struct mutex vbds_lock = MUTEX_INIT("blkback vbd list");
static struct blkback_stats totals;

static void latency_add(struct blkback_latency *to, const struct blkback_latency *from)
{
	to->wake_ns += from->wake_ns;
	to->nr_wake += from->nr_wake;
	for (int c = 0; c < BLKBACK_LAT_CLASSES; c++) {
		to->c[c].map_ns += from->c[c].map_ns;
		to->c[c].device_ns += from->c[c].device_ns;
		to->c[c].reap_ns += from->c[c].reap_ns;
		to->c[c].nr_done += from->c[c].nr_done;
		to->c[c].guest_ns += from->c[c].guest_ns;
		to->c[c].nr_guest += from->c[c].nr_guest;
	}
}

void vbd_fail(struct vbd *v, const char *why)
{
	static uint64_t last_ns;
	uint64_t now = time_now_ns();

	/* Rate-limited: a guest can make this happen as often as it likes. */
	if (now - last_ns > 1000000000ull) {
		klog("blkback: vbd %u/%u: %s: device failed\n", v->domid, v->devid, why);
		last_ns = now;
	}
	xenbus_printf(v->be_path, "error", "%s", why);
	xenbus_set_state(v->be_path, XenbusStateClosing);
	v->phase = VBD_CLOSING;
}

static void wake(struct vbd *v)
{
	waitq_wake_all(&v->wq);
}

/* Runs in the xenstored thread: only record and wake. */
static void fe_state_changed(void *ctx, const char *path, const char *token)
{
	struct vbd *v = ctx;

	(void)path;
	(void)token;
	v->fe_changed = true;
	wake(v);
}

/* One queue's ring refs (ring-ref, or ring-ref0.. for a multi-page ring)
 * and event channel, from dir: the frontend directory or its queue-N. */
static int read_ring(struct vbd *v, const char *dir, uint64_t order, grant_ref_t *refs,
		     uint64_t *port)
{
	uint64_t val;

	if (order == 0 && xenbus_read_uint(dir, "ring-ref", &val) == 0) {
		if (val > 0xffffffffu) {
			vbd_fail(v, "bad ring-ref");
			return -EINVAL;
		}
		refs[0] = (grant_ref_t)val;
	} else {
		for (unsigned int i = 0; i < (1u << order); i++) {
			char node[16];
			ksnprintf(node, sizeof(node), "ring-ref%u", i);
			if (xenbus_read_uint(dir, node, &val) || val > 0xffffffffu) {
				vbd_fail(v, "missing or bad ring-ref");
				return -EINVAL;
			}
			refs[i] = (grant_ref_t)val;
		}
	}
	if (xenbus_read_uint(dir, "event-channel", port) || *port > 0xffffffffu) {
		vbd_fail(v, "missing or bad event-channel");
		return -EINVAL;
	}
	return 0;
}

static int connect(struct vbd *v)
{
	grant_ref_t refs[VBD_MAX_RING_PAGES];
	uint64_t order = 0, port, nq = 1;
	char path[128], *proto;
	size_t len;

	if (xenbus_read_uint(v->fe_path, "ring-page-order", &order) == 0 &&
	    order > VBD_MAX_RING_ORDER) {
		vbd_fail(v, "ring-page-order above max-ring-page-order");
		return -EINVAL;
	}
	if (xenbus_read_uint(v->fe_path, "multi-queue-num-queues", &nq) == 0 &&
	    (nq == 0 || nq > VBD_MAX_QUEUES)) {
		vbd_fail(v, "multi-queue-num-queues above multi-queue-max-queues");
		return -EINVAL;
	}
	ksnprintf(path, sizeof(path), "%s/protocol", v->fe_path);
	if (xs_read(xenstore, path, &proto, &len) == 0) {
		bool native = strcmp(proto, XEN_IO_PROTO_ABI_X86_64) == 0;
		kfree(proto);
		if (!native) {
			vbd_fail(v, "only the x86_64-abi ring protocol is served");
			return -EOPNOTSUPP;
		}
	}
	vbd_connect_begin(v, xenbus_read_flag(v->fe_path, "feature-persistent"));
	for (uint32_t q = 0; q < nq; q++) {
		char dir[100];
		if (nq == 1)
			ksnprintf(dir, sizeof(dir), "%s", v->fe_path);
		else
			ksnprintf(dir, sizeof(dir), "%s/queue-%u", v->fe_path, q);
		int rc = read_ring(v, dir, order, refs, &port);
		if (rc == 0 && vbd_connect_ring(v, q, refs, 1u << order, (evtchn_port_t)port)) {
			vbd_fail(v, "cannot map the ring or bind the event channel");
			rc = -EIO;
		}
		if (rc) {
			vbd_disconnect_ring(v);
			return rc;
		}
	}
	v->inflight.closing = false;
	v->phase = VBD_CONNECTED;
	xenbus_set_state(v->be_path, XenbusStateConnected);
	klog("blkback: vbd %u/%u (%s) connected: %s, %u queue%s, %u-page ring%s\n", v->domid,
	     v->devid, v->vdev, v->bdev->name, (unsigned int)nq, nq == 1 ? "" : "s", 1u << order,
	     v->persistent ? ", persistent grants" : "");
	return 0;
}

/* Waits for the device to finish every request, then lets go of the ring. */
static void disconnect(struct vbd *v)
{
	if (!vbd_connected(v))
		return;
	v->phase = VBD_CLOSING;
	/* Completions keep arriving while we wait: reap them so responses are
	 * written and grants unmapped as each finishes. */
	while (!inflight_drain(&v->inflight, 10000000ull))
		vbd_do_io(v);
	vbd_do_io(v);
	if (v->held) {
		/* A barrier parked behind requests that just drained. */
		struct vbd_req *r = v->held;
		v->held = NULL;
		r->next = v->free;
		v->free = r;
	}
	vbd_disconnect_ring(v);
}

static void frontend_changed(struct vbd *v)
{
	uint64_t st;

	if (xenbus_read_uint(v->fe_path, "state", &st))
		st = XenbusStateUnknown;
	switch (st) {
	case XenbusStateInitialising:
		if (v->phase == VBD_CLOSED) {
			xenbus_set_state(v->be_path, XenbusStateInitWait);
			v->phase = VBD_INITWAIT;
		}
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (v->phase == VBD_INITWAIT)
			connect(v);
		break;
	case XenbusStateClosing:
		disconnect(v);
		xenbus_set_state(v->be_path, XenbusStateClosing);
		v->phase = VBD_CLOSING;
		break;
	case XenbusStateClosed: {
		uint64_t online = 1;
		disconnect(v);
		xenbus_set_state(v->be_path, XenbusStateClosed);
		v->phase = VBD_CLOSED;
		if (xenbus_read_uint(v->be_path, "online", &online) == 0 && online == 0)
			v->stop = true;
		break;
	}
	default:
		break;
	}
}

static bool thread_cond(void *ctx)
{
	struct vbd *v = ctx;
	return v->stop || v->fe_changed || vbd_has_work(v);
}

static void remove_nodes(struct vbd *v, bool frontend_too)
{
	char path[128];

	xs_rm(xenstore, v->be_path);
	ksnprintf(path, sizeof(path), "/libxl/%u/device/vbd/%u", v->domid, v->devid);
	xs_rm(xenstore, path);
	if (frontend_too)
		xs_rm(xenstore, v->fe_path);
}

static void vbd_thread(void *arg)
{
	struct vbd *v = arg;

	for (;;) {
		waitq_wait_until(&v->wq, thread_cond, v, 0);
		if (v->stop)
			break;
		if (v->fe_changed) {
			v->fe_changed = false;
			frontend_changed(v);
			if (v->stop)
				break;
		}
		/* A frontend that refills its ring as fast as it is answered
		 * (requests refused at once free their slot) keeps vbd_do_io()
		 * saying "more" for ever: a detach or destroy (stop) and the
		 * frontend's state must still be seen between passes, or
		 * blkback_detach/blkback_domain_gone would wait for ever with
		 * the vbd list locked. */
		while (!v->stop && !v->fe_changed && vbd_do_io(v))
			thread_yield();
	}
	char path[128];
	ksnprintf(path, sizeof(path), "%s/state", v->fe_path);
	xs_unwatch_local(xenstore, path, v->thread_name);
	disconnect(v);
	complete(&v->gone);
	thread_exit();
}

/* ---- attach, detach, list ---- */

static bool related(struct blkdev *a, struct blkdev *b)
{
	for (struct blkdev *x = a; x; x = x->parent)
		if (x == b)
			return true;
	for (struct blkdev *x = b; x; x = x->parent)
		if (x == a)
			return true;
	return false;
}

static int write_nodes(struct vbd *v, const struct xlcfg_disk *disk)
{
	struct blkdev *b = v->bdev, *d = blkdev_disk_of(b);
	char path[128];
	int rc = 0;

	rc |= xs_mkdir(xenstore, v->be_path);
	rc |= xsd_set_owner(v->be_path, 0, XS_PERM_NONE, v->domid, XS_PERM_READ);
	rc |= xenbus_printf(v->be_path, "frontend", "%s", v->fe_path);
	rc |= xenbus_printf(v->be_path, "frontend-id", "%u", v->domid);
	rc |= xenbus_printf(v->be_path, "online", "1");
	rc |= xenbus_printf(v->be_path, "removable", "0");
	rc |= xenbus_printf(v->be_path, "bootable", "1");
	rc |= xenbus_printf(v->be_path, "dev", "%s", v->vdev);
	rc |= xenbus_printf(v->be_path, "type", "phy");
	rc |= xenbus_printf(v->be_path, "mode", "%s", v->writable ? "w" : "r");
	rc |= xenbus_printf(v->be_path, "device-type", "%s", v->cdrom ? "cdrom" : "disk");
	rc |= xenbus_printf(v->be_path, "params", "%s", disk->target);
	rc |= xenbus_printf(v->be_path, "physical-device", "%x:%x", b->major, b->minor);
	rc |= xenbus_printf(v->be_path, "physical-device-path", "/dev/%s", b->name);
	rc |= xenbus_printf(v->be_path, "discard-enable", "%d", v->lim.can_discard);
	rc |= xenbus_printf(v->be_path, "feature-flush-cache", "1");
	rc |= xenbus_printf(v->be_path, "feature-barrier", "1");
	rc |= xenbus_printf(v->be_path, "feature-persistent", "1");
	rc |= xenbus_printf(v->be_path, "feature-max-indirect-segments", "%u", VBD_MAX_INDIRECT_SEGS);
	rc |= xenbus_printf(v->be_path, "max-ring-page-order", "%u", VBD_MAX_RING_ORDER);
	rc |= xenbus_printf(v->be_path, "multi-queue-max-queues", "%u", VBD_MAX_QUEUES);
	if (v->lim.can_discard) {
		rc |= xenbus_printf(v->be_path, "feature-discard", "1");
		rc |= xenbus_printf(v->be_path, "discard-granularity", "%u",
			       d->discard_granularity_bytes ? d->discard_granularity_bytes : 512);
		rc |= xenbus_printf(v->be_path, "discard-alignment", "0");
		rc |= xenbus_printf(v->be_path, "discard-secure", "0");
	}
	rc |= xenbus_printf(v->be_path, "sectors", "%llu", (unsigned long long)b->nr_sectors);
	rc |= xenbus_printf(v->be_path, "sector-size", "512");
	rc |= xenbus_printf(v->be_path, "physical-sector-size", "%u",
		       d->physical_block_bytes ? d->physical_block_bytes : 512);
	rc |= xenbus_printf(v->be_path, "info", "%u", (v->cdrom ? VDISK_CDROM : 0) |
					     (v->writable ? 0 : VDISK_READONLY));
	rc |= xenbus_printf(v->be_path, "hotplug-status", "connected");
	rc |= xenbus_printf(v->be_path, "state", "%d", XenbusStateInitialising);

	/* The frontend directory belongs to the guest, dom0 may read it. */
	rc |= xs_mkdir(xenstore, v->fe_path);
	rc |= xsd_set_owner(v->fe_path, v->domid, XS_PERM_NONE, 0, XS_PERM_READ);
#define FE(node, ...) do { \
		ksnprintf(path, sizeof(path), "%s/" node, v->fe_path); \
		rc |= xsd_printf(path, __VA_ARGS__); \
		rc |= xsd_set_owner(path, v->domid, XS_PERM_NONE, 0, XS_PERM_READ); \
	} while (0)
	FE("backend", "%s", v->be_path);
	FE("backend-id", "0");
	FE("virtual-device", "%u", v->devid);
	FE("device-type", "%s", v->cdrom ? "cdrom" : "disk");
	FE("state", "%d", XenbusStateInitialising);
#undef FE
	/* libxl's own record, which block-list and detach read. */
#define LX(node, ...) do { \
		ksnprintf(path, sizeof(path), "/libxl/%u/device/vbd/%u/" node, v->domid, v->devid); \
		rc |= xsd_printf(path, __VA_ARGS__); \
	} while (0)
	LX("backend", "%s", v->be_path);
	LX("frontend", "%s", v->fe_path);
	LX("frontend-id", "%u", v->domid);
	LX("params", "%s", disk->target);
	LX("dev", "%s", v->vdev);
	LX("mode", "%s", v->writable ? "w" : "r");
	LX("type", "phy");
	LX("device-type", "%s", v->cdrom ? "cdrom" : "disk");
	LX("online", "1");
	LX("state", "1");
#undef LX
	return rc ? -EIO : 0;
}

int blkback_attach(domid_t domid, const struct xlcfg_disk *disk, const char **why)
{
	*why = "";
	if (disk->format != XLCFG_DISK_FORMAT_RAW) {
		*why = "only raw disks are served (format=raw); this format is not";
		return -EOPNOTSUPP;
	}
	if (disk->backendtype != XLCFG_DISK_BACKENDTYPE_UNSET &&
	    disk->backendtype != XLCFG_DISK_BACKENDTYPE_PHY) {
		*why = "only backendtype=phy is served";
		return -EOPNOTSUPP;
	}
	if (disk->backend && strcmp(disk->backend, "0") && strcmp(disk->backend, "Domain-0")) {
		*why = "driver domains are not supported: the backend is dom0";
		return -EOPNOTSUPP;
	}
	if (!disk->target || !disk->target[0]) {
		*why = "an empty drive (no target) is not served";
		return -EOPNOTSUPP;
	}
	/* Disks appear as the probe thread finds them: a domain started at
	 * boot waits for it. */
	pci_probe_wait(30000000000ull);
	struct blkdev *b = blkdev_find(disk->target);
	if (!b) {
		*why = "no such block device (see lsblk)";
		return -ENOENT;
	}
	mutex_lock(&vbds_lock);
	for (struct vbd *o = vbds; o; o = o->next) {
		if (o->domid == domid && o->devid == disk->devid) {
			mutex_unlock(&vbds_lock);
			*why = "the virtual device is already in use in this domain";
			return -EEXIST;
		}
		if (related(o->bdev, b) && (o->writable || disk->readwrite) && o->domid != domid) {
			mutex_unlock(&vbds_lock);
			*why = o->writable ? "the device is attached writable to another domain"
					   : "the device is attached to another domain; "
					     "a writable attach is refused";
			return -EBUSY;
		}
	}
	struct vbd *v = kzalloc(sizeof(*v));
	if (!v) {
		mutex_unlock(&vbds_lock);
		*why = "out of memory";
		return -ENOMEM;
	}
	v->domid = domid;
	v->devid = disk->devid;
	v->bdev = b;
	v->writable = disk->readwrite && !b->read_only;
	v->cdrom = disk->cdrom;
	ksnprintf(v->vdev, sizeof(v->vdev), "%s", disk->vdev);
	ksnprintf(v->be_path, sizeof(v->be_path), "/local/domain/0/backend/vbd/%u/%u", domid,
		  disk->devid);
	ksnprintf(v->fe_path, sizeof(v->fe_path), "/local/domain/%u/device/vbd/%u", domid,
		  disk->devid);
	ksnprintf(v->thread_name, sizeof(v->thread_name), "blkback.%u.%u", domid, disk->devid);
	struct blkdev *d = blkdev_disk_of(b);
	v->lim = (struct blkif_limits){
		.dev_sectors = b->nr_sectors, .max_indirect_segs = VBD_MAX_INDIRECT_SEGS,
		.read_only = !v->writable, .can_flush = true, .can_barrier = true,
		.can_discard = d->can_discard && v->writable, .discard_secure = false,
	};
	spin_init(&v->lock, "blkback vbd");
	inflight_init(&v->inflight);
	completion_init(&v->gone);
	v->phase = VBD_INIT;
	int rc = vbd_alloc_reqs(v);
	if (rc == 0)
		rc = write_nodes(v, disk);
	if (rc) {
		remove_nodes(v, true);
		vbd_free_reqs(v);
		kfree(v);
		mutex_unlock(&vbds_lock);
		*why = "cannot write the vbd's xenstore nodes";
		return rc;
	}
	char path[128];
	ksnprintf(path, sizeof(path), "%s/state", v->fe_path);
	rc = xs_watch_local(xenstore, path, v->thread_name, fe_state_changed, v);
	if (rc == 0 && !thread_create(v->thread_name, vbd_thread, v)) {
		xs_unwatch_local(xenstore, path, v->thread_name);
		rc = -ENOMEM;
	}
	if (rc) {
		remove_nodes(v, true);
		vbd_free_reqs(v);
		kfree(v);
		mutex_unlock(&vbds_lock);
		*why = "cannot start the vbd";
		return rc;
	}
	ksnprintf(b->holder, sizeof(b->holder), "vbd %u/%u (%s)", domid, disk->devid,
		  v->writable ? "w" : "r");
	v->next = vbds;
	vbds = v;
	totals.vbds++;
	v->phase = VBD_INITWAIT;
	xenbus_set_state(v->be_path, XenbusStateInitWait);
	mutex_unlock(&vbds_lock);
	return 0;
}

/* Unlinks v (list lock held by the caller), frees it once its thread ended. */
static void reap(struct vbd *v, bool frontend_too)
{
	completion_wait(&v->gone, 0);
	remove_nodes(v, frontend_too);
	bool still_used = false;
	for (struct vbd *o = vbds; o; o = o->next)
		if (o != v && o->bdev == v->bdev)
			still_used = true;
	if (!still_used)
		v->bdev->holder[0] = 0;
	totals.requests += v->nr_requests;
	totals.errors += v->nr_errors;
	totals.bad_requests += v->nr_bad;
	totals.pgrant_hits += v->nr_pgrant_hits;
	totals.pgrant_maps += v->nr_pgrant_maps;
	latency_add(&totals.lat, &v->lat);
	totals.vbds--;
	vbd_free_reqs(v);
	for (struct vbd **pp = &vbds; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	kfree(v);
}

int blkback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force)
{
	mutex_lock(&vbds_lock);
	struct vbd *v = vbds;
	while (v && !(v->domid == domid && v->devid == devid))
		v = v->next;
	if (!v) {
		mutex_unlock(&vbds_lock);
		return -ENOENT;
	}
	xenbus_printf(v->be_path, "online", "0");
	if (v->phase == VBD_CLOSED || v->phase == VBD_INITWAIT) {
		v->stop = true;
		wake(v);
	} else {
		xenbus_set_state(v->be_path, XenbusStateClosing);
	}
	int rc = 0;
	if (!completion_wait(&v->gone, timeout_ns)) {
		if (!force) {
			mutex_unlock(&vbds_lock);
			return -ETIMEDOUT;
		}
		rc = -ETIMEDOUT;
		v->stop = true;
		wake(v);
	}
	reap(v, true);
	mutex_unlock(&vbds_lock);
	return rc;
}

void blkback_domain_gone(domid_t domid)
{
	mutex_lock(&vbds_lock);
	for (struct vbd *v = vbds; v;) {
		struct vbd *next = v->next;
		if (v->domid == domid) {
			v->stop = true;
			wake(v);
			reap(v, true);
		}
		v = next;
	}
	mutex_unlock(&vbds_lock);
}

void blkback_list(domid_t domid)
{
	kprintf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle", "state", "evt-ch",
		"ring-ref", "BE-path");
	mutex_lock(&vbds_lock);
	for (struct vbd *v = vbds; v; v = v->next) {
		if (v->domid != domid)
			continue;
		uint64_t st = 0, evt = 0, ref = 0;
		xenbus_read_uint(v->be_path, "state", &st);
		if (xenbus_read_uint(v->fe_path, "event-channel", &evt))
			evt = (uint64_t)-1;
		if (xenbus_read_uint(v->fe_path, "ring-ref", &ref) && xenbus_read_uint(v->fe_path, "ring-ref0", &ref))
			ref = (uint64_t)-1;
		kprintf("%-5u %-3d %-6u %-5d %-6d %-8d %-30s\n", v->devid, 0, v->domid, (int)st,
			(int)evt, (int)ref, v->be_path);
	}
	mutex_unlock(&vbds_lock);
}

void blkback_get_stats(struct blkback_stats *out)
{
	mutex_lock(&vbds_lock);
	*out = totals;
	for (struct vbd *v = vbds; v; v = v->next) {
		out->requests += v->nr_requests;
		out->errors += v->nr_errors;
		out->bad_requests += v->nr_bad;
		out->pgrant_hits += v->nr_pgrant_hits;
		out->pgrant_maps += v->nr_pgrant_maps;
		latency_add(&out->lat, &v->lat);
	}
	mutex_unlock(&vbds_lock);
}

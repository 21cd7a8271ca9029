/*
 * blkback's control path: what is a vbd's own in its xenstore nodes and its
 * handshake with the guest's blkfront.  The handshake itself, the vbd
 * thread, fail, detach and the vbd list are the device core's
 * (xenbus/backdev.c); the data path is io.c.
 *
 * States (backend side, xen/io/xenbus.h; include/keel/backdev_state.h):
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

static struct backdev_list vbds = BACKDEV_LIST_INIT("blkback vbd list");
static struct blkback_stats totals;

static struct vbd *vbd_of(struct backdev *d)
{
	return container_of(d, struct vbd, dev);
}

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

/* The frontend is Initialised or Connected: map its rings. */
static int vbd_connect(struct backdev *d)
{
	struct vbd *v = vbd_of(d);
	grant_ref_t refs[VBD_MAX_RING_PAGES];
	uint64_t order = 0, port;
	uint32_t nq;
	char path[128], *proto;
	size_t len;

	int order_rc = xenbus_read_uint(d->fe_path, "ring-page-order", &order);
	if (order_rc == -EINVAL) {
		vbd_fail(v, "ring-page-order is not a number");
		return -EINVAL;
	}
	if (order_rc == 0 && order > VBD_MAX_RING_ORDER) {
		vbd_fail(v, "ring-page-order above max-ring-page-order");
		return -EINVAL;
	}
	if (backdev_read_num_queues(d, VBD_MAX_QUEUES, &nq))
		return -EINVAL;
	ksnprintf(path, sizeof(path), "%s/protocol", d->fe_path);
	if (xs_read(xenstore, path, &proto, &len) == 0) {
		bool native = strcmp(proto, XEN_IO_PROTO_ABI_X86_64) == 0;
		kfree(proto);
		if (!native) {
			vbd_fail(v, "only the x86_64-abi ring protocol is served");
			return -EOPNOTSUPP;
		}
	}
	vbd_connect_begin(v, xenbus_read_flag(d->fe_path, "feature-persistent"));
	for (uint32_t q = 0; q < nq; q++) {
		char dir[100];
		backdev_queue_dir(d, nq, q, dir, sizeof(dir));
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
	backdev_connected(d);
	klog("blkback: vbd %u/%u (%s) connected: %s, %u queue%s, %u-page ring%s\n", d->domid,
	     d->devid, v->vdev, v->bdev->name, (unsigned int)nq, nq == 1 ? "" : "s", 1u << order,
	     v->persistent ? ", persistent grants" : "");
	return 0;
}

/* Waits for the device to finish every request, then lets go of the ring. */
static void vbd_disconnect(struct backdev *d)
{
	struct vbd *v = vbd_of(d);

	if (!vbd_connected(v))
		return;
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

static bool vbd_has_work_op(struct backdev *d)
{
	return vbd_has_work(vbd_of(d));
}

static bool vbd_do_io_op(struct backdev *d)
{
	return vbd_do_io(vbd_of(d));
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

/* The backend directory: what blkfront reads to size and drive the disk. */
static int vbd_be_nodes(struct backdev *d, const void *arg)
{
	const struct xlcfg_disk *disk = arg;
	struct vbd *v = vbd_of(d);
	struct blkdev *b = v->bdev, *bd = blkdev_disk_of(b);
	int rc = 0;

	/* libxl writes removable=1 for a cdrom (its disk parser sets removable
	 * with devtype=cdrom); Linux's blkfront reads only `info` below. */
	rc |= backdev_printf(d, "removable", "%d", v->cdrom ? 1 : 0);
	rc |= backdev_printf(d, "bootable", "1");
	rc |= backdev_printf(d, "dev", "%s", v->vdev);
	rc |= backdev_printf(d, "type", "phy");
	rc |= backdev_printf(d, "mode", "%s", v->writable ? "w" : "r");
	rc |= backdev_printf(d, "device-type", "%s", v->cdrom ? "cdrom" : "disk");
	rc |= backdev_printf(d, "params", "%s", disk->target);
	rc |= backdev_printf(d, "physical-device", "%x:%x", b->major, b->minor);
	rc |= backdev_printf(d, "physical-device-path", "/dev/%s", b->name);
	rc |= backdev_printf(d, "discard-enable", "%d", v->lim.can_discard);
	rc |= backdev_printf(d, "specification", "xen");
	rc |= backdev_printf(d, "feature-flush-cache", "1");
	rc |= backdev_printf(d, "feature-barrier", "1");
	rc |= backdev_printf(d, "feature-persistent", "1");
	rc |= backdev_printf(d, "feature-max-indirect-segments", "%u", VBD_MAX_INDIRECT_SEGS);
	rc |= backdev_printf(d, "max-ring-page-order", "%u", VBD_MAX_RING_ORDER);
	rc |= backdev_printf(d, "multi-queue-max-queues", "%u", VBD_MAX_QUEUES);
	if (v->lim.can_discard) {
		rc |= backdev_printf(d, "feature-discard", "1");
		rc |= backdev_printf(d, "discard-granularity", "%u",
				     bd->discard_granularity_bytes ? bd->discard_granularity_bytes : 512);
		rc |= backdev_printf(d, "discard-alignment", "0");
		rc |= backdev_printf(d, "discard-secure", "0");
	}
	rc |= backdev_printf(d, "sectors", "%llu", (unsigned long long)b->nr_sectors);
	rc |= backdev_printf(d, "sector-size", "512");
	rc |= backdev_printf(d, "physical-sector-size", "%u",
			     bd->physical_block_bytes ? bd->physical_block_bytes : 512);
	/* As Linux blkback: VDISK_REMOVABLE only when the disk underneath has
	 * removable media; a cdrom on an LV is CDROM|READONLY (5). */
	rc |= backdev_printf(d, "info", "%u", (v->cdrom ? VDISK_CDROM : 0) |
						(bd->removable ? VDISK_REMOVABLE : 0) |
						(v->writable ? 0 : VDISK_READONLY));
	return rc;
}

static int vbd_fe_nodes(struct backdev *d, const void *arg)
{
	struct vbd *v = vbd_of(d);
	int rc = 0;

	(void)arg;
	rc |= backdev_fe_printf(d, "virtual-device", "%u", d->devid);
	rc |= backdev_fe_printf(d, "device-type", "%s", v->cdrom ? "cdrom" : "disk");
	return rc;
}

/* libxl's record, which block-list and block-detach read. */
static int vbd_libxl_nodes(struct backdev *d, const void *arg)
{
	const struct xlcfg_disk *disk = arg;
	struct vbd *v = vbd_of(d);
	int rc = 0;

	rc |= backdev_libxl_printf(d, "params", "%s", disk->target);
	rc |= backdev_libxl_printf(d, "dev", "%s", v->vdev);
	rc |= backdev_libxl_printf(d, "mode", "%s", v->writable ? "w" : "r");
	rc |= backdev_libxl_printf(d, "type", "phy");
	rc |= backdev_libxl_printf(d, "device-type", "%s", v->cdrom ? "cdrom" : "disk");
	rc |= backdev_libxl_printf(d, "removable", "%d", v->cdrom ? 1 : 0);
	rc |= backdev_libxl_printf(d, "bootable", "1");
	rc |= backdev_libxl_printf(d, "discard-enable", "%d", v->lim.can_discard);
	rc |= backdev_libxl_printf(d, "specification", "xen");
	return rc;
}

static void add_stats(struct blkback_stats *to, const struct vbd *v)
{
	to->requests += v->nr_requests;
	to->errors += v->nr_errors;
	to->bad_requests += v->nr_bad;
	to->pgrant_hits += v->nr_pgrant_hits;
	to->pgrant_maps += v->nr_pgrant_maps;
	to->discards += v->nr_discards;
	to->discard_sectors += v->nr_discard_sectors;
	to->poll_hits += v->poll.hits;
	to->poll_misses += v->poll.misses;
	to->poll_skips += v->poll.skips;
	latency_add(&to->lat, &v->lat);
}

/* The vbd's thread has ended and its nodes are gone (list lock held). */
static void vbd_release(struct backdev *d)
{
	struct vbd *v = vbd_of(d);
	bool still_used = false;

	for (struct backdev *o = vbds.head; o; o = o->next)
		if (o != d && vbd_of(o)->bdev == v->bdev)
			still_used = true;
	if (!still_used)
		v->bdev->holder[0] = 0;
	add_stats(&totals, v);
	totals.vbds--;
	vbd_free_reqs(v);
	kfree(v);
}

static const struct backdev_ops vbd_ops = {
	.driver = "blkback",
	.type = "vbd",
	.connect_at_initialised = true,
	.be_nodes = vbd_be_nodes,
	.fe_nodes = vbd_fe_nodes,
	.libxl_nodes = vbd_libxl_nodes,
	.connect = vbd_connect,
	.disconnect = vbd_disconnect,
	.has_work = vbd_has_work_op,
	.do_io = vbd_do_io_op,
	.release = vbd_release,
};

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
	backdev_lock(&vbds);
	for (struct backdev *o = vbds.head; o; o = o->next) {
		struct vbd *ov = vbd_of(o);
		if (o->domid == domid && o->devid == disk->devid) {
			backdev_unlock(&vbds);
			*why = "the virtual device is already in use in this domain";
			return -EEXIST;
		}
		if (related(ov->bdev, b) && (ov->writable || disk->readwrite) && o->domid != domid) {
			backdev_unlock(&vbds);
			*why = ov->writable ? "the device is attached writable to another domain"
					    : "the device is attached to another domain; "
					      "a writable attach is refused";
			return -EBUSY;
		}
	}
	struct vbd *v = kzalloc(sizeof(*v));
	if (!v) {
		backdev_unlock(&vbds);
		*why = "out of memory";
		return -ENOMEM;
	}
	backdev_init(&v->dev, &vbd_ops, &vbds, domid, disk->devid, "vbd %u/%u");
	v->bdev = b;
	v->writable = disk->readwrite && !b->read_only;
	v->cdrom = disk->cdrom;
	ksnprintf(v->vdev, sizeof(v->vdev), "%s", disk->vdev);
	struct blkdev *d = blkdev_disk_of(b);
	v->lim = (struct blkif_limits){
		.dev_sectors = b->nr_sectors, .max_indirect_segs = VBD_MAX_INDIRECT_SEGS,
		.read_only = !v->writable, .can_flush = true, .can_barrier = true,
		.can_discard = d->can_discard && v->writable, .discard_secure = false,
	};
	spin_init(&v->lock, "blkback vbd");
	inflight_init(&v->inflight);
	int rc = vbd_alloc_reqs(v);
	if (rc == 0)
		rc = backdev_write_nodes(&v->dev, disk);
	if (rc) {
		*why = "cannot write the vbd's xenstore nodes";
		goto err_remove_nodes;
	}
	rc = backdev_start(&v->dev);
	if (rc) {
		*why = "cannot start the vbd";
		goto err_remove_nodes;
	}
	ksnprintf(b->holder, sizeof(b->holder), "vbd %u/%u (%s)", domid, disk->devid,
		  v->writable ? "w" : "r");
	totals.vbds++;
	backdev_add(&v->dev);
	backdev_unlock(&vbds);
	return 0;

err_remove_nodes:
	backdev_remove_nodes(&v->dev);
	vbd_free_reqs(v);
	kfree(v);
	backdev_unlock(&vbds);
	return rc;
}

int blkback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force)
{
	return backdev_detach(&vbds, domid, devid, timeout_ns, force);
}

void blkback_domain_gone(domid_t domid)
{
	backdev_domain_gone(&vbds, domid);
}

void blkback_list(domid_t domid)
{
	kprintf("%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle", "state", "evt-ch",
		"ring-ref", "BE-path");
	backdev_lock(&vbds);
	for (struct backdev *d = vbds.head; d; d = d->next) {
		if (d->domid != domid)
			continue;
		uint64_t st = 0, evt = 0, ref = 0;
		xenbus_read_uint(d->be_path, "state", &st);
		if (xenbus_read_uint(d->fe_path, "event-channel", &evt))
			evt = (uint64_t)-1;
		if (xenbus_read_uint(d->fe_path, "ring-ref", &ref) && xenbus_read_uint(d->fe_path, "ring-ref0", &ref))
			ref = (uint64_t)-1;
		kprintf("%-5u %-3d %-6u %-5d %-6d %-8d %-30s\n", d->devid, 0, d->domid, (int)st,
			(int)evt, (int)ref, d->be_path);
	}
	backdev_unlock(&vbds);
}

void blkback_get_stats(struct blkback_stats *out)
{
	backdev_lock(&vbds);
	*out = totals;
	for (struct backdev *d = vbds.head; d; d = d->next)
		add_stats(out, vbd_of(d));
	backdev_unlock(&vbds);
}

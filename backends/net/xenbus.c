/*
 * netback's control path: what is a vif's own in its xenstore nodes and its
 * handshake with the guest's netfront, and its port on the bridge.  The
 * handshake itself, the vif thread, fail, detach and the vif list are the
 * device core's (xenbus/backdev.c); the data path is io.c.
 *
 * States (backend side, xen/io/xenbus.h; include/keel/backdev_state.h):
 *   attach: nodes written, port on its bridge (down)  -> InitWait (2)
 *   frontend Connected: rings mapped, channels bound, port up -> Connected (4)
 *   frontend Closing: port down, rings unmapped -> Closing (5)
 *   frontend Closed -> Closed (6); removed if `online` is 0, else ready
 *   again (InitWait) when the frontend returns to Initialising.
 *   A guest that breaks the protocol gets `error` and Closing; dom0 goes on.
 */
#include <keel/kernel.h>
#include <keel/netback.h>
#include <keel/xenstored.h>
#include <keel/xenbus.h>
#include <keel/xsd.h>
#include <lib/printf.h>
#include <xen/io/xenbus.h>
#include "vif.h"

static struct backdev_list vifs = BACKDEV_LIST_INIT("netback vif list");

static struct vif *vif_of(struct backdev *d)
{
	return container_of(d, struct vif, dev);
}

/* The frontend has gone, or the vif failed: no more frames either way. */
static void vif_disconnect(struct backdev *d)
{
	struct vif *v = vif_of(d);

	v->port.up = false;
	for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
		vif_disconnect_queue(&v->queues[i]);
	timer_cancel(&v->rate_timer);
	v->rate_blocked = v->rate_pending = false;
}

/* Reads one queue's ring refs and channels (dir: the frontend directory,
 * or its queue-N subdirectory) and connects it. */
static int connect_queue(struct vif *v, unsigned int i, const char *dir)
{
	uint64_t tx, rx, evt_tx, evt_rx;

	if (xenbus_read_uint(dir, "tx-ring-ref", &tx) || xenbus_read_uint(dir, "rx-ring-ref", &rx) ||
	    tx > 0xffffffffu || rx > 0xffffffffu) {
		vif_fail(v, "missing or bad tx-ring-ref/rx-ring-ref");
		return -EINVAL;
	}
	if (xenbus_read_uint(dir, "event-channel-tx", &evt_tx) == 0) {
		if (xenbus_read_uint(dir, "event-channel-rx", &evt_rx)) {
			vif_fail(v, "event-channel-tx without event-channel-rx");
			return -EINVAL;
		}
	} else if (xenbus_read_uint(dir, "event-channel", &evt_tx) == 0) {
		evt_rx = evt_tx;
	} else {
		vif_fail(v, "missing event-channel");
		return -EINVAL;
	}
	if (evt_tx > 0xffffffffu || evt_rx > 0xffffffffu) {
		vif_fail(v, "bad event channel");
		return -EINVAL;
	}
	struct vif_queue *q = &v->queues[i];
	q->vif = v;
	q->index = i;
	int rc = vif_connect_queue(v, q, (grant_ref_t)tx, (grant_ref_t)rx, (evtchn_port_t)evt_tx,
				   (evtchn_port_t)evt_rx);
	if (rc)
		vif_fail(v, "cannot map the rings or bind the event channels");
	return rc;
}

/* The frontend is Connected: map its rings, put the port up. */
static int vif_connect(struct backdev *d)
{
	struct vif *v = vif_of(d);
	uint32_t nq;

	if (backdev_read_num_queues(d, VIF_MAX_QUEUES, &nq))
		return -EINVAL;
	if (!xenbus_read_flag(d->fe_path, "request-rx-copy")) {
		vif_fail(v, "only rx-copy is served (request-rx-copy=1)");
		return -EOPNOTSUPP;
	}
	if (!xenbus_read_flag(d->fe_path, "feature-rx-notify")) {
		vif_fail(v, "feature-rx-notify is required");
		return -EOPNOTSUPP;
	}
	v->fe_sg = xenbus_read_flag(d->fe_path, "feature-sg");
	v->fe_gso4 = xenbus_read_flag(d->fe_path, "feature-gso-tcpv4");
	v->fe_gso6 = xenbus_read_flag(d->fe_path, "feature-gso-tcpv6");
	v->fe_csum = !xenbus_read_flag(d->fe_path, "feature-no-csum-offload");
	v->fe_ipv6_csum = xenbus_read_flag(d->fe_path, "feature-ipv6-csum-offload");
	netif_tx_limits_default(&v->tx_lim);
	v->nqueues = nq;
	for (unsigned int i = 0; i < v->nqueues; i++) {
		char dir[100];
		backdev_queue_dir(d, nq, i, dir, sizeof(dir));
		if (connect_queue(v, i, dir)) {
			vif_disconnect(d);
			return -EINVAL;
		}
	}
	/* What the guest takes as is; the bridge fills checksums and cuts GSO
	 * frames for the rest. */
	v->port.caps = (v->fe_csum ? NET_PORT_CAN_CSUM_BLANK : 0) |
		       (v->fe_sg && v->fe_csum && v->fe_gso4 ? NET_PORT_CAN_GSO_TCPV4 : 0) |
		       (v->fe_sg && v->fe_csum && v->fe_gso6 ? NET_PORT_CAN_GSO_TCPV6 : 0);
	v->port.up = true;
	backdev_connected(d);
	klog("netback: vif%u.%u connected on %s: %u queue%s%s%s\n", d->domid, d->devid,
	     v->params.bridge, v->nqueues, v->nqueues == 1 ? "" : "s",
	     v->fe_sg ? ", sg" : "", v->fe_gso4 ? ", gso" : "");
	return 0;
}

static void vif_failed(struct backdev *d)
{
	vif_of(d)->port.up = false;
}

static bool vif_has_work_op(struct backdev *d)
{
	return vif_has_work(vif_of(d));
}

static bool vif_do_io_op(struct backdev *d)
{
	return vif_do_io(vif_of(d));
}

/* A backlog waits for buffers or for its frames to age out. */
static uint64_t vif_sleep_ns(struct backdev *d)
{
	return vif_has_backlog(vif_of(d)) ? 250000000ull : 0;
}

static const char *mac_str(const uint8_t *m, char *buf)
{
	ksnprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static int vif_be_nodes(struct backdev *d, const void *arg)
{
	struct vif *v = vif_of(d);
	char mac[18];
	int rc = 0;

	(void)arg;
	rc |= backdev_printf(d, "handle", "%u", d->devid);
	rc |= backdev_printf(d, "mac", "%s", mac_str(v->params.mac, mac));
	rc |= backdev_printf(d, "bridge", "%s", v->params.bridge);
	rc |= backdev_printf(d, "type", "vif");
	rc |= backdev_printf(d, "feature-sg", "1");
	rc |= backdev_printf(d, "feature-gso-tcpv4", "1");
	rc |= backdev_printf(d, "feature-gso-tcpv6", "1");
	rc |= backdev_printf(d, "feature-ipv6-csum-offload", "1");
	rc |= backdev_printf(d, "feature-rx-copy", "1");
	rc |= backdev_printf(d, "feature-rx-flip", "0");
	rc |= backdev_printf(d, "feature-split-event-channels", "1");
	rc |= backdev_printf(d, "multi-queue-max-queues", "%u", VIF_MAX_QUEUES);
	return rc;
}

static int vif_fe_nodes(struct backdev *d, const void *arg)
{
	struct vif *v = vif_of(d);
	char mac[18];
	int rc = 0;

	(void)arg;
	rc |= backdev_fe_printf(d, "handle", "%u", d->devid);
	rc |= backdev_fe_printf(d, "mac", "%s", mac_str(v->params.mac, mac));
	return rc;
}

/* mtu belongs to dom0 (the guest reads it), as libxl leaves it. */
static int vif_fe_dom0_nodes(struct backdev *d, const void *arg)
{
	(void)arg;
	return backdev_fe_dom0_printf(d, "mtu", "%u", NET_MTU);
}

static int vif_libxl_nodes(struct backdev *d, const void *arg)
{
	struct vif *v = vif_of(d);
	char mac[18];
	int rc = 0;

	(void)arg;
	rc |= backdev_libxl_printf(d, "handle", "%u", d->devid);
	rc |= backdev_libxl_printf(d, "mac", "%s", mac_str(v->params.mac, mac));
	rc |= backdev_libxl_printf(d, "bridge", "%s", v->params.bridge);
	rc |= backdev_libxl_printf(d, "type", "vif");
	return rc;
}

/* The vif's thread has ended and its nodes are gone (list lock held). */
static void vif_release(struct backdev *d)
{
	struct vif *v = vif_of(d);

	net_port_remove(&v->port);
	kfree(v);
}

static const struct backdev_ops vif_ops = {
	.driver = "netback",
	.type = "vif",
	.connect_at_initialised = false,
	.be_nodes = vif_be_nodes,
	.fe_nodes = vif_fe_nodes,
	.fe_dom0_nodes = vif_fe_dom0_nodes,
	.libxl_nodes = vif_libxl_nodes,
	.connect = vif_connect,
	.disconnect = vif_disconnect,
	.has_work = vif_has_work_op,
	.do_io = vif_do_io_op,
	.sleep_ns = vif_sleep_ns,
	.failed = vif_failed,
	.release = vif_release,
};

int netback_attach(domid_t domid, const struct netback_params *params, const char **why)
{
	*why = "";
	backdev_lock(&vifs);
	if (backdev_find(&vifs, domid, params->devid)) {
		backdev_unlock(&vifs);
		*why = "the vif's devid is already in use in this domain";
		return -EEXIST;
	}
	struct vif *v = kzalloc(sizeof(*v));
	if (!v) {
		backdev_unlock(&vifs);
		*why = "out of memory";
		return -ENOMEM;
	}
	backdev_init(&v->dev, &vif_ops, &vifs, domid, params->devid, "vif%u.%u");
	v->params = *params;
	if (!v->params.bridge[0])
		ksnprintf(v->params.bridge, sizeof(v->params.bridge), "xenbr0");
	vif_rate_init(v);

	ksnprintf(v->port.name, sizeof(v->port.name), "vif%u.%u", domid, params->devid);
	v->port.kind = NET_PORT_VIF;
	v->port.ops = &vif_port_ops;
	v->port.priv = v;
	v->port.lock_mac = params->lock_mac;
	memcpy(v->port.mac, params->mac, ETH_ALEN);
	v->port.n_ips = params->n_ips;
	memcpy(v->port.ips, params->ips, sizeof(v->port.ips));
	int rc = net_port_add(v->params.bridge, &v->port);
	if (rc) {
		kfree(v);
		backdev_unlock(&vifs);
		*why = rc == -EINVAL ? "bad bridge name" : "cannot join the bridge";
		return rc;
	}
	rc = backdev_write_nodes(&v->dev, NULL);
	if (rc == 0)
		rc = backdev_start(&v->dev);
	if (rc) {
		backdev_remove_nodes(&v->dev);
		net_port_remove(&v->port);
		kfree(v);
		backdev_unlock(&vifs);
		*why = "cannot write the vif's xenstore nodes or start its thread";
		return rc;
	}
	backdev_add(&v->dev);
	backdev_unlock(&vifs);
	return 0;
}

int netback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force)
{
	return backdev_detach(&vifs, domid, devid, timeout_ns, force);
}

void netback_domain_gone(domid_t domid)
{
	backdev_domain_gone(&vifs, domid);
}

int netback_find_mac(domid_t domid, const uint8_t mac[ETH_ALEN])
{
	int devid = -ENOENT;

	backdev_lock(&vifs);
	for (struct backdev *d = vifs.head; d; d = d->next)
		if (d->domid == domid && !memcmp(vif_of(d)->params.mac, mac, ETH_ALEN))
			devid = (int)d->devid;
	backdev_unlock(&vifs);
	return devid;
}

void netback_list(domid_t domid)
{
	char mac[18];

	kprintf("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-11s %-30s\n", "Idx", "BE", "Mac Addr.",
		"handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path");
	backdev_lock(&vifs);
	for (struct backdev *d = vifs.head; d; d = d->next) {
		struct vif *v = vif_of(d);
		if (d->domid != domid)
			continue;
		uint64_t st = 0, evt = 0, tx = 0, rx = 0;
		xenbus_read_uint(d->be_path, "state", &st);
		if (xenbus_read_uint(d->fe_path, "event-channel", &evt) &&
		    xenbus_read_uint(d->fe_path, "event-channel-tx", &evt))
			evt = (uint64_t)-1;
		if (xenbus_read_uint(d->fe_path, "tx-ring-ref", &tx))
			tx = (uint64_t)-1;
		if (xenbus_read_uint(d->fe_path, "rx-ring-ref", &rx))
			rx = (uint64_t)-1;
		kprintf("%-3u %-2d %-17s %6u %5d %6d %5d/%-11d %-30s\n", v->params.devid, 0,
			mac_str(v->params.mac, mac), v->params.devid, (int)st, (int)evt, (int)tx,
			(int)rx, d->be_path);
	}
	backdev_unlock(&vifs);
}

void netback_show_stats(void)
{
	kprintf("%-10s %-8s %10s %12s %10s %12s %8s %8s %8s %8s %8s %8s %9s\n", "vif", "bridge",
		"tx-pkts", "tx-bytes", "rx-pkts", "rx-bytes", "tx-err", "rx-drop", "queued", "tx-gso",
		"rx-gso", "tx-csum", "rate-wait");
	backdev_lock(&vifs);
	for (struct backdev *d = vifs.head; d; d = d->next) {
		struct vif *v = vif_of(d);
		const struct vif_stats *s = &v->stats;
		uint32_t queued = 0;
		for (unsigned int i = 0; i < VIF_MAX_QUEUES; i++)
			queued += v->queues[i].rxq_frames;
		kprintf("%-10s %-8s %10llu %12llu %10llu %12llu %8llu %8llu %8u %8llu %8llu %8llu %9llu\n",
			v->port.name, v->params.bridge, (unsigned long long)s->tx_packets,
			(unsigned long long)s->tx_bytes, (unsigned long long)s->rx_packets,
			(unsigned long long)s->rx_bytes, (unsigned long long)s->tx_errors,
			(unsigned long long)(s->rx_dropped_full + s->rx_dropped_old), queued,
			(unsigned long long)s->tx_gso, (unsigned long long)s->rx_gso,
			(unsigned long long)s->tx_csum_blank, (unsigned long long)s->tx_rate_waits);
	}
	for (struct backdev *d = vifs.head; d; d = d->next)
		vif_lat_show(vif_of(d)->port.name, &vif_of(d)->lat);
	backdev_unlock(&vifs);
}

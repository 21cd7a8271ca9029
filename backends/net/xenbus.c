/*
 * netback's control path: the xenstore directories of a vif, the
 * XenbusState handshake with the guest's netfront, and the vif thread that
 * runs both paths (the data path is io.c).
 *
 * States (backend side, xen/io/xenbus.h), as blkback's:
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

static struct vif *vifs;
static struct mutex vifs_lock = MUTEX_INIT("netback vif list");

void vif_log(struct vif *v, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	uint64_t now = time_now_ns();

	/* Rate-limited per vif: a guest can cause these as often as it likes. */
	if (now - v->last_log_ns < 1000000000ull)
		return;
	v->last_log_ns = now;
	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	klog("netback: vif%u.%u: %s\n", v->domid, v->params.devid, msg);
}

void vif_fail(struct vif *v, const char *why)
{
	vif_log(v, "%s: device failed", why);
	xenbus_printf(v->be_path, "error", "%s", why);
	xenbus_set_state(v->be_path, XenbusStateClosing);
	v->port.up = false;
	v->phase = VIF_CLOSING;
}

static void wake(struct vif *v)
{
	waitq_wake_all(&v->wq);
}

/* Runs in the xenstored thread: only record and wake. */
static void fe_state_changed(void *ctx, const char *path, const char *token)
{
	struct vif *v = ctx;

	(void)path;
	(void)token;
	v->fe_changed = true;
	wake(v);
}

static void disconnect(struct vif *v)
{
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

static int connect(struct vif *v)
{
	uint64_t nq = 1;

	if (xenbus_read_uint(v->fe_path, "multi-queue-num-queues", &nq) == 0 &&
	    (nq == 0 || nq > VIF_MAX_QUEUES)) {
		vif_fail(v, "multi-queue-num-queues above multi-queue-max-queues");
		return -EINVAL;
	}
	if (!xenbus_read_flag(v->fe_path, "request-rx-copy")) {
		vif_fail(v, "only rx-copy is served (request-rx-copy=1)");
		return -EOPNOTSUPP;
	}
	if (!xenbus_read_flag(v->fe_path, "feature-rx-notify")) {
		vif_fail(v, "feature-rx-notify is required");
		return -EOPNOTSUPP;
	}
	v->fe_sg = xenbus_read_flag(v->fe_path, "feature-sg");
	v->fe_gso4 = xenbus_read_flag(v->fe_path, "feature-gso-tcpv4");
	v->fe_gso6 = xenbus_read_flag(v->fe_path, "feature-gso-tcpv6");
	v->fe_csum = !xenbus_read_flag(v->fe_path, "feature-no-csum-offload");
	v->fe_ipv6_csum = xenbus_read_flag(v->fe_path, "feature-ipv6-csum-offload");
	netif_tx_limits_default(&v->tx_lim);
	v->nqueues = (unsigned int)nq;
	for (unsigned int i = 0; i < v->nqueues; i++) {
		char dir[100];
		if (nq == 1)
			ksnprintf(dir, sizeof(dir), "%s", v->fe_path);
		else
			ksnprintf(dir, sizeof(dir), "%s/queue-%u", v->fe_path, i);
		if (connect_queue(v, i, dir)) {
			disconnect(v);
			return -EINVAL;
		}
	}
	/* What the guest takes as is; the bridge fills checksums and cuts GSO
	 * frames for the rest. */
	v->port.caps = (v->fe_csum ? NET_PORT_CAN_CSUM_BLANK : 0) |
		       (v->fe_sg && v->fe_csum && v->fe_gso4 ? NET_PORT_CAN_GSO_TCPV4 : 0) |
		       (v->fe_sg && v->fe_csum && v->fe_gso6 ? NET_PORT_CAN_GSO_TCPV6 : 0);
	v->phase = VIF_CONNECTED;
	v->port.up = true;
	xenbus_set_state(v->be_path, XenbusStateConnected);
	klog("netback: vif%u.%u connected on %s: %u queue%s%s%s\n", v->domid, v->params.devid,
	     v->params.bridge, v->nqueues, v->nqueues == 1 ? "" : "s",
	     v->fe_sg ? ", sg" : "", v->fe_gso4 ? ", gso" : "");
	return 0;
}

static void frontend_changed(struct vif *v)
{
	uint64_t st;

	if (xenbus_read_uint(v->fe_path, "state", &st))
		st = XenbusStateUnknown;
	switch (st) {
	case XenbusStateInitialising:
		if (v->phase == VIF_CLOSED) {
			xenbus_set_state(v->be_path, XenbusStateInitWait);
			v->phase = VIF_INITWAIT;
		}
		break;
	case XenbusStateConnected:
		if (v->phase == VIF_INITWAIT)
			connect(v);
		break;
	case XenbusStateClosing:
		disconnect(v);
		xenbus_set_state(v->be_path, XenbusStateClosing);
		v->phase = VIF_CLOSING;
		break;
	case XenbusStateClosed: {
		uint64_t online = 1;
		disconnect(v);
		xenbus_set_state(v->be_path, XenbusStateClosed);
		v->phase = VIF_CLOSED;
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
	struct vif *v = ctx;
	return v->stop || v->fe_changed || vif_has_work(v);
}

static void remove_nodes(struct vif *v)
{
	char path[128];

	xs_rm(xenstore, v->be_path);
	ksnprintf(path, sizeof(path), "/libxl/%u/device/vif/%u", v->domid, v->params.devid);
	xs_rm(xenstore, path);
	xs_rm(xenstore, v->fe_path);
}

static void vif_thread(void *arg)
{
	struct vif *v = arg;

	for (;;) {
		/* A backlog waits for buffers or for its frames to age out. */
		waitq_wait_until(&v->wq, thread_cond, v, vif_has_backlog(v) ? 250000000ull : 0);
		if (v->stop)
			break;
		if (v->fe_changed) {
			v->fe_changed = false;
			frontend_changed(v);
			if (v->stop)
				break;
		}
		/* A frontend that keeps its rings full keeps vif_do_io() saying
		 * "more": stop and frontend changes are still seen between passes
		 * (netback_detach/netback_domain_gone wait for this thread). */
		while (!v->stop && !v->fe_changed && vif_do_io(v))
			thread_yield();
	}
	char path[128];
	ksnprintf(path, sizeof(path), "%s/state", v->fe_path);
	xs_unwatch_local(xenstore, path, v->thread_name);
	disconnect(v);
	complete(&v->gone);
	thread_exit();
}

static const char *mac_str(const uint8_t *m, char *buf)
{
	ksnprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
	return buf;
}

static int write_nodes(struct vif *v)
{
	char path[128], mac[18];
	int rc = 0;

	mac_str(v->params.mac, mac);
	rc |= xs_mkdir(xenstore, v->be_path);
	rc |= xsd_set_owner(v->be_path, 0, XS_PERM_NONE, v->domid, XS_PERM_READ);
	rc |= xenbus_printf(v->be_path, "frontend", "%s", v->fe_path);
	rc |= xenbus_printf(v->be_path, "frontend-id", "%u", v->domid);
	rc |= xenbus_printf(v->be_path, "online", "1");
	rc |= xenbus_printf(v->be_path, "handle", "%u", v->params.devid);
	rc |= xenbus_printf(v->be_path, "mac", "%s", mac);
	rc |= xenbus_printf(v->be_path, "bridge", "%s", v->params.bridge);
	rc |= xenbus_printf(v->be_path, "type", "vif");
	rc |= xenbus_printf(v->be_path, "feature-sg", "1");
	rc |= xenbus_printf(v->be_path, "feature-gso-tcpv4", "1");
	rc |= xenbus_printf(v->be_path, "feature-gso-tcpv6", "1");
	rc |= xenbus_printf(v->be_path, "feature-ipv6-csum-offload", "1");
	rc |= xenbus_printf(v->be_path, "feature-rx-copy", "1");
	rc |= xenbus_printf(v->be_path, "feature-rx-flip", "0");
	rc |= xenbus_printf(v->be_path, "feature-split-event-channels", "1");
	rc |= xenbus_printf(v->be_path, "multi-queue-max-queues", "%u", VIF_MAX_QUEUES);
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
	FE("handle", "%u", v->params.devid);
	FE("mac", "%s", mac);
	FE("state", "%d", XenbusStateInitialising);
#undef FE
	/* mtu belongs to dom0 (the guest reads it), as libxl leaves it. */
	ksnprintf(path, sizeof(path), "%s/mtu", v->fe_path);
	rc |= xsd_printf(path, "%u", NET_MTU);
	rc |= xsd_set_owner(path, 0, XS_PERM_NONE, v->domid, XS_PERM_READ);
#define LX(node, ...) do { \
		ksnprintf(path, sizeof(path), "/libxl/%u/device/vif/%u/" node, v->domid, \
			  v->params.devid); \
		rc |= xsd_printf(path, __VA_ARGS__); \
	} while (0)
	LX("backend", "%s", v->be_path);
	LX("frontend", "%s", v->fe_path);
	LX("frontend-id", "%u", v->domid);
	LX("handle", "%u", v->params.devid);
	LX("mac", "%s", mac);
	LX("bridge", "%s", v->params.bridge);
	LX("type", "vif");
	LX("online", "1");
	LX("state", "1");
#undef LX
	return rc ? -EIO : 0;
}

int netback_attach(domid_t domid, const struct netback_params *params, const char **why)
{
	*why = "";
	mutex_lock(&vifs_lock);
	for (struct vif *o = vifs; o; o = o->next)
		if (o->domid == domid && o->params.devid == params->devid) {
			mutex_unlock(&vifs_lock);
			*why = "the vif's devid is already in use in this domain";
			return -EEXIST;
		}
	struct vif *v = kzalloc(sizeof(*v));
	if (!v) {
		mutex_unlock(&vifs_lock);
		*why = "out of memory";
		return -ENOMEM;
	}
	v->domid = domid;
	v->params = *params;
	if (!v->params.bridge[0])
		ksnprintf(v->params.bridge, sizeof(v->params.bridge), "xenbr0");
	ksnprintf(v->be_path, sizeof(v->be_path), "/local/domain/0/backend/vif/%u/%u", domid,
		  params->devid);
	ksnprintf(v->fe_path, sizeof(v->fe_path), "/local/domain/%u/device/vif/%u", domid,
		  params->devid);
	ksnprintf(v->thread_name, sizeof(v->thread_name), "netback.%u.%u", domid, params->devid);
	completion_init(&v->gone);
	vif_rate_init(v);
	v->phase = VIF_INIT;

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
		mutex_unlock(&vifs_lock);
		*why = rc == -EINVAL ? "bad bridge name" : "cannot join the bridge";
		return rc;
	}
	rc = write_nodes(v);
	char path[128];
	ksnprintf(path, sizeof(path), "%s/state", v->fe_path);
	if (rc == 0)
		rc = xs_watch_local(xenstore, path, v->thread_name, fe_state_changed, v);
	if (rc == 0 && !thread_create(v->thread_name, vif_thread, v)) {
		xs_unwatch_local(xenstore, path, v->thread_name);
		rc = -ENOMEM;
	}
	if (rc) {
		remove_nodes(v);
		net_port_remove(&v->port);
		kfree(v);
		mutex_unlock(&vifs_lock);
		*why = "cannot write the vif's xenstore nodes or start its thread";
		return rc;
	}
	v->next = vifs;
	vifs = v;
	v->phase = VIF_INITWAIT;
	xenbus_set_state(v->be_path, XenbusStateInitWait);
	mutex_unlock(&vifs_lock);
	return 0;
}

/* Unlinks v (list lock held by the caller), frees it once its thread ended. */
static void reap(struct vif *v)
{
	completion_wait(&v->gone, 0);
	net_port_remove(&v->port);
	remove_nodes(v);
	for (struct vif **pp = &vifs; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	kfree(v);
}

int netback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force)
{
	mutex_lock(&vifs_lock);
	struct vif *v = vifs;
	while (v && !(v->domid == domid && v->params.devid == devid))
		v = v->next;
	if (!v) {
		mutex_unlock(&vifs_lock);
		return -ENOENT;
	}
	xenbus_printf(v->be_path, "online", "0");
	if (v->phase == VIF_CLOSED || v->phase == VIF_INITWAIT) {
		v->stop = true;
		wake(v);
	} else {
		xenbus_set_state(v->be_path, XenbusStateClosing);
	}
	int rc = 0;
	if (!completion_wait(&v->gone, timeout_ns)) {
		if (!force) {
			mutex_unlock(&vifs_lock);
			return -ETIMEDOUT;
		}
		rc = -ETIMEDOUT;
		v->stop = true;
		wake(v);
	}
	reap(v);
	mutex_unlock(&vifs_lock);
	return rc;
}

void netback_domain_gone(domid_t domid)
{
	mutex_lock(&vifs_lock);
	for (struct vif *v = vifs; v;) {
		struct vif *next = v->next;
		if (v->domid == domid) {
			v->stop = true;
			wake(v);
			reap(v);
		}
		v = next;
	}
	mutex_unlock(&vifs_lock);
}

int netback_find_mac(domid_t domid, const uint8_t mac[ETH_ALEN])
{
	int devid = -ENOENT;

	mutex_lock(&vifs_lock);
	for (struct vif *v = vifs; v; v = v->next)
		if (v->domid == domid && !memcmp(v->params.mac, mac, ETH_ALEN))
			devid = (int)v->params.devid;
	mutex_unlock(&vifs_lock);
	return devid;
}

void netback_list(domid_t domid)
{
	char mac[18];

	kprintf("%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-11s %-30s\n", "Idx", "BE", "Mac Addr.",
		"handle", "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path");
	mutex_lock(&vifs_lock);
	for (struct vif *v = vifs; v; v = v->next) {
		if (v->domid != domid)
			continue;
		uint64_t st = 0, evt = 0, tx = 0, rx = 0;
		xenbus_read_uint(v->be_path, "state", &st);
		if (xenbus_read_uint(v->fe_path, "event-channel", &evt) &&
		    xenbus_read_uint(v->fe_path, "event-channel-tx", &evt))
			evt = (uint64_t)-1;
		if (xenbus_read_uint(v->fe_path, "tx-ring-ref", &tx))
			tx = (uint64_t)-1;
		if (xenbus_read_uint(v->fe_path, "rx-ring-ref", &rx))
			rx = (uint64_t)-1;
		kprintf("%-3u %-2d %-17s %6u %5d %6d %5d/%-11d %-30s\n", v->params.devid, 0,
			mac_str(v->params.mac, mac), v->params.devid, (int)st, (int)evt, (int)tx,
			(int)rx, v->be_path);
	}
	mutex_unlock(&vifs_lock);
}

void netback_show_stats(void)
{
	kprintf("%-10s %-8s %10s %12s %10s %12s %8s %8s %8s %8s %8s %8s %9s\n", "vif", "bridge",
		"tx-pkts", "tx-bytes", "rx-pkts", "rx-bytes", "tx-err", "rx-drop", "queued", "tx-gso",
		"rx-gso", "tx-csum", "rate-wait");
	mutex_lock(&vifs_lock);
	for (struct vif *v = vifs; v; v = v->next) {
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
	for (struct vif *v = vifs; v; v = v->next)
		vif_lat_show(v->port.name, &v->lat);
	mutex_unlock(&vifs_lock);
}

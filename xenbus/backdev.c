/*
 * The device core of keel's PV backends (include/keel/backdev.h): nodes,
 * the XenbusState handshake, the device thread, fail, detach and teardown.
 * What a device's rings are and how they are served is each backend's.
 *
 * Ordering: the list lock is taken by attach, detach and teardown only; a
 * device thread never takes it, so detach may wait for the thread while
 * holding it.  Watch callbacks (xenstored thread) and the data path's event
 * handlers (upcall context) set a flag and wake `wq`; everything else runs
 * in the device thread.  The thread checks `stop` and `fe_changed` between
 * ring passes, so a frontend that keeps its rings full can neither keep a
 * detach waiting nor hide a state change.
 */
#include <keel/backdev.h>
#include <keel/kernel.h>
#include <keel/xenbus.h>
#include <keel/xenstored.h>
#include <keel/xsd.h>
#include <lib/printf.h>

/* ---- nodes ---- */

/* A value that does not fit is refused (-E2BIG), never cut short. */
static int vwrite(const char *dir, const char *node, const char *fmt, va_list ap)
{
	char path[160], val[1024];

	int n = kvsnprintf(val, sizeof(val), fmt, ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		return -E2BIG;
	ksnprintf(path, sizeof(path), "%s/%s", dir, node);
	return xs_write(xenstore, path, val, (size_t)n);
}

int backdev_printf(struct backdev *d, const char *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vwrite(d->be_path, node, fmt, ap);
	va_end(ap);
	return rc;
}

int backdev_libxl_printf(struct backdev *d, const char *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = vwrite(d->libxl_path, node, fmt, ap);
	va_end(ap);
	return rc;
}

/* A node of the frontend directory, then its permissions: owner (the
 * default for everyone else: none), and one reader. */
static int fe_write(struct backdev *d, const char *node, domid_t owner, domid_t reader,
		    const char *fmt, va_list ap)
{
	char path[160];

	int rc = vwrite(d->fe_path, node, fmt, ap);
	ksnprintf(path, sizeof(path), "%s/%s", d->fe_path, node);
	return rc | xsd_set_owner(path, owner, XS_PERM_NONE, reader, XS_PERM_READ);
}

int backdev_fe_printf(struct backdev *d, const char *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = fe_write(d, node, d->domid, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int backdev_fe_dom0_printf(struct backdev *d, const char *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	int rc = fe_write(d, node, 0, d->domid, fmt, ap);
	va_end(ap);
	return rc;
}

/* The order below is the order the nodes appear in, which a frontend that
 * watches its directory sees: each directory's state comes last but for
 * the dom0-owned frontend nodes. */
int backdev_write_nodes(struct backdev *d, const void *arg)
{
	const struct backdev_ops *ops = d->ops;
	int rc = 0;

	/* The backend directory is dom0's; the guest may read it. */
	rc |= xs_mkdir(xenstore, d->be_path);
	rc |= xsd_set_owner(d->be_path, 0, XS_PERM_NONE, d->domid, XS_PERM_READ);
	rc |= backdev_printf(d, "frontend", "%s", d->fe_path);
	rc |= backdev_printf(d, "frontend-id", "%u", d->domid);
	rc |= backdev_printf(d, "online", "1");
	rc |= ops->be_nodes(d, arg);
	/* No hotplug script runs in keel: the device is ready as written. */
	rc |= backdev_printf(d, "hotplug-status", "connected");
	rc |= backdev_printf(d, "state", "%d", XenbusStateInitialising);

	/* The frontend directory belongs to the guest, dom0 may read it. */
	rc |= xs_mkdir(xenstore, d->fe_path);
	rc |= xsd_set_owner(d->fe_path, d->domid, XS_PERM_NONE, 0, XS_PERM_READ);
	rc |= backdev_fe_printf(d, "backend", "%s", d->be_path);
	rc |= backdev_fe_printf(d, "backend-id", "0");
	/* libxl's mark that the backend (dom0) is trusted: a frontend that
	 * finds "0" bounces its data through its own pages (XSA-403). */
	rc |= backdev_fe_printf(d, "trusted", "1");
	rc |= ops->fe_nodes(d, arg);
	rc |= backdev_fe_printf(d, "state", "%d", XenbusStateInitialising);
	if (ops->fe_dom0_nodes)
		rc |= ops->fe_dom0_nodes(d, arg);

	/* libxl's own record, which the *-list and detach commands read. */
	rc |= backdev_libxl_printf(d, "backend", "%s", d->be_path);
	rc |= backdev_libxl_printf(d, "frontend", "%s", d->fe_path);
	rc |= backdev_libxl_printf(d, "frontend-id", "%u", d->domid);
	rc |= ops->libxl_nodes(d, arg);
	rc |= backdev_libxl_printf(d, "online", "1");
	rc |= backdev_libxl_printf(d, "state", "1");
	return rc ? -EIO : 0;
}

/*
 * Removes path, then each parent left empty by it, as libxl's path cleanup
 * does, keeping the first keep_depth components (/local/domain/0 is 3): a
 * detached or destroyed guest leaves no empty backend/vbd/DOMID behind.  No
 * other thread runs between the directory read and the removal (no sleep).
 */
static void rm_with_empty_parents(const char *path, unsigned int keep_depth)
{
	char p[160];

	xs_rm(xenstore, path);
	ksnprintf(p, sizeof(p), "%s", path);
	for (;;) {
		char *slash = strrchr(p, '/');
		if (!slash || slash == p)
			return;
		*slash = '\0';
		unsigned int depth = 0;
		for (const char *c = p; *c; c++)
			depth += *c == '/';
		if (depth <= keep_depth)
			return;
		char **names;
		unsigned int n;
		if (xs_directory(xenstore, p, &names, &n))
			return;
		kfree(names);
		if (n)
			return;
		xs_rm(xenstore, p);
	}
}

void backdev_remove_nodes(struct backdev *d)
{
	rm_with_empty_parents(d->be_path, 3);
	rm_with_empty_parents(d->libxl_path, 2);
	rm_with_empty_parents(d->fe_path, 3);
}

int backdev_read_num_queues(struct backdev *d, uint32_t max, uint32_t *nq)
{
	uint64_t n = 1;

	int rc = xenbus_read_uint(d->fe_path, "multi-queue-num-queues", &n);
	if (rc == -EINVAL) {
		backdev_fail(d, "multi-queue-num-queues is not a number");
		return -EINVAL;
	}
	if (rc == 0 && (n == 0 || n > max)) {
		backdev_fail(d, "multi-queue-num-queues above multi-queue-max-queues");
		return -EINVAL;
	}
	*nq = (uint32_t)n;
	return 0;
}

void backdev_queue_dir(const struct backdev *d, uint32_t nq, uint32_t q, char *buf, size_t size)
{
	if (nq == 1)
		ksnprintf(buf, size, "%s", d->fe_path);
	else
		ksnprintf(buf, size, "%s/queue-%u", d->fe_path, q);
}

/* ---- log and fail ---- */

void backdev_log(struct backdev *d, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	uint64_t now = time_now_ns();

	if (now - d->last_log_ns < 1000000000ull)
		return;
	d->last_log_ns = now;
	va_start(ap, fmt);
	kvsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	klog("%s: %s: %s\n", d->ops->driver, d->name, msg);
}

void backdev_fail(struct backdev *d, const char *why)
{
	backdev_log(d, "%s: device failed", why);
	/* The data path checks the phase: it stops serving before the guest
	 * can see Closing. */
	d->phase = BACKDEV_CLOSING;
	if (d->ops->failed)
		d->ops->failed(d);
	xenbus_printf(d->be_path, "error", "%s", why);
	xenbus_set_state(d->be_path, XenbusStateClosing);
}

void backdev_connected(struct backdev *d)
{
	d->phase = BACKDEV_CONNECTED;
	xenbus_set_state(d->be_path, XenbusStateConnected);
}

/* ---- the device thread ---- */

/* Runs in the xenstored thread: only record and wake. */
static void fe_state_changed(void *ctx, const char *path, const char *token)
{
	struct backdev *d = ctx;

	(void)path;
	(void)token;
	d->fe_changed = true;
	backdev_wake(d);
}

static void disconnect(struct backdev *d)
{
	/* The data path stops taking requests before the backend drains. */
	if (d->phase == BACKDEV_CONNECTED)
		d->phase = BACKDEV_CLOSING;
	d->ops->disconnect(d);
}

static void frontend_changed(struct backdev *d)
{
	enum xenbus_state fe = xenbus_read_state(d->fe_path);

	switch (backdev_state_step(d->phase, fe, d->ops->connect_at_initialised)) {
	case BACKDEV_STEP_STAY:
		break;
	case BACKDEV_STEP_READY:
		xenbus_set_state(d->be_path, XenbusStateInitWait);
		d->phase = BACKDEV_INITWAIT;
		break;
	case BACKDEV_STEP_CONNECT:
		d->ops->connect(d);
		break;
	case BACKDEV_STEP_CLOSE:
		disconnect(d);
		xenbus_set_state(d->be_path, XenbusStateClosing);
		d->phase = BACKDEV_CLOSING;
		break;
	case BACKDEV_STEP_CLOSED: {
		uint64_t online = 1;
		disconnect(d);
		xenbus_set_state(d->be_path, XenbusStateClosed);
		d->phase = BACKDEV_CLOSED;
		if (xenbus_read_uint(d->be_path, "online", &online) == 0 && online == 0)
			d->stop = true;
		break;
	}
	}
}

static bool thread_cond(void *ctx)
{
	struct backdev *d = ctx;

	return d->stop || d->fe_changed || d->ops->has_work(d);
}

static void fe_state_path(const struct backdev *d, char *buf, size_t size)
{
	ksnprintf(buf, size, "%s/state", d->fe_path);
}

static void backdev_thread(void *arg)
{
	struct backdev *d = arg;
	char path[128];

	for (;;) {
		waitq_wait_until(&d->wq, thread_cond, d, d->ops->sleep_ns ? d->ops->sleep_ns(d) : 0);
		if (d->stop)
			break;
		if (d->fe_changed) {
			d->fe_changed = false;
			frontend_changed(d);
			if (d->stop)
				break;
		}
		/* A frontend that refills its rings as fast as they are served
		 * (requests refused at once free their slots) keeps do_io
		 * saying "more" for ever: a detach or destroy (stop) and the
		 * frontend's state must still be seen between passes, or
		 * backdev_detach / backdev_domain_gone would wait for ever with
		 * the list locked. */
		while (!d->stop && !d->fe_changed && d->ops->do_io(d))
			thread_yield();
	}
	fe_state_path(d, path, sizeof(path));
	xs_unwatch_local(xenstore, path, d->thread_name);
	disconnect(d);
	complete(&d->gone);
	thread_exit();
}

/* ---- attach, detach, teardown ---- */

void backdev_init(struct backdev *d, const struct backdev_ops *ops, struct backdev_list *list,
		  domid_t domid, uint32_t devid, const char *name_fmt)
{
	d->ops = ops;
	d->list = list;
	d->domid = domid;
	d->devid = devid;
	ksnprintf(d->name, sizeof(d->name), name_fmt, domid, devid);
	ksnprintf(d->be_path, sizeof(d->be_path), "/local/domain/0/backend/%s/%u/%u", ops->type,
		  domid, devid);
	ksnprintf(d->fe_path, sizeof(d->fe_path), "/local/domain/%u/device/%s/%u", domid, ops->type,
		  devid);
	ksnprintf(d->libxl_path, sizeof(d->libxl_path), "/libxl/%u/device/%s/%u", domid, ops->type,
		  devid);
	ksnprintf(d->thread_name, sizeof(d->thread_name), "%s.%u.%u", ops->driver, domid, devid);
	completion_init(&d->gone);
	d->phase = BACKDEV_INIT;
}

struct backdev *backdev_find(struct backdev_list *list, domid_t domid, uint32_t devid)
{
	ASSERT(mutex_held_by_me(&list->lock));
	for (struct backdev *d = list->head; d; d = d->next)
		if (d->domid == domid && d->devid == devid)
			return d;
	return NULL;
}

int backdev_start(struct backdev *d)
{
	char path[128];

	fe_state_path(d, path, sizeof(path));
	int rc = xs_watch_local(xenstore, path, d->thread_name, fe_state_changed, d);
	if (rc == 0 && !thread_create(d->thread_name, backdev_thread, d)) {
		xs_unwatch_local(xenstore, path, d->thread_name);
		rc = -ENOMEM;
	}
	return rc;
}

void backdev_add(struct backdev *d)
{
	ASSERT(mutex_held_by_me(&d->list->lock));
	d->next = d->list->head;
	d->list->head = d;
	d->phase = BACKDEV_INITWAIT;
	xenbus_set_state(d->be_path, XenbusStateInitWait);
}

/* Removes d once its thread has ended: nodes, list, then the backend's
 * release frees it.  List lock held. */
static void reap(struct backdev *d)
{
	completion_wait(&d->gone, 0);
	backdev_remove_nodes(d);
	for (struct backdev **pp = &d->list->head; *pp; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->ops->release(d);
}

static void stop(struct backdev *d)
{
	d->stop = true;
	backdev_wake(d);
}

int backdev_detach(struct backdev_list *list, domid_t domid, uint32_t devid,
		   uint64_t timeout_ns, bool force)
{
	backdev_lock(list);
	struct backdev *d = backdev_find(list, domid, devid);
	if (!d) {
		backdev_unlock(list);
		return -ENOENT;
	}
	/* The thread ends the device when the frontend reaches Closed. */
	xenbus_printf(d->be_path, "online", "0");
	if (backdev_detach_at_once(d->phase))
		stop(d);
	else
		xenbus_set_state(d->be_path, XenbusStateClosing);
	int rc = 0;
	if (!completion_wait(&d->gone, timeout_ns)) {
		if (!force) {
			backdev_unlock(list);
			return -ETIMEDOUT;
		}
		rc = -ETIMEDOUT;
		stop(d);
	}
	reap(d);
	backdev_unlock(list);
	return rc;
}

void backdev_domain_gone(struct backdev_list *list, domid_t domid)
{
	backdev_lock(list);
	for (struct backdev *d = list->head; d;) {
		struct backdev *next = d->next;
		if (d->domid == domid) {
			stop(d);
			reap(d);
		}
		d = next;
	}
	backdev_unlock(list);
}

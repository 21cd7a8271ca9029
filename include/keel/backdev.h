/*
 * The device core every PV backend shares (xenbus/backdev.c): the xenstore
 * directories of one backend device, its XenbusState handshake as the
 * frontend drives it, the watch on the frontend's state, the device thread,
 * the failure path (the `error` node, Closing), detach with a timeout,
 * teardown when the domain is gone, and each backend's list of devices.
 * A backend (blkback's vbds, netback's vifs, the ones to come) embeds a
 * struct backdev in its own device and brings only what is its own through
 * struct backdev_ops: its nodes, what connecting and disconnecting mean, its
 * ring pass.  It owns nothing of the data path.
 *
 * A device's life:
 *   backdev_init, backdev_write_nodes, backdev_start, backdev_add (attach,
 *   under the list lock): nodes written, watch set, thread running,
 *   state InitWait.
 *   The thread then follows the frontend (backdev_state.h): connect at
 *   Connected (or Initialised), disconnect at Closing and Closed, InitWait
 *   again if the frontend starts over; it ends when the frontend reaches
 *   Closed while `online` is 0 (detach), or when told to stop.
 *   backdev_detach / backdev_domain_gone end it and remove it: nodes gone,
 *   ops->release frees the backend's device.
 * A guest that breaks the protocol has its device failed (backdev_fail):
 * `error` written, state Closing, a rate-limited line logged; dom0 goes on.
 *
 * Threads and locking: one thread per device runs connect, disconnect,
 * has_work, do_io and sleep_ns, and changes `phase` once backdev_add (the
 * last step of attach) has set InitWait; so does backdev_fail, wherever
 * the data path calls it (netback's rx runs in the thread that forwards
 * the frame: threads are cooperative, so the two never interleave).
 * Upcall context (the data path's event handlers) and the xenstored
 * thread (the watch) only set a flag and wake `wq`.  The list lock (a
 * mutex, lock order class 1 of sync.h) is held across attach, detach and
 * teardown, which therefore wait for the device thread with it held: the
 * thread never takes it.
 */
#ifndef KEEL_BACKDEV_H
#define KEEL_BACKDEV_H

#include <keel/backdev_state.h>
#include <keel/sync.h>
#include <lib/base.h>
#include <xen/xen.h>

struct backdev;

/* What a backend brings.  Hooks may sleep unless said otherwise; where
 * each runs: see above and at each. */
struct backdev_ops {
	const char *driver;     /* "blkback": thread names, log lines */
	const char *type;       /* "vbd": the xenstore device class */
	bool connect_at_initialised;  /* see backdev_state_step() */

	/* The backend's own nodes; attach's `arg` is passed through.  Each
	 * returns 0 or -errno (keeps going on error: the caller undoes all).
	 * be_nodes: in the backend directory, after frontend, frontend-id and
	 * online, before hotplug-status and state.  fe_nodes: in the
	 * frontend directory, guest-owned (backdev_fe_printf), after backend
	 * and backend-id, before state.  fe_dom0_nodes (may be NULL): in the
	 * frontend directory after its state, dom0-owned, guest-readable
	 * (backdev_fe_dom0_printf).  libxl_nodes: libxl's record
	 * (backdev_libxl_printf), after backend, frontend and frontend-id,
	 * before online and state.  They run in attach's caller. */
	int (*be_nodes)(struct backdev *d, const void *arg);
	int (*fe_nodes)(struct backdev *d, const void *arg);
	int (*fe_dom0_nodes)(struct backdev *d, const void *arg);
	int (*libxl_nodes)(struct backdev *d, const void *arg);

	/* Reads the frontend's rings and channels and serves them; on success
	 * it writes Connected (backdev_connected), on a guest's mistake it
	 * fails the device (backdev_fail).  0 or -errno. */
	int (*connect)(struct backdev *d);
	/* Lets go of whatever connect took, after in-flight I/O has ended;
	 * called in any phase (nothing to do when not connected). */
	void (*disconnect)(struct backdev *d);
	/* Work for the thread (the data path's flags); must not sleep. */
	bool (*has_work)(struct backdev *d);
	/* One bounded pass of the data path; true if work remains. */
	bool (*do_io)(struct backdev *d);
	/* May be NULL: how long the thread may sleep with no work (ns, 0 =
	 * until woken), asked before each sleep. */
	uint64_t (*sleep_ns)(struct backdev *d);
	/* May be NULL: the device was just failed (backdev_fail), in the
	 * caller's thread; must not sleep. */
	void (*failed)(struct backdev *d);
	/* The device's thread has ended and its nodes are gone: give back what
	 * attach took and free the device.  Runs in the caller of
	 * backdev_detach / backdev_domain_gone, list lock held. */
	void (*release)(struct backdev *d);
};

/* One backend's devices.  `lock` is held by attach, detach, teardown and
 * whoever walks `head` (backdev_lock). */
struct backdev_list {
	struct mutex lock;
	struct backdev *head;
};
#define BACKDEV_LIST_INIT(lockname) { .lock = MUTEX_INIT(lockname), .head = NULL }

struct backdev {
	const struct backdev_ops *ops;
	struct backdev_list *list;
	domid_t domid;
	uint32_t devid;
	char name[24];                /* "vbd 3/51712": log lines */
	char be_path[80], fe_path[80], libxl_path[80];
	char thread_name[32];         /* also the watch's token */

	struct waitq wq;              /* the thread sleeps here; data path wakes */
	bool fe_changed;              /* set by the watch */
	bool stop;                    /* end the thread */
	struct completion gone;       /* the thread has ended */
	enum backdev_phase phase;     /* see "Threads and locking" above */
	uint64_t last_log_ns;         /* backdev_log's rate limit */
	struct backdev *next;         /* list, under list->lock */
};

/* ---- attach (the caller holds list->lock from backdev_init to backdev_add) ---- */

/*
 * Fills d for device devid of domain domid: paths
 * /local/domain/0/backend/TYPE/DOMID/DEVID, /local/domain/DOMID/device/TYPE/
 * DEVID and /libxl/DOMID/device/TYPE/DEVID, thread DRIVER.DOMID.DEVID, and
 * the name its log lines carry (name_fmt: "vbd %u/%u", "vif%u.%u", given
 * domid and devid).  Phase Init.  Never fails; d must be zeroed.
 */
void backdev_init(struct backdev *d, const struct backdev_ops *ops, struct backdev_list *list,
		  domid_t domid, uint32_t devid, const char *name_fmt);

/* The one device of the list with that domid and devid, or NULL.  List
 * lock held. */
struct backdev *backdev_find(struct backdev_list *list, domid_t domid, uint32_t devid);

/*
 * Writes the device's xenstore nodes, state Initialising: the backend
 * directory (readable by the guest), the frontend directory (the guest's),
 * libxl's record; the backend's own through ops, arg passed on.  0 or
 * -EIO; on error the caller removes what was written (backdev_remove_nodes).
 * May sleep.
 */
int backdev_write_nodes(struct backdev *d, const void *arg);

/* Watches the frontend's state and starts the device thread.  0 or -errno
 * (nothing left set).  May sleep. */
int backdev_start(struct backdev *d);

/* Links the started device into its list and writes InitWait: the frontend
 * may connect from here on.  List lock held.  May sleep. */
void backdev_add(struct backdev *d);

/* Removes the backend directory, libxl's record and the frontend directory.
 * May sleep. */
void backdev_remove_nodes(struct backdev *d);

/* ---- detach and teardown (take the list lock themselves) ---- */

/*
 * Asks the guest to let go of device devid of domain domid (online=0, then
 * Closing, or at once if no frontend uses it) and waits up to timeout_ns (0
 * = for ever) for the device to end; then removes it (nodes, release).
 * 0; -ENOENT (no such device); -ETIMEDOUT if the guest kept it: left as it
 * is, or with force stopped and removed all the same.  May sleep.
 */
int backdev_detach(struct backdev_list *list, domid_t domid, uint32_t devid,
		   uint64_t timeout_ns, bool force);

/* The domain is gone: each of its devices is stopped (in-flight I/O
 * drained by ops->disconnect) and removed at once.  May sleep. */
void backdev_domain_gone(struct backdev_list *list, domid_t domid);

static inline void backdev_lock(struct backdev_list *list)
{
	mutex_lock(&list->lock);
}

static inline void backdev_unlock(struct backdev_list *list)
{
	mutex_unlock(&list->lock);
}

/* ---- for the hooks (device thread) ---- */

/* Wakes the device thread; safe from upcall context. */
static inline void backdev_wake(struct backdev *d)
{
	waitq_wake_all(&d->wq);
}

/* The handshake is done and the data path may serve the rings. */
static inline bool backdev_is_connected(const struct backdev *d)
{
	return d->phase == BACKDEV_CONNECTED;
}

/* Phase Connected, state Connected: the end of a successful ops->connect. */
void backdev_connected(struct backdev *d);

/* Fails the device for a guest's mistake: phase and state Closing, `error`
 * = why (what the guest's admin reads), ops->failed, a rate-limited log
 * line "DRIVER: NAME: why: device failed".  May sleep. */
void backdev_fail(struct backdev *d, const char *why);

/* A log line "DRIVER: NAME: message", at most one a second per device (a
 * guest can cause these as often as it likes). */
void backdev_log(struct backdev *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes BACKEND/node, FRONTEND/node (owned by the guest, dom0 reads),
 * FRONTEND/node (owned by dom0, the guest reads), LIBXL/node.  0 or -errno.
 * May sleep. */
int backdev_printf(struct backdev *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int backdev_fe_printf(struct backdev *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int backdev_fe_dom0_printf(struct backdev *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int backdev_libxl_printf(struct backdev *d, const char *node, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Reads the frontend's multi-queue-num-queues (1 when absent) into *nq; a
 * value of 0 or above max fails the device (its `error` names why).  0 or
 * -EINVAL.  May sleep.
 */
int backdev_read_num_queues(struct backdev *d, uint32_t max, uint32_t *nq);

/* The frontend directory queue q's nodes are in: the frontend directory
 * itself for a single queue, its queue-Q for several. */
void backdev_queue_dir(const struct backdev *d, uint32_t nq, uint32_t q, char *buf, size_t size);

#endif

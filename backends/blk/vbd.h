/*
 * blkback's private state, shared by the control path (xenbus.c: xenstore
 * nodes, XenbusState, connect and disconnect) and the data path (io.c: the
 * ring, grant maps, block requests, responses).
 *
 * Threads and locking: each vbd has one thread ("blkback.DOMID.DEVID", the
 * device core's, include/keel/backdev.h) that does all of its work:
 * xenstore changes, ring processing, completions.  Upcall context (the
 * event channel, the block driver's completion) only sets a flag or queues
 * a finished request under `lock`, then wakes `dev.wq`.  The
 * vbd's in-flight count (`inflight`) holds disconnect until the device has
 * finished with every page it was given: grants are unmapped only by the
 * vbd thread, after the request's completion.
 */
#ifndef BACKENDS_BLK_VBD_H
#define BACKENDS_BLK_VBD_H

#include <keel/backdev.h>
#include <keel/blkback.h>
#include <keel/blkdev.h>
#include <keel/blkif.h>
#include <keel/blkpoll.h>
#include <keel/sync.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>

#define VBD_MAX_QUEUES 4                     /* multi-queue-max-queues */
#define VBD_MAX_RING_ORDER 4                 /* max-ring-page-order: 16 pages */
#define VBD_MAX_RING_PAGES (1u << VBD_MAX_RING_ORDER)
#define VBD_MAX_INDIRECT_SEGS 256            /* feature-max-indirect-segments */
#define VBD_REQS 64                          /* requests in flight per vbd */
#define VBD_BUDGET 32                        /* requests taken per pass */

#define VBD_PGRANTS_MAX 1056                 /* persistent grants kept, as Linux */
#define VBD_PGRANT_SLOTS 2048                /* hash slots (power of two) */

struct vbd;

/* One queue's shared ring and event channel (multi-queue: one per queue;
 * request ids are the frontend's per ring, so a response goes back on the
 * ring its request came from). */
struct vbd_ring {
	struct vbd *vbd;
	void *va;
	uint32_t pages;
	grant_handle_t handles[VBD_MAX_RING_PAGES];
	blkif_back_ring_t ring;
	uint32_t size;
	evtchn_port_t port;
	bool kick;                               /* an event came (upcall) */
	bool broken;
	uint64_t kick_ns;                        /* when that event came (0: none pending) */
	uint64_t notify_ns;                      /* when we last notified responses */
	int last_class;                          /* BLKBACK_LAT_* of the last response */
};

/* A grant the frontend reuses (feature-persistent): mapped once, writable,
 * until the ring disconnects. */
struct pgrant {
	grant_ref_t gref;
	bool used;
	void *va;
	grant_handle_t handle;
	mfn_t mfn;
};

/* One guest request being served. */
struct vbd_req {
	struct vbd *vbd;
	struct vbd_ring *ring;                   /* the ring it came from */
	struct blkif_req r;
	struct blkif_seg segs[VBD_MAX_INDIRECT_SEGS];
	void *va;                                /* the mapped data pages */
	grant_handle_t handles[VBD_MAX_INDIRECT_SEGS];
	uint32_t nr_mapped;                      /* transient grants in va/handles */
	struct blk_request breq;
	struct blk_seg bsegs[VBD_MAX_INDIRECT_SEGS];
	int stage;                               /* which blk op is running */
	int status;                              /* BLKIF_RSP_* for the response */
	uint64_t t_take, t_submit, t_done;       /* ns: off the ring, to the device, done */
	struct vbd_req *next;                    /* free list or done list */
};

struct vbd {
	struct backdev dev;                      /* domid, devid, paths, thread, phase */
	char vdev[16];
	struct blkdev *bdev;
	bool writable, cdrom;
	struct blkif_limits lim;

	/* Rings (while connected): one per queue. */
	struct vbd_ring rings[VBD_MAX_QUEUES];
	uint32_t nr_rings;
	bool persistent;                         /* both ends said feature-persistent */
	struct pgrant *pgrants;                  /* VBD_PGRANT_SLOTS, while persistent */
	uint32_t nr_pgrants;

	/* Requests. */
	struct vbd_req *reqs[VBD_REQS];
	struct vbd_req *free;
	struct vbd_req *done_head, *done_tail;   /* under lock */
	struct inflight inflight;
	bool barrier_wait;                       /* a barrier holds later requests */
	struct vbd_req *held;                    /* a barrier waiting for the rest */
	union blkif_sring_entry held_slot;
	struct vbd_ring *held_ring;

	/* Events: upcalls queue completions under `lock`, then wake dev.wq. */
	struct spinlock lock;

	/* Scratch of the vbd thread (never shared between vbds or threads). */
	grant_ref_t scratch_refs[VBD_MAX_INDIRECT_SEGS];
	grant_handle_t scratch_handles[VBD_MAX_INDIRECT_SEGS];
	grant_ref_t scratch_grefs[VBD_MAX_INDIRECT_SEGS];
	struct pgrant *scratch_pg[VBD_MAX_INDIRECT_SEGS];
	uint8_t *indirect_copy;                  /* one page */

	uint64_t nr_requests, nr_errors, nr_bad, nr_pgrant_hits, nr_pgrant_maps;
	uint64_t nr_discards, nr_discard_sectors;  /* DISCARDs answered OKAY */
	struct blkback_latency lat;              /* where a request's time goes */
	struct vbd_poll poll;                    /* poll the disk or sleep (blkpoll.h) */
};

/* io.c */
/* Sets up persistent grants (if both ends want them) before the rings. */
void vbd_connect_begin(struct vbd *v, bool persistent);
/* Maps queue q's ring and binds its event channel.  0 or -errno. */
int vbd_connect_ring(struct vbd *v, uint32_t q, const grant_ref_t *refs, uint32_t nr_pages,
		     evtchn_port_t fe_port);
/* Lets go of every ring and persistent grant (in-flight count zero). */
void vbd_disconnect_ring(struct vbd *v);
bool vbd_connected(const struct vbd *v);
/* One pass of the data path; returns true if work remains. */
bool vbd_do_io(struct vbd *v);
int vbd_alloc_reqs(struct vbd *v);
void vbd_free_reqs(struct vbd *v);
bool vbd_has_work(struct vbd *v);

/* A guest's mistake fails the vbd (backdev_fail: `error`, Closing). */
static inline void vbd_fail(struct vbd *v, const char *why)
{
	backdev_fail(&v->dev, why);
}

#endif

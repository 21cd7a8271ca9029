/*
 * blkback's data path: the shared ring, grant maps, block requests and
 * responses for one vbd (see vbd.h for threads and locking).
 *
 * Each request is copied out of the shared ring once (memcpy of the whole
 * slot) and checked on that copy (blkif.c); the guest's later changes to
 * the slot cannot reach us.  Data pages are mapped with one batched
 * GNTTABOP_map_grant_ref per request, handed to the device by machine
 * address, and unmapped only after the device reported the request done.
 * Responses are built whole in private memory, then copied into the ring.
 */
#include <arch/io.h>
#include <keel/evtchn.h>
#include <keel/gnttab.h>
#include <keel/kernel.h>
#include <keel/mm.h>
#include "vbd.h"

#define PTE_ADDR_MASK 0x000ffffffffff000ULL

static mfn_t mapped_mfn(const void *va)
{
	return _mfn((vmap_pte_read(va) & PTE_ADDR_MASK) >> PAGE_SHIFT);
}

static void ring_event(evtchn_port_t port, void *ctx)
{
	struct vbd_ring *r = ctx;

	(void)port;
	if (!r->kick_ns)
		r->kick_ns = time_now_ns();
	r->kick = true;
	backdev_wake(&r->vbd->dev);
}

int vbd_alloc_reqs(struct vbd *v)
{
	v->indirect_copy = page_alloc(1);
	if (!v->indirect_copy)
		return -ENOMEM;
	for (unsigned int i = 0; i < VBD_REQS; i++) {
		struct vbd_req *r = kzalloc(sizeof(*r));
		if (!r) {
			vbd_free_reqs(v);
			return -ENOMEM;
		}
		r->vbd = v;
		r->next = v->free;
		v->free = r;
		v->reqs[i] = r;
	}
	return 0;
}

void vbd_free_reqs(struct vbd *v)
{
	if (v->indirect_copy) {
		page_free(v->indirect_copy, 1);
		v->indirect_copy = NULL;
	}
	for (unsigned int i = 0; i < VBD_REQS; i++) {
		kfree(v->reqs[i]);
		v->reqs[i] = NULL;
	}
	v->free = NULL;
}

/* ---- persistent grants ---- */

static struct pgrant *pgrant_slot(struct vbd *v, grant_ref_t gref, bool *found)
{
	uint32_t i = (gref * 2654435761u) & (VBD_PGRANT_SLOTS - 1);
	for (uint32_t n = 0; n < VBD_PGRANT_SLOTS; n++, i = (i + 1) & (VBD_PGRANT_SLOTS - 1)) {
		struct pgrant *p = &v->pgrants[i];
		if (!p->used || p->gref == gref) {
			*found = p->used;
			return p;
		}
	}
	*found = false;
	return NULL;  /* not reached: the table is never more than half full */
}

static void pgrants_release(struct vbd *v)
{
	if (!v->pgrants)
		return;
	for (uint32_t i = 0; i < VBD_PGRANT_SLOTS; i++) {
		struct pgrant *p = &v->pgrants[i];
		if (!p->used)
			continue;
		int rc = gnttab_unmap_refs(p->va, &p->handle, 1);
		if (rc)
			klog("blkback: vbd %u/%u: unmap of persistent grant %u failed (%d)\n",
			     v->dev.domid, v->dev.devid, p->gref, rc);
	}
	kfree(v->pgrants);
	v->pgrants = NULL;
	v->nr_pgrants = 0;
}

/*
 * Finds or maps (writable: the frontend reuses the page for reads and
 * writes, and grants it so) each of n grants; out[i] is grefs[i]'s entry.
 * Returns 1 when the table cannot take the new ones (the caller maps them
 * transiently instead), 0 or an errno.
 */
static int pgrants_get(struct vbd *v, const grant_ref_t *grefs, uint32_t n, struct pgrant **out)
{
	grant_ref_t *missing = v->scratch_refs;
	grant_handle_t *handles = v->scratch_handles;
	uint32_t nmiss = 0;
	bool found;

	for (uint32_t i = 0; i < n; i++) {
		pgrant_slot(v, grefs[i], &found);
		bool dup = false;
		for (uint32_t k = 0; k < nmiss && !dup; k++)
			dup = missing[k] == grefs[i];
		if (!found && !dup)
			missing[nmiss++] = grefs[i];
	}
	if (v->nr_pgrants + nmiss > VBD_PGRANTS_MAX)
		return 1;
	if (nmiss) {
		void *va;
		int rc = gnttab_map_refs(v->dev.domid, missing, nmiss, false, &va, handles, NULL);
		if (rc)
			return rc;
		for (uint32_t k = 0; k < nmiss; k++) {
			struct pgrant *p = pgrant_slot(v, missing[k], &found);
			void *pva = (char *)va + k * PAGE_SIZE;
			*p = (struct pgrant){ missing[k], true, pva, handles[k], mapped_mfn(pva) };
			v->nr_pgrants++;
		}
		v->nr_pgrant_maps += nmiss;
	}
	for (uint32_t i = 0; i < n; i++)
		out[i] = pgrant_slot(v, grefs[i], &found);
	v->nr_pgrant_hits += n - nmiss;
	return 0;
}

/* The data segments of a request through persistent grants: 1 when the
 * table is full, 0 or an errno. */
static int map_persistent(struct vbd *v, struct vbd_req *req)
{
	for (uint32_t i = 0; i < req->r.nr_segs; i++)
		v->scratch_grefs[i] = req->segs[i].gref;
	int rc = pgrants_get(v, v->scratch_grefs, req->r.nr_segs, v->scratch_pg);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < req->r.nr_segs; i++) {
		const struct blkif_seg *s = &req->segs[i];
		req->bsegs[i] = (struct blk_seg){ dma_from_mfn(v->scratch_pg[i]->mfn,
							       s->first_sect * SECTOR_BYTES),
						  (uint32_t)(s->last_sect - s->first_sect + 1) *
							  SECTOR_BYTES };
	}
	return 0;
}

void vbd_connect_begin(struct vbd *v, bool persistent)
{
	vbd_poll_init(&v->poll);
	v->persistent = false;
	if (persistent) {
		v->pgrants = kzalloc(VBD_PGRANT_SLOTS * sizeof(*v->pgrants));
		v->persistent = v->pgrants != NULL;
	}
}

int vbd_connect_ring(struct vbd *v, uint32_t q, const grant_ref_t *refs, uint32_t nr_pages,
		     evtchn_port_t fe_port)
{
	struct vbd_ring *r = &v->rings[q];

	r->vbd = v;
	int rc = gnttab_map_refs(v->dev.domid, refs, nr_pages, false, &r->va, r->handles, NULL);
	if (rc)
		return rc;
	r->pages = nr_pages;
	BACK_RING_INIT(&r->ring, (blkif_sring_t *)r->va, nr_pages * PAGE_SIZE);
	r->size = RING_SIZE(&r->ring);
	r->broken = false;
	r->kick = true;
	rc = evtchn_bind_interdomain(v->dev.domid, fe_port, ring_event, r, &r->port);
	if (rc) {
		gnttab_unmap_refs(r->va, r->handles, nr_pages);
		r->va = NULL;
		r->port = 0;
		return rc;
	}
	if (q + 1 > v->nr_rings)
		v->nr_rings = q + 1;
	return 0;
}

bool vbd_connected(const struct vbd *v)
{
	return v->nr_rings && v->rings[0].va;
}

/* Only called once the in-flight count is zero. */
void vbd_disconnect_ring(struct vbd *v)
{
	pgrants_release(v);
	v->persistent = false;
	/* A barrier the old ring left waiting must not hold a new one. */
	v->barrier_wait = false;
	for (uint32_t q = 0; q < VBD_MAX_QUEUES; q++) {
		struct vbd_ring *r = &v->rings[q];
		if (r->port) {
			evtchn_close(r->port);
			r->port = 0;
		}
		if (r->va) {
			int rc = gnttab_unmap_refs(r->va, r->handles, r->pages);
			if (rc)
				klog("blkback: vbd %u/%u: ring unmap failed (%d)\n", v->dev.domid, v->dev.devid,
				     rc);
			r->va = NULL;
		}
	}
	v->nr_rings = 0;
}

/* The operation a response names: blkfront expects an INDIRECT request's
 * inner operation (READ/WRITE) there, as Linux's blkback answers. */
static uint8_t rsp_op(const struct blkif_req *r)
{
	return r->operation == BLKIF_OP_INDIRECT ? r->data_op : r->operation;
}

/* The latency class of a request (struct blkback_latency). */
static int lat_class(const struct vbd_req *req)
{
	return req->r.operation != BLKIF_OP_DISCARD && req->r.nr_sectors > PAGE_SIZE / SECTOR_BYTES
		       ? BLKBACK_LAT_LARGE
		       : BLKBACK_LAT_SMALL;
}

/* Answers a request on the ring it came from. */
static void respond(struct vbd *v, struct vbd_req *req, int16_t status)
{
	struct vbd_ring *r = req->ring;
	struct blkif_response rsp;

	blkif_make_response(&rsp, req->r.id, rsp_op(&req->r), status);
	memcpy(RING_GET_RESPONSE(&r->ring, r->ring.rsp_prod_pvt), &rsp, sizeof(rsp));
	r->ring.rsp_prod_pvt++;
	r->last_class = lat_class(req);
	if (status != BLKIF_RSP_OKAY) {
		v->nr_errors++;
	} else if (req->r.operation == BLKIF_OP_DISCARD) {
		v->nr_discards++;
		v->nr_discard_sectors += req->r.nr_sectors;
	}
}

static void push_responses(struct vbd *v)
{
	for (uint32_t q = 0; q < v->nr_rings; q++) {
		struct vbd_ring *r = &v->rings[q];
		int notify;
		if (!r->va)
			continue;
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&r->ring, notify);
		if (notify) {
			evtchn_notify(r->port);
			r->notify_ns = time_now_ns();
			sched_mark_handoff();
		}
	}
}

static void req_release(struct vbd *v, struct vbd_req *req)
{
	if (req->nr_mapped) {
		int rc = gnttab_unmap_refs(req->va, req->handles, req->nr_mapped);
		if (rc)
			klog("blkback: vbd %u/%u: unmap of %u grants failed (%d)\n", v->dev.domid,
			     v->dev.devid, req->nr_mapped, rc);
		req->nr_mapped = 0;
	}
	req->next = v->free;
	v->free = req;
}

/* Block-layer completion: any context.  Queues the request for the thread. */
static void blk_done(struct blk_request *breq, int status)
{
	struct vbd_req *req = breq->ctx;
	struct vbd *v = req->vbd;

	req->t_done = time_now_ns();
	if (status)
		req->status = status == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
	unsigned long f = spin_lock_irqsave(&v->lock);
	req->next = NULL;
	if (v->done_tail)
		v->done_tail->next = req;
	else
		v->done_head = req;
	v->done_tail = req;
	spin_unlock_irqrestore(&v->lock, f);
	backdev_wake(&v->dev);
}

static int submit(struct vbd *v, struct vbd_req *req, enum blk_op op)
{
	req->breq = (struct blk_request){ .op = op, .done = blk_done, .ctx = req };
	if (req->stage == 0)
		req->t_submit = time_now_ns();
	if (op == BLK_OP_READ || op == BLK_OP_WRITE) {
		req->breq.sector = req->r.sector;
		req->breq.nr_segs = (uint16_t)req->r.nr_segs;
		req->breq.segs = req->bsegs;
	} else if (op == BLK_OP_DISCARD) {
		req->breq.sector = req->r.sector;
		req->breq.nr_sectors = req->r.nr_sectors;
	}
	return blk_submit(v->bdev, &req->breq);
}

/* Maps the data pages and fills the block segments. */
static int map_data(struct vbd *v, struct vbd_req *req)
{
	grant_ref_t *refs = v->scratch_refs;
	bool to_device = req->r.data_op != BLKIF_OP_READ;  /* the device reads guest pages */

	if (v->persistent) {
		int rc = map_persistent(v, req);
		if (rc <= 0)
			return rc;
		/* The table is full: this request's grants are mapped for it alone. */
	}
	for (uint32_t i = 0; i < req->r.nr_segs; i++)
		refs[i] = req->segs[i].gref;
	int rc = gnttab_map_refs(v->dev.domid, refs, req->r.nr_segs, to_device, &req->va,
				 req->handles, NULL);
	if (rc)
		return rc;
	req->nr_mapped = req->r.nr_segs;
	for (uint32_t i = 0; i < req->r.nr_segs; i++) {
		const struct blkif_seg *s = &req->segs[i];
		mfn_t m = mapped_mfn((char *)req->va + i * PAGE_SIZE);
		req->bsegs[i] = (struct blk_seg){ dma_from_mfn(m, s->first_sect * SECTOR_BYTES),
						  (uint32_t)(s->last_sect - s->first_sect + 1) *
							  SECTOR_BYTES };
	}
	return 0;
}

/* INDIRECT: the segment list lives in guest pages; copy it out once (from
 * persistent mappings when the frontend reuses its indirect pages, as
 * blkfront does with feature-persistent; else mapped for this request). */
static int read_indirect(struct vbd *v, struct vbd_req *req)
{
	uint8_t *copy = v->indirect_copy;
	uint32_t np = req->r.nr_indirect_pages;
	struct pgrant *pg[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	grant_handle_t h[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	void *va = NULL;
	int rc = 1;

	if (v->persistent)
		rc = pgrants_get(v, req->r.indirect_grefs, np, pg);
	if (rc < 0)
		return BLKIF_RSP_ERROR;
	if (rc == 1 && gnttab_map_refs(v->dev.domid, req->r.indirect_grefs, np, true, &va, h, NULL))
		return BLKIF_RSP_ERROR;
	int status = BLKIF_RSP_OKAY;
	for (uint32_t p = 0; p < np && status == BLKIF_RSP_OKAY; p++) {
		memcpy(copy, va ? (char *)va + p * PAGE_SIZE : pg[p]->va, PAGE_SIZE);
		status = blkif_parse_indirect_page(copy, p, &req->r);
	}
	if (va)
		gnttab_unmap_refs(va, h, np);
	if (status == BLKIF_RSP_OKAY)
		status = blkif_check_bounds(&req->r, &v->lim);
	return status;
}

/* Stages of a request: 0 data (or the op itself), 1 flush after data. */
static bool wants_flush_after(const struct vbd_req *req)
{
	return (req->r.operation == BLKIF_OP_FLUSH_DISKCACHE ||
		req->r.operation == BLKIF_OP_WRITE_BARRIER) && req->r.nr_segs > 0;
}

static void finish(struct vbd *v, struct vbd_req *req)
{
	if (req->r.operation == BLKIF_OP_WRITE_BARRIER)
		v->barrier_wait = false;
	if (req->t_submit && req->t_done >= req->t_submit) {
		uint64_t now = time_now_ns();
		int c = lat_class(req);
		v->lat.c[c].map_ns += req->t_submit - req->t_take;
		v->lat.c[c].device_ns += req->t_done - req->t_submit;
		v->lat.c[c].reap_ns += now - req->t_done;
		v->lat.c[c].nr_done++;
	}
	respond(v, req, (int16_t)req->status);
	req_release(v, req);
	inflight_put(&v->inflight);
}

/* Starts (or continues) a checked request on the device. */
static void run_stage(struct vbd *v, struct vbd_req *req)
{
	struct blkdev *disk = blkdev_disk_of(v->bdev);
	int rc = 0;

	if (req->stage == 0) {
		switch (req->r.operation) {
		case BLKIF_OP_READ:
		case BLKIF_OP_WRITE:
		case BLKIF_OP_INDIRECT:
			rc = submit(v, req, req->r.data_op == BLKIF_OP_READ ? BLK_OP_READ : BLK_OP_WRITE);
			break;
		case BLKIF_OP_FLUSH_DISKCACHE:
		case BLKIF_OP_WRITE_BARRIER:
			if (req->r.nr_segs)
				rc = submit(v, req, BLK_OP_WRITE);
			else if (disk->can_flush)
				rc = submit(v, req, BLK_OP_FLUSH);
			else {
				finish(v, req);  /* no volatile cache: nothing to flush */
				return;
			}
			break;
		case BLKIF_OP_DISCARD:
			rc = submit(v, req, BLK_OP_DISCARD);
			break;
		default:
			rc = -EOPNOTSUPP;
		}
	} else {
		if (!disk->can_flush) {
			finish(v, req);
			return;
		}
		rc = submit(v, req, BLK_OP_FLUSH);
	}
	if (rc) {
		req->status = rc == -EOPNOTSUPP ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
		finish(v, req);
	}
}

/*
 * Answers a request that never reached the device.  A barrier refused here
 * (malformed, a bad grant, a read-only vbd) holds nothing back: without
 * clearing barrier_wait the ring would stall for ever behind it.
 */
static void reject(struct vbd *v, struct vbd_req *req, int16_t status)
{
	if (req->r.operation == BLKIF_OP_WRITE_BARRIER)
		v->barrier_wait = false;
	respond(v, req, status);
	req_release(v, req);
}

static void start(struct vbd *v, struct vbd_req *req, const union blkif_sring_entry *slot)
{
	req->r.segs = req->segs;
	req->t_take = time_now_ns();
	req->t_submit = req->t_done = 0;
	req->stage = 0;
	req->nr_mapped = 0;
	req->status = blkif_parse_request(slot, &v->lim, &req->r);
	if (req->status == BLKIF_RSP_OKAY && req->r.operation == BLKIF_OP_INDIRECT)
		req->status = read_indirect(v, req);
	if (req->status != BLKIF_RSP_OKAY) {
		static uint64_t last_ns;
		if (klog_due(&last_ns))
			klog("blkback: vbd %u/%u: request (operation %u, sector %llu, %u segments) "
			     "answered %d\n", v->dev.domid, v->dev.devid, req->r.operation,
			     (unsigned long long)req->r.sector, req->r.nr_segs, req->status);
		v->nr_bad++;
		reject(v, req, (int16_t)req->status);
		return;
	}
	if (req->r.nr_segs && map_data(v, req)) {
		v->nr_bad++;
		reject(v, req, BLKIF_RSP_ERROR);
		return;
	}
	if (!inflight_get(&v->inflight)) {
		reject(v, req, BLKIF_RSP_ERROR);
		return;
	}
	run_stage(v, req);
}

static void reap_completions(struct vbd *v)
{
	for (;;) {
		unsigned long f = spin_lock_irqsave(&v->lock);
		struct vbd_req *req = v->done_head;
		if (req) {
			v->done_head = req->next;
			if (!v->done_head)
				v->done_tail = NULL;
		}
		spin_unlock_irqrestore(&v->lock, f);
		if (!req)
			return;
		if (req->stage == 0 && req->status == BLKIF_RSP_OKAY && wants_flush_after(req)) {
			req->stage = 1;
			run_stage(v, req);
			continue;
		}
		finish(v, req);
	}
}

bool vbd_has_work(struct vbd *v)
{
	if (v->done_head || (v->held && v->inflight.count == 0))
		return true;
	if (!vbd_connected(v) || !backdev_is_connected(&v->dev))
		return false;
	for (uint32_t q = 0; q < v->nr_rings; q++)
		if (v->rings[q].kick && !v->rings[q].broken)
			return true;
	return false;
}

/* Time from the guest's event to this pass and, when the event follows our
 * last response notify, the guest's side of the round trip. */
static void account_kick(struct vbd *v, struct vbd_ring *r)
{
	uint64_t kick = __atomic_exchange_n(&r->kick_ns, 0, __ATOMIC_ACQ_REL);
	if (!kick)
		return;
	v->lat.wake_ns += time_now_ns() - kick;
	v->lat.nr_wake++;
	if (r->notify_ns && kick > r->notify_ns) {
		v->lat.c[r->last_class].guest_ns += kick - r->notify_ns;
		v->lat.c[r->last_class].nr_guest++;
	}
	r->notify_ns = 0;
}

/* Takes up to VBD_BUDGET requests from ring r; true if it stopped on the
 * budget with more waiting, -1 (as true) never: a broken ring fails the vbd. */
static bool ring_pass(struct vbd *v, struct vbd_ring *r, bool *failed)
{
	bool more = false;

	r->kick = false;
	account_kick(v, r);
	for (unsigned int n = 0; n < VBD_BUDGET; n++) {
		if (!v->free || v->barrier_wait)
			return false;  /* a completion will wake us */
		/* Read the producer index once, then only trust it within bounds. */
		uint32_t prod = __atomic_load_n(&r->ring.sring->req_prod, __ATOMIC_ACQUIRE);
		int pending = blkif_ring_pending(prod, r->ring.req_cons, r->size);
		if (pending < 0 || r->ring.req_cons - r->ring.rsp_prod_pvt > r->size) {
			r->broken = true;
			vbd_fail(v, "impossible ring indices");
			*failed = true;
			return false;
		}
		if (pending == 0) {
			/* Ask for an event at the next request, then look again. */
			r->ring.sring->req_event = r->ring.req_cons + 1;
			mb();
			prod = __atomic_load_n(&r->ring.sring->req_prod, __ATOMIC_ACQUIRE);
			if (prod == r->ring.req_cons)
				break;
			continue;
		}
		union blkif_sring_entry slot;
		memcpy(&slot, RING_GET_REQUEST(&r->ring, r->ring.req_cons), sizeof(slot));
		r->ring.req_cons++;
		v->nr_requests++;
		struct vbd_req *req = v->free;
		v->free = req->next;
		req->ring = r;
		/* A barrier waits for every earlier request to finish (on every
		 * ring), and nothing after it starts until it is done. */
		if (slot.req.operation == BLKIF_OP_WRITE_BARRIER) {
			v->barrier_wait = true;
			if (v->inflight.count) {
				v->held = req;
				v->held_slot = slot;
				return false;
			}
		}
		start(v, req, &slot);
		more = n + 1 == VBD_BUDGET;
	}
	return more;
}

uint32_t blkback_poll_us = BLKBACK_POLL_US_DEFAULT;

/*
 * With requests at the disk and nothing else to do, polls the disk for
 * their completion for up to blkback_poll_us instead of sleeping until its
 * interrupt (include/keel/blkpoll.h says why and when).  Stops early for
 * any other work: another dom0 thread ready to run, a new request or a
 * detach.  True if the vbd has work again (the caller passes again).
 */
static bool poll_device(struct vbd *v)
{
	uint32_t us = __atomic_load_n(&blkback_poll_us, __ATOMIC_RELAXED);
	if (!us || !v->inflight.count || sched_others_runnable() || !vbd_poll_wanted(&v->poll))
		return false;
	uint64_t end = time_now_ns() + (uint64_t)us * 1000;
	for (;;) {
		if (!blkdev_poll(v->bdev))
			return false;
		if (__atomic_load_n(&v->done_head, __ATOMIC_ACQUIRE)) {
			vbd_poll_result(&v->poll, true);
			return true;
		}
		if (vbd_has_work(v) || v->dev.stop || sched_others_runnable())
			return true;  /* not the device's fault: no verdict */
		if (time_now_ns() >= end)
			break;
		cpu_relax();
	}
	vbd_poll_result(&v->poll, false);
	return false;
}

bool vbd_do_io(struct vbd *v)
{
	bool more = false, failed = false;

	reap_completions(v);
	if (!vbd_connected(v) || !backdev_is_connected(&v->dev)) {
		if (vbd_connected(v))
			push_responses(v);
		return false;
	}
	if (v->held && v->inflight.count == 0) {
		struct vbd_req *req = v->held;
		v->held = NULL;
		start(v, req, &v->held_slot);
	}
	for (uint32_t q = 0; q < v->nr_rings && !failed; q++)
		if (!v->rings[q].broken && ring_pass(v, &v->rings[q], &failed))
			more = true;
	push_responses(v);
	if (!more && !failed && poll_device(v))
		more = true;
	return more && !failed;
}

/*
 * Checks of PV block requests (include/keel/blkif.h).  Everything here reads
 * the backend's private copy of a request, so a guest changing the shared
 * ring under us cannot make a check and the later use disagree.
 */
#include <keel/blkif.h>

int blkif_ring_pending(uint32_t req_prod, uint32_t req_cons, uint32_t ring_size)
{
	uint32_t n = req_prod - req_cons;  /* free-running indices wrap */

	if (n > ring_size)
		return -EIO;
	return (int)n;
}

static bool seg_ok(const struct blkif_request_segment *s)
{
	/* A segment is sectors first..last of one 4 KiB page (8 sectors). */
	return s->first_sect <= s->last_sect && s->last_sect < 8;
}

int blkif_parse_request(const union blkif_sring_entry *slot, const struct blkif_limits *lim,
			struct blkif_req *out)
{
	const struct blkif_request *rq = &slot->req;

	out->id = rq->id;
	out->operation = rq->operation;
	out->data_op = rq->operation;
	out->nr_segs = 0;
	out->nr_sectors = 0;
	out->nr_indirect_pages = 0;
	out->secure = false;
	switch (rq->operation) {
	case BLKIF_OP_READ:
	case BLKIF_OP_WRITE:
	case BLKIF_OP_WRITE_BARRIER:
	case BLKIF_OP_FLUSH_DISKCACHE:
		if (rq->operation == BLKIF_OP_WRITE_BARRIER && !lim->can_barrier)
			return BLKIF_RSP_EOPNOTSUPP;
		if (rq->operation == BLKIF_OP_FLUSH_DISKCACHE && !lim->can_flush)
			return BLKIF_RSP_EOPNOTSUPP;
		/* Nothing may be written to a read-only vbd; a flush or barrier
		 * without data writes nothing and is answered. */
		if (lim->read_only && rq->operation != BLKIF_OP_READ &&
		    (rq->operation == BLKIF_OP_WRITE || rq->nr_segments))
			return BLKIF_RSP_ERROR;
		out->handle = rq->handle;
		out->sector = rq->sector_number;
		/* READ/WRITE carry 1..11 segments; a flush or barrier may carry
		 * data (written first) or none. */
		if (rq->nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST)
			return BLKIF_RSP_ERROR;
		if (rq->nr_segments == 0 &&
		    (rq->operation == BLKIF_OP_READ || rq->operation == BLKIF_OP_WRITE))
			return BLKIF_RSP_ERROR;
		out->nr_segs = rq->nr_segments;
		for (unsigned int i = 0; i < rq->nr_segments; i++) {
			if (!seg_ok(&rq->seg[i]))
				return BLKIF_RSP_ERROR;
			out->segs[i] = (struct blkif_seg){ rq->seg[i].gref, rq->seg[i].first_sect,
							   rq->seg[i].last_sect };
		}
		/* A flush or barrier without data names no sectors: Linux's
		 * blkfront sends sector_number = ~0 with it. */
		if (rq->nr_segments == 0)
			return BLKIF_RSP_OKAY;
		return blkif_check_bounds(out, lim);
	case BLKIF_OP_DISCARD: {
		struct blkif_request_discard dd;
		memcpy(&dd, &slot->req, sizeof(dd));
		const struct blkif_request_discard *d = &dd;
		if (!lim->can_discard)
			return BLKIF_RSP_EOPNOTSUPP;
		if (lim->read_only)
			return BLKIF_RSP_ERROR;
		out->handle = d->handle;
		out->sector = d->sector_number;
		out->nr_sectors = d->nr_sectors;
		out->secure = d->flag & BLKIF_DISCARD_SECURE;
		if (out->secure && !lim->discard_secure)
			return BLKIF_RSP_EOPNOTSUPP;
		if (out->nr_sectors == 0 || out->sector > lim->dev_sectors ||
		    out->nr_sectors > lim->dev_sectors - out->sector)
			return BLKIF_RSP_ERROR;
		return BLKIF_RSP_OKAY;
	}
	case BLKIF_OP_INDIRECT: {
		struct blkif_request_indirect ind;
		memcpy(&ind, &slot->req, sizeof(ind));
		const struct blkif_request_indirect *in = &ind;
		if (!lim->max_indirect_segs)
			return BLKIF_RSP_EOPNOTSUPP;
		out->data_op = in->indirect_op;
		out->handle = in->handle;
		out->sector = in->sector_number;
		if (in->indirect_op != BLKIF_OP_READ && in->indirect_op != BLKIF_OP_WRITE)
			return BLKIF_RSP_ERROR;
		if (in->indirect_op == BLKIF_OP_WRITE && lim->read_only)
			return BLKIF_RSP_ERROR;
		if (in->nr_segments == 0 || in->nr_segments > lim->max_indirect_segs)
			return BLKIF_RSP_ERROR;
		out->nr_segs = in->nr_segments;
		out->nr_indirect_pages = (uint32_t)((in->nr_segments + BLKIF_SEGS_PER_INDIRECT_PAGE - 1) /
						    BLKIF_SEGS_PER_INDIRECT_PAGE);
		if (out->nr_indirect_pages > BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
			return BLKIF_RSP_ERROR;
		for (unsigned int i = 0; i < out->nr_indirect_pages; i++)
			out->indirect_grefs[i] = in->indirect_grefs[i];
		return BLKIF_RSP_OKAY;
	}
	default:
		return BLKIF_RSP_EOPNOTSUPP;
	}
}

int blkif_parse_indirect_page(const void *page_copy, unsigned int page_index,
			      struct blkif_req *out)
{
	const struct blkif_request_segment *segs = page_copy;
	uint32_t first = page_index * (uint32_t)BLKIF_SEGS_PER_INDIRECT_PAGE;

	if (out->operation != BLKIF_OP_INDIRECT || page_index >= out->nr_indirect_pages)
		return BLKIF_RSP_ERROR;
	for (uint32_t i = first; i < out->nr_segs && i - first < BLKIF_SEGS_PER_INDIRECT_PAGE; i++) {
		const struct blkif_request_segment *s = &segs[i - first];
		if (!seg_ok(s))
			return BLKIF_RSP_ERROR;
		out->segs[i] = (struct blkif_seg){ s->gref, s->first_sect, s->last_sect };
	}
	return BLKIF_RSP_OKAY;
}

int blkif_check_bounds(struct blkif_req *r, const struct blkif_limits *lim)
{
	uint64_t n = 0;

	for (uint32_t i = 0; i < r->nr_segs; i++)
		n += (uint64_t)r->segs[i].last_sect - r->segs[i].first_sect + 1;
	r->nr_sectors = n;
	if (r->sector > lim->dev_sectors || n > lim->dev_sectors - r->sector)
		return BLKIF_RSP_ERROR;
	return BLKIF_RSP_OKAY;
}

void blkif_make_response(struct blkif_response *rsp, uint64_t id, uint8_t operation,
			 int16_t status)
{
	memset(rsp, 0, sizeof(*rsp));
	rsp->id = id;
	rsp->operation = operation;
	rsp->status = status;
}

/* blkback's request checks: what a hostile or broken blkfront can send. */
#include "harness.h"
#include <keel/blkif.h>

static struct blkif_limits lim(void)
{
	return (struct blkif_limits){ .dev_sectors = 1000, .max_indirect_segs = 256,
				      .can_flush = true, .can_barrier = true,
				      .can_discard = true };
}

static union blkif_sring_entry rw(uint8_t op, uint64_t sector, unsigned n)
{
	union blkif_sring_entry e;
	memset(&e, 0, sizeof(e));
	e.req.operation = op;
	e.req.id = 0x1234;
	e.req.sector_number = sector;
	e.req.nr_segments = (uint8_t)n;
	for (unsigned i = 0; i < n && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) {
		e.req.seg[i].gref = 100 + i;
		e.req.seg[i].first_sect = 0;
		e.req.seg[i].last_sect = 7;
	}
	return e;
}

static struct blkif_seg segs[1024];

TEST(read_write_ok)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e = rw(BLKIF_OP_WRITE, 8, 11);
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	CHECK_EQ(r.nr_segs, 11);
	CHECK_EQ(r.nr_sectors, 88);
	CHECK_EQ(r.id, 0x1234);
	CHECK_EQ(segs[10].gref, 110);
	e.req.seg[3].first_sect = 2;
	e.req.seg[3].last_sect = 2;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	CHECK_EQ(r.nr_sectors, 81);
}

TEST(malformed_segments)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e = rw(BLKIF_OP_READ, 0, 2);
	e.req.seg[1].first_sect = 5;
	e.req.seg[1].last_sect = 4;          /* first > last */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e.req.seg[1].first_sect = 0;
	e.req.seg[1].last_sect = 8;          /* past the page */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_READ, 0, 12);        /* more than 11 */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_WRITE, 0, 0);        /* no data */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);  /* a flush may carry none */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	e = rw(BLKIF_OP_FLUSH_DISKCACHE, ~0ull, 0);  /* as Linux's blkfront sends it */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
}

TEST(bounds)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e = rw(BLKIF_OP_READ, 992, 1);  /* 992..999: last 8 */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	e = rw(BLKIF_OP_READ, 993, 1);
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_READ, ~0ull - 3, 1);  /* would wrap */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
}

TEST(operations_not_offered)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	l.can_flush = l.can_barrier = l.can_discard = false;
	l.max_indirect_segs = 0;
	union blkif_sring_entry e = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	e.req.operation = BLKIF_OP_WRITE_BARRIER;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	e.req.operation = BLKIF_OP_DISCARD;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	e.req.operation = BLKIF_OP_INDIRECT;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	e.req.operation = BLKIF_OP_RESERVED_1;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	e.req.operation = 200;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
	CHECK_EQ(r.operation, 200);          /* echoed in the response */
}

TEST(read_only_refuses_writes)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	l.read_only = true;
	union blkif_sring_entry e = rw(BLKIF_OP_WRITE, 0, 1);
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_READ, 0, 1);
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	e = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 0);      /* writes nothing */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	e = rw(BLKIF_OP_FLUSH_DISKCACHE, 0, 1);      /* with data: refused */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e.req.operation = BLKIF_OP_DISCARD;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
}

TEST(discard)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e;
	struct blkif_request_discard *d = (struct blkif_request_discard *)&e.req;
	memset(&e, 0, sizeof(e));
	d->operation = BLKIF_OP_DISCARD;
	d->sector_number = 100;
	d->nr_sectors = 900;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	CHECK_EQ(r.nr_sectors, 900);
	d->nr_sectors = 901;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	d->nr_sectors = 0;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	d->nr_sectors = 1;
	d->flag = BLKIF_DISCARD_SECURE;   /* not offered */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
}

TEST(indirect)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e;
	struct blkif_request_indirect *in = (struct blkif_request_indirect *)&e.req;
	static struct blkif_request_segment page[512];
	memset(&e, 0, sizeof(e));
	in->operation = BLKIF_OP_INDIRECT;
	in->indirect_op = BLKIF_OP_WRITE;
	in->nr_segments = 256;
	in->sector_number = 0;
	in->indirect_grefs[0] = 7;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_OKAY);
	CHECK_EQ(r.nr_indirect_pages, 1);
	CHECK_EQ(r.data_op, BLKIF_OP_WRITE);
	for (int i = 0; i < 512; i++)
		page[i] = (struct blkif_request_segment){ .gref = (grant_ref_t)i, .first_sect = 0,
							  .last_sect = 0 };
	CHECK_EQ(blkif_parse_indirect_page(page, 0, &r), BLKIF_RSP_OKAY);
	CHECK_EQ(blkif_check_bounds(&r, &l), BLKIF_RSP_OKAY);
	CHECK_EQ(r.nr_sectors, 256);
	CHECK_EQ(blkif_parse_indirect_page(page, 1, &r), BLKIF_RSP_ERROR);  /* no page 1 */
	page[200].last_sect = 9;
	CHECK_EQ(blkif_parse_indirect_page(page, 0, &r), BLKIF_RSP_ERROR);
	page[200].last_sect = 0;
	l.dev_sectors = 255;
	CHECK_EQ(blkif_check_bounds(&r, &l), BLKIF_RSP_ERROR);
	in->nr_segments = 257;                 /* over the negotiated 256 */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	in->nr_segments = 1;
	in->indirect_op = BLKIF_OP_DISCARD;     /* only READ/WRITE nest */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
}

TEST(ring_indices)
{
	CHECK_EQ(blkif_ring_pending(5, 3, 32), 2);
	CHECK_EQ(blkif_ring_pending(3, 0xfffffffe, 32), 5);    /* wrapped */
	CHECK_EQ(blkif_ring_pending(40, 3, 32), -EIO);          /* more than the ring */
	CHECK_EQ(blkif_ring_pending(2, 3, 32), -EIO);           /* behind the consumer */
}

TEST(response_fully_defined)
{
	struct blkif_response rsp;
	memset(&rsp, 0xa5, sizeof(rsp));
	blkif_make_response(&rsp, 9, BLKIF_OP_READ, BLKIF_RSP_ERROR);
	unsigned char *b = (unsigned char *)&rsp;
	CHECK_EQ(rsp.id, 9);
	CHECK_EQ(rsp.status, BLKIF_RSP_ERROR);
	CHECK_EQ(b[9], 0);   /* padding between operation and status */
	CHECK_EQ(b[12], 0);  /* tail padding */
}

/* The requests tests/integration/blkhostile.c sends, at the pure layer. */
TEST(hostile_frontend_cases)
{
	struct blkif_limits l = lim();
	struct blkif_req r = { .segs = segs };
	union blkif_sring_entry e = rw(BLKIF_OP_READ, 0, 11);
	e.req.nr_segments = 255;             /* segments past the slot's end */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_READ, ~0ull - 7, 2); /* 16 sectors from 2^64-8: wraps */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_READ, l.dev_sectors, 1);
	e.req.seg[0].last_sect = 0;          /* one sector, just past the end */
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	e = rw(BLKIF_OP_WRITE, 0, 1);
	e.req.seg[0].first_sect = 255;
	e.req.seg[0].last_sect = 255;
	CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	static const uint8_t unknown[] = { BLKIF_OP_RESERVED_1, 7, 8, 99, 255 };
	for (unsigned i = 0; i < sizeof(unknown); i++) {
		e = rw(unknown[i], 0, 1);
		CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_EOPNOTSUPP);
		CHECK_EQ(r.operation, unknown[i]);  /* echoed in the response */
	}
	struct blkif_request_indirect *in = (struct blkif_request_indirect *)&e.req;
	static const struct { uint8_t op; uint16_t nr; } bad[] = {
		{ BLKIF_OP_READ, 0 }, { BLKIF_OP_READ, 65535 }, { BLKIF_OP_WRITE, 257 },
		{ BLKIF_OP_INDIRECT, 8 }, { BLKIF_OP_WRITE_BARRIER, 8 }, { 99, 8 },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&e, 0xa5, sizeof(e));
		in->operation = BLKIF_OP_INDIRECT;
		in->indirect_op = bad[i].op;
		in->nr_segments = bad[i].nr;
		in->sector_number = 0;
		CHECK_EQ(blkif_parse_request(&e, &l, &r), BLKIF_RSP_ERROR);
	}
	/* A ring exactly full is fine; one more is impossible. */
	CHECK_EQ(blkif_ring_pending(100 + 32, 100, 32), 32);
	CHECK_EQ(blkif_ring_pending(100 + 33, 100, 32), -EIO);
}

static const struct test_case tests[] = {
	T(read_write_ok), T(malformed_segments), T(bounds), T(operations_not_offered),
	T(read_only_refuses_writes), T(discard), T(indirect), T(ring_indices),
	T(response_fully_defined), T(hostile_frontend_cases),
};

int main(void)
{
	return run_tests(tests, ARRAY_SIZE(tests));
}

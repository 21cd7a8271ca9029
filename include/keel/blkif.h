/*
 * The PV block protocol's request checks (backends/blk/blkif.c), pure so the
 * host unit tests and fuzzers run them unchanged.  blkback's ring data path
 * copies each request out of the shared ring exactly once into a local
 * union blkif_sring_entry and hands that copy here; nothing in this module
 * ever reads guest-shared memory.  Field meanings: xen/io/blkif.h.
 */
#ifndef KEEL_BLKIF_H
#define KEEL_BLKIF_H

#include <lib/base.h>
#include <xen/grant_table.h>

/* The ring macros of xen/io/ring.h leave their barriers to the includer.
 * Only the kernel's ring code uses them (x86: see arch/io.h). */
#ifndef xen_mb
#define xen_mb() __asm__ volatile("mfence" ::: "memory")
#define xen_rmb() __asm__ volatile("" ::: "memory")
#define xen_wmb() __asm__ volatile("" ::: "memory")
#endif
#include <xen/io/blkif.h>

/* Segments per indirect page (4096 / 8). */
#define BLKIF_SEGS_PER_INDIRECT_PAGE (4096 / sizeof(struct blkif_request_segment))

/* What the backend negotiated with this frontend. */
struct blkif_limits {
	uint64_t dev_sectors;          /* the vbd's size in 512-byte sectors */
	uint32_t max_indirect_segs;    /* feature-max-indirect-segments; 0: no INDIRECT */
	bool read_only;                /* mode "r" */
	bool can_flush;                /* feature-flush-cache */
	bool can_barrier;              /* feature-barrier */
	bool can_discard;              /* feature-discard */
	bool discard_secure;           /* discard-secure */
};

struct blkif_seg {
	grant_ref_t gref;
	uint8_t first_sect, last_sect; /* 0 <= first <= last <= 7 */
};

/* A request as the backend acts on it: our own memory, already checked. */
struct blkif_req {
	uint64_t id;                   /* echoed in the response */
	uint8_t operation;             /* the ring's operation byte (INDIRECT stays INDIRECT) */
	uint8_t data_op;               /* READ/WRITE for INDIRECT, else = operation */
	uint16_t handle;
	uint64_t sector;
	uint64_t nr_sectors;           /* data: sum of the segments; DISCARD: its length */
	bool secure;                   /* DISCARD with BLKIF_DISCARD_SECURE */
	uint32_t nr_segs;
	uint32_t nr_indirect_pages;    /* INDIRECT: pages listed in indirect_grefs */
	grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
	/* Direct requests: the segments.  INDIRECT: filled later by
	 * blkif_parse_indirect_page() from copies of the indirect pages. */
	struct blkif_seg *segs;        /* caller's array of >= max segments */
};

/*
 * Checks the request copied into *slot and fills *out (out->segs must have
 * room for BLKIF_MAX_SEGMENTS_PER_REQUEST entries, or max_indirect_segs for
 * INDIRECT).  Returns BLKIF_RSP_OKAY, BLKIF_RSP_EOPNOTSUPP (an operation
 * this vbd did not offer) or BLKIF_RSP_ERROR (malformed: bad segment count,
 * sectors out of order or past the device, write to a read-only vbd).
 * out->id and out->operation are set whatever the result, for the response.
 * For INDIRECT, segment bounds are checked by blkif_parse_indirect_page and
 * blkif_check_bounds once the pages are read.
 */
int blkif_parse_request(const union blkif_sring_entry *slot, const struct blkif_limits *lim,
			struct blkif_req *out);

/*
 * Copies and checks the segments of indirect page `page_index` (a private
 * copy of the guest's page) into out->segs.  BLKIF_RSP_OKAY or _ERROR.
 */
int blkif_parse_indirect_page(const void *page_copy, unsigned int page_index,
			      struct blkif_req *out);

/* After every segment is known: sums nr_sectors and checks it fits the
 * device.  BLKIF_RSP_OKAY or _ERROR. */
int blkif_check_bounds(struct blkif_req *r, const struct blkif_limits *lim);

/* A response with every byte defined (XSA-216: no stale padding). */
void blkif_make_response(struct blkif_response *rsp, uint64_t id, uint8_t operation,
			 int16_t status);

/*
 * The number of requests a ring holds for the backend, from one read of the
 * guest's req_prod: -EIO when the index claims more than the ring can hold
 * (a guest that is broken or hostile: fail the vbd), else the count.
 */
int blkif_ring_pending(uint32_t req_prod, uint32_t req_cons, uint32_t ring_size);

#endif

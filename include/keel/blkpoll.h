/*
 * When blkback polls a disk instead of sleeping until its interrupt
 * (backends/blk/poll.c; pure logic, host unit tests in test_blkpoll).
 *
 * Under Xen one CPU may carry dom0 and the guest it serves.  When a vbd
 * thread sends a guest's request and sleeps, the CPU goes to the guest (or
 * idle) and comes back on the device's interrupt: two domain switches more
 * per request, and a guest that went idle pays its own way out of idle.  A
 * fast device (an NVMe or virtio disk answering a 4 KiB read in ~60 us)
 * finishes sooner than that round trip costs, so the thread spins on the
 * completion queue for a short window instead.  A slow device (or large
 * requests) would only burn the window: each poll that ends without a
 * completion costs credit, and once the credit is gone the vbd sleeps as
 * usual and tries a poll again only every VBD_POLL_RETRY passes.
 */
#ifndef KEEL_BLKPOLL_H
#define KEEL_BLKPOLL_H

#include <lib/base.h>

#define VBD_POLL_CREDIT_START 4   /* a new vbd polls (a fast device pays at once) */
#define VBD_POLL_CREDIT_MAX 8     /* hits saved up for a run of slow requests */
#define VBD_POLL_MISS_COST 4      /* two misses in a row after a hit stop it */
#define VBD_POLL_RETRY 32         /* passes between probes while stopped */

struct vbd_poll {
	int32_t credit;      /* > 0: poll */
	uint32_t skipped;    /* passes not polled since the credit ran out */
	uint64_t hits, misses, skips;
};

/* Starts a connection's decision afresh (the counters are kept). */
void vbd_poll_init(struct vbd_poll *p);
/* Whether this pass (requests just sent, nothing else to do) polls. */
bool vbd_poll_wanted(struct vbd_poll *p);
/* The poll's outcome: a completion came inside the window (hit) or not. */
void vbd_poll_result(struct vbd_poll *p, bool hit);

#endif

/*
 * blkback: serving keel's block devices (disks, partitions, LVs) to guests
 * as PV virtual block devices (vbds) per xen/io/blkif.h.  The toolstack
 * calls these; the backend runs one thread per vbd (backends/blk/).
 *
 * A vbd's life: blkback_attach() writes the backend and frontend xenstore
 * directories as libxl does, opens the device and goes to InitWait; the
 * guest's blkfront connects (its ring and event channel); blkback_detach()
 * or blkback_domain_gone() take it down, waiting for every request the
 * device holds before any grant is unmapped.
 */
#ifndef KEEL_BLKBACK_H
#define KEEL_BLKBACK_H

#include <keel/xlcfg.h>
#include <lib/base.h>
#include <xen/xen.h>

/*
 * Creates vbd disk->devid for domain domid backed by disk->target (a keel
 * block device: /dev/vda3, /dev/vg0/lv, nvme0n1p2).  Errors, returned as
 * -errno with *why set to a static message for the caller to print with
 * the config file and line: -ENOENT no such device, -EBUSY attached
 * writable elsewhere (or writable here while attached elsewhere),
 * -EOPNOTSUPP a format or backend type keel does not serve, -EEXIST the
 * vdev is taken.  Thread context; may sleep.
 */
int blkback_attach(domid_t domid, const struct xlcfg_disk *disk, const char **why);

/* Asks the guest to let go of vdev (XenbusState Closing), waits up to
 * timeout_ns for it, then removes the vbd.  -ENOENT if there is none;
 * -ETIMEDOUT if the guest kept it (still removed when force). */
int blkback_detach(domid_t domid, uint32_t devid, uint64_t timeout_ns, bool force);

/* The domain is gone (destroyed or dying): every vbd of it is stopped, its
 * in-flight I/O drained, its grants unmapped, and it is removed. */
void blkback_domain_gone(domid_t domid);

/* Prints `xl block-list` lines for the domain's vbds. */
void blkback_list(domid_t domid);

/* Counters for tests and `blkback-stats`. */
/*
 * Where a request's time goes, summed (ns) with counts, per size class
 * (BLKBACK_LAT_SMALL: at most 4 KiB of data or none; BLKBACK_LAT_LARGE):
 * checks and grant maps, the device (submit to its completion), completion
 * to response (until the response is pushed), and, at queue depth 1, the
 * guest's side (our response notify until its next request's event: the
 * guest kernel, blkfront and Xen's event delivery both ways), counted in
 * the class of the request answered.  Event to thread: the guest's notify
 * until the vbd thread reads the ring.
 */
enum { BLKBACK_LAT_SMALL, BLKBACK_LAT_LARGE, BLKBACK_LAT_CLASSES };

struct blkback_latency {
	uint64_t wake_ns, nr_wake;
	struct {
		uint64_t map_ns, device_ns, reap_ns, nr_done;
		uint64_t guest_ns, nr_guest;
	} c[BLKBACK_LAT_CLASSES];
};

struct blkback_stats {
	uint64_t vbds;
	uint64_t requests, errors, bad_requests;
	uint64_t pgrant_hits, pgrant_maps;   /* persistent grants reused / mapped */
	uint64_t discards, discard_sectors;  /* DISCARDs passed on and answered OKAY */
	uint64_t poll_hits, poll_misses, poll_skips;  /* blkpoll.h */
	struct blkback_latency lat;
};
void blkback_get_stats(struct blkback_stats *out);

/* How long a vbd thread polls its disk for the completion of requests it
 * just sent before it sleeps until the interrupt (0: never); `blkback-poll`
 * sets it.  Each vbd stops polling a disk that does not answer inside the
 * window (include/keel/blkpoll.h). */
#define BLKBACK_POLL_US_DEFAULT 150
extern uint32_t blkback_poll_us;

#endif

/*
 * keel's running xenstored: the store (xenstored/store.c, proto.c) plus the
 * shared-ring transport to each domU (xenstored/transport.c) and the
 * in-process view dom0's toolstack uses.  All functions may sleep unless
 * noted; they run in thread context.
 */
#ifndef KEEL_XSD_H
#define KEEL_XSD_H

#include <keel/xenstored.h>
#include <xen/event_channel.h>
#include <xen/xen.h>

/* The one store; valid after xenstored_init(). */
extern struct xs_store *xenstore;

/* Creates the store, dom0's standard nodes and the server thread. */
void xenstored_init(void);

/*
 * Connects domain domid whose ring is machine frame mfn and whose end of the
 * store event channel is guest_port (as XS_INTRODUCE does); fires
 * @introduceDomain.  0 or -errno.
 */
int xenstored_introduce(domid_t domid, uint64_t mfn, evtchn_port_t guest_port);

/*
 * The domain is going: its connection, watches and transactions are
 * dropped, the ring unmapped and the channel closed at once; its store
 * state goes and @releaseDomain fires once Xen no longer lists the domain
 * (after the caller's domain_destroy), or after 10 s.  Calling it again for
 * the same domain (the reaper and a shell destroy racing) does nothing more.
 */
void xenstored_release(domid_t domid);

/* Printf-style convenience writers for the toolstack.  0 or -errno. */
int xsd_printf(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets perms on path: owner with default perm, then readers (XS_PERM_*). */
int xsd_set_owner(const char *path, domid_t owner, unsigned int dflt, domid_t reader,
		  unsigned int reader_perm);

struct xsd_stats {
	uint64_t ring_requests_bytes;
	uint64_t ring_resets;      /* rings stopped (error field set) */
	uint64_t release_events;   /* @releaseDomain events seen (one initial fire) */
	uint64_t passes;           /* server passes */
	uint64_t passes_over_budget; /* a conn left input for the next pass */
	uint64_t passes_blocked;   /* a conn not read: its output was full */
	uint64_t watch_events_dropped; /* events a full watcher lost */
	uint64_t local_events_dropped; /* in-process events lost (queue full) */
	uint64_t commit_errors;
	uint64_t log_suppressed;   /* rate-limited messages about guests */
	uint64_t dying;            /* domains whose @releaseDomain waits for Xen */
	uint64_t worst_event_wait_ns; /* a guest's event to the pass serving its ring */
	uint64_t events_waited_20ms;  /* events that waited 20 ms or more */
};
void xsd_get_stats(struct xsd_stats *out);

#endif

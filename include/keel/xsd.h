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
 * The domain is gone: its connection, watches and transactions are dropped,
 * the ring unmapped and the channel closed; fires @releaseDomain.
 */
void xenstored_release(domid_t domid);

/* Printf-style convenience writers for the toolstack.  0 or -errno. */
int xsd_printf(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sets perms on path: owner with default perm, then readers (XS_PERM_*). */
int xsd_set_owner(const char *path, domid_t owner, unsigned int dflt, domid_t reader,
		  unsigned int reader_perm);

struct xsd_stats {
	uint64_t ring_requests_bytes;
	uint64_t ring_resets;
	uint64_t release_events;   /* @releaseDomain events seen (one initial fire) */
};
void xsd_get_stats(struct xsd_stats *out);

#endif

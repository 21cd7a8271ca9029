/*
 * The protocol side of the console backend (backends/console/ring.c): moving
 * bytes through the shared struct xencons_interface page (xen/io/console.h).
 * Private to backends/console and its tests; pure, so it builds for the host.
 *
 * The page is shared with the guest, which may rewrite any of it at any time.
 * Each call loads every index it uses exactly once, checks it, and touches at
 * most one ring's worth of bytes.  Neither function notifies: the caller sends
 * the event after a call that moved bytes.
 */
#ifndef KEEL_BACKENDS_CONSOLE_RING_H
#define KEEL_BACKENDS_CONSOLE_RING_H

#include <lib/base.h>
#include <xen/io/console.h>

#define CONSRING_OUT_BYTES sizeof(((struct xencons_interface *)0)->out)
#define CONSRING_IN_BYTES sizeof(((struct xencons_interface *)0)->in)

/*
 * Guest output: copies up to max bytes from out[] (out_cons..out_prod) into
 * buf and publishes the new out_cons.  Returns 0 with *got set (0 when the
 * ring is empty), or -EINVAL with *got = 0 and the page untouched when the
 * indices are impossible (out_prod - out_cons > sizeof(out)): the guest is
 * broken or hostile and the caller should disconnect it.
 */
int consring_out_read(struct xencons_interface *intf, char *buf, size_t max, size_t *got);

/*
 * Guest input: copies as many of the len bytes as fit into in[]
 * (in_prod..in_cons + sizeof(in)) and publishes the new in_prod.  Returns 0
 * with *put set (0 when the ring is full), or -EINVAL with *put = 0 and the
 * page untouched when in_prod - in_cons > sizeof(in).
 */
int consring_in_write(struct xencons_interface *intf, const char *data, size_t len, size_t *put);

#endif

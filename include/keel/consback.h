/*
 * The console backend: keel's xenconsoled.  For each guest console it maps
 * the ring page, drains the guest's output into a per-domain log (and onto
 * keel's console while `xl console` is attached), and feeds keel's console
 * input to the guest.  It does not create the ring or the guest's port: the
 * domain builder does, and hands both over with consback_connect().
 *
 * Every function is for thread context (none may be called from an event
 * handler); keel's threads are cooperative, so callers need hold nothing.
 */
#ifndef KEEL_CONSBACK_H
#define KEEL_CONSBACK_H

#include <lib/base.h>
#include <xen/xen.h>
#include <xen/event_channel.h>

/* Bytes of each domain's console output kept for `xl console` and tests. */
#define CONSBACK_LOG_BYTES (64 * 1024)
/* Bytes of recent output `consback_attach` replays before going live. */
#define CONSBACK_REPLAY_BYTES 2048
/* Longest needle consback_wait_output accepts. */
#define CONSBACK_NEEDLE_MAX 255
/* Typed at an attached console, detaches it (Ctrl-], as xl console). */
#define CONSBACK_DETACH_CHAR 0x1d

/*
 * Starts serving domid's console: maps the ring page ring_mfn (the mfn the
 * builder put in start_info.console.domU.mfn) and binds to the guest's port
 * guest_port (start_info.console.domU.evtchn, allocated unbound for dom0).
 * Output the guest wrote before this call is picked up at once.  Does not
 * sleep.  Returns 0, -EEXIST if domid is already connected, -ENOMEM, or
 * Xen's error from the mapping or the binding (nothing is left behind).
 */
int consback_connect(domid_t domid, uint64_t ring_mfn, evtchn_port_t guest_port);

/*
 * Stops serving domid's console: closes our port, unmaps the ring and frees
 * the log.  Call it before (or while) the domain is destroyed: the mapping
 * holds a reference on the guest's page.  Safe for a domid that is not
 * connected, for a domain that is already dead, and while another thread is
 * in consback_attach (it returns -ENODEV) or consback_wait_output (false).
 * Does not sleep.
 */
void consback_disconnect(domid_t domid);

/*
 * `xl console`: replays the last CONSBACK_REPLAY_BYTES of domid's output,
 * then shows its output live and sends keel's console input to it until the
 * user types CONSBACK_DETACH_CHAR.  May sleep (for as long as the user
 * stays).  Returns 0 when the user detached, -ENOENT if domid has no
 * console, -EBUSY if a console is already attached, -ENODEV (after printing
 * why) if the console went away meanwhile.
 */
int consback_attach(domid_t domid);

/*
 * Copies domid's logged output from absolute position *pos (0 = the first
 * byte the domain ever wrote; moved up if those bytes were overwritten) and
 * advances *pos.  Returns the byte count: 0 when nothing is new or domid has
 * no console.  Does not sleep.
 */
size_t consback_read_log(domid_t domid, uint64_t *pos, char *out, size_t max);

/*
 * System time (time_now_ns) at which the backend first saw output from
 * domid.  Returns 0, -ENOENT if domid has no console, -ENODATA if it has
 * written nothing yet.  Does not sleep.
 */
int consback_first_output_ns(domid_t domid, uint64_t *ns);

/*
 * Sleeps until needle (1..CONSBACK_NEEDLE_MAX bytes) appears in domid's
 * output since it connected.  timeout_ns 0 = no timeout.  Returns true when
 * seen; false on timeout, an unknown domid, a bad needle, or if the console
 * disconnects or breaks.  Output that scrolls out of the log before this
 * thread runs is not searched.  May sleep.
 */
bool consback_wait_output(domid_t domid, const char *needle, uint64_t timeout_ns);

#endif

/*
 * The XenbusState handshake of a PV backend device as a pure transition
 * table (xenbus/backdev_state.c): given where the backend is and what the
 * frontend just wrote in its `state` node, what the backend does next.  The
 * device core (include/keel/backdev.h) carries the steps out; this module
 * only decides, so the host unit tests run it unchanged.  States are
 * xen/io/xenbus.h's.
 */
#ifndef KEEL_BACKDEV_STATE_H
#define KEEL_BACKDEV_STATE_H

#include <lib/base.h>
#include <xen/io/xenbus.h>

/* Where the backend side of one device is. */
enum backdev_phase {
	BACKDEV_INIT,       /* nodes being written; state Initialising (1) */
	BACKDEV_INITWAIT,   /* ready for the frontend; state InitWait (2) */
	BACKDEV_CONNECTED,  /* rings mapped, channels bound; state Connected (4) */
	BACKDEV_CLOSING,    /* failed, or the frontend is closing; state Closing (5) */
	BACKDEV_CLOSED,     /* rings let go; state Closed (6) */
};

/* What the backend does on a frontend state change. */
enum backdev_step {
	BACKDEV_STEP_STAY,    /* nothing */
	BACKDEV_STEP_READY,   /* the frontend came back after Closed: write InitWait */
	BACKDEV_STEP_CONNECT, /* read the frontend's rings, map, bind, write Connected */
	BACKDEV_STEP_CLOSE,   /* let go of the rings (after in-flight I/O), write Closing */
	BACKDEV_STEP_CLOSED,  /* let go, write Closed; the device ends if `online` is 0 */
};

/*
 * The step for a frontend now in state fe while the backend is in phase.
 * connect_at_initialised: the frontend may connect at Initialised (3) as
 * well as Connected (4) (blkfront publishes its rings before Connected;
 * netfront is only waited for at Connected).  Closing and Closed are obeyed
 * in every phase; anything else (Unknown, Reconfiguring, a number out of
 * range) is ignored.  Pure.
 */
enum backdev_step backdev_state_step(enum backdev_phase phase, enum xenbus_state fe,
				     bool connect_at_initialised);

/*
 * Detach (the admin's, or a toolstack's) in this phase: true if the device
 * may end at once (no frontend is using it: InitWait or Closed), false if
 * the frontend must first be asked to close (Closing is written and the
 * device ends when the frontend reaches Closed).  Pure.
 */
bool backdev_detach_at_once(enum backdev_phase phase);

#endif

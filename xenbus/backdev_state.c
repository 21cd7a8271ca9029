/*
 * The backend side of the XenbusState handshake as a transition table
 * (include/keel/backdev_state.h).  It decides; xenbus/backdev.c acts.
 */
#include <keel/backdev_state.h>

enum backdev_step backdev_state_step(enum backdev_phase phase, enum xenbus_state fe,
				     bool connect_at_initialised)
{
	switch (fe) {
	case XenbusStateInitialising:
		/* A frontend that closed and starts again (a guest's driver
		 * reloaded, kexec): the device is offered afresh. */
		return phase == BACKDEV_CLOSED ? BACKDEV_STEP_READY : BACKDEV_STEP_STAY;
	case XenbusStateInitialised:
		if (!connect_at_initialised)
			return BACKDEV_STEP_STAY;
		/* fall through */
	case XenbusStateConnected:
		/* Only from InitWait: a failed device (Closing) stays failed
		 * until the frontend closes, and a connected one does not map
		 * its rings twice. */
		return phase == BACKDEV_INITWAIT ? BACKDEV_STEP_CONNECT : BACKDEV_STEP_STAY;
	case XenbusStateClosing:
		return BACKDEV_STEP_CLOSE;
	case XenbusStateClosed:
		return BACKDEV_STEP_CLOSED;
	default:
		return BACKDEV_STEP_STAY;
	}
}

bool backdev_detach_at_once(enum backdev_phase phase)
{
	return phase == BACKDEV_CLOSED || phase == BACKDEV_INITWAIT;
}

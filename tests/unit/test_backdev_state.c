/* The backend side of the XenbusState handshake (xenbus/backdev_state.c):
 * what blkback and netback do for each state a frontend can write, in each
 * phase, including what a hostile or confused frontend writes. */
#include "harness.h"
#include <keel/backdev_state.h>

static const enum backdev_phase phases[] = {
	BACKDEV_INIT, BACKDEV_INITWAIT, BACKDEV_CONNECTED, BACKDEV_CLOSING, BACKDEV_CLOSED,
};

/* The normal life: InitWait, Connected, Closing, Closed, and back again. */
TEST(handshake_in_order)
{
	CHECK_EQ(backdev_state_step(BACKDEV_INITWAIT, XenbusStateInitialising, true),
		 BACKDEV_STEP_STAY);
	CHECK_EQ(backdev_state_step(BACKDEV_INITWAIT, XenbusStateConnected, false),
		 BACKDEV_STEP_CONNECT);
	CHECK_EQ(backdev_state_step(BACKDEV_CONNECTED, XenbusStateClosing, false),
		 BACKDEV_STEP_CLOSE);
	CHECK_EQ(backdev_state_step(BACKDEV_CLOSING, XenbusStateClosed, false),
		 BACKDEV_STEP_CLOSED);
	/* The frontend starts over (driver reloaded): offered afresh. */
	CHECK_EQ(backdev_state_step(BACKDEV_CLOSED, XenbusStateInitialising, false),
		 BACKDEV_STEP_READY);
	CHECK_EQ(backdev_state_step(BACKDEV_CLOSED, XenbusStateInitialising, true),
		 BACKDEV_STEP_READY);
}

/* blkfront may publish its rings at Initialised; netfront is only taken at
 * Connected. */
TEST(initialised_connects_only_when_asked)
{
	CHECK_EQ(backdev_state_step(BACKDEV_INITWAIT, XenbusStateInitialised, true),
		 BACKDEV_STEP_CONNECT);
	CHECK_EQ(backdev_state_step(BACKDEV_INITWAIT, XenbusStateInitialised, false),
		 BACKDEV_STEP_STAY);
	CHECK_EQ(backdev_state_step(BACKDEV_INITWAIT, XenbusStateConnected, true),
		 BACKDEV_STEP_CONNECT);
}

/* Connect happens from InitWait only: never twice, never for a failed
 * device (Closing) or one not offered yet (Init) or closed. */
TEST(connect_only_from_initwait)
{
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		enum backdev_step want = phases[i] == BACKDEV_INITWAIT ? BACKDEV_STEP_CONNECT
									: BACKDEV_STEP_STAY;
		CHECK_EQ(backdev_state_step(phases[i], XenbusStateConnected, true), want);
		CHECK_EQ(backdev_state_step(phases[i], XenbusStateInitialised, true), want);
	}
}

/* Closing and Closed are obeyed whatever the phase (a frontend may close
 * before it ever connected, or close twice). */
TEST(close_in_every_phase)
{
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++) {
		CHECK_EQ(backdev_state_step(phases[i], XenbusStateClosing, false),
			 BACKDEV_STEP_CLOSE);
		CHECK_EQ(backdev_state_step(phases[i], XenbusStateClosed, true),
			 BACKDEV_STEP_CLOSED);
	}
}

/* Initialising does nothing but after Closed: a frontend cannot reset a
 * connected or failed device by writing it. */
TEST(initialising_only_after_closed)
{
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		if (phases[i] != BACKDEV_CLOSED)
			CHECK_EQ(backdev_state_step(phases[i], XenbusStateInitialising, true),
				 BACKDEV_STEP_STAY);
}

/* What is not a step of the handshake is ignored: Unknown (a missing or
 * garbage node reads as Unknown), InitWait (the backend's state, written
 * by a confused frontend), Reconfiguring/Reconfigured, out of range. */
TEST(other_states_ignored)
{
	const int others[] = {
		XenbusStateUnknown, XenbusStateInitWait, XenbusStateReconfiguring,
		XenbusStateReconfigured, 9, 1000, -1,
	};
	for (size_t i = 0; i < ARRAY_SIZE(phases); i++)
		for (size_t j = 0; j < ARRAY_SIZE(others); j++)
			CHECK_EQ(backdev_state_step(phases[i], (enum xenbus_state)others[j], true),
				 BACKDEV_STEP_STAY);
}

/* Detach ends a device at once only when no frontend uses it. */
TEST(detach_at_once)
{
	CHECK(backdev_detach_at_once(BACKDEV_INITWAIT));
	CHECK(backdev_detach_at_once(BACKDEV_CLOSED));
	CHECK(!backdev_detach_at_once(BACKDEV_INIT));
	CHECK(!backdev_detach_at_once(BACKDEV_CONNECTED));
	CHECK(!backdev_detach_at_once(BACKDEV_CLOSING));
}

static const struct test_case tests[] = {
	T(handshake_in_order), T(initialised_connects_only_when_asked),
	T(connect_only_from_initwait), T(close_in_every_phase),
	T(initialising_only_after_closed), T(other_states_ignored), T(detach_at_once),
};

int main(void)
{
	return run_tests(tests, ARRAY_SIZE(tests));
}

# Host tests of the backend device handshake's transition table
# (xenbus/backdev_state.c).
UNIT_TESTS += test_backdev_state
test_backdev_state_SRCS := tests/unit/test_backdev_state.c xenbus/backdev_state.c

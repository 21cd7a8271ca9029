# Host tests of the console ring protocol.  The test #includes
# backends/console/ring.c (to watch every load of a shared index), so the
# source is a prerequisite here rather than in _SRCS.
UNIT_TESTS += test_consring
test_consring_SRCS := tests/unit/test_consring.c
$(BUILD)/host/test_consring: backends/console/ring.c backends/console/ring.h

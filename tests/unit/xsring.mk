# Host tests of the xenstore ring transport.  The test #includes
# xenstored/xsring.c (to watch every load of a shared index), so that source
# is a prerequisite here rather than in _SRCS.
UNIT_TESTS += test_xsring
test_xsring_SRCS := tests/unit/test_xsring.c $(XENSTORED_PURE_SRCS)
$(BUILD)/host/test_xsring: xenstored/xsring.c xenstored/xsring.h

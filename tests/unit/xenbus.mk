# Host tests of the backend-side xenbus node reads (xenbus/xenbus.c) over
# the real store.  `=`: XENSTORED_PURE_SRCS comes from xenstored.mk, read later.
UNIT_TESTS += test_xenbus
test_xenbus_SRCS = tests/unit/test_xenbus.c xenbus/xenbus.c lib/printf.c $(XENSTORED_PURE_SRCS)

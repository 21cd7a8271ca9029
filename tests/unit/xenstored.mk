UNIT_TESTS += test_xenstored
test_xenstored_SRCS := tests/unit/test_xenstored.c xenstored/store.c xenstored/proto.c

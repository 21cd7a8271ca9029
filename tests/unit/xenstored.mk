XENSTORED_PURE_SRCS := xenstored/store.c xenstored/tree.c xenstored/perms.c xenstored/domain.c \
	xenstored/watch.c xenstored/transaction.c xenstored/proto.c lib/hashtable.c
UNIT_TESTS += test_xenstored
test_xenstored_SRCS := tests/unit/test_xenstored.c $(XENSTORED_PURE_SRCS)

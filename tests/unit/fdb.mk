# Host tests of the bridge's forwarding table (net/fdb.c).
UNIT_TESTS += test_fdb
test_fdb_SRCS := tests/unit/test_fdb.c net/fdb.c

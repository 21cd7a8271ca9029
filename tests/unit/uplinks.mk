# Host tests of the uplinks= boot option parser (net/uplinks.c).
UNIT_TESTS += test_uplinks
test_uplinks_SRCS := tests/unit/test_uplinks.c net/uplinks.c

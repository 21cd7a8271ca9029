UNIT_TESTS += test_hashtable
test_hashtable_SRCS := tests/unit/test_hashtable.c lib/hashtable.c

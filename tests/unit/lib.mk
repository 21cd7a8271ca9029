UNIT_TESTS += test_lib
test_lib_SRCS := tests/unit/test_lib.c lib/printf.c lib/cmdline.c lib/logring.c lib/range_alloc.c

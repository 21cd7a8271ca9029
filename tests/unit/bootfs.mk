# Host tests of the newc reader and the boot file tree (needs cpio for one test).
UNIT_TESTS += test_bootfs
test_bootfs_SRCS := tests/unit/test_bootfs.c lib/cpio.c fs/bootfs.c

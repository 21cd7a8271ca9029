# Host tests of blkback's request checks (backends/blk/blkif.c).
UNIT_TESTS += test_blkif
test_blkif_SRCS := tests/unit/test_blkif.c backends/blk/blkif.c

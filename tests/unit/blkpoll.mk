# Host tests of blkback's poll-or-sleep decision (backends/blk/poll.c).
UNIT_TESTS += test_blkpoll
test_blkpoll_SRCS := tests/unit/test_blkpoll.c backends/blk/poll.c

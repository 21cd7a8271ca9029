# LVM2 label, metadata text and writer (drivers/block/lvm*.c) against a VG made
# by the host's lvm2 through tests/unit/mkimages.sh (needs lvm2 and a free
# loop device; the script creates and detaches its own).
UNIT_TESTS += test_lvm
test_lvm_SRCS := tests/unit/test_lvm.c drivers/block/lvm.c drivers/block/lvm_meta.c \
	drivers/block/lvm_write.c lib/crc32.c

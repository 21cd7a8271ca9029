# Partition tables (drivers/block/gpt.c, mbr.c) against images made by sgdisk,
# sfdisk and parted through tests/unit/mkimages.sh (needs gdisk, fdisk, parted).
UNIT_TESTS += test_part
test_part_SRCS := tests/unit/test_part.c drivers/block/gpt.c drivers/block/mbr.c lib/crc32.c

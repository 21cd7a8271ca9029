# NVMe PRP construction (drivers/nvme/prp.c): cutting segment lists into commands.
UNIT_TESTS += test_nvme_prp
test_nvme_prp_SRCS := tests/unit/test_nvme_prp.c drivers/nvme/prp.c

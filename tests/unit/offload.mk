# Host tests of the switch's software offloads and anti-spoofing (net/offload.c).
UNIT_TESTS += test_offload
test_offload_SRCS := tests/unit/test_offload.c net/offload.c

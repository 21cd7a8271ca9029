# Host tests of the xl.cfg parser.
UNIT_TESTS += test_xlcfg
test_xlcfg_SRCS := tests/unit/test_xlcfg.c toolstack/xlcfg.c

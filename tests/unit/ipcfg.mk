# Host tests of keel's own-address text and static checks (net/lwip/ipcfg.c).
UNIT_TESTS += test_ipcfg
test_ipcfg_SRCS := tests/unit/test_ipcfg.c net/lwip/ipcfg.c

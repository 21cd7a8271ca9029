# Host tests of netback's tx request walk (backends/net/netif_tx.c).
UNIT_TESTS += test_netif_tx
test_netif_tx_SRCS := tests/unit/test_netif_tx.c backends/net/netif_tx.c

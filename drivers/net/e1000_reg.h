/*
 * Intel 8254x (82540EM, QEMU's -device e1000) registers and descriptor
 * layouts, from the "PCI/PCI-X Family of Gigabit Ethernet Controllers
 * Software Developer's Manual" (8254x SDM): register offsets (section 13),
 * receive and transmit descriptors (section 3).  Little-endian.
 */
#ifndef DRIVERS_NET_E1000_REG_H
#define DRIVERS_NET_E1000_REG_H

#include <lib/base.h>

#define E1000_CTRL 0x0000
#define E1000_STATUS 0x0008
#define E1000_EERD 0x0014
#define E1000_ICR 0x00c0        /* read clears */
#define E1000_ITR 0x00c4
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define E1000_RCTL 0x0100
#define E1000_TCTL 0x0400
#define E1000_TIPG 0x0410
#define E1000_RDBAL 0x2800
#define E1000_RDBAH 0x2804
#define E1000_RDLEN 0x2808
#define E1000_RDH 0x2810
#define E1000_RDT 0x2818
#define E1000_RDTR 0x2820
#define E1000_TDBAL 0x3800
#define E1000_TDBAH 0x3804
#define E1000_TDLEN 0x3808
#define E1000_TDH 0x3810
#define E1000_TDT 0x3818
#define E1000_TIDV 0x3820
#define E1000_RXCSUM 0x5000
#define E1000_MTA 0x5200        /* 128 words */
#define E1000_RAL0 0x5400
#define E1000_RAH0 0x5404
#define E1000_REGS_BYTES 0x20000

#define E1000_CTRL_FD (1u << 0)
#define E1000_CTRL_LRST (1u << 3)
#define E1000_CTRL_ASDE (1u << 5)
#define E1000_CTRL_SLU (1u << 6)
#define E1000_CTRL_ILOS (1u << 7)
#define E1000_CTRL_RST (1u << 26)
#define E1000_CTRL_VME (1u << 30)
#define E1000_CTRL_PHY_RST (1u << 31)

#define E1000_STATUS_LU (1u << 1)

#define E1000_EERD_START (1u << 0)
#define E1000_EERD_DONE (1u << 4)
#define E1000_EERD_ADDR_SHIFT 8
#define E1000_EERD_DATA_SHIFT 16

/* Interrupt causes (ICR, IMS, IMC). */
#define E1000_ICR_TXDW (1u << 0)        /* a descriptor with RS written back */
#define E1000_ICR_LSC (1u << 2)         /* link status change */
#define E1000_ICR_RXSEQ (1u << 3)
#define E1000_ICR_RXDMT0 (1u << 4)      /* free receive descriptors below threshold */
#define E1000_ICR_RXO (1u << 6)         /* receive overrun */
#define E1000_ICR_RXT0 (1u << 7)        /* receive timer */

#define E1000_RCTL_EN (1u << 1)
#define E1000_RCTL_UPE (1u << 3)
#define E1000_RCTL_MPE (1u << 4)
#define E1000_RCTL_BAM (1u << 15)
#define E1000_RCTL_SZ_2048 (0u << 16)
#define E1000_RCTL_SECRC (1u << 26)

#define E1000_TCTL_EN (1u << 1)
#define E1000_TCTL_PSP (1u << 3)
#define E1000_TCTL_CT_SHIFT 4
#define E1000_TCTL_COLD_SHIFT 12

#define E1000_RXCSUM_IPOFL (1u << 8)
#define E1000_RXCSUM_TUOFL (1u << 9)

#define E1000_RAH_AV (1u << 31)

/* Receive descriptor (legacy, 3.2.3). */
struct e1000_rx_desc {
	uint64_t addr;
	uint16_t length;
	uint16_t csum;
	uint8_t status;
	uint8_t errors;
	uint16_t special;
};

#define E1000_RXD_STAT_DD 0x01
#define E1000_RXD_STAT_EOP 0x02
#define E1000_RXD_STAT_IXSM 0x04        /* ignore the checksum indications */
#define E1000_RXD_STAT_TCPCS 0x20
#define E1000_RXD_STAT_IPCS 0x40
#define E1000_RXD_ERR_CE 0x01
#define E1000_RXD_ERR_SE 0x02
#define E1000_RXD_ERR_SEQ 0x04
#define E1000_RXD_ERR_CXE 0x10
#define E1000_RXD_ERR_TCPE 0x20
#define E1000_RXD_ERR_IPE 0x40
#define E1000_RXD_ERR_RXE 0x80
#define E1000_RXD_ERR_FRAME (E1000_RXD_ERR_CE | E1000_RXD_ERR_SE | E1000_RXD_ERR_SEQ | \
			     E1000_RXD_ERR_CXE | E1000_RXD_ERR_RXE)

/*
 * Transmit descriptors (3.3): legacy, TCP/IP context (DEXT, DTYP 0) and
 * TCP/IP data (DEXT, DTYP 1) all 16 bytes.  `cmd_len` is the second
 * quadword's low dword: length, DTYP and the command byte.
 */
struct e1000_tx_desc {
	uint64_t addr;
	uint32_t cmd_len;
	uint8_t status;
	uint8_t popts;          /* legacy: CSS; data: POPTS */
	uint16_t special;
};

struct e1000_tx_ctx_desc {
	uint8_t ipcss, ipcso;
	uint16_t ipcse;
	uint8_t tucss, tucso;
	uint16_t tucse;
	uint32_t cmd_len;       /* PAYLEN (20 bits), DTYP, TUCMD */
	uint8_t status;
	uint8_t hdr_len;
	uint16_t mss;
};

_Static_assert(sizeof(struct e1000_rx_desc) == 16, "rx desc");
_Static_assert(sizeof(struct e1000_tx_desc) == 16, "tx desc");
_Static_assert(sizeof(struct e1000_tx_ctx_desc) == 16, "tx ctx desc");

/* Legacy command byte (bits 24-31 of cmd_len). */
#define E1000_TXD_CMD_EOP (1u << 24)
#define E1000_TXD_CMD_IFCS (1u << 25)
#define E1000_TXD_CMD_IC (1u << 26)
#define E1000_TXD_CMD_RS (1u << 27)
#define E1000_TXD_CMD_DEXT (1u << 29)
#define E1000_TXD_CMD_IDE (1u << 31)
/* Extended descriptors. */
#define E1000_TXD_DTYP_CTX (0u << 20)
#define E1000_TXD_DTYP_DATA (1u << 20)
#define E1000_TXD_CMD_TCP (1u << 24)    /* context TUCMD: TCP (else UDP) */
#define E1000_TXD_CMD_IP (1u << 25)     /* context TUCMD: IPv4 */
#define E1000_TXD_CMD_TSE (1u << 26)    /* context and data: segmentation */
#define E1000_TXD_POPTS_IXSM 0x01       /* insert the IP checksum */
#define E1000_TXD_POPTS_TXSM 0x02       /* insert the TCP/UDP checksum */
#define E1000_TXD_STAT_DD 0x01

#endif

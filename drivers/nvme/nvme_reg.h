/*
 * NVM Express hardware layouts keel's driver uses (drivers/nvme/nvme.c):
 * controller registers, submission and completion queue entries, opcodes
 * and the fields of the Identify data structures.  Numbers follow the NVM
 * Express Base Specification 1.4 (sections named in the comments) and the
 * NVM Command Set; everything is little-endian, as x86 is.
 */
#ifndef KEEL_NVME_REG_H
#define KEEL_NVME_REG_H

#include <lib/base.h>

/* ---- Controller registers (3.1) ---- */
#define NVME_REG_CAP 0x00    /* 64-bit capabilities */
#define NVME_REG_VS 0x08     /* version: major 31:16, minor 15:8 */
#define NVME_REG_INTMS 0x0c  /* interrupt mask set (INTx/MSI only) */
#define NVME_REG_INTMC 0x10  /* interrupt mask clear */
#define NVME_REG_CC 0x14     /* controller configuration */
#define NVME_REG_CSTS 0x1c   /* controller status */
#define NVME_REG_AQA 0x24    /* admin queue attributes */
#define NVME_REG_ASQ 0x28    /* admin SQ base (64-bit) */
#define NVME_REG_ACQ 0x30    /* admin CQ base (64-bit) */
#define NVME_REG_DBS 0x1000  /* first doorbell */
#define NVME_REGS_BYTES 0x1000

/* CAP fields. */
#define NVME_CAP_MQES(c) ((uint32_t)((c) & 0xffff))          /* 0-based */
#define NVME_CAP_TO(c) ((uint32_t)(((c) >> 24) & 0xff))      /* 500 ms units */
#define NVME_CAP_DSTRD(c) ((uint32_t)(((c) >> 32) & 0xf))    /* stride 4 << DSTRD */
#define NVME_CAP_CSS_NVM(c) (((c) >> 37) & 1)
#define NVME_CAP_MPSMIN(c) ((uint32_t)(((c) >> 48) & 0xf))   /* 4 KiB << MPSMIN */
#define NVME_CAP_MPSMAX(c) ((uint32_t)(((c) >> 52) & 0xf))

/* CC fields. */
#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS_NVM (0u << 4)
#define NVME_CC_MPS(shift) ((uint32_t)((shift) - 12) << 7)
#define NVME_CC_AMS_RR (0u << 11)
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_IOSQES(n) ((uint32_t)(n) << 16)             /* log2 of SQE size */
#define NVME_CC_IOCQES(n) ((uint32_t)(n) << 20)             /* log2 of CQE size */

/* CSTS fields. */
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)                              /* fatal status */
#define NVME_CSTS_SHST_MASK (3u << 2)
#define NVME_CSTS_SHST_DONE (2u << 2)

/* ---- Queue entries (4.2, 4.6) ---- */
struct nvme_sqe {
	uint8_t opcode;
	uint8_t flags;        /* FUSE 1:0, PSDT 7:6 (0: PRPs) */
	uint16_t cid;
	uint32_t nsid;
	uint64_t rsvd2;
	uint64_t mptr;
	uint64_t prp1;
	uint64_t prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "an NVMe SQ entry is 64 bytes");

struct nvme_cqe {
	uint32_t dw0;         /* command specific */
	uint32_t dw1;
	uint16_t sq_head;     /* how far the controller has consumed the SQ */
	uint16_t sq_id;
	uint16_t cid;
	uint16_t status;      /* bit 0 phase tag, 15:1 status field */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "an NVMe CQ entry is 16 bytes");

#define NVME_SQES_LOG2 6
#define NVME_CQES_LOG2 4

/* Status field (without the phase bit): SCT 10:8, SC 7:0, DNR 14. */
#define NVME_STATUS(s) ((uint16_t)(((s) >> 1) & 0x7ff))
#define NVME_SC_INVALID_OPCODE 0x001
#define NVME_SC_LBA_RANGE 0x080

/* ---- Admin opcodes (5) ---- */
#define NVME_ADMIN_DELETE_SQ 0x00
#define NVME_ADMIN_CREATE_SQ 0x01
#define NVME_ADMIN_DELETE_CQ 0x04
#define NVME_ADMIN_CREATE_CQ 0x05
#define NVME_ADMIN_IDENTIFY 0x06
#define NVME_ADMIN_SET_FEATURES 0x09

/* Create I/O CQ CDW11: interrupts enabled, physically contiguous. */
#define NVME_CQ_IEN (1u << 1)
#define NVME_QUEUE_PC (1u << 0)

#define NVME_FEAT_NUM_QUEUES 0x07

/* Identify CNS values (5.15). */
#define NVME_CNS_NS 0x00
#define NVME_CNS_CTRL 0x01
#define NVME_CNS_NS_ACTIVE_LIST 0x02

/* ---- NVM command set opcodes (NVM Command Set 3) ---- */
#define NVME_CMD_FLUSH 0x00
#define NVME_CMD_WRITE 0x01
#define NVME_CMD_READ 0x02
#define NVME_CMD_WRITE_ZEROES 0x08
#define NVME_CMD_DSM 0x09

#define NVME_RW_FUA (1u << 30)      /* CDW12 */
#define NVME_DSM_AD (1u << 2)       /* CDW11: attribute deallocate */

/* A Dataset Management range (16 bytes). */
struct nvme_dsm_range {
	uint32_t attributes;
	uint32_t nlb;
	uint64_t slba;
};

/* ---- Identify Controller (byte offsets, 5.15.2.1) ---- */
#define NVME_IDC_SN 4         /* 20 ASCII bytes */
#define NVME_IDC_MN 24        /* 40 */
#define NVME_IDC_FR 64        /* 8 */
#define NVME_IDC_MDTS 77      /* 2^n minimum pages per transfer, 0 none */
#define NVME_IDC_VER 80
#define NVME_IDC_RTD3E 88     /* resume/entry latency, microseconds */
#define NVME_IDC_SQES 512
#define NVME_IDC_CQES 513
#define NVME_IDC_NN 516       /* number of namespaces */
#define NVME_IDC_ONCS 520     /* optional NVM commands */
#define NVME_IDC_VWC 525      /* bit 0: volatile write cache present */
#define NVME_IDC_SGLS 536

#define NVME_ONCS_DSM (1u << 2)
#define NVME_ONCS_WRITE_ZEROES (1u << 3)

/* ---- Identify Namespace (NVM Command Set 4.1.5.1) ---- */
#define NVME_IDNS_NSZE 0      /* size in logical blocks */
#define NVME_IDNS_NSFEAT 24
#define NVME_IDNS_NLBAF 25
#define NVME_IDNS_FLBAS 26    /* bits 3:0 the format in use */
#define NVME_IDNS_NPWG 64     /* preferred write granularity, 0-based (NSFEAT bit 4) */
#define NVME_IDNS_LBAF 128    /* 16 formats of 4 bytes: MS 15:0, LBADS 23:16 */

#endif

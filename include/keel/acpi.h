/*
 * ACPI table discovery for poweroff (drivers/acpi/acpi.c): finds the RSDP, the
 * FADT's PM1a/PM1b control ports and the \_S5 sleep-type values in the DSDT
 * (or an SSDT).  It only reads and parses; entering S5 (XENPF_enter_acpi_sleep
 * or the PM1 port writes) is the caller's job.  No AML interpreter: \_S5 must
 * be a plain Name() of a Package of integer constants, which is what QEMU and
 * nearly all firmware emit.
 *
 * Layouts cited are ACPI 6.5: 5.2.5.3 (RSDP), 5.2.6 (table header), 5.2.7/8
 * (RSDT/XSDT), 5.2.9 (FADT), 4.8.4.2 (PM1 control: SLP_TYP bits 10-12, SLP_EN
 * bit 13), 20.2.4/20.2.5 (AML PkgLength, PackageOp, constants), 7.4.2 (\_Sx).
 */
#ifndef KEEL_ACPI_H
#define KEEL_ACPI_H

#include <lib/base.h>

/*
 * Reads len bytes of machine physical memory at paddr into buf.  Returns 0 or
 * a negative errno (e.g. -EIO for memory it cannot map); that errno is passed
 * back unchanged by every function below.  acpi.c never asks for more than 1
 * MiB in one call and never reads a byte it did not ask for.
 */
typedef int (*acpi_read_phys_fn)(void *ctx, uint64_t paddr, void *buf, size_t len);

/* What acpi_find_s5() learns.  Zero means "absent" for every address/port. */
struct acpi_s5_info {
	uint64_t rsdp_paddr;
	uint8_t revision;        /* RSDP revision: 0 = ACPI 1.0, >= 2 has an XSDT */
	bool root_is_xsdt;       /* which root table the FADT was found through */
	uint64_t root_paddr;     /* that RSDT/XSDT */
	uint64_t fadt_paddr;
	uint8_t fadt_revision;
	uint32_t fadt_flags;     /* FADT Flags (bit 20 = HW_REDUCED_ACPI) */
	uint64_t facs_paddr;     /* X_FIRMWARE_CTRL, else FIRMWARE_CTRL */
	uint16_t sci_irq;        /* SCI_INT */
	uint16_t pm1a_cnt_blk;   /* I/O port of PM1a_CNT, never 0 on success */
	uint16_t pm1b_cnt_blk;   /* I/O port of PM1b_CNT, 0 if none */
	uint8_t pm1_cnt_len;     /* bytes (PM1_CNT_LEN, 2 if the FADT says 0) */
	uint64_t dsdt_paddr;     /* X_DSDT if it validated, else DSDT */
	uint64_t s5_table_paddr; /* the DSDT or SSDT that held \_S5 */
	uint8_t slp_typa;        /* \_S5 package element 0 (low byte) */
	uint8_t slp_typb;        /* \_S5 package element 1 (low byte) */
};

/*
 * Finds the RSDP: the first 1 KiB of the EBDA (segment at 0x40E), then
 * 0xE0000-0xFFFFF, on 16-byte boundaries, checking the ACPI 1.0 checksum and,
 * for revision >= 2, the extended one.  0 and *rsdp_paddr set, -ENOENT, or
 * read_phys's errno.  Does not sleep.
 */
int acpi_find_rsdp(acpi_read_phys_fn read_phys, void *ctx, uint64_t *rsdp_paddr);

/*
 * From a known RSDP (e.g. one handed over by EFI): XSDT if revision >= 2 and
 * its address is nonzero (falling back to the RSDT if the XSDT is invalid),
 * else RSDT -> FADT -> DSDT/SSDTs -> \_S5.  Every table's signature, length
 * (<= 64 KiB, DSDT/SSDT <= 1 MiB) and checksum is checked.  Returns 0 with
 * *out filled; -ENOENT if a needed table or \_S5 is missing; -EINVAL if one is
 * malformed; -EOPNOTSUPP if PM1a_CNT exists only outside I/O space (e.g. a
 * hardware-reduced platform); -ENOMEM; or read_phys's errno.  *out is zeroed
 * first and only partly filled on failure.  Allocates (kmalloc) up to the size
 * of the largest table and frees it before returning; does not sleep.
 */
int acpi_find_s5_from_rsdp(acpi_read_phys_fn read_phys, void *ctx,
			   uint64_t rsdp_paddr, struct acpi_s5_info *out);

/* acpi_find_rsdp() then acpi_find_s5_from_rsdp(); same returns. */
int acpi_find_s5(acpi_read_phys_fn read_phys, void *ctx, struct acpi_s5_info *out);

/*
 * Searches AML bytes (a DSDT/SSDT body, or any buffer) for the definition
 * Name(_S5_, Package(){a, b, ...}) (also \_S5_ and ^_S5_) and returns its
 * first two integer elements' low bytes; a one-element package holds both
 * (a = bits 0-7, b = bits 8-15), as ACPICA reads it.  0, -ENOENT (no
 * definition), or -EINVAL (only malformed ones).  Pure; never reads outside
 * aml[0..len).
 */
int acpi_aml_find_s5(const void *aml, size_t len, uint8_t *slp_typa, uint8_t *slp_typb);

/*
 * The PM1 control value that enters S5 on block a (which = 0) or b (1):
 * SLP_TYP << 10 | SLP_EN (bit 13).  A caller writing the port may OR in the
 * register's other preserved bits (SCI_EN etc.) read beforehand, as ACPICA
 * does.  For XENPF_enter_acpi_sleep, Xen requires pm1a and pm1b to agree on
 * SLP_EN.
 */
uint16_t acpi_s5_pm1_value(const struct acpi_s5_info *info, int which);

#define ACPI_PM1_SLP_TYP_SHIFT 10
#define ACPI_PM1_SLP_TYP_MASK  (7u << ACPI_PM1_SLP_TYP_SHIFT)
#define ACPI_PM1_SLP_EN        (1u << 13)

/* One MCFG allocation: the ECAM window of a PCI segment's bus range. */
struct acpi_mcfg_entry {
	uint64_t base;       /* machine address of bus 0's configuration space */
	uint16_t segment;
	uint8_t start_bus, end_bus;
};

/*
 * Parses an MCFG table (already checksummed): up to max usable entries into
 * out, count in *n.  Entries with an inverted bus range or a base that is
 * not 1 MiB aligned are skipped.  0; -EINVAL (not an MCFG, bad length);
 * -ENOENT (no usable entry).  Pure; does not allocate.
 */
int acpi_parse_mcfg(const void *table, size_t len, struct acpi_mcfg_entry *out, size_t max,
		    size_t *n);
/* Finds the RSDP, the root table and its MCFG, then acpi_parse_mcfg().
 * -ENOENT when the platform has no MCFG (QEMU's i440fx). */
int acpi_find_mcfg(acpi_read_phys_fn read_phys, void *ctx, struct acpi_mcfg_entry *out,
		   size_t max, size_t *n);

/* acpi_read_phys_fn over short-lived ioremap mappings (kernel only). */
int acpi_ioremap_read(void *ctx, uint64_t paddr, void *buf, size_t len);

#endif

/*
 * Host tests for drivers/acpi/acpi.c: QEMU's real i440fx and q35 tables (as
 * SeaBIOS installs them, tests/data/acpi/), synthetic RSDP/RSDT/XSDT/FADT/
 * DSDT/SSDT layouts, the \_S5 AML matcher, and hostile tables.  Physical
 * memory is a sparse list of byte regions; unmapped bytes read as zero unless
 * a test makes them (or a chosen range) fail with -EIO.
 */
#include "harness.h"
#include <lib/base.h>
#include <keel/acpi.h>

struct acpi_test_region {
	uint64_t paddr;
	const uint8_t *bytes;
	size_t len;
};

#include "../data/acpi/qemu_tables.h"

/* ---- fake physical memory ------------------------------------------------ */

struct region {
	uint64_t paddr;
	uint8_t *bytes;
	size_t len;
};

struct mem {
	struct region r[32];
	size_t n;
	bool unmapped_fails;          /* unmapped bytes: -EIO instead of zeros */
	uint64_t fail_lo, fail_hi;    /* reads touching [lo, hi) fail with -EIO */
	size_t reads, largest_read;
};

static struct mem M;

static void mem_reset(void)
{
	for (size_t i = 0; i < M.n; i++)
		free(M.r[i].bytes);
	memset(&M, 0, sizeof(M));
}

/* Maps len zeroed bytes at paddr and returns them for the test to fill. */
static uint8_t *mem_map(uint64_t paddr, size_t len)
{
	struct region *r;

	if (M.n == ARRAY_SIZE(M.r)) {
		printf("test_acpi: too many regions\n");
		exit(2);
	}
	r = &M.r[M.n++];

	r->paddr = paddr;
	r->len = len;
	r->bytes = calloc(1, len);
	return r->bytes;
}

static void mem_load(const struct acpi_test_region *regions, size_t n)
{
	for (size_t i = 0; i < n; i++)
		memcpy(mem_map(regions[i].paddr, regions[i].len), regions[i].bytes,
		       regions[i].len);
}

static int mem_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
	uint8_t *out = buf;

	(void)ctx;
	M.reads++;
	M.largest_read = MAX(M.largest_read, len);
	if (paddr < M.fail_hi && paddr + len > M.fail_lo)
		return -EIO;
	for (size_t k = 0; k < len; k++) {
		uint64_t a = paddr + k;
		bool found = false;

		/* Later mappings shadow earlier ones, so a test can replace a table. */
		for (size_t i = M.n; i-- > 0 && !found;) {
			if (a >= M.r[i].paddr && a - M.r[i].paddr < M.r[i].len) {
				out[k] = M.r[i].bytes[a - M.r[i].paddr];
				found = true;
			}
		}
		if (!found) {
			if (M.unmapped_fails)
				return -EIO;
			out[k] = 0;
		}
	}
	return 0;
}

/* ---- table builders --------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static void fix_sum(uint8_t *p, size_t len, size_t at)
{
	uint8_t s = 0;

	p[at] = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	p[at] = (uint8_t)-s;
}

static uint8_t *mk_rsdp(uint64_t paddr, uint8_t rev, uint32_t rsdt, uint64_t xsdt)
{
	uint8_t *p = mem_map(paddr, 36);

	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "KEELT ", 6);
	p[15] = rev;
	put32(p + 16, rsdt);
	if (rev >= 2) {
		put32(p + 20, 36);
		put64(p + 24, xsdt);
		fix_sum(p, 36, 32);
	}
	fix_sum(p, 20, 8);
	if (rev >= 2)
		fix_sum(p, 36, 32);
	return p;
}

/* A table of len bytes at paddr: header filled, body from the caller. */
static uint8_t *mk_table(uint64_t paddr, const char *sig, size_t len, uint8_t rev)
{
	uint8_t *p = mem_map(paddr, len);

	memcpy(p, sig, 4);
	put32(p + 4, (uint32_t)len);
	p[8] = rev;
	memcpy(p + 10, "KEELT ", 6);
	return p;
}

static void seal(uint8_t *t) /* checksum over the table's own Length */
{
	fix_sum(t, t[4] | t[5] << 8 | t[6] << 16 | (size_t)t[7] << 24, 9);
}

static uint8_t *mk_root(uint64_t paddr, bool xsdt, const uint64_t *entries, size_t n)
{
	size_t es = xsdt ? 8 : 4;
	uint8_t *t = mk_table(paddr, xsdt ? "XSDT" : "RSDT", 36 + es * n, 1);

	for (size_t i = 0; i < n; i++) {
		if (xsdt)
			put64(t + 36 + 8 * i, entries[i]);
		else
			put32(t + 36 + 4 * i, (uint32_t)entries[i]);
	}
	seal(t);
	return t;
}

/* An ACPI 1.0 (116-byte) or 6.x (276-byte) FADT. */
static uint8_t *mk_fadt(uint64_t paddr, bool v6, uint32_t dsdt, uint32_t pm1a, uint32_t pm1b)
{
	uint8_t *t = mk_table(paddr, "FACP", v6 ? 276 : 116, v6 ? 6 : 1);

	put32(t + 36, 0x1000);   /* FACS */
	put32(t + 40, dsdt);
	put16(t + 46, 9);        /* SCI */
	put32(t + 64, pm1a);
	put32(t + 68, pm1b);
	t[89] = 2;
	seal(t);
	return t;
}

static void set_gas(uint8_t *fadt, size_t off, uint8_t space, uint8_t width, uint64_t addr)
{
	fadt[off] = space;
	fadt[off + 1] = width;
	fadt[off + 3] = 2;
	put64(fadt + off + 4, addr);
	seal(fadt);
}

static const uint8_t S5_AML[] = {
	/* Scope(\) { Name(_S5_, Package(4){5, 5, 0, 0}) } as iasl writes it,
	 * behind some unrelated bytes that mention _S5_ without defining it. */
	0x10, 0x0A, 0x5C, 0x5F, 0x53, 0x35, 0x5F, 0x00,         /* junk: \_S5_ ref */
	0x08, 0x5F, 0x53, 0x34, 0x5F, 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00, /* _S4_ */
	0x08, 0x5C, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04,
	0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00,
};

static uint8_t *mk_aml_table(uint64_t paddr, const char *sig, const void *aml, size_t len)
{
	uint8_t *t = mk_table(paddr, sig, 36 + len, 2);

	memcpy(t + 36, aml, len);
	seal(t);
	return t;
}

/* The standard synthetic machine: RSDP rev 0 at 0xF0000 -> RSDT -> FADT ->
 * DSDT with S5_AML; PM1a 0xB004, PM1b 0xB008. */
#define RSDT_PA 0x7000000
#define FADT_PA 0x7001000
#define DSDT_PA 0x7002000
#define SSDT_PA 0x7003000
#define XSDT_PA 0x7004000

static void mk_machine(void)
{
	uint64_t e[] = { FADT_PA };

	mem_reset();
	mk_rsdp(0xF0000, 0, RSDT_PA, 0);
	mk_root(RSDT_PA, false, e, 1);
	mk_fadt(FADT_PA, false, DSDT_PA, 0xB004, 0xB008);
	mk_aml_table(DSDT_PA, "DSDT", S5_AML, sizeof(S5_AML));
}

static int find(struct acpi_s5_info *info)
{
	return acpi_find_s5(mem_read, NULL, info);
}

/* ---- real QEMU tables -------------------------------------------------- */

TEST(qemu_pc_real_tables)
{
	struct acpi_s5_info i;

	mem_reset();
	mem_load(qemu_pc_regions, ARRAY_SIZE(qemu_pc_regions));
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, QEMU_PC_RSDP);
	CHECK_EQ(i.revision, 0);
	CHECK(!i.root_is_xsdt);
	CHECK_EQ(i.root_paddr, QEMU_PC_RSDT);
	CHECK_EQ(i.fadt_paddr, QEMU_PC_FACP);
	CHECK_EQ(i.fadt_revision, 1);
	CHECK_EQ(i.dsdt_paddr, QEMU_PC_DSDT);
	CHECK_EQ(i.s5_table_paddr, QEMU_PC_DSDT);
	CHECK_EQ(i.facs_paddr, QEMU_PC_FACS);
	CHECK_EQ(i.sci_irq, 9);
	CHECK_EQ(i.pm1a_cnt_blk, 0x604);
	CHECK_EQ(i.pm1b_cnt_blk, 0);
	CHECK_EQ(i.pm1_cnt_len, 2);
	CHECK_EQ(i.slp_typa, 0);
	CHECK_EQ(i.slp_typb, 0);
	CHECK_EQ(acpi_s5_pm1_value(&i, 0), 0x2000);
	CHECK(M.largest_read <= 64 * 1024);
}

TEST(qemu_q35_real_tables)
{
	struct acpi_s5_info i;

	mem_reset();
	mem_load(qemu_q35_regions, ARRAY_SIZE(qemu_q35_regions));
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, QEMU_Q35_RSDP);
	CHECK_EQ(i.fadt_paddr, QEMU_Q35_FACP);
	CHECK_EQ(i.fadt_revision, 3);
	CHECK_EQ(i.dsdt_paddr, QEMU_Q35_DSDT);   /* through X_DSDT */
	CHECK_EQ(i.pm1a_cnt_blk, 0x604);         /* through X_PM1a_CNT_BLK */
	CHECK_EQ(i.pm1b_cnt_blk, 0);
	CHECK_EQ(i.slp_typa, 0);
	CHECK_EQ(acpi_s5_pm1_value(&i, 0), 0x2000);
}

TEST(mcfg_q35_real_tables)
{
	struct acpi_mcfg_entry e[4];
	size_t n;

	mem_reset();
	mem_load(qemu_q35_regions, ARRAY_SIZE(qemu_q35_regions));
	CHECK_EQ(acpi_find_mcfg(mem_read, NULL, e, 4, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(e[0].base, 0xb0000000ull);   /* what Xen's log reports for q35 */
	CHECK_EQ(e[0].segment, 0);
	CHECK_EQ(e[0].start_bus, 0);
	CHECK_EQ(e[0].end_bus, 0xff);
	/* i440fx has none. */
	mem_reset();
	mem_load(qemu_pc_regions, ARRAY_SIZE(qemu_pc_regions));
	CHECK_EQ(acpi_find_mcfg(mem_read, NULL, e, 4, &n), -ENOENT);
	CHECK_EQ(n, 0);
}

TEST(mcfg_parse_hostile)
{
	uint8_t t[36 + 8 + 3 * 16];
	struct acpi_mcfg_entry e[2];
	size_t n;

	memset(t, 0, sizeof(t));
	memcpy(t, "MCFG", 4);
	t[4] = sizeof(t);
	/* entry 0: inverted bus range; 1: unaligned base; 2: good. */
	uint8_t *p = t + 44;
	p[7] = 0; p[3] = 0xe0; p[10] = 5; p[11] = 4;
	p += 16;
	p[0] = 0x10; p[3] = 0xe0; p[11] = 0xff;
	p += 16;
	p[3] = 0xe0; p[8] = 1; p[11] = 0x7f;
	CHECK_EQ(acpi_parse_mcfg(t, sizeof(t), e, 2, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(e[0].base, 0xe0000000ull);
	CHECK_EQ(e[0].segment, 1);
	CHECK_EQ(e[0].end_bus, 0x7f);
	/* Length field disagreeing with the buffer, short tables, wrong name. */
	CHECK_EQ(acpi_parse_mcfg(t, sizeof(t) - 1, e, 2, &n), -EINVAL);
	CHECK_EQ(acpi_parse_mcfg(t, 20, e, 2, &n), -EINVAL);
	memcpy(t, "MCFH", 4);
	CHECK_EQ(acpi_parse_mcfg(t, sizeof(t), e, 2, &n), -EINVAL);
}

TEST(qemu_real_tables_with_strict_memory)
{
	struct acpi_s5_info i;

	/* Everything unmapped fails: the walk must read only what exists...
	 * except the scan, which covers the whole BIOS area; so map it. */
	mem_reset();
	mem_map(0xE0000, 0x20000);
	mem_map(0x9FC00, 1024);                    /* SeaBIOS's EBDA */
	mem_load(qemu_pc_regions, ARRAY_SIZE(qemu_pc_regions));
	M.unmapped_fails = true;
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.pm1a_cnt_blk, 0x604);
}

TEST(qemu_real_tables_read_errors_propagate)
{
	struct acpi_s5_info i;
	const uint64_t spots[] = { 0x40E, 0x9FC00 + 500, QEMU_PC_RSDP, QEMU_PC_RSDT,
				   QEMU_PC_FACP + 40, QEMU_PC_DSDT + 100 };

	for (size_t s = 0; s < ARRAY_SIZE(spots); s++) {
		mem_reset();
		mem_load(qemu_pc_regions, ARRAY_SIZE(qemu_pc_regions));
		M.fail_lo = spots[s];
		M.fail_hi = spots[s] + 1;
		CHECK_EQ(find(&i), -EIO);
	}
	/* Tables the walk does not need are never read. */
	mem_reset();
	mem_load(qemu_pc_regions, ARRAY_SIZE(qemu_pc_regions));
	M.fail_lo = QEMU_PC_APIC;
	M.fail_hi = QEMU_PC_RSDT;
	CHECK_EQ(find(&i), 0);
}

/* ---- synthetic layouts ------------------------------------------------- */

TEST(synthetic_rsdt_machine)
{
	struct acpi_s5_info i;

	mk_machine();
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, 0xF0000);
	CHECK_EQ(i.root_paddr, RSDT_PA);
	CHECK_EQ(i.fadt_paddr, FADT_PA);
	CHECK_EQ(i.pm1a_cnt_blk, 0xB004);
	CHECK_EQ(i.pm1b_cnt_blk, 0xB008);
	CHECK_EQ(i.slp_typa, 5);
	CHECK_EQ(i.slp_typb, 5);
	CHECK_EQ(i.facs_paddr, 0x1000);
	CHECK_EQ(acpi_s5_pm1_value(&i, 0), 5 << 10 | 1 << 13);
	CHECK_EQ(acpi_s5_pm1_value(&i, 1), 0x3400);
}

TEST(rsdp_in_ebda_found_first)
{
	struct acpi_s5_info i;
	uint64_t e[] = { FADT_PA };

	mk_machine();
	put16(mem_map(0x40E, 2), 0x9FC0);
	mk_rsdp(0x9FC00 + 0x30, 0, RSDT_PA + 0x100, 0);
	mk_root(RSDT_PA + 0x100, false, e, 1);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, 0x9FC30);
	CHECK_EQ(i.root_paddr, RSDT_PA + 0x100);
}

TEST(ebda_pointer_garbage_is_ignored)
{
	struct acpi_s5_info i;
	uint64_t pa;

	mk_machine();
	put16(mem_map(0x40E, 2), 0xFFFF);   /* EBDA "at" 0xFFFF0: out of range */
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, 0xF0000);

	/* An EBDA in the last KiB below 640 KiB is scanned only up to there. */
	mk_machine();
	put16(mem_map(0x40E, 2), 0x9FE0);
	mk_rsdp(0x9FE00 + 0x1E0, 0, RSDT_PA, 0);  /* 0x9FFE0: 20 bytes fit */
	M.unmapped_fails = true;
	mem_map(0xE0000, 0x20000);                 /* never reached */
	mem_map(0x9FE00, 0x1E0);
	CHECK_EQ(acpi_find_rsdp(mem_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0x9FFE0);
}

TEST(rsdp_bad_checksum_skipped)
{
	struct acpi_s5_info i;
	uint8_t *bad;

	mk_machine();
	bad = mk_rsdp(0xE0010, 0, RSDT_PA, 0);
	bad[8] ^= 1;
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.rsdp_paddr, 0xF0000);
	mem_reset();
	bad = mk_rsdp(0xE0010, 0, RSDT_PA, 0);
	bad[8] ^= 1;
	CHECK_EQ(find(&i), -ENOENT);
	CHECK_EQ(acpi_find_s5_from_rsdp(mem_read, NULL, 0xE0010, &i), -EINVAL);
}

TEST(rsdp_unaligned_ignored_and_end_of_area)
{
	uint64_t pa;

	mem_reset();
	mk_rsdp(0xE0008, 0, RSDT_PA, 0);          /* not on a 16-byte boundary */
	CHECK_EQ(acpi_find_rsdp(mem_read, NULL, &pa), -ENOENT);
	mem_reset();
	mk_rsdp(0xFFFE0, 2, RSDT_PA, XSDT_PA);    /* v2 needs 36 bytes: 4 past the end */
	CHECK_EQ(acpi_find_rsdp(mem_read, NULL, &pa), -ENOENT);
	mem_reset();
	mk_rsdp(0xFFFE0, 0, RSDT_PA, 0);          /* v1's 20 bytes fit */
	CHECK_EQ(acpi_find_rsdp(mem_read, NULL, &pa), 0);
	CHECK_EQ(pa, 0xFFFE0);
}

TEST(rsdp_v2_extended_checksum)
{
	uint64_t pa;
	uint8_t *p;

	mem_reset();
	p = mk_rsdp(0xE0000, 2, RSDT_PA, XSDT_PA);
	p[24] ^= 0x10;                            /* XSDT address: only the ext sum sees it */
	fix_sum(p, 20, 8);
	CHECK_EQ(acpi_find_rsdp(mem_read, NULL, &pa), -ENOENT);
}

TEST(xsdt_preferred_over_rsdt)
{
	struct acpi_s5_info i;
	uint64_t e32[] = { FADT_PA }, e64[] = { 0x7100000 };

	mk_machine();
	mk_rsdp(0xE0000, 2, RSDT_PA, XSDT_PA);
	mk_root(XSDT_PA, true, e64, 1);
	mk_fadt(0x7100000, true, DSDT_PA, 0x1804, 0);
	(void)e32;
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.revision, 2);
	CHECK(i.root_is_xsdt);
	CHECK_EQ(i.root_paddr, XSDT_PA);
	CHECK_EQ(i.fadt_paddr, 0x7100000);
	CHECK_EQ(i.fadt_revision, 6);
	CHECK_EQ(i.pm1a_cnt_blk, 0x1804);
	CHECK_EQ(i.pm1b_cnt_blk, 0);
}

TEST(xsdt_broken_falls_back_to_rsdt)
{
	struct acpi_s5_info i;
	uint64_t e64[] = { 0x7100000 };
	uint8_t *x;

	mk_machine();
	mk_rsdp(0xE0000, 2, RSDT_PA, XSDT_PA);
	x = mk_root(XSDT_PA, true, e64, 1);
	x[9] ^= 0xFF;                              /* bad checksum */
	CHECK_EQ(find(&i), 0);
	CHECK(!i.root_is_xsdt);
	CHECK_EQ(i.fadt_paddr, FADT_PA);

	/* An XSDT without a FADT also falls back. */
	mk_machine();
	mk_rsdp(0xE0000, 2, RSDT_PA, XSDT_PA);
	mk_root(XSDT_PA, true, NULL, 0);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.fadt_paddr, FADT_PA);

	/* ...and with no RSDT to fall back to, the XSDT's error stands. */
	mem_reset();
	mk_rsdp(0xE0000, 2, 0, XSDT_PA);
	x = mk_root(XSDT_PA, true, e64, 1);
	x[9] ^= 0xFF;
	CHECK_EQ(find(&i), -EINVAL);
}

TEST(xsdt_zero_address_uses_rsdt)
{
	struct acpi_s5_info i;

	mk_machine();
	mk_rsdp(0xE0000, 2, RSDT_PA, 0);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.revision, 2);
	CHECK(!i.root_is_xsdt);
	CHECK_EQ(i.pm1a_cnt_blk, 0xB004);
}

TEST(x_pm1_gas_rules)
{
	struct acpi_s5_info i;
	uint64_t e[] = { 0x7100000 };
	uint8_t *f;

	/* I/O-space GAS wins over the 32-bit field. */
	mk_machine();
	mk_rsdp(0xE0000, 2, 0, XSDT_PA);
	mk_root(XSDT_PA, true, e, 1);
	f = mk_fadt(0x7100000, true, DSDT_PA, 0x404, 0x408);
	set_gas(f, 172, 1, 16, 0x1804);
	set_gas(f, 184, 1, 16, 0x1808);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.pm1a_cnt_blk, 0x1804);
	CHECK_EQ(i.pm1b_cnt_blk, 0x1808);

	/* Memory-space GAS: the 32-bit port is used. */
	set_gas(f, 172, 0, 16, 0xFED00004);
	set_gas(f, 184, 0, 16, 0);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.pm1a_cnt_blk, 0x404);
	CHECK_EQ(i.pm1b_cnt_blk, 0x408);

	/* Memory-space only: cannot be driven with port writes. */
	put32(f + 64, 0);
	seal(f);
	CHECK_EQ(find(&i), -EOPNOTSUPP);

	/* An I/O "port" beyond 64 KiB is garbage. */
	set_gas(f, 172, 1, 16, 0x12345);
	CHECK_EQ(find(&i), -EINVAL);
	put32(f + 64, 0x10004);
	set_gas(f, 172, 0, 0, 0);
	CHECK_EQ(find(&i), -EINVAL);

	/* PM1_CNT_LEN 0: from the GAS width, else 2. */
	put32(f + 64, 0x404);
	f[89] = 0;
	set_gas(f, 172, 1, 32, 0x404);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.pm1_cnt_len, 4);
	set_gas(f, 172, 0, 0, 0);
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.pm1_cnt_len, 2);
}

TEST(no_pm1a_or_hw_reduced)
{
	struct acpi_s5_info i;
	uint64_t e[] = { FADT_PA + 0x800 };
	uint8_t *f;

	mk_machine();
	mk_root(RSDT_PA, false, e, 1);
	f = mk_fadt(FADT_PA + 0x800, true, DSDT_PA, 0, 0);
	CHECK_EQ(find(&i), -ENOENT);
	put32(f + 112, 1u << 20);
	seal(f);
	CHECK_EQ(find(&i), -EOPNOTSUPP);
}

TEST(x_dsdt_preferred_then_fallback)
{
	struct acpi_s5_info i;
	static const uint8_t aml1[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x07, 0x01 };
	uint64_t e[] = { 0x7100000 };
	uint8_t *f, *d;

	mk_machine();
	mk_rsdp(0xE0000, 2, 0, XSDT_PA);
	mk_root(XSDT_PA, true, e, 1);
	f = mk_fadt(0x7100000, true, DSDT_PA, 0x404, 0);
	put64(f + 140, 0x7200000);
	seal(f);
	d = mk_aml_table(0x7200000, "DSDT", aml1, sizeof(aml1));
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.dsdt_paddr, 0x7200000);
	CHECK_EQ(i.slp_typa, 7);
	CHECK_EQ(i.slp_typb, 1);
	d[20] ^= 1;                                /* X_DSDT's checksum breaks */
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.dsdt_paddr, DSDT_PA);
	CHECK_EQ(i.slp_typa, 5);
}

TEST(s5_in_ssdt)
{
	struct acpi_s5_info i;
	static const uint8_t no_s5[] = { 0x08, '_', 'S', '3', '_', 0x12, 0x04, 0x01, 0x0A, 0x01 };
	static const uint8_t s5[] = { 0x08, '^', '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0B, 0x06, 0x01 };
	uint64_t e[] = { SSDT_PA + 0x800, FADT_PA, SSDT_PA };
	uint8_t *bad;

	mk_machine();
	mk_root(RSDT_PA, false, e, 3);
	mk_aml_table(DSDT_PA + 0x800, "DSDT", no_s5, sizeof(no_s5));
	mk_fadt(FADT_PA, false, DSDT_PA + 0x800, 0xB004, 0);
	bad = mk_aml_table(SSDT_PA + 0x800, "SSDT", s5, sizeof(s5));
	bad[9] ^= 1;                               /* first SSDT invalid: skipped */
	mk_aml_table(SSDT_PA, "SSDT", s5, sizeof(s5));
	CHECK_EQ(find(&i), 0);
	CHECK_EQ(i.dsdt_paddr, DSDT_PA + 0x800);
	CHECK_EQ(i.s5_table_paddr, SSDT_PA);
	CHECK_EQ(i.slp_typa, 6);
	CHECK_EQ(i.slp_typb, 0x01);               /* 1 element: b = bits 8-15 */

	/* No \_S5 anywhere. */
	mk_machine();
	mk_aml_table(DSDT_PA + 0x800, "DSDT", no_s5, sizeof(no_s5));
	mk_fadt(FADT_PA + 0x400, false, DSDT_PA + 0x800, 0xB004, 0);
	e[0] = FADT_PA + 0x400;
	mk_root(RSDT_PA + 0x400, false, e, 1);
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x400, 0);
	CHECK_EQ(find(&i), -ENOENT);
}

TEST(fadt_missing_bad_or_duplicated)
{
	struct acpi_s5_info i;
	uint64_t e[] = { 0x7100000, FADT_PA };
	uint8_t *f;

	mem_reset();
	mk_rsdp(0xE0000, 0, RSDT_PA, 0);
	mk_root(RSDT_PA, false, NULL, 0);
	CHECK_EQ(find(&i), -ENOENT);

	mk_machine();
	f = mk_fadt(0x7100000, false, DSDT_PA, 0x1234, 0);
	f[30] ^= 1;                                /* bad checksum */
	mk_root(RSDT_PA + 0x100, false, e, 2);
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x100, 0);
	CHECK_EQ(find(&i), 0);                     /* the second, good FADT */
	CHECK_EQ(i.fadt_paddr, FADT_PA);
	CHECK_EQ(i.pm1a_cnt_blk, 0xB004);

	mk_machine();
	f = mk_fadt(0x7100000, false, DSDT_PA, 0x1234, 0);
	f[30] ^= 1;
	mk_root(RSDT_PA + 0x100, false, e, 1);
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x100, 0);
	CHECK_EQ(find(&i), -EINVAL);

	/* A FADT too short to hold DSDT. */
	mk_machine();
	f = mk_table(0x7100000, "FACP", 40, 1);
	seal(f);
	mk_root(RSDT_PA + 0x100, false, e, 1);
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x100, 0);
	CHECK_EQ(find(&i), -EINVAL);
}

TEST(table_lengths_hostile)
{
	struct acpi_s5_info i;
	uint8_t *t;

	/* RSDT Length past the end of mapped memory. */
	mk_machine();
	t = M.r[1].bytes;                          /* the RSDT */
	put32(t + 4, 0x8000);
	CHECK_EQ(find(&i), -EINVAL);              /* checksum over what follows fails */
	M.unmapped_fails = true;
	CHECK_EQ(acpi_find_s5_from_rsdp(mem_read, NULL, 0xF0000, &i), -EIO); /* or the read */

	/* Length below a header, or above the 64 KiB cap. */
	const uint32_t lens[] = { 0, 35, 64 * 1024 + 1, 0xFFFFFFFF };
	for (size_t k = 0; k < ARRAY_SIZE(lens); k++) {
		mk_machine();
		put32(M.r[1].bytes + 4, lens[k]);
		CHECK_EQ(find(&i), -EINVAL);
		CHECK(M.largest_read <= 64 * 1024);
	}

	/* DSDT above the 1 MiB cap. */
	mk_machine();
	put32(M.r[3].bytes + 4, 1024 * 1024 + 1);
	CHECK_EQ(find(&i), -EINVAL);
	CHECK(M.largest_read <= 1024 * 1024);

	/* A root-table entry count that is not a whole number: trailing bytes
	 * are ignored. */
	mk_machine();
	t = M.r[1].bytes;
	put32(t + 4, 38);
	seal(t);
	CHECK_EQ(find(&i), -ENOENT);

	/* Wrong signature where the DSDT should be. */
	mk_machine();
	memcpy(M.r[3].bytes, "SSDT", 4);
	seal(M.r[3].bytes);
	CHECK_EQ(find(&i), -EINVAL);

	/* Root entries pointing at the top of the address space. */
	mk_machine();
	{
		uint64_t e[] = { 0xFFFFFFFFFFFFFFF0ull, FADT_PA };

		mk_rsdp(0xE0000, 2, 0, XSDT_PA);
		mk_root(XSDT_PA, true, e, 2);
		CHECK_EQ(find(&i), 0);                /* reads as zeros: skipped */
		e[0] = 0xFFFFFFFFFFFFFFFEull;         /* a 4-byte read would wrap */
		mk_root(XSDT_PA, true, e, 2);
		CHECK_EQ(find(&i), -EINVAL);
	}
}

TEST(s5_truncated_in_dsdt)
{
	struct acpi_s5_info i;
	static const uint8_t cut[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x0A, 0x04, 0x0A };
	static const uint8_t cut2[] = { 0x00, 0x08, '_', 'S', '5' };

	mk_machine();
	mk_aml_table(DSDT_PA + 0x800, "DSDT", cut, sizeof(cut));
	mk_fadt(FADT_PA + 0x400, false, DSDT_PA + 0x800, 0xB004, 0);
	{
		uint64_t e[] = { FADT_PA + 0x400 };

		mk_root(RSDT_PA + 0x400, false, e, 1);
	}
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x400, 0);
	CHECK_EQ(find(&i), -EINVAL);
	M.r[M.n - 4].bytes[36 + 6] = 0x03;        /* PkgLength 3 fits; 0x0A's byte does not */
	seal(M.r[M.n - 4].bytes);
	CHECK_EQ(find(&i), -EINVAL);

	mk_machine();
	mk_aml_table(DSDT_PA + 0x800, "DSDT", cut2, sizeof(cut2));
	mk_fadt(FADT_PA + 0x400, false, DSDT_PA + 0x800, 0xB004, 0);
	{
		uint64_t e[] = { FADT_PA + 0x400 };

		mk_root(RSDT_PA + 0x400, false, e, 1);
	}
	mk_rsdp(0xE0000, 0, RSDT_PA + 0x400, 0);
	CHECK_EQ(find(&i), -ENOENT);
}

/* ---- the AML matcher on its own -------------------------------------- */

static int s5(const uint8_t *aml, size_t len, uint8_t *a, uint8_t *b)
{
	/* Copy into an exact-size heap buffer so ASan sees any over-read. */
	uint8_t *copy = malloc(len ? len : 1);
	int rc;

	if (len)
		memcpy(copy, aml, len);
	*a = *b = 0xEE;
	rc = acpi_aml_find_s5(copy, len, a, b);
	free(copy);
	return rc;
}

#define S5(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

TEST(aml_integer_forms)
{
	uint8_t a, b;

	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x06, 0x04, 0x00, 0x00, 0x00, 0x00), &a, &b), 0);
	CHECK_EQ(a, 0);
	CHECK_EQ(b, 0);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0xFF), &a, &b), 0);
	CHECK_EQ(a, 1);
	CHECK_EQ(b, 0xFF);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x0A, 0x02, 0x0B, 0x07, 0x01,
		       0x0C, 0x06, 0, 0, 0), &a, &b), 0);
	CHECK_EQ(a, 7);
	CHECK_EQ(b, 6);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x0D, 0x02, 0x0E, 3, 0, 0, 0, 0, 0, 0, 0,
		       0x0A, 0x04), &a, &b), 0);
	CHECK_EQ(a, 3);
	CHECK_EQ(b, 4);
	/* One element holds both (ACPICA): a = bits 0-7, b = bits 8-15. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x01, 0x0B, 0x05, 0x06), &a, &b), 0);
	CHECK_EQ(a, 5);
	CHECK_EQ(b, 6);
}

TEST(aml_pkglength_encodings)
{
	uint8_t a, b, big[0x200];

	/* Two-byte PkgLength: 0x4N lead, length = N | next << 4. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x48, 0x00, 0x04, 0x0A, 0x02, 0x0A, 0x03,
		       0x00, 0x00), &a, &b), 0);
	CHECK_EQ(a, 2);
	CHECK_EQ(b, 3);
	/* A long package (0x1F0 bytes) ending exactly at the buffer's end. */
	memset(big, 0, sizeof(big));
	memcpy(big, "\x08_S5_\x12", 6);
	big[6] = 0x40 | (0x1F0 & 0xF);
	big[7] = 0x1F0 >> 4;
	big[8] = 0x04;
	big[9] = 0x0A;
	big[10] = 0x05;
	CHECK_EQ(s5(big, 6 + 0x1F0, &a, &b), 0);
	CHECK_EQ(a, 5);
	CHECK_EQ(s5(big, 6 + 0x1EF, &a, &b), -EINVAL); /* one byte short */
	/* Three- and four-byte PkgLengths that overrun. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x80, 0x10, 0x00, 0x02, 0x00, 0x00), &a, &b),
		 -EINVAL);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0xCF, 0xFF, 0xFF, 0xFF, 0x02, 0x00, 0x00),
		    &a, &b), -EINVAL);
	/* PkgLength bytes themselves cut off. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0xC0, 0x01), &a, &b), -EINVAL);
	/* PkgLength too small to hold NumElements. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x01, 0x02, 0x00, 0x00), &a, &b), -EINVAL);
	/* Elements running past the package's own end (but not the buffer's). */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x03, 0x02, 0x0A, 0x05, 0x0A, 0x05), &a, &b),
		 -EINVAL);
}

TEST(aml_names_and_malformed)
{
	uint8_t a, b;

	CHECK_EQ(s5(NULL, 0, &a, &b), -ENOENT);
	CHECK_EQ(s5(S5('_', 'S', '5', '_'), &a, &b), -ENOENT);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5'), &a, &b), -ENOENT);
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_'), &a, &b), -EINVAL);
	/* A reference (Store(_S5_, ...)), not a definition: skipped. */
	CHECK_EQ(s5(S5(0x70, '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x01), &a, &b), -ENOENT);
	/* Root and parent prefixes. */
	CHECK_EQ(s5(S5(0x08, '\\', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x01), &a, &b), 0);
	CHECK_EQ(s5(S5(0x08, '^', '^', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x00), &a, &b), 0);
	CHECK_EQ(s5(S5(0x08, '\\', '^', '_', 'S', '5', '_', 0x12, 0x04, 0x02, 0x01, 0x00), &a, &b),
		 -ENOENT);
	/* Name(_S5_, 5): not a package. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x0A, 0x05), &a, &b), -EINVAL);
	/* Elements that need an interpreter. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x07, 0x02, 'S', 'L', 'P', '5', 0x00), &a, &b),
		 -EINVAL);
	/* NumElements 0. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x02, 0x00), &a, &b), -EINVAL);
	/* A malformed definition then a good one: the good one wins. */
	CHECK_EQ(s5(S5(0x08, '_', 'S', '5', '_', 0x12, 0x7F, 0x02,
		       0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x03, 0x00), &a, &b), 0);
	CHECK_EQ(a, 3);
	CHECK_EQ(b, 0);
}

TEST(pm1_value)
{
	struct acpi_s5_info i;

	memset(&i, 0, sizeof(i));
	i.slp_typa = 7;
	i.slp_typb = 0xF9;                         /* SLP_TYP is 3 bits wide */
	CHECK_EQ(acpi_s5_pm1_value(&i, 0), 0x3C00);
	CHECK_EQ(acpi_s5_pm1_value(&i, 1), 0x2400);
}

TEST(random_memory_never_crashes)
{
	struct acpi_s5_info i;
	uint32_t x = 12345;

	for (int round = 0; round < 40; round++) {
		uint8_t *bios;

		mem_reset();
		bios = mem_map(0xE0000, 0x20000);
		for (size_t k = 0; k < 0x20000; k++) {
			x = x * 1103515245 + 12345;
			bios[k] = (uint8_t)(x >> 16);
		}
		/* Plant a few plausible RSDPs pointing into the same area. */
		for (int k = 0; k < 8; k++) {
			uint8_t *p = bios + 0x1000 * k + 0x100;

			memcpy(p, "RSD PTR ", 8);
			p[15] = (uint8_t)(k & 2);
			put32(p + 16, 0xE0000 + (x % 0x20000));
			fix_sum(p, 20, 8);
			fix_sum(p, 36, 32);
			x = x * 1103515245 + 12345;
		}
		int rc = find(&i);
		CHECK(rc == 0 || rc == -EINVAL || rc == -ENOENT || rc == -EOPNOTSUPP);
	}
}

static const struct test_case tests[] = {
	T(qemu_pc_real_tables),
	T(qemu_q35_real_tables),
	T(qemu_real_tables_with_strict_memory),
	T(qemu_real_tables_read_errors_propagate),
	T(synthetic_rsdt_machine),
	T(rsdp_in_ebda_found_first),
	T(ebda_pointer_garbage_is_ignored),
	T(rsdp_bad_checksum_skipped),
	T(rsdp_unaligned_ignored_and_end_of_area),
	T(rsdp_v2_extended_checksum),
	T(xsdt_preferred_over_rsdt),
	T(xsdt_broken_falls_back_to_rsdt),
	T(xsdt_zero_address_uses_rsdt),
	T(x_pm1_gas_rules),
	T(no_pm1a_or_hw_reduced),
	T(x_dsdt_preferred_then_fallback),
	T(s5_in_ssdt),
	T(fadt_missing_bad_or_duplicated),
	T(table_lengths_hostile),
	T(s5_truncated_in_dsdt),
	T(aml_integer_forms),
	T(aml_pkglength_encodings),
	T(aml_names_and_malformed),
	T(pm1_value),
	T(random_memory_never_crashes),
	T(mcfg_q35_real_tables),
	T(mcfg_parse_hostile),
};

int main(void)
{
	int rc = run_tests(tests, ARRAY_SIZE(tests));

	mem_reset();
	return rc;
}

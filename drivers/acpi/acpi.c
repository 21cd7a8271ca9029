/*
 * ACPI table discovery for poweroff: RSDP -> RSDT/XSDT -> FADT (PM1 control
 * ports) -> DSDT/SSDT (\_S5 sleep types).  Pure: all memory access goes
 * through the caller's read_phys, so the same file runs in the kernel, in
 * host unit tests and under libFuzzer.  It does not enter S5 itself.
 *
 * Firmware tables are treated as untrusted input: every table is read twice
 * at most (header, then whole), its signature, length bound and checksum are
 * checked on the copy, and all parsing happens on that copy with explicit
 * bounds.  Nothing here writes to firmware memory.
 */
#include <lib/base.h>
#include <keel/acpi.h>

#define RSDP_SIGNATURE      "RSD PTR "
#define RSDP_V1_BYTES       20   /* covered by the ACPI 1.0 checksum */
#define RSDP_V2_BYTES       36   /* covered by the extended checksum */
#define RSDP_REVISION       15
#define RSDP_RSDT_ADDRESS   16
#define RSDP_XSDT_ADDRESS   24

#define BIOS_AREA_START     0xE0000u
#define BIOS_AREA_END       0x100000u
#define EBDA_SEGMENT_PADDR  0x40Eu
#define EBDA_SCAN_BYTES     1024u
#define EBDA_LIMIT          0xA0000u   /* the EBDA lies below the VGA hole */
#define SCAN_CHUNK_BYTES    512u

/* System description table header (ACPI 5.2.6). */
#define SDT_HEADER_BYTES    36
#define SDT_LENGTH          4
#define SDT_REVISION        8

#define TABLE_MAX_BYTES     (64u * 1024)
#define AML_TABLE_MAX_BYTES (1024u * 1024)

/* FADT fields (ACPI 5.2.9, Table 5.9), byte offsets. */
#define FADT_FIRMWARE_CTRL  36
#define FADT_DSDT           40
#define FADT_SCI_INT        46
#define FADT_PM1A_CNT_BLK   64
#define FADT_PM1B_CNT_BLK   68
#define FADT_PM1_CNT_LEN    89
#define FADT_FLAGS          112
#define FADT_X_FIRMWARE_CTRL 132
#define FADT_X_DSDT         140
#define FADT_X_PM1A_CNT_BLK 172
#define FADT_X_PM1B_CNT_BLK 184
#define FADT_MAX_BYTES      276  /* through HYPERVISOR_VENDOR_IDENTITY (6.x) */
#define FADT_MIN_BYTES      (FADT_DSDT + 4)
#define FADT_HW_REDUCED_ACPI (1u << 20)

/* Generic Address Structure (ACPI 5.2.3.2). */
#define GAS_SPACE_ID        0
#define GAS_BIT_WIDTH       1
#define GAS_ADDRESS         4
#define GAS_SPACE_SYSTEM_IO 1

/* AML opcodes (ACPI 20.2). */
#define AML_ZERO_OP         0x00
#define AML_ONE_OP          0x01
#define AML_NAME_OP         0x08
#define AML_BYTE_PREFIX     0x0A
#define AML_WORD_PREFIX     0x0B
#define AML_DWORD_PREFIX    0x0C
#define AML_QWORD_PREFIX    0x0E
#define AML_PACKAGE_OP      0x12
#define AML_ONES_OP         0xFF
#define AML_ROOT_CHAR       '\\'
#define AML_PARENT_CHAR     '^'

struct acpi_reader {
	acpi_read_phys_fn fn;
	void *ctx;
};

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static uint8_t checksum(const uint8_t *p, size_t len)
{
	uint8_t sum = 0;

	while (len--)
		sum = (uint8_t)(sum + *p++);
	return sum;
}

/* A read_phys call that also refuses address wrap-around and maps a stray
 * positive return onto -EIO, so callers see only 0 or -errno. */
static int phys_read(const struct acpi_reader *rd, uint64_t paddr, void *buf,
		     size_t len)
{
	int rc;

	if (len == 0)
		return 0;
	if (paddr + len < paddr)
		return -EINVAL;
	rc = rd->fn(rd->ctx, paddr, buf, len);
	return rc > 0 ? -EIO : rc;
}

/* ---- RSDP ----------------------------------------------------------------- */

static int rsdp_check(const struct acpi_reader *rd, uint64_t paddr, uint64_t limit,
		      bool *valid)
{
	uint8_t b[RSDP_V2_BYTES];
	int rc;

	*valid = false;
	if (paddr + RSDP_V1_BYTES > limit)
		return 0;
	rc = phys_read(rd, paddr, b, RSDP_V1_BYTES);
	if (rc)
		return rc;
	if (memcmp(b, RSDP_SIGNATURE, 8) != 0 || checksum(b, RSDP_V1_BYTES) != 0)
		return 0;
	if (b[RSDP_REVISION] >= 2) {
		/* Like ACPICA, trust the fixed 36-byte layout, not the Length field. */
		if (paddr + RSDP_V2_BYTES > limit)
			return 0;
		rc = phys_read(rd, paddr, b, RSDP_V2_BYTES);
		if (rc)
			return rc;
		if (memcmp(b, RSDP_SIGNATURE, 8) != 0 ||
		    checksum(b, RSDP_V1_BYTES) != 0 ||
		    checksum(b, RSDP_V2_BYTES) != 0)
			return 0;
	}
	*valid = true;
	return 0;
}

/* Scans [start, end) on 16-byte boundaries; 1 with *found set, 0, or -errno. */
static int rsdp_scan(const struct acpi_reader *rd, uint64_t start, uint64_t end,
		     uint64_t *found)
{
	uint8_t chunk[SCAN_CHUNK_BYTES];

	for (uint64_t base = start; base < end; base += SCAN_CHUNK_BYTES) {
		size_t n = (size_t)MIN((uint64_t)SCAN_CHUNK_BYTES, end - base);
		int rc = phys_read(rd, base, chunk, n);

		if (rc)
			return rc;
		for (size_t off = 0; off + 8 <= n; off += 16) {
			bool valid;

			if (memcmp(chunk + off, RSDP_SIGNATURE, 8) != 0)
				continue;
			rc = rsdp_check(rd, base + off, end, &valid);
			if (rc)
				return rc;
			if (valid) {
				*found = base + off;
				return 1;
			}
		}
	}
	return 0;
}

int acpi_find_rsdp(acpi_read_phys_fn read_phys, void *ctx, uint64_t *rsdp_paddr)
{
	struct acpi_reader rd = { read_phys, ctx };
	uint8_t seg[2];
	uint64_t ebda;
	int rc;

	/* ACPI 5.2.5.1: first the EBDA's first KiB, then the BIOS read-only area. */
	rc = phys_read(&rd, EBDA_SEGMENT_PADDR, seg, sizeof(seg));
	if (rc)
		return rc;
	ebda = (uint64_t)get16(seg) << 4;
	if (ebda >= 0x400 && ebda < EBDA_LIMIT) {
		rc = rsdp_scan(&rd, ebda, MIN(ebda + EBDA_SCAN_BYTES, (uint64_t)EBDA_LIMIT),
			       rsdp_paddr);
		if (rc)
			return rc < 0 ? rc : 0;
	}
	rc = rsdp_scan(&rd, BIOS_AREA_START, BIOS_AREA_END, rsdp_paddr);
	if (rc)
		return rc < 0 ? rc : 0;
	return -ENOENT;
}

/* ---- tables --------------------------------------------------------------- */

/*
 * Reads the table at paddr into a fresh buffer after checking its header:
 * signature sig (NULL: any), SDT_HEADER_BYTES <= Length <= max_bytes, and the
 * checksum over the copy.  The header is re-checked on the copy, since
 * firmware memory may change between the two reads.
 */
static int table_load(const struct acpi_reader *rd, uint64_t paddr, const char *sig,
		      uint32_t max_bytes, uint8_t **table, uint32_t *len_bytes)
{
	uint8_t hdr[SDT_HEADER_BYTES];
	uint8_t *t;
	uint32_t len;
	int rc;

	if (paddr == 0)
		return -ENOENT;
	rc = phys_read(rd, paddr, hdr, sizeof(hdr));
	if (rc)
		return rc;
	if (sig && memcmp(hdr, sig, 4) != 0)
		return -EINVAL;
	len = get32(hdr + SDT_LENGTH);
	if (len < SDT_HEADER_BYTES || len > max_bytes)
		return -EINVAL;
	t = kmalloc(len);
	if (!t)
		return -ENOMEM;
	rc = phys_read(rd, paddr, t, len);
	if (rc)
		goto err_free;
	rc = -EINVAL;
	if (memcmp(t, hdr, 4) != 0 || get32(t + SDT_LENGTH) != len ||
	    checksum(t, len) != 0)
		goto err_free;
	*table = t;
	*len_bytes = len;
	return 0;

err_free:
	kfree(t);
	return rc;
}

struct root_table {
	uint8_t *t;
	uint32_t len;
	uint32_t entry_bytes;   /* 4 (RSDT) or 8 (XSDT) */
};

static size_t root_entries(const struct root_table *root)
{
	return (root->len - SDT_HEADER_BYTES) / root->entry_bytes;
}

static uint64_t root_entry(const struct root_table *root, size_t i)
{
	const uint8_t *p = root->t + SDT_HEADER_BYTES + i * root->entry_bytes;

	return root->entry_bytes == 8 ? get64(p) : get32(p);
}

/*
 * The next root-table entry, from index *idx on, whose table starts with
 * signature sig: 0 with *paddr set and *idx moved past it, -ENOENT when there
 * is none, or a read errno.  Null entries are skipped.
 */
static int root_find_addr(const struct acpi_reader *rd, const struct root_table *root,
			  const char *sig, size_t *idx, uint64_t *paddr)
{
	while (*idx < root_entries(root)) {
		uint64_t addr = root_entry(root, (*idx)++);
		uint8_t s[4];
		int rc;

		if (addr == 0)
			continue;
		rc = phys_read(rd, addr, s, sizeof(s));
		if (rc)
			return rc;
		if (memcmp(s, sig, 4) == 0) {
			*paddr = addr;
			return 0;
		}
	}
	return -ENOENT;
}

/*
 * Loads the first valid table with signature sig listed in the root table.
 * One that matches but fails validation is skipped, so a later good copy can
 * still be found; -EINVAL if only bad ones exist, -ENOENT if none.
 */
static int root_find(const struct acpi_reader *rd, const struct root_table *root,
		     const char *sig, uint32_t max_bytes, uint64_t *paddr,
		     uint8_t **table, uint32_t *len)
{
	int result = -ENOENT;
	size_t idx = 0;

	for (;;) {
		int rc = root_find_addr(rd, root, sig, &idx, paddr);

		if (rc == -ENOENT)
			return result;
		if (rc)
			return rc;
		rc = table_load(rd, *paddr, sig, max_bytes, table, len);
		if (rc != -EINVAL)
			return rc;
		result = -EINVAL;
	}
}

static int root_load(const struct acpi_reader *rd, uint64_t paddr, bool xsdt,
		     struct root_table *root)
{
	int rc = table_load(rd, paddr, xsdt ? "XSDT" : "RSDT", TABLE_MAX_BYTES,
			    &root->t, &root->len);

	root->entry_bytes = xsdt ? 8 : 4;
	return rc;
}

/* ---- FADT ----------------------------------------------------------------- */

/*
 * Picks the I/O port of a PM1 control block: the 64-bit X_ GAS when it is in
 * System I/O space (ACPICA also prefers it), else the 32-bit field.  A block
 * that exists only in memory space cannot be driven with port writes.
 */
static int fadt_port(const uint8_t *fadt, unsigned legacy_off, unsigned gas_off,
		     uint16_t *port, uint8_t *gas_bytes)
{
	const uint8_t *gas = fadt + gas_off;
	uint32_t legacy = get32(fadt + legacy_off);
	uint64_t x = get64(gas + GAS_ADDRESS);

	*port = 0;
	*gas_bytes = 0;
	if (x != 0 && gas[GAS_SPACE_ID] == GAS_SPACE_SYSTEM_IO && x <= 0xFFFF) {
		*port = (uint16_t)x;
		*gas_bytes = gas[GAS_BIT_WIDTH] / 8;
		return 0;
	}
	if (legacy != 0) {
		if (legacy > 0xFFFF)
			return -EINVAL;
		*port = (uint16_t)legacy;
		return 0;
	}
	if (x != 0)
		return gas[GAS_SPACE_ID] == GAS_SPACE_SYSTEM_IO ? -EINVAL : -EOPNOTSUPP;
	return 0;
}

/* Fills the FADT-derived fields of *out and the DSDT candidates. */
static int fadt_parse(const uint8_t *table, uint32_t len, struct acpi_s5_info *out,
		      uint64_t *dsdt32, uint64_t *dsdt64)
{
	/* Older, shorter FADTs simply lack the later fields: read them as 0. */
	uint8_t f[FADT_MAX_BYTES];
	uint8_t width_a, width_b;
	uint64_t facs;
	int rc;

	if (len < FADT_MIN_BYTES)
		return -EINVAL;
	memset(f, 0, sizeof(f));
	memcpy(f, table, MIN(len, (uint32_t)sizeof(f)));

	out->fadt_revision = f[SDT_REVISION];
	out->fadt_flags = get32(f + FADT_FLAGS);
	out->sci_irq = get16(f + FADT_SCI_INT);
	facs = get64(f + FADT_X_FIRMWARE_CTRL);
	out->facs_paddr = facs ? facs : get32(f + FADT_FIRMWARE_CTRL);
	*dsdt32 = get32(f + FADT_DSDT);
	*dsdt64 = get64(f + FADT_X_DSDT);

	rc = fadt_port(f, FADT_PM1A_CNT_BLK, FADT_X_PM1A_CNT_BLK, &out->pm1a_cnt_blk,
		       &width_a);
	if (rc)
		return rc;
	if (out->pm1a_cnt_blk == 0)
		return (out->fadt_flags & FADT_HW_REDUCED_ACPI) ? -EOPNOTSUPP : -ENOENT;
	rc = fadt_port(f, FADT_PM1B_CNT_BLK, FADT_X_PM1B_CNT_BLK, &out->pm1b_cnt_blk,
		       &width_b);
	if (rc == -EOPNOTSUPP)
		out->pm1b_cnt_blk = 0; /* unusable B block: drive A only */
	else if (rc)
		return rc;

	out->pm1_cnt_len = f[FADT_PM1_CNT_LEN];
	if (out->pm1_cnt_len == 0)
		out->pm1_cnt_len = width_a;
	if (out->pm1_cnt_len == 0)
		out->pm1_cnt_len = 2; /* the register is 16 bits (ACPI 4.8.4.2) */
	return 0;
}

/* ---- AML ------------------------------------------------------------------ */

/* One integer constant at aml[*pos], not beyond end. */
static int aml_integer(const uint8_t *aml, size_t *pos, size_t end, uint64_t *val)
{
	size_t bytes;

	if (*pos >= end)
		return -EINVAL;
	switch (aml[*pos]) {
	case AML_ZERO_OP:
		*val = 0;
		*pos += 1;
		return 0;
	case AML_ONE_OP:
		*val = 1;
		*pos += 1;
		return 0;
	case AML_ONES_OP:
		*val = UINT64_MAX;
		*pos += 1;
		return 0;
	case AML_BYTE_PREFIX:
		bytes = 1;
		break;
	case AML_WORD_PREFIX:
		bytes = 2;
		break;
	case AML_DWORD_PREFIX:
		bytes = 4;
		break;
	case AML_QWORD_PREFIX:
		bytes = 8;
		break;
	default:
		return -EINVAL; /* a name or expression: needs an interpreter */
	}
	if (end - *pos - 1 < bytes)
		return -EINVAL;
	*val = 0;
	for (size_t i = 0; i < bytes; i++)
		*val |= (uint64_t)aml[*pos + 1 + i] << (8 * i);
	*pos += 1 + bytes;
	return 0;
}

/* Parses PackageOp PkgLength NumElements elements... at aml[0..len). */
static int aml_s5_package(const uint8_t *aml, size_t len, uint8_t *a, uint8_t *b)
{
	size_t pos = 1, end, follow;
	uint32_t pkg_len;
	uint64_t v0, v1;
	uint8_t count;
	int rc;

	if (len < 2 || aml[0] != AML_PACKAGE_OP)
		return -EINVAL;
	/* PkgLength (20.2.4): bits 7-6 of the lead byte count the bytes that
	 * follow; the length includes the PkgLength bytes themselves. */
	follow = aml[pos] >> 6;
	if (pos + 1 + follow > len)
		return -EINVAL;
	if (follow == 0) {
		pkg_len = aml[pos] & 0x3F;
	} else {
		pkg_len = aml[pos] & 0x0F;
		for (size_t i = 1; i <= follow; i++)
			pkg_len |= (uint32_t)aml[pos + i] << (4 + 8 * (i - 1));
	}
	if (pkg_len < follow + 2 || pkg_len > len - pos)
		return -EINVAL;
	end = pos + pkg_len;
	pos += 1 + follow;
	count = aml[pos++];
	if (count == 0)
		return -EINVAL;
	rc = aml_integer(aml, &pos, end, &v0);
	if (rc)
		return rc;
	if (count >= 2) {
		rc = aml_integer(aml, &pos, end, &v1);
		if (rc)
			return rc;
	} else {
		v1 = v0 >> 8;
	}
	*a = (uint8_t)v0;
	*b = (uint8_t)v1;
	return 0;
}

int acpi_aml_find_s5(const void *aml_buf, size_t len, uint8_t *slp_typa,
		     uint8_t *slp_typb)
{
	const uint8_t *aml = aml_buf;
	int result = -ENOENT;

	for (size_t i = 0; i + 4 <= len; i++) {
		size_t j = i;

		if (aml[i] != '_' || memcmp(aml + i, "_S5_", 4) != 0)
			continue;
		/* A definition is NameOp NameString: "_S5_", "\_S5_" or "^.._S5_".
		 * Anything else is a reference (or a Method) and is skipped. */
		if (j > 0 && aml[j - 1] == AML_ROOT_CHAR)
			j--;
		else
			while (j > 0 && aml[j - 1] == AML_PARENT_CHAR)
				j--;
		if (j == 0 || aml[j - 1] != AML_NAME_OP)
			continue;
		if (aml_s5_package(aml + i + 4, len - i - 4, slp_typa, slp_typb) == 0)
			return 0;
		result = -EINVAL;
	}
	return result;
}

/* ---- the walk ------------------------------------------------------------- */

/*
 * Loads the AML table at paddr and searches it for \_S5.  *loaded tells
 * whether the table itself validated (so a valid DSDT without \_S5 can be
 * told apart from a broken one).
 */
static int s5_in_table(const struct acpi_reader *rd, uint64_t paddr, const char *sig,
		       struct acpi_s5_info *out, bool *loaded)
{
	uint8_t *t;
	uint32_t len;
	int rc = table_load(rd, paddr, sig, AML_TABLE_MAX_BYTES, &t, &len);

	*loaded = rc == 0;
	if (rc)
		return rc;
	rc = acpi_aml_find_s5(t + SDT_HEADER_BYTES, len - SDT_HEADER_BYTES,
			      &out->slp_typa, &out->slp_typb);
	if (rc == 0)
		out->s5_table_paddr = paddr;
	kfree(t);
	return rc;
}

/*
 * The DSDT (X_DSDT first, the 32-bit DSDT if X_DSDT is absent or broken),
 * then every SSDT in root order.  0, -ENOENT, -EINVAL (something relevant was
 * malformed and nothing valid was found), or a read/alloc errno.
 */
static int find_s5(const struct acpi_reader *rd, const struct root_table *root,
		   uint64_t dsdt32, uint64_t dsdt64, struct acpi_s5_info *out)
{
	const uint64_t dsdt[2] = { dsdt64, dsdt32 };
	int result = -ENOENT, rc;
	size_t idx = 0;

	for (size_t i = 0; i < ARRAY_SIZE(dsdt); i++) {
		bool loaded;

		if (dsdt[i] == 0 || (i == 1 && dsdt[1] == dsdt[0]))
			continue;
		rc = s5_in_table(rd, dsdt[i], "DSDT", out, &loaded);
		if (loaded)
			out->dsdt_paddr = dsdt[i];
		if (rc == 0)
			return 0;
		if (rc != -EINVAL && rc != -ENOENT)
			return rc;
		if (rc == -EINVAL)
			result = -EINVAL;
		if (loaded)
			break;
	}
	for (;;) {
		uint64_t paddr;
		bool loaded;

		/* root_find validates the SSDT; s5_in_table reloads it.  SSDTs
		 * are few and small, and this keeps one copy alive at a time. */
		rc = root_find_addr(rd, root, "SSDT", &idx, &paddr);
		if (rc == -ENOENT)
			return result;
		if (rc)
			return rc;
		rc = s5_in_table(rd, paddr, "SSDT", out, &loaded);
		if (rc == 0)
			return 0;
		if (rc != -EINVAL && rc != -ENOENT)
			return rc;
		if (rc == -EINVAL)
			result = -EINVAL;
	}
}

int acpi_find_s5_from_rsdp(acpi_read_phys_fn read_phys, void *ctx,
			   uint64_t rsdp_paddr, struct acpi_s5_info *out)
{
	struct acpi_reader rd = { read_phys, ctx };
	struct root_table root = { NULL, 0, 4 };
	uint8_t rsdp[RSDP_V2_BYTES];
	uint64_t rsdt, xsdt = 0, dsdt32, dsdt64;
	uint8_t *fadt = NULL;
	uint32_t fadt_len;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = phys_read(&rd, rsdp_paddr, rsdp, RSDP_V1_BYTES);
	if (rc)
		return rc;
	if (memcmp(rsdp, RSDP_SIGNATURE, 8) != 0 || checksum(rsdp, RSDP_V1_BYTES) != 0)
		return -EINVAL;
	if (rsdp[RSDP_REVISION] >= 2) {
		rc = phys_read(&rd, rsdp_paddr, rsdp, RSDP_V2_BYTES);
		if (rc)
			return rc;
		if (memcmp(rsdp, RSDP_SIGNATURE, 8) != 0 ||
		    checksum(rsdp, RSDP_V1_BYTES) != 0 ||
		    checksum(rsdp, RSDP_V2_BYTES) != 0)
			return -EINVAL;
		xsdt = get64(rsdp + RSDP_XSDT_ADDRESS);
	}
	rsdt = get32(rsdp + RSDP_RSDT_ADDRESS);
	out->rsdp_paddr = rsdp_paddr;
	out->revision = rsdp[RSDP_REVISION];

	/* ACPI 5.2.5.3: use the XSDT when there is one.  Like ACPICA, fall back
	 * to the RSDT when the XSDT is unusable. */
	rc = -ENOENT;
	if (xsdt != 0) {
		rc = root_load(&rd, xsdt, true, &root);
		if (rc == 0)
			rc = root_find(&rd, &root, "FACP", TABLE_MAX_BYTES,
				       &out->fadt_paddr, &fadt, &fadt_len);
		if (rc == 0) {
			out->root_is_xsdt = true;
			out->root_paddr = xsdt;
		} else if (rc != -EINVAL && rc != -ENOENT) {
			goto err_free_root;
		} else if (root.t) {
			kfree(root.t);
			root.t = NULL;
		}
	}
	if (rc != 0 && rsdt != 0) {
		int rc32;

		rc32 = root_load(&rd, rsdt, false, &root);
		if (rc32 == 0)
			rc32 = root_find(&rd, &root, "FACP", TABLE_MAX_BYTES,
					 &out->fadt_paddr, &fadt, &fadt_len);
		if (rc32 == 0)
			out->root_paddr = rsdt;
		/* An invalid XSDT and a missing RSDT FADT report the former. */
		rc = (rc32 == -ENOENT && rc == -EINVAL) ? rc : rc32;
	}
	if (rc)
		goto err_free_root;

	rc = fadt_parse(fadt, fadt_len, out, &dsdt32, &dsdt64);
	if (rc)
		goto err_free_fadt;
	rc = find_s5(&rd, &root, dsdt32, dsdt64, out);

err_free_fadt:
	kfree(fadt);
err_free_root:
	if (root.t)
		kfree(root.t);
	return rc;
}

int acpi_find_s5(acpi_read_phys_fn read_phys, void *ctx, struct acpi_s5_info *out)
{
	uint64_t rsdp;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = acpi_find_rsdp(read_phys, ctx, &rsdp);
	if (rc)
		return rc;
	return acpi_find_s5_from_rsdp(read_phys, ctx, rsdp, out);
}

/* ---- MCFG ----------------------------------------------------------------- */

int acpi_parse_mcfg(const void *table, size_t len, struct acpi_mcfg_entry *out, size_t max,
		    size_t *n)
{
	const uint8_t *t = table;

	*n = 0;
	/* The header, 8 reserved bytes, then 16-byte allocation entries. */
	if (len < SDT_HEADER_BYTES + 8 || memcmp(t, "MCFG", 4) != 0 ||
	    get32(t + SDT_LENGTH) != len)
		return -EINVAL;
	for (size_t off = SDT_HEADER_BYTES + 8; off + 16 <= len && *n < max; off += 16) {
		struct acpi_mcfg_entry *e = &out[*n];
		e->base = get64(t + off);
		e->segment = get16(t + off + 8);
		e->start_bus = t[off + 10];
		e->end_bus = t[off + 11];
		/* An empty or inverted bus range, or an unaligned base, is not usable. */
		if (e->end_bus < e->start_bus || (e->base & 0xfffff) || e->base == 0)
			continue;
		(*n)++;
	}
	return *n ? 0 : -ENOENT;
}

int acpi_find_mcfg(acpi_read_phys_fn read_phys, void *ctx, struct acpi_mcfg_entry *out,
		   size_t max, size_t *n)
{
	struct acpi_reader rd = { read_phys, ctx };
	struct root_table root = { NULL, 0, 4 };
	uint8_t rsdp[RSDP_V2_BYTES];
	uint64_t rsdp_paddr, paddr;
	uint8_t *mcfg;
	uint32_t len;
	int rc;

	*n = 0;
	rc = acpi_find_rsdp(read_phys, ctx, &rsdp_paddr);
	if (rc)
		return rc;
	rc = phys_read(&rd, rsdp_paddr, rsdp, RSDP_V1_BYTES);
	if (rc)
		return rc;
	uint64_t xsdt = 0;
	if (rsdp[RSDP_REVISION] >= 2) {
		rc = phys_read(&rd, rsdp_paddr, rsdp, RSDP_V2_BYTES);
		if (rc)
			return rc;
		if (checksum(rsdp, RSDP_V2_BYTES) == 0)
			xsdt = get64(rsdp + RSDP_XSDT_ADDRESS);
	}
	rc = xsdt ? root_load(&rd, xsdt, true, &root) : -ENOENT;
	if (rc) {
		if (root.t)
			kfree(root.t);
		root.t = NULL;
		rc = root_load(&rd, get32(rsdp + RSDP_RSDT_ADDRESS), false, &root);
	}
	if (rc)
		goto out;
	rc = root_find(&rd, &root, "MCFG", TABLE_MAX_BYTES, &paddr, &mcfg, &len);
	if (rc)
		goto out;
	rc = acpi_parse_mcfg(mcfg, len, out, max, n);
	kfree(mcfg);
out:
	if (root.t)
		kfree(root.t);
	return rc;
}

uint16_t acpi_s5_pm1_value(const struct acpi_s5_info *info, int which)
{
	uint8_t typ = which ? info->slp_typb : info->slp_typa;

	return (uint16_t)(((typ << ACPI_PM1_SLP_TYP_SHIFT) & ACPI_PM1_SLP_TYP_MASK) |
			  ACPI_PM1_SLP_EN);
}

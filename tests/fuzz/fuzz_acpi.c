/* fuzz-srcs: drivers/acpi/acpi.c
 * fuzz-seeds: tests/data/acpi/seeds
 *
 * libFuzzer target for the ACPI S5 discovery.  Input: one flags byte, then a
 * physical memory image mapped at 0xE0000 (so the RSDP scan finds RSDPs in it
 * and tables point into it).  Flags:
 *   bit 0  fix checksums first (RSDPs on 16-byte boundaries, RSDT/XSDT/FACP/
 *          DSDT/SSDT headers on 4-byte ones), so mutations get past them;
 *   bit 1  reads outside the image fail with -EIO (else they read zeros);
 *   bit 2  start at the RSDP at 0xE0010 instead of scanning.
 * Every run also feeds the raw image to the AML \_S5 matcher.  Seeds:
 * tests/data/acpi/seeds/ (QEMU's real tables relocated, see extract.py).
 */
#include <lib/base.h>
#include <keel/acpi.h>

#define IMAGE_BASE 0xE0000u

struct image {
	const uint8_t *bytes;
	size_t len;
	bool strict;
};

static int image_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
	const struct image *img = ctx;
	uint8_t *out = buf;
	uint64_t end = paddr + len;
	uint64_t lo = IMAGE_BASE, hi = IMAGE_BASE + img->len;

	if (img->strict && (paddr < lo || end > hi))
		return -EIO;
	memset(out, 0, len);
	if (end > lo && paddr < hi) {
		uint64_t from = MAX(paddr, lo), to = MIN(end, hi);

		memcpy(out + (from - paddr), img->bytes + (from - lo), (size_t)(to - from));
	}
	return 0;
}

static void fix_sum(uint8_t *p, size_t len, size_t at)
{
	uint8_t s = 0;

	p[at] = 0;
	for (size_t i = 0; i < len; i++)
		s = (uint8_t)(s + p[i]);
	p[at] = (uint8_t)-s;
}

static void fix_checksums(uint8_t *img, size_t n)
{
	static const char *const sigs[] = { "RSDT", "XSDT", "FACP", "DSDT", "SSDT" };

	for (size_t off = 0; off + 20 <= n; off += 16) {
		if (memcmp(img + off, "RSD PTR ", 8) != 0)
			continue;
		fix_sum(img + off, 20, 8);
		if (img[off + 15] >= 2 && off + 36 <= n)
			fix_sum(img + off, 36, 32);
	}
	for (size_t off = 0; off + 36 <= n; off += 4) {
		uint32_t len = (uint32_t)img[off + 4] | (uint32_t)img[off + 5] << 8 |
			       (uint32_t)img[off + 6] << 16 | (uint32_t)img[off + 7] << 24;

		for (size_t k = 0; k < ARRAY_SIZE(sigs); k++) {
			if (memcmp(img + off, sigs[k], 4) == 0 && len >= 36 && len <= n - off) {
				fix_sum(img + off, len, 9);
				break;
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acpi_s5_info info;
	struct image img;
	uint8_t *copy, a, b, flags;
	int rc;

	if (size < 1)
		return 0;
	flags = data[0];
	size -= 1;
	/* An exact-size heap copy, so ASan flags any read past the image. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data + 1, size);
	if (flags & 1)
		fix_checksums(copy, size);
	img.bytes = copy;
	img.len = size;
	img.strict = flags & 2;

	if (flags & 4)
		rc = acpi_find_s5_from_rsdp(image_read, &img, IMAGE_BASE + 0x10, &info);
	else
		rc = acpi_find_s5(image_read, &img, &info);
	if (rc == 0 && info.pm1a_cnt_blk == 0)
		abort();
	if (rc != 0 && rc != -EINVAL && rc != -ENOENT && rc != -EOPNOTSUPP && rc != -EIO)
		abort();
	if (rc == 0)
		(void)acpi_s5_pm1_value(&info, 1);

	rc = acpi_aml_find_s5(copy, size, &a, &b);
	if (rc != 0 && rc != -EINVAL && rc != -ENOENT)
		abort();

	struct acpi_mcfg_entry mcfg[4];
	size_t n;
	rc = acpi_find_mcfg(image_read, &img, mcfg, 4, &n);
	if (rc != 0 && rc != -EINVAL && rc != -ENOENT && rc != -EIO && rc != -ENOMEM)
		abort();
	if (rc == 0 && (n == 0 || n > 4))
		abort();
	rc = acpi_parse_mcfg(copy, size, mcfg, 4, &n);
	if (rc == 0 && (n == 0 || n > 4))
		abort();
	free(copy);
	return 0;
}

/*
 * Reading firmware tables from dom0: they are machine memory Xen lets dom0
 * map as DOMID_IO frames (ordinary RAM to the CPU, so mapped cached), copied
 * out through short-lived read-only mappings.
 * This is the acpi_read_phys_fn that the pure parsers in acpi.c read with.
 */
#include <keel/acpi.h>
#include <keel/mm.h>

int acpi_ioremap_read(void *ctx, uint64_t paddr, void *buf, size_t len)
{
	(void)ctx;
	while (len) {
		/* Up to the end of the current 32-page window. */
		size_t chunk = MIN(len, (size_t)(32 * PAGE_SIZE - (paddr & (PAGE_SIZE - 1))));
		void *va = ioremap_cached(paddr, chunk, false);
		if (!va)
			return -EIO;
		memcpy(buf, va, chunk);
		iounmap(va, chunk);
		paddr += chunk;
		buf = (char *)buf + chunk;
		len -= chunk;
	}
	return 0;
}

/* CRC-32, reflected polynomial 0xEDB88320 (see include/lib/crc32.h). */
#include <lib/crc32.h>

static uint32_t crc_table[256];
static bool crc_table_ready;

static void crc_table_build(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0xEDB88320u : c >> 1;
		crc_table[i] = c;
	}
	/* Idempotent: two racing builders write the same values. */
	crc_table_ready = true;
}

uint32_t crc32_update(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	if (!crc_table_ready)
		crc_table_build();
	for (size_t i = 0; i < len; i++)
		crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
	return crc;
}

uint32_t crc32_ieee(const void *buf, size_t len)
{
	return ~crc32_update(~0u, buf, len);
}

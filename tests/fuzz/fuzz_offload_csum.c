/*
 * Completing a blank checksum at any start and offset of any buffer.
 * fuzz-srcs: net/offload.c
 * Invariants: refused exactly when the field would pass the end; otherwise
 * only the two field bytes change, and they hold the complement of the sum
 * from csum_start (computed here separately), 0 written as 0xffff.
 */
#include <stdlib.h>
#include <string.h>
#include <keel/offload.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[70000], before[70000];

	if (size < 4 || size - 4 > sizeof(buf))
		return 0;
	uint16_t start = (uint16_t)(data[0] | data[1] << 8);
	uint16_t off = (uint16_t)(data[2] | data[3] << 8);
	uint32_t len = (uint32_t)(size - 4);
	if (data[0] & 1) {      /* mostly small, in-range values */
		start = len ? (uint16_t)(start % (len + 1)) : 0;
		off = (uint16_t)(off % 64);
	}
	memcpy(buf, data + 4, len);
	memcpy(before, buf, len);
	int rc = offload_fill_csum(buf, len, start, off);
	uint32_t field = (uint32_t)start + off;
	if (field + 2 > len) {
		if (rc != -EINVAL || memcmp(buf, before, len))
			abort();
		return 0;
	}
	if (rc != 0)
		abort();
	uint32_t s = 0;
	for (uint32_t i = start; i < len; i++)
		s += ((i - start) & 1) ? before[i] : (uint32_t)before[i] << 8;
	while (s > 0xffff)
		s = (s >> 16) + (s & 0xffff);
	uint16_t want = (uint16_t)~s;
	if (!want)
		want = 0xffff;
	if (buf[field] != (uint8_t)(want >> 8) || buf[field + 1] != (uint8_t)want)
		abort();
	if (memcmp(buf, before, field) || memcmp(buf + field + 2, before + field + 2, len - field - 2))
		abort();
	return 0;
}

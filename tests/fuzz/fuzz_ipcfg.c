/* fuzz-srcs: net/lwip/ipcfg.c
 *
 * libFuzzer target for keel's boot-option address parsers (ip=, gw=, dns=):
 * any text is parsed as an address and as ADDR/LEN; whatever is accepted
 * must format back to the same dotted quad, and the static check must
 * agree with the prefix mask it implies.
 */
#include <lib/base.h>
#include <keel/ip.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], out[16];
	uint32_t a, g;
	unsigned int len;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (ip_parse_addr(s, &a) == 0) {
		ip_format(out, sizeof(out), a);
		if (strcmp(out, s))
			abort(); /* canonical text only: no leading zeros, no spaces */
	}
	if (ip_parse_cidr(s, &a, &len) == 0) {
		if (len > 32 || ip_mask_len(ip_prefix_mask(len)) != (int)len)
			abort();
		/* Another host of the same subnet is a valid gateway, itself never. */
		int rc = ip_check_static(a, len, 0);
		if (rc == 0 && ip_check_static(a, len, a) == 0)
			abort();
		g = a ^ __builtin_bswap32(1);
		if (rc == 0 && len < 31 && ip_check_static(a, len, g) == -EINVAL)
			abort();
	}
	return 0;
}

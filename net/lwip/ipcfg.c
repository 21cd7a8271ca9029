/*
 * IPv4 address text and static-configuration checks for keel's own
 * address (include/keel/ip.h).  Pure: builds for the host's unit tests.
 */
#include <lib/base.h>
#include <keel/ip.h>

static uint32_t swap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

/* Network order <-> a number whose top byte is the first octet. */
static uint32_t to_host(uint32_t net) { return swap32(net); }
static uint32_t to_net(uint32_t host) { return swap32(host); }

static const char *parse_octet(const char *s, uint32_t *out)
{
	uint32_t v = 0;
	int digits = 0;

	if (*s < '0' || *s > '9')
		return NULL;
	if (*s == '0' && s[1] >= '0' && s[1] <= '9')
		return NULL; /* leading zero: octal to some parsers, refused */
	while (*s >= '0' && *s <= '9') {
		v = v * 10 + (uint32_t)(*s - '0');
		if (++digits > 3 || v > 255)
			return NULL;
		s++;
	}
	*out = v;
	return s;
}

static const char *parse_addr(const char *s, uint32_t *addr)
{
	uint32_t host = 0;

	for (int i = 0; i < 4; i++) {
		uint32_t o;
		s = parse_octet(s, &o);
		if (!s)
			return NULL;
		host = host << 8 | o;
		if (i < 3) {
			if (*s != '.')
				return NULL;
			s++;
		}
	}
	*addr = to_net(host);
	return s;
}

int ip_parse_addr(const char *s, uint32_t *addr)
{
	uint32_t a;

	s = parse_addr(s, &a);
	if (!s || *s)
		return -EINVAL;
	*addr = a;
	return 0;
}

int ip_parse_cidr(const char *s, uint32_t *addr, unsigned int *len)
{
	uint32_t a, l;

	s = parse_addr(s, &a);
	if (!s || *s != '/')
		return -EINVAL;
	s = parse_octet(s + 1, &l);
	if (!s || *s || l > 32)
		return -EINVAL;
	*addr = a;
	*len = l;
	return 0;
}

uint32_t ip_prefix_mask(unsigned int len)
{
	if (len == 0)
		return 0;
	if (len >= 32)
		return 0xffffffffu;
	return to_net(0xffffffffu << (32 - len));
}

int ip_mask_len(uint32_t mask)
{
	uint32_t h = to_host(mask);
	int len = 0;

	while (len < 32 && (h & (0x80000000u >> len)))
		len++;
	if (len < 32 && (h << len))
		return -EINVAL; /* a one after a zero */
	return len;
}

char *ip_format(char *buf, size_t size, uint32_t addr)
{
	uint32_t h = to_host(addr);

	snprintf(buf, size, "%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
	return buf;
}

static bool host_usable(uint32_t h, unsigned int len)
{
	uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;

	if (h == 0 || h >> 24 == 127 || h >> 28 >= 0xe)
		return false; /* 0.0.0.0, loopback, multicast and class E */
	if (len < 31 && ((h & ~mask) == 0 || (h & ~mask) == ~mask))
		return false; /* the subnet's network or broadcast address */
	return true;
}

int ip_check_static(uint32_t addr, unsigned int len, uint32_t gw)
{
	uint32_t h = to_host(addr), g = to_host(gw);
	uint32_t mask = len ? 0xffffffffu << (32 - len) : 0;

	if (len > 32 || !host_usable(h, len))
		return -EINVAL;
	if (gw == 0)
		return 0;
	if (g == h || (g & mask) != (h & mask) || !host_usable(g, len))
		return -ERANGE;
	return 0;
}

/* First-fit bitmap range allocator (see include/lib/range_alloc.h). */
#include <lib/range_alloc.h>

static bool bit_get(const uint64_t *b, uint64_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static void bits_set(uint64_t *b, uint64_t first, uint64_t n, bool used)
{
	for (uint64_t i = first; i < first + n;) {
		if (i % 64 == 0 && first + n - i >= 64) {
			b[i / 64] = used ? ~0ULL : 0;
			i += 64;
			continue;
		}
		if (used)
			b[i / 64] |= 1ULL << (i % 64);
		else
			b[i / 64] &= ~(1ULL << (i % 64));
		i++;
	}
}

void range_init(struct range_alloc *r, uint64_t base, uint64_t count, uint64_t *bits)
{
	r->base = base;
	r->count = count;
	r->bits = bits;
	r->free = 0;
	r->hint = 0;
	memset(bits, 0xff, RANGE_ALLOC_BITMAP_BYTES(count));
}

bool range_is_used(const struct range_alloc *r, uint64_t index)
{
	if (index < r->base || index - r->base >= r->count)
		return true;
	return bit_get(r->bits, index - r->base);
}

/* Searches [from, to) for a fitting run; returns its start or UINT64_MAX. */
static uint64_t search(const struct range_alloc *r, uint64_t from, uint64_t to,
		       uint64_t n, uint64_t align)
{
	uint64_t i = from;

	while (i + n <= to) {
		uint64_t abs = r->base + i;
		if (abs % align) {
			i += align - abs % align;
			continue;
		}
		/* Skip whole used words quickly. */
		if (i % 64 == 0 && r->bits[i / 64] == ~0ULL) {
			i += 64;
			continue;
		}
		uint64_t run = 0;
		while (run < n && !bit_get(r->bits, i + run))
			run++;
		if (run == n)
			return i;
		i += run + 1;
	}
	return UINT64_MAX;
}

int range_alloc(struct range_alloc *r, uint64_t n, uint64_t align, uint64_t *out)
{
	if (n == 0 || n > r->free || align == 0 || (align & (align - 1)))
		return -ENOMEM;
	uint64_t start = r->hint < r->count ? r->hint : 0;
	uint64_t i = search(r, start, r->count, n, align);
	if (i == UINT64_MAX)
		i = search(r, 0, MIN(r->count, start + n), n, align);
	if (i == UINT64_MAX)
		return -ENOMEM;
	bits_set(r->bits, i, n, true);
	r->free -= n;
	r->hint = i + n;
	*out = r->base + i;
	return 0;
}

int range_alloc_below(struct range_alloc *r, uint64_t n, uint64_t limit, uint64_t *out)
{
	if (n == 0 || n > r->free || limit <= r->base)
		return -ENOMEM;
	uint64_t i = search(r, 0, MIN(r->count, limit - r->base), n, 1);
	if (i == UINT64_MAX)
		return -ENOMEM;
	bits_set(r->bits, i, n, true);
	r->free -= n;
	*out = r->base + i;
	return 0;
}

size_t range_take_highest(struct range_alloc *r, uint64_t *out, size_t max)
{
	size_t n = 0;

	for (uint64_t i = r->count; i > 0 && n < max && r->free;) {
		/* Skip whole used words quickly. */
		if (i % 64 == 0 && r->bits[i / 64 - 1] == ~0ULL) {
			i -= 64;
			continue;
		}
		i--;
		if (!bit_get(r->bits, i)) {
			bits_set(r->bits, i, 1, true);
			r->free--;
			out[n++] = r->base + i;
		}
	}
	return n;
}

void range_free(struct range_alloc *r, uint64_t first, uint64_t n)
{
	ASSERT(first >= r->base && first - r->base + n <= r->count);
	uint64_t rel = first - r->base;
	for (uint64_t i = 0; i < n; i++)
		ASSERT(bit_get(r->bits, rel + i));
	bits_set(r->bits, rel, n, false);
	r->free += n;
	if (rel < r->hint)
		r->hint = rel;
}

void range_reserve(struct range_alloc *r, uint64_t first, uint64_t n)
{
	for (uint64_t i = first; i < first + n; i++) {
		if (i < r->base || i - r->base >= r->count)
			continue;
		if (!bit_get(r->bits, i - r->base)) {
			bits_set(r->bits, i - r->base, 1, true);
			r->free--;
		}
	}
}

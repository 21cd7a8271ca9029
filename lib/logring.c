/* The overwrite-oldest byte ring behind dmesg and console logs (see header). */
#include <lib/logring.h>

void logring_init(struct logring *r, char *buf, size_t size)
{
	ASSERT(size && (size & (size - 1)) == 0);
	r->buf = buf;
	r->size = size;
	r->head = 0;
}

void logring_write(struct logring *r, const char *data, size_t len)
{
	if (len > r->size) {
		/* Only the last size bytes can survive. */
		r->head += len - r->size;
		data += len - r->size;
		len = r->size;
	}
	size_t off = r->head & (r->size - 1);
	size_t first = MIN(len, r->size - off);
	memcpy(r->buf + off, data, first);
	memcpy(r->buf, data + first, len - first);
	r->head += len;
}

uint64_t logring_tail(const struct logring *r)
{
	return r->head > r->size ? r->head - r->size : 0;
}

size_t logring_read(const struct logring *r, uint64_t *pos, char *out, size_t max)
{
	uint64_t tail = logring_tail(r);

	if (*pos < tail)
		*pos = tail;
	if (*pos > r->head)
		*pos = r->head;
	size_t n = (size_t)MIN((uint64_t)max, r->head - *pos);
	for (size_t done = 0; done < n;) {
		size_t off = (*pos + done) & (r->size - 1);
		size_t chunk = MIN(n - done, r->size - off);
		memcpy(out + done, r->buf + off, chunk);
		done += chunk;
	}
	*pos += n;
	return n;
}

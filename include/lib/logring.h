/*
 * A byte ring that keeps the newest bytes written to it: keel's dmesg buffer
 * and each domU's console log.  Writers never block; the oldest bytes are
 * overwritten.  Readers address bytes by their absolute position in the
 * stream, so they can tell how much they missed.  No locking inside: the
 * caller serialises.
 */
#ifndef KEEL_LIB_LOGRING_H
#define KEEL_LIB_LOGRING_H

#include <lib/base.h>

struct logring {
	char *buf;
	size_t size;    /* a power of two */
	uint64_t head;  /* bytes ever written */
};

void logring_init(struct logring *r, char *buf, size_t size);
void logring_write(struct logring *r, const char *data, size_t len);
/* Oldest absolute position still held. */
uint64_t logring_tail(const struct logring *r);
/*
 * Copies up to max bytes starting at absolute position *pos (moved up to the
 * tail first if those bytes were overwritten); advances *pos.  Returns the
 * byte count.
 */
size_t logring_read(const struct logring *r, uint64_t *pos, char *out, size_t max);

#endif

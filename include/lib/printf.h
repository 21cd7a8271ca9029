/*
 * keel's own printf engine under names that do not clash with libc, so host
 * unit tests can check it against the host's snprintf.  Returns the length
 * the full output would have had (C99 semantics); never writes past size.
 */
#ifndef KEEL_LIB_PRINTF_H
#define KEEL_LIB_PRINTF_H

#include <lib/base.h>

int kvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int ksnprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif

/*
 * The common ground every keel file stands on: fixed-width types, the string
 * and memory functions, kmalloc/kfree, snprintf and errno values.  Pure modules
 * (store, parsers, allocators) include only this header so that the very same
 * source builds into the kernel and, with -DKEEL_HOST, into host unit tests
 * where these names map onto the host's libc.
 */
#ifndef KEEL_LIB_BASE_H
#define KEEL_LIB_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef KEEL_HOST
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define kmalloc(n) malloc(n)
#define kzalloc(n) calloc(1, (n))
#define kfree(p) free(p)
#define krealloc(p, n) realloc((p), (n))
#define ASSERT(c) assert(c)
#define klog(...) fprintf(stderr, __VA_ARGS__)

#else /* kernel */

#include <lib/errno.h>

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
char *strrchr(const char *s, int c);
char *strstr(const char *hay, const char *needle);
char *strdup(const char *s);
char *strndup(const char *s, size_t n);
unsigned long strtoul(const char *s, char **end, int base);
long strtol(const char *s, char **end, int base);
unsigned long long strtoull(const char *s, char **end, int base);

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));
int snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Heap (kernel/heap.c).  kmalloc returns NULL on ENOMEM; never sleeps.
 * Blocks over 2 KiB are page-aligned and may be vmalloc-backed (no
 * contiguous run left): never hand one to Xen as a run of frames.
 */
void *kmalloc(size_t bytes);
void *kzalloc(size_t bytes);
void *krealloc(void *p, size_t bytes);
void kfree(void *p);

/* Kernel log (kernel/log.c): printf-style, goes to the console and dmesg. */
void klog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void assert_failed(const char *expr, const char *file, int line)
	__attribute__((noreturn));
#define ASSERT(c) \
	do { \
		if (!(c)) \
			assert_failed(#c, __FILE__, __LINE__); \
	} while (0)

#endif /* KEEL_HOST */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define container_of(p, type, member) \
	((type *)((char *)(p) - offsetof(type, member)))

#endif

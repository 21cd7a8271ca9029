/*
 * lwIP's port header for keel (lwip/arch.h includes it first): the
 * compiler and platform facts lwIP asks of a port.  keel is freestanding:
 * no <inttypes.h>, <limits.h>, <ctype.h> or <unistd.h>; the few libc
 * names lwIP calls come from keel's lib/ through the shim headers beside
 * this folder (string.h, stdlib.h, stdio.h).
 */
#ifndef KEEL_LWIP_ARCH_CC_H
#define KEEL_LWIP_ARCH_CC_H

#include <lib/base.h>

#define LWIP_NO_INTTYPES_H 1
#define LWIP_NO_LIMITS_H 1
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_UNISTD_H 1

#define X8_F  "02x"
#define U16_F "hu"
#define S16_F "hd"
#define X16_F "hx"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"

#ifndef INT_MAX
#define INT_MAX 0x7fffffff
#endif

#define BYTE_ORDER LITTLE_ENDIAN
#define LWIP_HAVE_INT64 1

/* net/lwip/sys_arch.c */
uint32_t lwip_port_rand(void);
void lwip_port_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void lwip_port_assert(const char *msg, const char *file, int line) __attribute__((noreturn));
void *lwip_port_calloc(size_t n, size_t size);

#define LWIP_RAND() lwip_port_rand()
#define LWIP_PLATFORM_DIAG(x) do { lwip_port_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) lwip_port_assert((x), __FILE__, __LINE__)

#endif

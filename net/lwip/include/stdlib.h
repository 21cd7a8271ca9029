/*
 * <stdlib.h> for lwIP inside keel: the names lwIP uses are keel's own
 * (lib/string.c, lib/printf.c, kernel/heap.c), declared by <lib/base.h>.
 * Only lwIP's objects and the files that include lwIP's headers see this
 * folder (mk/lwip.mk); the rest of keel includes <lib/base.h> directly.
 */
#ifndef KEEL_LWIP_SHIM_STDLIB_H
#define KEEL_LWIP_SHIM_STDLIB_H
#include <lib/base.h>

/* netif_find() reads an interface number with atoi. */
static inline int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}
#endif

/*
 * The few libc symbols that Debian's static liblzma, libz, libzstd and liblz4
 * reference once lib/decompress.c pulls in their decoders, mapped onto keel
 * (kernel build only; the host links the real libc).  keel's lib/string.c
 * provides memcpy, memset and the other string functions; this file provides
 * only what that does not, found with a -nostdlib link of decompress.o
 * against the archives:
 *   malloc, calloc, free    allocator (liblzma, zlib's zcalloc, zstd, lz4frame)
 *   __stack_chk_fail        -fstack-protector-strong, canary at %fs:0x28
 * and runs the archives' constructors (liblzma's crc64_fast.o picks its
 * CRC64 routine, CLMUL or table, in one; before it runs lzma_crc64 jumps
 * through a NULL pointer).
 */
#ifndef KEEL_HOST

#include <lib/base.h>

#include "decompress_abi.h"

/*
 * kmalloc serves at least 16-byte alignment (its smallest slab is 16 bytes,
 * larger blocks are page-aligned), which the SysV ABI promises for malloc
 * and which gcc may assume when vectorising the libraries' code.
 */
void *malloc(size_t bytes);
void *calloc(size_t nmemb, size_t size);
void free(void *p);
void __stack_chk_fail(void);

/* Through the glue, which makes large blocks in slices (lib/decompress.c). */
void *malloc(size_t bytes)
{
	return decompress_lib_alloc(bytes, false);
}

void *calloc(size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	return decompress_lib_alloc(nmemb * size, true);
}

void free(void *p)
{
	kfree(p);
}

/*
 * A library function's canary check failed: its stack frame was overwritten,
 * by a bug in the library or by an event frame pushed into the red zone
 * (events were not masked around the call).  Nothing on that stack can be
 * trusted, so stop here.
 */
__attribute__((noreturn)) void __stack_chk_fail(void)
{
	assert_failed("stack canary intact (decompression library)", __FILE__,
		      __LINE__);
}

/*
 * The linker script defines these around the .init_array output section
 * (KEEP(*(.init_array .init_array.*))).  They are weak so that keel still
 * links while the script lacks them; decompress then refuses the streams
 * that would need a constructor's work (xz with a CRC64 check).
 */
extern void (*const __init_array_start[])(void) __attribute__((weak));
extern void (*const __init_array_end[])(void) __attribute__((weak));

bool libc_shim_run_constructors(void)
{
	static int done; /* 0 not yet, 1 ran, -1 no .init_array bounds */

	if (done == 0) {
		done = -1;
		if (__init_array_start && __init_array_end) {
			for (size_t i = 0;
			     __init_array_start + i < __init_array_end; i++)
				__init_array_start[i]();
			done = 1;
		}
	}
	return done > 0;
}

#endif /* !KEEL_HOST */

/*
 * The slice of the liblzma, zlib, libzstd and liblz4 ABIs that lib/decompress.c
 * calls, declared here because their own headers (<lzma.h>, <zlib.h>, ...) sit
 * in /usr/include beside glibc's, which the freestanding kernel build cannot
 * see.  Private to lib/decompress.c; the host unit test checks every layout
 * below against the installed headers (tests/unit/test_kimage.c).
 *
 * Matches Debian bookworm: xz-utils 5.4.1, zlib 1.2.13, zstd 1.5.4, lz4 1.9.4.
 * Struct names carry a dz_ prefix so that the test can include both these and
 * the real headers; define DECOMPRESS_ABI_LAYOUT_ONLY to get only the layouts.
 */
#ifndef KEEL_LIB_DECOMPRESS_ABI_H
#define KEEL_LIB_DECOMPRESS_ABI_H

#include <stddef.h>
#include <stdint.h>

/* ---- liblzma (lzma/base.h, lzma/container.h, lzma/version.h) ---- */

struct dz_lzma_allocator {
	void *(*alloc)(void *opaque, size_t nmemb, size_t size);
	void (*free)(void *opaque, void *ptr);
	void *opaque;
};

/* lzma_stream: zero it (LZMA_STREAM_INIT) before the *_decoder() call. */
struct dz_lzma_stream {
	const uint8_t *next_in;
	size_t avail_in;
	uint64_t total_in;
	uint8_t *next_out;
	size_t avail_out;
	uint64_t total_out;
	const struct dz_lzma_allocator *allocator;
	void *internal;
	void *reserved_ptr1;
	void *reserved_ptr2;
	void *reserved_ptr3;
	void *reserved_ptr4;
	uint64_t seek_pos;
	uint64_t reserved_int2;
	size_t reserved_int3;
	size_t reserved_int4;
	int reserved_enum1;
	int reserved_enum2;
};

/* lzma_ret values. */
#define DZ_LZMA_OK 0
#define DZ_LZMA_STREAM_END 1
#define DZ_LZMA_MEM_ERROR 5
#define DZ_LZMA_MEMLIMIT_ERROR 6
#define DZ_LZMA_FORMAT_ERROR 7
#define DZ_LZMA_OPTIONS_ERROR 8
#define DZ_LZMA_DATA_ERROR 9
#define DZ_LZMA_BUF_ERROR 10
/* lzma_action */
#define DZ_LZMA_RUN 0

/* ---- zlib (zlib.h 1.2.13) ---- */

/* z_stream; uInt is 32 bits, uLong 64 bits on x86_64. */
struct dz_z_stream {
	const uint8_t *next_in;
	unsigned int avail_in;
	unsigned long total_in;
	uint8_t *next_out;
	unsigned int avail_out;
	unsigned long total_out;
	const char *msg;
	void *state;
	void *(*zalloc)(void *opaque, unsigned int items, unsigned int size);
	void (*zfree)(void *opaque, void *address);
	void *opaque;
	int data_type;
	unsigned long adler;
	unsigned long reserved;
};

#define DZ_Z_OK 0
#define DZ_Z_STREAM_END 1
#define DZ_Z_NEED_DICT 2
#define DZ_Z_DATA_ERROR (-3)
#define DZ_Z_MEM_ERROR (-4)
#define DZ_Z_BUF_ERROR (-5)
#define DZ_Z_NO_FLUSH 0
/* inflateInit2_() only checks the major digit and sizeof(z_stream). */
#define DZ_ZLIB_VERSION "1.2.13"
/* windowBits: 15 (32 KiB window) + 16 = accept only a gzip wrapper. */
#define DZ_Z_GZIP_WINDOW_BITS (15 + 16)

/* ---- libzstd (zstd.h 1.5.4) ---- */

struct dz_zstd_in_buffer {
	const void *src;
	size_t size;
	size_t pos;
};

struct dz_zstd_out_buffer {
	void *dst;
	size_t size;
	size_t pos;
};

#define DZ_ZSTD_d_windowLogMax 100
/* ZSTD_d_experimentalParam2 (zstd.h, ZSTD_STATIC_LINKING_ONLY). */
#define DZ_ZSTD_d_stableOutBuffer 1001
#define DZ_ZSTD_CONTENTSIZE_UNKNOWN (0ULL - 1)
#define DZ_ZSTD_CONTENTSIZE_ERROR (0ULL - 2)

/* ---- liblz4 (lz4.h, lz4frame.h 1.9.4) ---- */

#define DZ_LZ4F_VERSION 100

#ifndef DECOMPRESS_ABI_LAYOUT_ONLY

/* liblzma: lzma_ret is an enum, returned in %eax like an int. */
int lzma_stream_decoder(struct dz_lzma_stream *strm, uint64_t memlimit,
			uint32_t flags);
int lzma_alone_decoder(struct dz_lzma_stream *strm, uint64_t memlimit);
int lzma_code(struct dz_lzma_stream *strm, int action);
void lzma_end(struct dz_lzma_stream *strm);

/* zlib */
int inflateInit2_(struct dz_z_stream *strm, int window_bits,
		  const char *version, int stream_size);
int inflate(struct dz_z_stream *strm, int flush);
int inflateEnd(struct dz_z_stream *strm);

/* libzstd: ZSTD_DStream is opaque (struct ZSTD_DCtx_s). */
struct ZSTD_DCtx_s;
struct ZSTD_DCtx_s *ZSTD_createDStream(void);
size_t ZSTD_freeDStream(struct ZSTD_DCtx_s *zds);
size_t ZSTD_initDStream(struct ZSTD_DCtx_s *zds);
size_t ZSTD_DCtx_setParameter(struct ZSTD_DCtx_s *dctx, int param, int value);
size_t ZSTD_decompressStream(struct ZSTD_DCtx_s *zds,
			     struct dz_zstd_out_buffer *output,
			     struct dz_zstd_in_buffer *input);
unsigned ZSTD_isError(size_t code);
/* ZSTD_ErrorCode is an enum, returned in %eax like an unsigned int. */
unsigned ZSTD_getErrorCode(size_t code);
const char *ZSTD_getErrorName(size_t code);
unsigned long long ZSTD_getFrameContentSize(const void *src, size_t src_size);

/* liblz4: block API and frame API; LZ4F_dctx is opaque. */
int LZ4_decompress_safe_partial(const char *src, char *dst, int src_size,
				int target_output_size, int dst_capacity);
struct LZ4F_dctx_s;
size_t LZ4F_createDecompressionContext(struct LZ4F_dctx_s **dctxp,
				       unsigned version);
size_t LZ4F_freeDecompressionContext(struct LZ4F_dctx_s *dctx);
size_t LZ4F_decompress(struct LZ4F_dctx_s *dctx, void *dst, size_t *dst_size,
		       const void *src, size_t *src_size, const void *options);
unsigned LZ4F_isError(size_t code);
const char *LZ4F_getErrorName(size_t code);

/*
 * lib/libc_shim.c (kernel build): runs the archives' .init_array once and
 * says whether it could (false if the linker script gives no bounds).
 */
#include <stdbool.h>
bool libc_shim_run_constructors(void);
/*
 * lib/decompress.c: the libraries' malloc (zero: calloc) as the shim passes
 * it on; large blocks asked for inside a library call are made by the
 * decompress_set_big_alloc hook with events unmasked.
 */
void *decompress_lib_alloc(size_t bytes, bool zero);

#endif /* DECOMPRESS_ABI_LAYOUT_ONLY */

#endif

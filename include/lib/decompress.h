/*
 * Decompression of whole buffers (guest kernels, boot modules) through
 * Debian's static xz, zlib, zstd and lz4 libraries.  This module owns format
 * detection, output bounding and the chunking that lets the kernel take
 * events between library calls; it does not own the decoders themselves.
 *
 * Every library call runs between the enter and leave hooks of
 * decompress_set_guard(): see lib/decompress.c for what the kernel must
 * guarantee there (FS-based stack canary, events masked, SSE usable).
 */
#ifndef KEEL_LIB_DECOMPRESS_H
#define KEEL_LIB_DECOMPRESS_H

#include <lib/base.h>

enum decompress_format {
	DECOMPRESS_UNKNOWN = 0,
	DECOMPRESS_GZIP,       /* 1F 8B */
	DECOMPRESS_XZ,         /* FD 37 7A 58 5A 00 */
	DECOMPRESS_LZMA,       /* 5D 00: "lzma alone", Linux's KERNEL_LZMA */
	DECOMPRESS_ZSTD,       /* 28 B5 2F FD */
	DECOMPRESS_LZ4_LEGACY, /* 02 21 4C 18: lz4 -l, Linux's KERNEL_LZ4 */
	DECOMPRESS_LZ4_FRAME,  /* 04 22 4D 18 */
	DECOMPRESS_BZIP2,      /* "BZh": recognised, not supported */
	DECOMPRESS_LZO,        /* 89 "LZO": recognised, not supported */
};

/* Largest output one decompress_step() produces (lz4 legacy: one block;
 * zstd decoding into a known-size buffer: about 4x its input limit). */
#define DECOMPRESS_CHUNK_BYTES (128u * 1024)
#define DECOMPRESS_LZ4_BLOCK_BYTES (8u * 1024 * 1024)

/* The format named by the first bytes of in, or DECOMPRESS_UNKNOWN. */
enum decompress_format decompress_detect(const void *in, size_t in_len);
/* "gzip", "xz", ...; never NULL. */
const char *decompress_format_name(enum decompress_format fmt);

/*
 * Hooks run around every call into a library (init, each chunk, teardown);
 * NULL for none (the host build).  Set once at boot, before any decompress.
 */
void decompress_set_guard(void (*enter)(void), void (*leave)(void));

/*
 * A hook for long decompressions to give the CPU away: decompress() and
 * callers that loop over decompress_step() (kimage_parse) call
 * decompress_pause_point() between steps, which calls it (NULL: nothing, the
 * host build).  The kernel sets one that yields every few ms.
 */
void decompress_set_yield(void (*yield)(void));
void decompress_pause_point(void);

/*
 * A clock (ns) for sizing steps by time: with one set, each step's output
 * (and input) limit is adapted after every library call so that a step
 * takes about DECOMPRESS_STEP_NS, between DECOMPRESS_CHUNK_MIN_BYTES and
 * DECOMPRESS_CHUNK_BYTES of output (xz under TCG runs at 3-10 MB/s, so a
 * fixed 128 KiB step held events masked for 20-60 ms).  NULL (the host
 * build): every step may produce DECOMPRESS_CHUNK_BYTES.
 */
#define DECOMPRESS_STEP_NS 4000000ull
#define DECOMPRESS_CHUNK_MIN_BYTES (4u * 1024)
void decompress_set_clock(uint64_t (*now_ns)(void));

/*
 * An allocator for blocks of DECOMPRESS_BIG_ALLOC_BYTES or more that may
 * yield while it zeroes and maps them (the kernel's kmalloc_sliced): used
 * for the flat output buffer and for the decoders' own large state (xz's
 * dictionary, zstd's window), which the libraries allocate in the middle of
 * a call: the allocation then runs with the guard left (events unmasked;
 * the library is in an ordinary function call, so its red zone holds
 * nothing).  Blocks must be zeroed and freeable with kfree.  NULL: kmalloc.
 */
#define DECOMPRESS_BIG_ALLOC_BYTES (1024u * 1024)
void decompress_set_big_alloc(void *(*alloc)(size_t bytes));

/*
 * One shot: decompresses the single stream (first gzip member, xz stream,
 * zstd frame, ...) at the start of in into a new kmalloc'd buffer, returned
 * in *out (free with kfree; NULL on error) with its length in *out_len.
 * The gzip trailer or zstd frame header, if any, sizes the first
 * allocation.  Bytes after the stream are ignored (Linux appends the output
 * size to its payloads).
 * Returns 0, -ENOEXEC (no known magic), -EOPNOTSUPP (bzip2, lzo), -EINVAL
 * (corrupt or truncated input), -EFBIG (output would exceed max_out bytes),
 * -ENOMEM (out of memory: for the output or the decoder's own state,
 * never reported as bad data).  May sleep only through the
 * decompress_set_yield() hook, between chunks.
 *
 * zstd with a known output size (frame header, or a caller's size_hint)
 * decodes straight into the output buffer (ZSTD_d_stableOutBuffer) instead
 * of allocating a window of up to 128 MiB beside it.
 */
int decompress(const void *in, size_t in_len, void **out, size_t *out_len,
	       size_t max_out);

/*
 * Chunked interface, for callers that want to do other work between chunks.
 * Output goes either to a flat buffer grown with krealloc (begin) or, in
 * pieces of at most DECOMPRESS_CHUNK_BYTES (DECOMPRESS_LZ4_BLOCK_BYTES for
 * lz4 legacy), to a sink (begin_sink).  in must stay valid until end.
 */
struct decompress_stream;

/*
 * size_hint: expected output size, used only to size the first flat
 * allocation (0: unknown; clamped to max_out).  Returns 0 and *dsp, or the
 * errors of decompress() for bad magic or a failed library init.  Calls
 * decompress_pause_point() once, after allocating the output.
 */
int decompress_begin(struct decompress_stream **dsp, const void *in,
		     size_t in_len, size_t max_out, size_t size_hint);
/*
 * The sink gets each piece of output in order; a negative return aborts the
 * stream and is passed back from decompress_step().  It runs outside the
 * guard.
 */
int decompress_begin_sink(struct decompress_stream **dsp, const void *in,
			  size_t in_len, size_t max_out,
			  int (*sink)(void *ctx, const void *data, size_t len),
			  void *ctx);
/*
 * Runs the library for one chunk.  Returns 1 if there is more to do, 0 when
 * the stream has ended (every later call returns 0 too), or a negative errno
 * as for decompress() (every later call returns it again).
 */
int decompress_step(struct decompress_stream *ds);
/* The most output the next decompress_step() may produce (lz4 legacy: a block). */
size_t decompress_step_limit(const struct decompress_stream *ds);
/* Bytes of output produced (and sunk) so far; never more than max_out. */
size_t decompress_out_bytes(const struct decompress_stream *ds);
/*
 * After decompress_step() returned 0 on a flat stream: hands over the output
 * buffer (never NULL, kfree it; up to about twice the output's size unless
 * size_hint was right) and its length.
 */
void *decompress_take(struct decompress_stream *ds, size_t *out_len);
/* Frees the stream and anything not taken.  NULL is fine. */
void decompress_end(struct decompress_stream *ds);

#endif

/*
 * Decompression glue: picks a decoder by magic and drives Debian's static
 * liblzma, libz, libzstd and liblz4 one bounded chunk at a time.  It owns the
 * output buffer, the max_out bound and the error mapping; the decoders are the
 * libraries' (no hand-written decompressor here).  bzip2 and lzo are
 * recognised and refused.
 *
 * What the kernel must guarantee around every library call
 * --------------------------------------------------------
 * The .a files are ordinary userspace code built by Debian with gcc -O2
 * -fstack-protector-strong for the x86-64 SysV ABI.  Unlike keel's own code
 * (-mno-red-zone -mno-sse -fno-stack-protector), they
 *  1. read the stack canary at %fs:0x28 in every function with a local array:
 *     the FS base must point at a mapped block whose 8 bytes at offset 0x28
 *     hold a canary (any value; it only has to stay the same during a call).
 *     A mismatch calls __stack_chk_fail (lib/libc_shim.c), which panics.
 *  2. use the red zone, the 128 bytes below %rsp, in leaf functions.  A PV
 *     guest in kernel mode receives events and exceptions as a frame that Xen
 *     pushes directly at the current %rsp, which would overwrite live data
 *     there.  So events must be masked (vcpu_info evtchn_upcall_mask) for the
 *     whole of every library call, and nothing may fault inside one: the
 *     heap and the input and output buffers must be mapped up front, and
 *     CR0.TS must be clear so SSE does not raise #NM.
 *  3. use SSE/SSE2 registers (memcpy-like loops, zstd's and lz4's wildcopy):
 *     the FPU must be usable.  All xmm registers are caller-saved in the
 *     SysV ABI, so nothing needs saving across calls as long as no context
 *     switch happens inside one, which masked events and a non-sleeping
 *     kmalloc guarantee.
 *  4. allocate with malloc/calloc/free (lib/libc_shim.c maps them onto the
 *     keel heap, which must hand out 16-byte-aligned blocks): xz needs its
 *     dictionary (Linux uses 32 MiB), zstd its window (up to 128 MiB when
 *     the frame does not state its size), lz4 legacy an 8 MiB block in sink
 *     mode.  The largest stack frame on the decoding paths is under 1 KiB;
 *     8 KiB of free stack is ample.  (zstd's v0.5-v0.7 decoders, which have
 *     16 KiB frames, are linked in but unreachable: only the v0.8+ magic is
 *     accepted.)
 *  5. run their constructors: liblzma's crc64_fast.o has one in .init_array
 *     that picks the CRC64 routine; until it runs lzma_crc64 jumps through a
 *     NULL pointer.  lib/libc_shim.c runs .init_array once, before the first
 *     stream, if the linker script brackets it with __init_array_start and
 *     __init_array_end; without them xz streams with a CRC64 check are
 *     refused with -EOPNOTSUPP (Linux's own CRC32 ones still work).
 * The archives use no TLS other than the canary, no IFUNCs, no syscalls and
 * only PC-relative or 64-bit absolute relocations, so they link at
 * 0xffffffff80000000 with -mcmodel=kernel objects.
 *
 * decompress_set_guard() gives the kernel the place to do 2 (and to check 1
 * and 3): enter masks events, leave unmasks them and lets pending ones run.
 * The chunking below bounds how long events stay masked: one step produces
 * at most its output limit and reads at most four times that, except lz4
 * legacy, whose 8 MiB blocks cannot be split but decode in a few ms.  With
 * a clock (decompress_set_clock) the limit follows the measured time of
 * each step, aiming at DECOMPRESS_STEP_NS: under TCG xz makes 3-10 MB/s,
 * so a fixed 128 KiB step took 20-60 ms.  A large block the library asks
 * for in the middle of a call (xz's 32 MiB dictionary) is made with the
 * guard left, by the kernel's sliced allocator (decompress_lib_alloc).
 */
#include <lib/base.h>
#include <lib/decompress.h>

#include "decompress_abi.h"

/* Ceiling on decoder memory (xz dictionary, lzma-alone dictionary). */
#define DECOMPRESS_MEMLIMIT_BYTES (256ull * 1024 * 1024)
/* Input fed per library call, so a step's run time is bounded both ways:
 * at most this many times the step's output limit. */
#define DECOMPRESS_IN_PER_OUT 4u
/* xz's stream and first block headers fit in this (12 + at most 1024). */
#define DECOMPRESS_FIRST_IN_BYTES 64u
/* zstd: largest window accepted, 2^27 = 128 MiB (zstd's own default). */
#define DECOMPRESS_ZSTD_WINDOW_LOG_MAX 27
/*
 * zstd with a stable output buffer reads the step's output limit divided by
 * this per call: output is then bounded by the input given (Linux's zstd -22
 * is about 4:1), not by the room, which must stay the whole buffer.
 */
#define DECOMPRESS_ZSTD_OUT_PER_IN 4u
/* The first step's output limit when steps are timed. */
#define DECOMPRESS_CHUNK_START_BYTES (16u * 1024)
#define LZ4_LEGACY_MAGIC 0x184C2102u
/* LZ4_COMPRESSBOUND(8 MiB): no legacy chunk can be larger. */
#define LZ4_LEGACY_CHUNK_MAX \
	(DECOMPRESS_LZ4_BLOCK_BYTES + DECOMPRESS_LZ4_BLOCK_BYTES / 255 + 16)

struct decompress_stream {
	enum decompress_format fmt;
	const uint8_t *in;
	size_t in_len;
	size_t in_pos;
	size_t max_out;
	size_t out_total;  /* bytes produced so far */
	/*
	 * Flat mode: buf holds all output, buf_cap >= out_total.  Sink mode: buf
	 * is a window of buf_cap bytes handed to sink after each call.
	 */
	uint8_t *buf;
	size_t buf_cap;
	int (*sink)(void *ctx, const void *data, size_t len);
	void *sink_ctx;
	int state;         /* 1 running, 0 ended, < 0 failed */
	/* Output limit of one step, adapted to DECOMPRESS_STEP_NS (clock_hook). */
	size_t chunk;
	bool lib_live;     /* the union below needs tearing down */
	/*
	 * zstd decoding straight into buf (ZSTD_d_stableOutBuffer): no window
	 * buffer of up to 128 MiB, but buf is sized once and never moves.
	 */
	bool zstd_stable;
	union {
		struct dz_lzma_stream lzma;
		struct dz_z_stream z;
		struct ZSTD_DCtx_s *zstd;
		struct LZ4F_dctx_s *lz4f;
	} lib;
};

static void (*guard_enter)(void);
static void (*guard_leave)(void);
static void (*yield_hook)(void);
static uint64_t (*clock_hook)(void);
static void *(*big_alloc_hook)(size_t bytes);
/* Inside a library call (between lib_enter and lib_leave). */
static bool in_lib;
/* Big allocations so far: a step that made one is not timed. */
static uint64_t big_allocs;

void decompress_set_clock(uint64_t (*now_ns)(void))
{
	clock_hook = now_ns;
}

void decompress_set_big_alloc(void *(*alloc)(size_t bytes))
{
	big_alloc_hook = alloc;
}

void decompress_set_yield(void (*yield)(void))
{
	yield_hook = yield;
}

void decompress_pause_point(void)
{
	if (yield_hook)
		yield_hook();
}

void decompress_set_guard(void (*enter)(void), void (*leave)(void))
{
	guard_enter = enter;
	guard_leave = leave;
}

static inline void lib_enter(void)
{
	if (guard_enter)
		guard_enter();
	in_lib = true;
}

static inline void lib_leave(void)
{
	in_lib = false;
	if (guard_leave)
		guard_leave();
}

static void *big_alloc(size_t bytes)
{
	if (bytes < DECOMPRESS_BIG_ALLOC_BYTES || !big_alloc_hook)
		return kmalloc(bytes);
	big_allocs++;
	return big_alloc_hook(bytes);
}

/*
 * The libraries' malloc and calloc (lib/libc_shim.c).  A large block asked
 * for inside a library call (xz's dictionary, 32 MiB for Linux; zstd's
 * window) is made with the guard left: the call into here is an ordinary
 * call, so the library keeps nothing in its red zone or in SSE registers
 * (all caller-saved) across it, and events may be taken and the thread may
 * yield while the block is zeroed and mapped.
 */
void *decompress_lib_alloc(size_t bytes, bool zero)
{
	void *p;

	if (bytes < DECOMPRESS_BIG_ALLOC_BYTES || !big_alloc_hook || !in_lib)
		return zero ? kzalloc(bytes) : kmalloc(bytes);
	lib_leave();
	p = big_alloc(bytes); /* zeroed */
	lib_enter();
	return p;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

enum decompress_format decompress_detect(const void *in, size_t in_len)
{
	static const struct {
		enum decompress_format fmt;
		uint8_t len;
		uint8_t magic[6];
	} magics[] = {
		{ DECOMPRESS_XZ, 6, { 0xfd, '7', 'z', 'X', 'Z', 0x00 } },
		{ DECOMPRESS_ZSTD, 4, { 0x28, 0xb5, 0x2f, 0xfd } },
		{ DECOMPRESS_LZ4_LEGACY, 4, { 0x02, 0x21, 0x4c, 0x18 } },
		{ DECOMPRESS_LZ4_FRAME, 4, { 0x04, 0x22, 0x4d, 0x18 } },
		{ DECOMPRESS_LZO, 4, { 0x89, 'L', 'Z', 'O' } },
		{ DECOMPRESS_BZIP2, 3, { 'B', 'Z', 'h' } },
		{ DECOMPRESS_GZIP, 2, { 0x1f, 0x8b } },
		/* lc=3 lp=0 pb=2, the properties every lzma tool writes. */
		{ DECOMPRESS_LZMA, 2, { 0x5d, 0x00 } },
	};

	for (size_t i = 0; i < ARRAY_SIZE(magics); i++)
		if (in_len >= magics[i].len &&
		    memcmp(in, magics[i].magic, magics[i].len) == 0)
			return magics[i].fmt;
	return DECOMPRESS_UNKNOWN;
}

const char *decompress_format_name(enum decompress_format fmt)
{
	switch (fmt) {
	case DECOMPRESS_GZIP: return "gzip";
	case DECOMPRESS_XZ: return "xz";
	case DECOMPRESS_LZMA: return "lzma";
	case DECOMPRESS_ZSTD: return "zstd";
	case DECOMPRESS_LZ4_LEGACY: return "lz4-legacy";
	case DECOMPRESS_LZ4_FRAME: return "lz4";
	case DECOMPRESS_BZIP2: return "bzip2";
	case DECOMPRESS_LZO: return "lzo";
	case DECOMPRESS_UNKNOWN: break;
	}
	return "unknown";
}

/* ---- library setup and teardown ---- */

static int lib_init(struct decompress_stream *ds)
{
	int rc = 0;
	size_t zr;

	lib_enter();
	switch (ds->fmt) {
	case DECOMPRESS_XZ:
	case DECOMPRESS_LZMA:
		memset(&ds->lib.lzma, 0, sizeof(ds->lib.lzma));
		/*
		 * Flags 0: one stream, stop at its end (Linux's payload trailer
		 * would be taken for a second stream by LZMA_CONCATENATED), and
		 * verify the check (CRC32 for Linux's bzImages) when supported.
		 */
		if (ds->fmt == DECOMPRESS_XZ)
			rc = lzma_stream_decoder(&ds->lib.lzma,
						 DECOMPRESS_MEMLIMIT_BYTES, 0);
		else
			rc = lzma_alone_decoder(&ds->lib.lzma,
						DECOMPRESS_MEMLIMIT_BYTES);
		rc = rc == DZ_LZMA_OK ? 0 : rc == DZ_LZMA_MEM_ERROR ? -ENOMEM : -EINVAL;
		break;
	case DECOMPRESS_GZIP:
		memset(&ds->lib.z, 0, sizeof(ds->lib.z));
		rc = inflateInit2_(&ds->lib.z, DZ_Z_GZIP_WINDOW_BITS,
				   DZ_ZLIB_VERSION, (int)sizeof(ds->lib.z));
		rc = rc == DZ_Z_OK ? 0 : rc == DZ_Z_MEM_ERROR ? -ENOMEM : -EINVAL;
		break;
	case DECOMPRESS_ZSTD:
		ds->lib.zstd = ZSTD_createDStream();
		if (!ds->lib.zstd) {
			rc = -ENOMEM;
			break;
		}
		zr = ZSTD_initDStream(ds->lib.zstd);
		if (!ZSTD_isError(zr))
			zr = ZSTD_DCtx_setParameter(ds->lib.zstd,
						    DZ_ZSTD_d_windowLogMax,
						    DECOMPRESS_ZSTD_WINDOW_LOG_MAX);
		if (ZSTD_isError(zr)) {
			ZSTD_freeDStream(ds->lib.zstd);
			rc = -ENOMEM;
		}
		break;
	case DECOMPRESS_LZ4_FRAME:
		zr = LZ4F_createDecompressionContext(&ds->lib.lz4f,
						     DZ_LZ4F_VERSION);
		rc = LZ4F_isError(zr) ? -ENOMEM : 0;
		break;
	default:
		/* lz4 legacy uses the stateless block decoder. */
		break;
	}
	lib_leave();
	if (rc == 0)
		ds->lib_live = ds->fmt != DECOMPRESS_LZ4_LEGACY;
	return rc;
}

static void lib_fini(struct decompress_stream *ds)
{
	if (!ds->lib_live)
		return;
	lib_enter();
	switch (ds->fmt) {
	case DECOMPRESS_XZ:
	case DECOMPRESS_LZMA:
		lzma_end(&ds->lib.lzma);
		break;
	case DECOMPRESS_GZIP:
		inflateEnd(&ds->lib.z);
		break;
	case DECOMPRESS_ZSTD:
		ZSTD_freeDStream(ds->lib.zstd);
		break;
	case DECOMPRESS_LZ4_FRAME:
		LZ4F_freeDecompressionContext(ds->lib.lz4f);
		break;
	default:
		break;
	}
	lib_leave();
	ds->lib_live = false;
}

/* ---- one library call ---- */

/* zstd's error codes (zstd_errors.h), the ones that are not bad data. */
#define DZ_ZSTD_ERROR_WINDOW_TOO_LARGE 16
#define DZ_ZSTD_ERROR_MEMORY_ALLOCATION 64
#define DZ_ZSTD_ERROR_DST_SIZE_TOO_SMALL 70

static int zstd_error(struct decompress_stream *ds, size_t zr)
{
	unsigned int code;

	lib_enter();
	code = ZSTD_getErrorCode(zr);
	lib_leave();
	switch (code) {
	case DZ_ZSTD_ERROR_MEMORY_ALLOCATION:
		return -ENOMEM;
	case DZ_ZSTD_ERROR_WINDOW_TOO_LARGE:
		klog("decompress: zstd frame needs a window over %u MiB\n",
		     1u << (DECOMPRESS_ZSTD_WINDOW_LOG_MAX - 20));
		return -EFBIG;
	case DZ_ZSTD_ERROR_DST_SIZE_TOO_SMALL:
		if (ds->zstd_stable) {
			klog("decompress: zstd output is larger than its stated %zu bytes\n",
			     ds->buf_cap - 1);
			return -EFBIG;
		}
		break;
	}
	return -EINVAL;
}

/*
 * Runs the decoder once on in[0..in_len) into out[0..room).  Sets *used and
 * *made; returns 1 if the stream goes on, 0 at its end, or -errno.
 */
static int lib_run(struct decompress_stream *ds, const uint8_t *in,
		   size_t in_len, size_t *used, uint8_t *out, size_t room,
		   size_t *made)
{
	int rc, lrc;
	size_t zr, in_size, out_size;
	struct dz_zstd_in_buffer zin;
	struct dz_zstd_out_buffer zout;

	*used = *made = 0;
	in_len = MIN(in_len, DECOMPRESS_IN_PER_OUT * ds->chunk);
	/*
	 * xz and lzma allocate their dictionary (32 MiB for Linux) when the
	 * first block starts: a first call with only the headers keeps that
	 * allocation in a step of its own, with a pause point after it.
	 */
	if (ds->in_pos == 0 && (ds->fmt == DECOMPRESS_XZ || ds->fmt == DECOMPRESS_LZMA))
		in_len = MIN(in_len, (size_t)DECOMPRESS_FIRST_IN_BYTES);
	switch (ds->fmt) {
	case DECOMPRESS_XZ:
	case DECOMPRESS_LZMA: {
		struct dz_lzma_stream *s = &ds->lib.lzma;

		s->next_in = in;
		s->avail_in = in_len;
		s->next_out = out;
		s->avail_out = room;
		lib_enter();
		lrc = lzma_code(s, DZ_LZMA_RUN);
		lib_leave();
		*used = in_len - s->avail_in;
		*made = room - s->avail_out;
		if (lrc == DZ_LZMA_STREAM_END)
			return 0;
		if (lrc == DZ_LZMA_OK)
			return 1;
		if (lrc == DZ_LZMA_MEM_ERROR)
			return -ENOMEM;
		if (lrc == DZ_LZMA_MEMLIMIT_ERROR) {
			klog("decompress: %s stream needs more than %llu MiB\n",
			     decompress_format_name(ds->fmt),
			     DECOMPRESS_MEMLIMIT_BYTES >> 20);
			return -EINVAL;
		}
		/* FORMAT, OPTIONS, DATA errors; BUF_ERROR means truncated. */
		return -EINVAL;
	}
	case DECOMPRESS_GZIP: {
		struct dz_z_stream *z = &ds->lib.z;

		/* uInt is 32 bits: both sizes are far below that here. */
		z->next_in = in;
		z->avail_in = (unsigned int)in_len;
		z->next_out = out;
		z->avail_out = (unsigned int)room;
		lib_enter();
		lrc = inflate(z, DZ_Z_NO_FLUSH);
		lib_leave();
		*used = in_len - z->avail_in;
		*made = room - z->avail_out;
		if (lrc == DZ_Z_STREAM_END)
			return 0;
		if (lrc == DZ_Z_OK || lrc == DZ_Z_BUF_ERROR)
			return 1; /* no progress is caught by the caller */
		return lrc == DZ_Z_MEM_ERROR ? -ENOMEM : -EINVAL;
	}
	case DECOMPRESS_ZSTD:
		zin.src = in;
		zin.size = in_len;
		zin.pos = 0;
		if (ds->zstd_stable) {
			/* The same buffer every call; zstd moves pos itself. */
			zin.size = MIN(in_len, ds->chunk / DECOMPRESS_ZSTD_OUT_PER_IN);
			zout.dst = ds->buf;
			zout.size = ds->buf_cap;
			zout.pos = ds->out_total;
		} else {
			zout.dst = out;
			zout.size = room;
			zout.pos = 0;
		}
		lib_enter();
		zr = ZSTD_decompressStream(ds->lib.zstd, &zout, &zin);
		lib_leave();
		*used = zin.pos;
		*made = ds->zstd_stable ? zout.pos - ds->out_total : zout.pos;
		if (ZSTD_isError(zr))
			return zstd_error(ds, zr);
		return zr == 0 ? 0 : 1;
	case DECOMPRESS_LZ4_FRAME:
		in_size = in_len;
		out_size = room;
		lib_enter();
		zr = LZ4F_decompress(ds->lib.lz4f, out, &out_size, in, &in_size,
				     NULL);
		lib_leave();
		*used = in_size;
		*made = out_size;
		if (LZ4F_isError(zr))
			return -EINVAL;
		return zr == 0 ? 0 : 1;
	default:
		rc = -EINVAL;
		break;
	}
	return rc;
}

/*
 * lz4 legacy (lz4 -l, Linux's KERNEL_LZ4): the magic, then chunks of
 * "le32 compressed size, LZ4 block of at most 8 MiB output"; a repeated magic
 * starts a new stream.  It ends at the end of input, or where exactly four
 * bytes remain: the output size that Linux appends to every payload.
 */
static int lz4_legacy_step(struct decompress_stream *ds, uint8_t *out,
			   size_t room, size_t *made)
{
	const uint8_t *p;
	size_t left;
	uint32_t chunk;
	int n;

	*made = 0;
	for (;;) {
		left = ds->in_len - ds->in_pos;
		if (left == 0 || (left == 4 && ds->in_pos > 4))
			return 0;
		if (left < 4)
			return -EINVAL;
		p = ds->in + ds->in_pos;
		chunk = get_le32(p);
		if (chunk != LZ4_LEGACY_MAGIC)
			break;
		ds->in_pos += 4;
	}
	if (chunk == 0 || chunk > LZ4_LEGACY_CHUNK_MAX || chunk > left - 4)
		return -EINVAL;
	room = MIN(room, (size_t)DECOMPRESS_LZ4_BLOCK_BYTES);
	lib_enter();
	n = LZ4_decompress_safe_partial((const char *)p + 4, (char *)out,
					(int)chunk, (int)room, (int)room);
	lib_leave();
	if (n < 0)
		return -EINVAL;
	ds->in_pos += 4 + (size_t)chunk;
	*made = (size_t)n;
	return 1;
}

/* ---- the stream ---- */

static int stream_new(struct decompress_stream **dsp, const void *in,
		      size_t in_len, size_t max_out)
{
	struct decompress_stream *ds;
	enum decompress_format fmt = decompress_detect(in, in_len);
	int rc;

	*dsp = NULL;
	switch (fmt) {
	case DECOMPRESS_UNKNOWN:
		return -ENOEXEC;
	case DECOMPRESS_BZIP2:
	case DECOMPRESS_LZO:
		klog("decompress: %s is not supported (use xz, gzip, zstd or lz4)\n",
		     decompress_format_name(fmt));
		return -EOPNOTSUPP;
	default:
		break;
	}
#ifndef KEEL_HOST
	/*
	 * xz's CRC64 routine is chosen by a constructor (lib/libc_shim.c); if
	 * the link script keeps no .init_array bounds it never ran.  Byte 7
	 * of the stream header is the check ID, 4 being CRC64.
	 */
	lib_enter();
	bool ctors_ok = libc_shim_run_constructors();
	lib_leave();
	if (!ctors_ok && fmt == DECOMPRESS_XZ && in_len > 7 &&
	    (((const uint8_t *)in)[7] & 0x0f) == 4) {
		klog("decompress: xz with CRC64 needs .init_array in the link script\n");
		return -EOPNOTSUPP;
	}
#endif
	ds = kzalloc(sizeof(*ds));
	if (!ds)
		return -ENOMEM;
	ds->fmt = fmt;
	ds->in = in;
	ds->in_len = in_len;
	/* max_out + 1 is computed below: keep it from wrapping. */
	ds->max_out = MIN(max_out, SIZE_MAX - 1);
	ds->state = 1;
	ds->chunk = clock_hook ? DECOMPRESS_CHUNK_START_BYTES : DECOMPRESS_CHUNK_BYTES;
	if (fmt == DECOMPRESS_LZ4_LEGACY)
		ds->in_pos = 4;
	rc = lib_init(ds);
	if (rc < 0) {
		kfree(ds);
		return rc;
	}
	*dsp = ds;
	return 0;
}

int decompress_begin(struct decompress_stream **dsp, const void *in,
		     size_t in_len, size_t max_out, size_t size_hint)
{
	struct decompress_stream *ds;
	int rc;

	rc = stream_new(&ds, in, in_len, max_out);
	if (rc < 0)
		return rc;
	/* +1: room for the byte that proves the output exceeds max_out. */
	if (size_hint == 0 || size_hint > ds->max_out)
		size_hint = MIN(ds->max_out, (size_t)DECOMPRESS_CHUNK_BYTES);
	ds->buf_cap = size_hint + 1;
	ds->buf = big_alloc(ds->buf_cap);
	if (!ds->buf) {
		decompress_end(ds);
		return -ENOMEM;
	}
	/* Allocating (and zeroing) tens of MiB is a long step of its own. */
	decompress_pause_point();
	/*
	 * With the whole output size known, zstd can use the output as its
	 * window instead of allocating one (128 MiB for Linux's zstd -22).
	 */
	if (ds->fmt == DECOMPRESS_ZSTD && size_hint > DECOMPRESS_CHUNK_BYTES) {
		size_t zr;

		lib_enter();
		zr = ZSTD_DCtx_setParameter(ds->lib.zstd, DZ_ZSTD_d_stableOutBuffer, 1);
		lib_leave();
		ds->zstd_stable = !ZSTD_isError(zr);
	}
	*dsp = ds;
	return 0;
}

int decompress_begin_sink(struct decompress_stream **dsp, const void *in,
			  size_t in_len, size_t max_out,
			  int (*sink)(void *ctx, const void *data, size_t len),
			  void *ctx)
{
	struct decompress_stream *ds;
	int rc;

	rc = stream_new(&ds, in, in_len, max_out);
	if (rc < 0)
		return rc;
	ds->sink = sink;
	ds->sink_ctx = ctx;
	ds->buf_cap = ds->fmt == DECOMPRESS_LZ4_LEGACY ?
		DECOMPRESS_LZ4_BLOCK_BYTES : DECOMPRESS_CHUNK_BYTES;
	ds->buf = kmalloc(ds->buf_cap);
	if (!ds->buf) {
		decompress_end(ds);
		return -ENOMEM;
	}
	*dsp = ds;
	return 0;
}

/*
 * Flat mode: makes sure there is room for output, up to max_out + 1 bytes.
 * It grows the buffer only once it is full, so an exact size hint (plus the
 * spare byte) never costs a krealloc.
 */
static int flat_reserve(struct decompress_stream *ds, size_t want)
{
	size_t limit = ds->max_out + 1, cap;
	uint8_t *nbuf;

	want = MIN(want, limit - ds->out_total);
	if (ds->zstd_stable)
		return 0; /* sized once; zstd itself refuses to overrun it */
	/* An lz4 legacy block cannot be split: it needs all its room at once. */
	if (ds->buf_cap - ds->out_total >=
	    (ds->fmt == DECOMPRESS_LZ4_LEGACY ? want : 1))
		return 0;
	cap = ds->buf_cap > limit / 2 ? limit : ds->buf_cap * 2;
	cap = MAX(cap, ds->out_total + want);
	nbuf = krealloc(ds->buf, cap);
	if (!nbuf)
		return -ENOMEM;
	ds->buf = nbuf;
	ds->buf_cap = cap;
	return 0;
}

static int stream_fail(struct decompress_stream *ds, int rc)
{
	if (rc == -EINVAL)
		klog("decompress: corrupt or truncated %s data at input byte %zu\n",
		     decompress_format_name(ds->fmt), ds->in_pos);
	else if (rc == -ENOMEM)
		klog("decompress: out of memory in the %s decoder after %zu bytes of output\n",
		     decompress_format_name(ds->fmt), ds->out_total);
	else if (rc == -EFBIG)
		klog("decompress: %s output exceeds %zu bytes\n",
		     decompress_format_name(ds->fmt), ds->max_out);
	ds->state = rc;
	lib_fini(ds);
	return rc;
}

/*
 * Sizes the next step from how long this one took: in proportion to
 * DECOMPRESS_STEP_NS / took_ns, at most doubling or quartering at once (one
 * odd step, a page fault or the first xz headers, does not swing it far).
 */
static void adapt_chunk(struct decompress_stream *ds, uint64_t took_ns)
{
	uint64_t want = took_ns ? (uint64_t)ds->chunk * DECOMPRESS_STEP_NS / took_ns
				: (uint64_t)ds->chunk * 2;

	want = MIN(want, (uint64_t)ds->chunk * 2);
	want = MAX(want, (uint64_t)ds->chunk / 4);
	want = MIN(want, (uint64_t)DECOMPRESS_CHUNK_BYTES);
	want = MAX(want, (uint64_t)DECOMPRESS_CHUNK_MIN_BYTES);
	ds->chunk = (size_t)want;
}

size_t decompress_step_limit(const struct decompress_stream *ds)
{
	return ds->fmt == DECOMPRESS_LZ4_LEGACY ? DECOMPRESS_LZ4_BLOCK_BYTES : ds->chunk;
}

int decompress_step(struct decompress_stream *ds)
{
	size_t want, room, used = 0, made = 0, avail;
	uint8_t *out;
	int rc;

	if (ds->state <= 0)
		return ds->state;
	want = ds->fmt == DECOMPRESS_LZ4_LEGACY ? DECOMPRESS_LZ4_BLOCK_BYTES : ds->chunk;
	if (ds->sink) {
		out = ds->buf;
		room = MIN(ds->buf_cap, ds->max_out + 1 - ds->out_total);
		if (ds->fmt != DECOMPRESS_LZ4_LEGACY)
			room = MIN(room, want);
	} else {
		rc = flat_reserve(ds, want);
		if (rc < 0)
			return stream_fail(ds, rc);
		out = ds->buf + ds->out_total;
		room = MIN(ds->buf_cap - ds->out_total, want);
	}
	/* room >= 1 always: out_total <= max_out while running. */
	if (ds->fmt == DECOMPRESS_LZ4_LEGACY) {
		rc = lz4_legacy_step(ds, out, room, &made);
	} else {
		uint64_t allocs = big_allocs, t0 = clock_hook ? clock_hook() : 0;

		avail = ds->in_len - ds->in_pos;
		rc = lib_run(ds, ds->in + ds->in_pos, avail, &used, out, room,
			     &made);
		ds->in_pos += used;
		/* A step that made a big allocation also yielded: not timed. */
		if (clock_hook && allocs == big_allocs)
			adapt_chunk(ds, clock_hook() - t0);
		/*
		 * A call that neither reads nor writes while given both input
		 * and room means the input ended early (or the decoder is
		 * stuck): never spin on it.
		 */
		if (rc == 1 && used == 0 && made == 0)
			rc = -EINVAL;
	}
	if (rc < 0)
		return stream_fail(ds, rc);
	/* out_total never counts past max_out, so out_bytes stays truthful. */
	if (made > ds->max_out - ds->out_total)
		return stream_fail(ds, -EFBIG);
	ds->out_total += made;
	if (ds->sink && made) {
		int src = ds->sink(ds->sink_ctx, ds->buf, made);

		if (src < 0)
			return stream_fail(ds, src);
	}
	if (rc == 0) {
		ds->state = 0;
		lib_fini(ds);
	}
	return rc;
}

size_t decompress_out_bytes(const struct decompress_stream *ds)
{
	return ds->out_total;
}

void *decompress_take(struct decompress_stream *ds, size_t *out_len)
{
	void *buf;

	ASSERT(ds->state == 0 && !ds->sink);
	buf = ds->buf;
	*out_len = ds->out_total;
	ds->buf = NULL;
	ds->buf_cap = 0;
	return buf;
}

void decompress_end(struct decompress_stream *ds)
{
	if (!ds)
		return;
	lib_fini(ds);
	kfree(ds->buf);
	kfree(ds);
}

/*
 * A size to start the flat buffer at: gzip stores the output size mod 2^32
 * in its last four bytes and zstd may state it in the frame header.  Only a
 * hint; a wrong one costs a krealloc.
 */
static size_t guess_size(const uint8_t *in, size_t in_len,
			 enum decompress_format fmt)
{
	unsigned long long zs;

	if (fmt == DECOMPRESS_GZIP && in_len >= 18)
		return get_le32(in + in_len - 4);
	if (fmt == DECOMPRESS_ZSTD) {
		lib_enter();
		zs = ZSTD_getFrameContentSize(in, in_len);
		lib_leave();
		if (zs != DZ_ZSTD_CONTENTSIZE_UNKNOWN &&
		    zs != DZ_ZSTD_CONTENTSIZE_ERROR && zs <= SIZE_MAX)
			return (size_t)zs;
	}
	return 0;
}

int decompress(const void *in, size_t in_len, void **out, size_t *out_len,
	       size_t max_out)
{
	struct decompress_stream *ds;
	int rc;

	*out = NULL;
	*out_len = 0;
	rc = decompress_begin(&ds, in, in_len, max_out,
			      guess_size(in, in_len, decompress_detect(in, in_len)));
	if (rc < 0)
		return rc;
	while ((rc = decompress_step(ds)) > 0)
		decompress_pause_point();
	if (rc == 0)
		*out = decompress_take(ds, out_len);
	decompress_end(ds);
	return rc;
}

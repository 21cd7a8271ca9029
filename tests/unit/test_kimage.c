/*
 * Host tests for lib/decompress.c and toolstack/kimage.c: data compressed at
 * test time by the host's xz, gzip, zstd and lz4 tools, the host's real
 * Debian bzImage, synthetic ELF images built here, and hostile variants of
 * all of them.  The ABI slice in lib/decompress_abi.h is checked against the
 * libraries' own headers at compile time.
 */
#include <lib/base.h>
#include <lib/decompress.h>
#include <keel/kimage.h>

#include <glob.h>
#include <time.h>
#include <unistd.h>

#define DECOMPRESS_ABI_LAYOUT_ONLY
#include "../../lib/decompress_abi.h"
#include <lz4.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>
#include <zstd.h>

#include "harness.h"

/* ---- lib/decompress_abi.h against the real headers ---- */

#define SAME_FIELD(a, b, f) \
	_Static_assert(offsetof(a, f) == offsetof(b, f) && \
		       sizeof(((a *)0)->f) == sizeof(((b *)0)->f), #a "." #f)
_Static_assert(sizeof(struct dz_lzma_stream) == sizeof(lzma_stream), "lzma_stream");
SAME_FIELD(struct dz_lzma_stream, lzma_stream, next_in);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, avail_in);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, next_out);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, avail_out);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, allocator);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, internal);
SAME_FIELD(struct dz_lzma_stream, lzma_stream, reserved_enum2);
_Static_assert(sizeof(struct dz_lzma_allocator) == sizeof(lzma_allocator), "lzma_allocator");
_Static_assert(sizeof(lzma_ret) == sizeof(int) && sizeof(lzma_action) == sizeof(int), "enums");
_Static_assert(DZ_LZMA_OK == LZMA_OK && DZ_LZMA_STREAM_END == LZMA_STREAM_END &&
	       DZ_LZMA_MEM_ERROR == LZMA_MEM_ERROR &&
	       DZ_LZMA_MEMLIMIT_ERROR == LZMA_MEMLIMIT_ERROR &&
	       DZ_LZMA_FORMAT_ERROR == LZMA_FORMAT_ERROR &&
	       DZ_LZMA_OPTIONS_ERROR == LZMA_OPTIONS_ERROR &&
	       DZ_LZMA_DATA_ERROR == LZMA_DATA_ERROR &&
	       DZ_LZMA_BUF_ERROR == LZMA_BUF_ERROR && DZ_LZMA_RUN == LZMA_RUN,
	       "lzma_ret");
_Static_assert(sizeof(struct dz_z_stream) == sizeof(z_stream), "z_stream");
SAME_FIELD(struct dz_z_stream, z_stream, next_in);
SAME_FIELD(struct dz_z_stream, z_stream, avail_in);
SAME_FIELD(struct dz_z_stream, z_stream, next_out);
SAME_FIELD(struct dz_z_stream, z_stream, avail_out);
SAME_FIELD(struct dz_z_stream, z_stream, msg);
SAME_FIELD(struct dz_z_stream, z_stream, zalloc);
SAME_FIELD(struct dz_z_stream, z_stream, zfree);
SAME_FIELD(struct dz_z_stream, z_stream, opaque);
SAME_FIELD(struct dz_z_stream, z_stream, reserved);
_Static_assert(DZ_Z_OK == Z_OK && DZ_Z_STREAM_END == Z_STREAM_END &&
	       DZ_Z_NEED_DICT == Z_NEED_DICT && DZ_Z_DATA_ERROR == Z_DATA_ERROR &&
	       DZ_Z_MEM_ERROR == Z_MEM_ERROR && DZ_Z_BUF_ERROR == Z_BUF_ERROR &&
	       DZ_Z_NO_FLUSH == Z_NO_FLUSH, "zlib codes");
_Static_assert(sizeof(struct dz_zstd_in_buffer) == sizeof(ZSTD_inBuffer), "ZSTD_inBuffer");
SAME_FIELD(struct dz_zstd_in_buffer, ZSTD_inBuffer, pos);
_Static_assert(sizeof(struct dz_zstd_out_buffer) == sizeof(ZSTD_outBuffer), "ZSTD_outBuffer");
SAME_FIELD(struct dz_zstd_out_buffer, ZSTD_outBuffer, pos);
_Static_assert(DZ_ZSTD_d_windowLogMax == ZSTD_d_windowLogMax &&
	       DZ_ZSTD_CONTENTSIZE_UNKNOWN == ZSTD_CONTENTSIZE_UNKNOWN &&
	       DZ_ZSTD_CONTENTSIZE_ERROR == ZSTD_CONTENTSIZE_ERROR, "zstd");
_Static_assert(DZ_LZ4F_VERSION == LZ4F_VERSION, "lz4f");

TEST(abi_versions)
{
	/* The running libraries are the ones the layouts were taken from. */
	CHECK_EQ(strncmp(zlibVersion(), DZ_ZLIB_VERSION, 1), 0);
	CHECK_EQ(lzma_version_number() / 10000000, 5);
	CHECK_EQ(ZSTD_versionNumber() / 10000, 1);
	CHECK_EQ(LZ4_versionNumber() / 10000, 1);
}

/* ---- helpers: test data and the host's compression tools ---- */

static char tmpdir[] = "/tmp/keel-kimage-XXXXXX";

static void cleanup_tmpdir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

static uint8_t *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static bool write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	bool ok;

	if (!f)
		return false;
	ok = fwrite(data, 1, len, f) == len;
	return fclose(f) == 0 && ok;
}

/*
 * Runs "cmd < in > out" on data through the shell and returns out (malloc'd),
 * or NULL after printing why.  cmd's first word must be an installed tool.
 */
static uint8_t *run_tool(const char *cmd, const void *data, size_t len,
			 size_t *out_len)
{
	char in_path[64], out_path[64], line[512], tool[32];
	uint8_t *out;

	sscanf(cmd, "%31s", tool);
	snprintf(line, sizeof(line), "command -v %s >/dev/null 2>&1", tool);
	if (system(line) != 0) {
		printf("note: host tool '%s' is missing: apt-get install %s\n",
		       tool, !strcmp(tool, "xz") ? "xz-utils" : tool);
		return NULL;
	}
	snprintf(in_path, sizeof(in_path), "%s/in", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/out", tmpdir);
	if (!write_file(in_path, data, len))
		return NULL;
	snprintf(line, sizeof(line), "%s < %s > %s", cmd, in_path, out_path);
	if (system(line) != 0) {
		printf("note: '%s' failed\n", line);
		return NULL;
	}
	out = read_file(out_path, out_len);
	unlink(in_path);
	unlink(out_path);
	return out;
}

/* Compressible, not trivial: words from a small vocabulary and some noise. */
static uint8_t *make_data(size_t len, uint32_t seed)
{
	static const char *const words[] = {
		"xen ", "dom0 ", "evtchn ", "grant ", "page ", "table ",
		"\x0f\x05", "\xe8\x10\x20\x00\x00", "\x48\x89\xe5", "keel\n",
	};
	uint8_t *buf = malloc(len);
	size_t pos = 0;

	while (pos < len) {
		seed = seed * 1103515245u + 12345u;
		const char *w = words[(seed >> 16) % ARRAY_SIZE(words)];
		size_t n = strlen(w);

		if ((seed >> 8) % 7 == 0) {
			w = (const char *)&seed;
			n = 4;
		}
		n = MIN(n, len - pos);
		memcpy(buf + pos, w, n);
		pos += n;
	}
	return buf;
}

#define DATA_BYTES (1u << 20)

struct tool_case {
	const char *cmd;
	enum decompress_format fmt;
};

/* Each format as the tools (and Linux's Makefiles) produce it. */
static const struct tool_case tool_cases[] = {
	{ "xz -1 -c --check=crc32 --x86 --lzma2=preset=1,dict=1MiB", DECOMPRESS_XZ }, /* Linux bzImage */
	{ "xz -1 -c", DECOMPRESS_XZ },                    /* CRC64 check */
	{ "xz -1 -c --check=sha256", DECOMPRESS_XZ },
	{ "xz -1 -c --check=none", DECOMPRESS_XZ },
	{ "xz -1 -c --format=lzma", DECOMPRESS_LZMA },
	{ "gzip -c -6", DECOMPRESS_GZIP },
	{ "zstd -q -c -3", DECOMPRESS_ZSTD },
	{ "zstd -q -c -19 --no-check", DECOMPRESS_ZSTD },
	{ "lz4 -q -c -l", DECOMPRESS_LZ4_LEGACY },        /* Linux KERNEL_LZ4 */
	{ "lz4 -q -c", DECOMPRESS_LZ4_FRAME },
};

static uint8_t *data;
static uint8_t *packed[ARRAY_SIZE(tool_cases)];
static size_t packed_len[ARRAY_SIZE(tool_cases)];

TEST(tools_compress)
{
	data = make_data(DATA_BYTES, 1);
	CHECK(data);
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		packed[i] = run_tool(tool_cases[i].cmd, data, DATA_BYTES,
				     &packed_len[i]);
		CHECK(packed[i]);
		if (packed_len[i] >= DATA_BYTES * 3 / 4)
			printf("note: '%s' packed %u bytes into %zu\n",
			       tool_cases[i].cmd, DATA_BYTES, packed_len[i]);
		CHECK(packed_len[i] < DATA_BYTES * 3 / 4);
		CHECK_EQ(decompress_detect(packed[i], packed_len[i]),
			 tool_cases[i].fmt);
	}
}

/* ---- decompression ---- */

TEST(detect_formats)
{
	static const uint8_t bz2[] = "BZh91AY&SY", lzo[] = "\x89LZO\0\r\n",
			     junk[] = "hello world";
	void *out;
	size_t out_len;

	CHECK_EQ(decompress_detect(bz2, sizeof(bz2)), DECOMPRESS_BZIP2);
	CHECK_EQ(decompress_detect(lzo, sizeof(lzo)), DECOMPRESS_LZO);
	CHECK_EQ(decompress_detect(junk, sizeof(junk)), DECOMPRESS_UNKNOWN);
	CHECK_EQ(decompress_detect("\x1f", 1), DECOMPRESS_UNKNOWN);
	CHECK_EQ(decompress_detect(NULL, 0), DECOMPRESS_UNKNOWN);
	CHECK_STR(decompress_format_name(DECOMPRESS_LZ4_LEGACY), "lz4-legacy");
	CHECK_EQ(decompress(bz2, sizeof(bz2), &out, &out_len, 1 << 20), -EOPNOTSUPP);
	CHECK_EQ(decompress(lzo, sizeof(lzo), &out, &out_len, 1 << 20), -EOPNOTSUPP);
	CHECK_EQ(decompress(junk, sizeof(junk), &out, &out_len, 1 << 20), -ENOEXEC);
	CHECK(out == NULL && out_len == 0);
}

TEST(roundtrip_each_format)
{
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		void *out = NULL;
		size_t out_len = 0;
		int rc;

		CHECK(packed[i]);
		rc = decompress(packed[i], packed_len[i], &out, &out_len,
				64u << 20);
		if (rc != 0)
			printf("note: %s -> %d\n", tool_cases[i].cmd, rc);
		CHECK_EQ(rc, 0);
		CHECK_EQ(out_len, DATA_BYTES);
		CHECK(memcmp(out, data, DATA_BYTES) == 0);
		free(out);
	}
}

TEST(bound_exact_and_one_less)
{
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		void *out = NULL;
		size_t out_len = 0;

		CHECK(packed[i]);
		CHECK_EQ(decompress(packed[i], packed_len[i], &out, &out_len,
				    DATA_BYTES), 0);
		CHECK_EQ(out_len, DATA_BYTES);
		free(out);
		CHECK_EQ(decompress(packed[i], packed_len[i], &out, &out_len,
				    DATA_BYTES - 1), -EFBIG);
		CHECK(out == NULL);
		CHECK_EQ(decompress(packed[i], packed_len[i], &out, &out_len, 0),
			 -EFBIG);
	}
}

TEST(truncated_input_fails)
{
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		size_t cuts[] = { 7, 13, packed_len[i] / 2, packed_len[i] - 9,
				  packed_len[i] - 1 };

		CHECK(packed[i]);
		for (size_t c = 0; c < ARRAY_SIZE(cuts); c++) {
			void *out = NULL;
			size_t out_len;
			int rc = decompress(packed[i], cuts[c], &out, &out_len,
					    64u << 20);

			/* lz4 legacy has no end marker: a cut at a chunk edge is a clean end. */
			if (rc == 0 && tool_cases[i].fmt == DECOMPRESS_LZ4_LEGACY) {
				free(out);
				continue;
			}
			if (rc != -EINVAL)
				printf("note: %s cut at %zu -> %d\n",
				       tool_cases[i].cmd, cuts[c], rc);
			CHECK_EQ(rc, -EINVAL);
			CHECK(out == NULL);
		}
	}
}

/*
 * Flipped bytes: the formats with checksums must fail with -EINVAL; lz4
 * legacy and unchecked zstd/xz may decode garbage, but never crash or
 * overrun (ASan watches).
 */
TEST(corrupt_input_never_crashes)
{
	uint32_t seed = 7;

	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		uint8_t *copy = malloc(packed_len[i]);

		CHECK(packed[i] && copy);
		for (int round = 0; round < 40; round++) {
			void *out = NULL;
			size_t out_len;
			int rc;

			memcpy(copy, packed[i], packed_len[i]);
			for (int k = 0; k < 3; k++) {
				seed = seed * 1103515245u + 12345u;
				/* Keep the magic, so the decoder itself is tested. */
				size_t at = 6 + (seed >> 4) % (packed_len[i] - 6);
				copy[at] ^= (uint8_t)(1u << (seed % 8));
			}
			rc = decompress(copy, packed_len[i], &out, &out_len,
					4u << 20);
			CHECK(rc == 0 || rc == -EINVAL || rc == -EFBIG ||
			      rc == -ENOMEM);
			/*
			 * Streams with a check (xz crc32/crc64/sha256, gzip,
			 * zstd -3) succeed only where the flips hit bytes that
			 * do not matter (gzip's mtime, ...): output intact.
			 */
			bool intact = rc == 0 && out_len == DATA_BYTES &&
				      memcmp(out, data, DATA_BYTES) == 0;
			free(out);
			if (rc == 0 && (i <= 2 || i == 5 || i == 6))
				CHECK(intact);
		}
		free(copy);
	}
}

static int sink_collect(void *ctx, const void *chunk, size_t len)
{
	struct { uint8_t *buf; size_t len, calls, max_piece; } *c = ctx;

	memcpy(c->buf + c->len, chunk, len);
	c->len += len;
	c->calls++;
	c->max_piece = MAX(c->max_piece, len);
	return 0;
}

TEST(chunked_and_sink)
{
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		struct { uint8_t *buf; size_t len, calls, max_piece; } c = {
			malloc(DATA_BYTES), 0, 0, 0 };
		struct decompress_stream *ds;
		int rc, steps = 0;

		CHECK(packed[i] && c.buf);
		CHECK_EQ(decompress_begin_sink(&ds, packed[i], packed_len[i],
					       DATA_BYTES, sink_collect, &c), 0);
		while ((rc = decompress_step(ds)) > 0)
			steps++;
		CHECK_EQ(rc, 0);
		CHECK_EQ(decompress_step(ds), 0);
		CHECK_EQ(decompress_out_bytes(ds), DATA_BYTES);
		decompress_end(ds);
		CHECK_EQ(c.len, DATA_BYTES);
		CHECK(memcmp(c.buf, data, DATA_BYTES) == 0);
		if (tool_cases[i].fmt != DECOMPRESS_LZ4_LEGACY) {
			CHECK(c.max_piece <= DECOMPRESS_CHUNK_BYTES);
			CHECK(steps >= (int)(DATA_BYTES / DECOMPRESS_CHUNK_BYTES) - 1);
		}
		free(c.buf);

		/* Flat, with an exact size hint: no krealloc needed. */
		size_t out_len;
		void *out;

		CHECK_EQ(decompress_begin(&ds, packed[i], packed_len[i],
					  DATA_BYTES, DATA_BYTES), 0);
		while ((rc = decompress_step(ds)) > 0)
			;
		CHECK_EQ(rc, 0);
		out = decompress_take(ds, &out_len);
		decompress_end(ds);
		CHECK_EQ(out_len, DATA_BYTES);
		CHECK(memcmp(out, data, DATA_BYTES) == 0);
		free(out);
	}
}

/*
 * Linux packs its zstd bzImages with `zstd -22 --ultra` from a pipe: a 128
 * MiB window and no content size.  Given the output size (the bzImage
 * trailer), the decoder writes straight into the output; a size hint that is
 * too small is an error that says so (-EFBIG), never corrupt output; without
 * a hint the windowed decoder still works.
 */
TEST(zstd_linux_style_with_and_without_size)
{
	size_t zlen, out_len;
	uint8_t *z = run_tool("zstd -q -c --ultra -22 --no-content-size", data, DATA_BYTES, &zlen);
	struct decompress_stream *ds;
	void *out;
	int rc, steps = 0;

	CHECK(z);
	CHECK_EQ(decompress_begin(&ds, z, zlen, 64u << 20, DATA_BYTES), 0);
	while ((rc = decompress_step(ds)) > 0)
		steps++;
	CHECK_EQ(rc, 0);
	/* Bounded input per step keeps each step short. */
	CHECK(steps >= 2);
	out = decompress_take(ds, &out_len);
	decompress_end(ds);
	CHECK_EQ(out_len, DATA_BYTES);
	CHECK(memcmp(out, data, DATA_BYTES) == 0);
	free(out);

	CHECK_EQ(decompress_begin(&ds, z, zlen, 64u << 20, DATA_BYTES / 2), 0);
	while ((rc = decompress_step(ds)) > 0)
		;
	CHECK_EQ(rc, -EFBIG);
	decompress_end(ds);

	CHECK_EQ(decompress(z, zlen, &out, &out_len, 64u << 20), 0);
	CHECK_EQ(out_len, DATA_BYTES);
	CHECK(memcmp(out, data, DATA_BYTES) == 0);
	free(out);
	free(z);
}

static int yields_seen;
static void count_yield(void)
{
	yields_seen++;
}

/* decompress() offers the CPU between chunks through the yield hook. */
TEST(yield_hook_between_chunks)
{
	void *out;
	size_t out_len;

	yields_seen = 0;
	decompress_set_yield(count_yield);
	CHECK_EQ(decompress(packed[0], packed_len[0], &out, &out_len, 64u << 20), 0);
	decompress_set_yield(NULL);
	CHECK_EQ(out_len, DATA_BYTES);
	free(out);
	CHECK(yields_seen >= (int)(DATA_BYTES / DECOMPRESS_CHUNK_BYTES) - 1);
}

/* A clock that moves step_ns between any two readings. */
static uint64_t fake_now, fake_step_ns;
static uint64_t fake_clock(void)
{
	fake_now += fake_step_ns / 2;
	return fake_now;
}

/*
 * With a clock, a step's output limit follows how long steps take: steps
 * that take 4x DECOMPRESS_STEP_NS shrink it to DECOMPRESS_CHUNK_MIN_BYTES
 * (so a slow CPU keeps events masked for a few ms, not 20-60), quick ones
 * grow it to DECOMPRESS_CHUNK_BYTES; the output is right either way.
 */
TEST(steps_sized_by_time)
{
	static const uint64_t per_step[] = { 4 * DECOMPRESS_STEP_NS, DECOMPRESS_STEP_NS / 8 };

	for (size_t k = 0; k < ARRAY_SIZE(per_step); k++) {
		struct { uint8_t *buf; size_t len, calls, max_piece; } c = {
			malloc(DATA_BYTES), 0, 0, 0 };
		struct decompress_stream *ds;
		size_t late_max = 0, last_limit = 0;
		int rc, steps = 0;

		fake_step_ns = per_step[k];
		decompress_set_clock(fake_clock);
		CHECK_EQ(decompress_begin_sink(&ds, packed[0], packed_len[0], DATA_BYTES,
					       sink_collect, &c), 0);
		for (;;) {
			size_t before = c.len, limit = decompress_step_limit(ds);
			rc = decompress_step(ds);
			CHECK(c.len - before <= limit);
			if (steps++ >= 8)
				late_max = MAX(late_max, c.len - before);
			last_limit = decompress_step_limit(ds);
			if (rc <= 0)
				break;
		}
		decompress_set_clock(NULL);
		CHECK_EQ(rc, 0);
		decompress_end(ds);
		CHECK_EQ(c.len, DATA_BYTES);
		CHECK(memcmp(c.buf, data, DATA_BYTES) == 0);
		if (k == 0) {
			CHECK_EQ(last_limit, DECOMPRESS_CHUNK_MIN_BYTES);
			CHECK(late_max <= DECOMPRESS_CHUNK_MIN_BYTES);
			CHECK(steps >= (int)(DATA_BYTES / DECOMPRESS_CHUNK_MIN_BYTES) - 16);
		} else {
			CHECK_EQ(last_limit, DECOMPRESS_CHUNK_BYTES);
			CHECK(steps <= (int)(DATA_BYTES / DECOMPRESS_CHUNK_BYTES) + 16);
		}
		free(c.buf);
	}
}

static size_t big_allocs_seen;
static void *count_big_alloc(size_t bytes)
{
	big_allocs_seen++;
	return calloc(1, bytes);
}

/* The flat output buffer of a large stream comes from the big-block hook. */
TEST(big_output_buffer_through_hook)
{
	struct decompress_stream *ds;
	size_t out_len;
	void *out;
	int rc;

	big_allocs_seen = 0;
	decompress_set_big_alloc(count_big_alloc);
	CHECK_EQ(decompress_begin(&ds, packed[0], packed_len[0], 64u << 20, DATA_BYTES), 0);
	while ((rc = decompress_step(ds)) > 0)
		;
	decompress_set_big_alloc(NULL);
	CHECK_EQ(rc, 0);
	CHECK_EQ(big_allocs_seen, 1);
	out = decompress_take(ds, &out_len);
	decompress_end(ds);
	CHECK_EQ(out_len, DATA_BYTES);
	CHECK(memcmp(out, data, DATA_BYTES) == 0);
	free(out);
}

static int sink_refuse(void *ctx, const void *chunk, size_t len)
{
	(void)ctx, (void)chunk, (void)len;
	return -ENOSPC;
}

TEST(sink_error_and_abandoned_stream)
{
	struct decompress_stream *ds;

	CHECK(packed[0]);
	CHECK_EQ(decompress_begin_sink(&ds, packed[0], packed_len[0],
				       DATA_BYTES, sink_refuse, NULL), 0);
	CHECK_EQ(decompress_step(ds), -ENOSPC);
	CHECK_EQ(decompress_step(ds), -ENOSPC);
	decompress_end(ds);
	/* Stopped half way: decompress_end frees everything (LSan checks). */
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		CHECK_EQ(decompress_begin(&ds, packed[i], packed_len[i],
					  DATA_BYTES, 0), 0);
		CHECK_EQ(decompress_step(ds), 1);
		decompress_end(ds);
	}
	decompress_end(NULL);

	/* Over the bound in sink mode: what was counted is what was sunk. */
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++) {
		struct { uint8_t *buf; size_t len, calls, max_piece; } c = {
			malloc(DATA_BYTES), 0, 0, 0 };
		int rc;

		CHECK_EQ(decompress_begin_sink(&ds, packed[i], packed_len[i],
					       DATA_BYTES / 3, sink_collect, &c), 0);
		while ((rc = decompress_step(ds)) > 0)
			;
		CHECK_EQ(rc, -EFBIG);
		CHECK(decompress_out_bytes(ds) <= DATA_BYTES / 3);
		CHECK_EQ(decompress_out_bytes(ds), c.len);
		CHECK(memcmp(c.buf, data, c.len) == 0);
		decompress_end(ds);
		free(c.buf);
	}
}

/* 16 MiB of zeros packs into a few KiB; max_out must stop it early. */
TEST(bomb_stops_at_max_out)
{
	static const char *const cmds[] = { "gzip -c -1", "xz -c -0", "zstd -q -c -1",
					    "lz4 -q -c -l", "lz4 -q -c" };
	size_t zeros_len = 16u << 20;
	uint8_t *zeros = calloc(1, zeros_len);

	CHECK(zeros);
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		size_t len, out_len;
		uint8_t *bomb = run_tool(cmds[i], zeros, zeros_len, &len);
		void *out = NULL;
		clock_t t0 = clock();

		CHECK(bomb);
		CHECK(len < zeros_len / 100);
		CHECK_EQ(decompress(bomb, len, &out, &out_len, 1u << 20), -EFBIG);
		CHECK(out == NULL);
		CHECK((clock() - t0) < CLOCKS_PER_SEC / 2);
		free(bomb);
	}
	free(zeros);
}

/* lz4 -l cuts at 8 MiB: two blocks, and Linux's le32 size trailer after. */
TEST(lz4_legacy_blocks_and_trailer)
{
	size_t big_len = 9u << 20, len, out_len;
	uint8_t *big = make_data(big_len, 3), *packed_big, *with_trailer;
	void *out;

	packed_big = run_tool("lz4 -q -c -l", big, big_len, &len);
	CHECK(packed_big);
	with_trailer = malloc(len + 4);
	memcpy(with_trailer, packed_big, len);
	memcpy(with_trailer + len, &(uint32_t){ (uint32_t)big_len }, 4);
	CHECK_EQ(decompress(with_trailer, len + 4, &out, &out_len, big_len), 0);
	CHECK_EQ(out_len, big_len);
	CHECK(memcmp(out, big, big_len) == 0);
	free(out);
	CHECK_EQ(decompress(with_trailer, len + 4, &out, &out_len, big_len - 1),
		 -EFBIG);
	/* A legacy stream may repeat its magic between chunks. */
	free(big);
	free(packed_big);
	free(with_trailer);
}

/* ---- synthetic ELF images ---- */

#define VBASE 0xffffffff80000000ull
#define KSTART 0xffffffff81000000ull

struct img {
	uint8_t b[0x4000];
	size_t len;
	size_t notes_len;  /* notes at 0x400 */
	bool pt_note;      /* notes in a PT_NOTE (else only as a section) */
	bool sections;     /* write section headers */
	const char *xen_guest; /* a __xen_guest section with this string */
};

static void p16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void p32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void p64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void phdr(uint8_t *p, uint32_t type, uint32_t flags, uint64_t off,
		 uint64_t vaddr, uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	p32(p, type);
	p32(p + 4, flags);
	p64(p + 8, off);
	p64(p + 16, vaddr);
	p64(p + 24, paddr);
	p64(p + 32, filesz);
	p64(p + 40, memsz);
	p64(p + 48, 0x1000);
}

static void note(struct img *m, uint32_t type, const void *desc, uint32_t len)
{
	uint8_t *p = m->b + 0x400 + m->notes_len;

	p32(p, 4);
	p32(p + 4, len);
	p32(p + 8, type);
	memcpy(p + 12, "Xen", 4);
	memcpy(p + 16, desc, len);
	m->notes_len += 16 + ((len + 3) & ~3u);
}

static void note_str(struct img *m, uint32_t type, const char *s)
{
	note(m, type, s, (uint32_t)strlen(s) + 1);
}

static void note_u64(struct img *m, uint32_t type, uint64_t v)
{
	note(m, type, &v, 8);
}

/* Two segments: text at KSTART (0x1000 bytes), data+bss after a gap. */
static void img_init(struct img *m)
{
	uint8_t *e = m->b;

	memset(m, 0, sizeof(*m));
	m->pt_note = true;
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	p16(e + 16, 2);      /* ET_EXEC */
	p16(e + 18, 62);     /* EM_X86_64 */
	p32(e + 20, 1);
	p64(e + 24, 0x1000010); /* e_entry: physical, like Linux */
	p64(e + 32, 64);     /* e_phoff */
	p16(e + 52, 64);
	p16(e + 54, 56);
	p16(e + 58, 64);
	phdr(e + 64, 1, 5, 0x1000, KSTART, 0x1000000, 0x1000, 0x1000);
	phdr(e + 120, 1, 6, 0x2000, KSTART + 0x2000, 0x1002000, 0x800, 0x3000);
	for (int i = 0x1000; i < 0x2800; i++)
		e[i] = (uint8_t)(i * 7 + 1);
	m->len = 0x2800;
}

/* What Linux 6.1 has (without the hypercall page it no longer uses). */
static void img_linux_notes(struct img *m)
{
	note_str(m, XEN_ELFNOTE_GUEST_OS, "linux");
	note_str(m, XEN_ELFNOTE_GUEST_VERSION, "2.6");
	note_str(m, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	note_u64(m, XEN_ELFNOTE_VIRT_BASE, VBASE);
	note_u64(m, XEN_ELFNOTE_INIT_P2M, 0x8000000000ull);
	note_u64(m, XEN_ELFNOTE_ENTRY, KSTART + 0x10);
	note_u64(m, XEN_ELFNOTE_HYPERCALL_PAGE, KSTART + 0x1000 - 0x1000);
	note_str(m, XEN_ELFNOTE_FEATURES, "!writable_page_tables|pae_pgdir_above_4gb");
	note(m, XEN_ELFNOTE_SUPPORTED_FEATURES, &(uint32_t){ 0x8801 }, 4);
	note_str(m, XEN_ELFNOTE_PAE_MODE, "yes");
	note_str(m, XEN_ELFNOTE_LOADER, "generic");
	note(m, XEN_ELFNOTE_SUSPEND_CANCEL, &(uint32_t){ 1 }, 4);
	note(m, XEN_ELFNOTE_MOD_START_PFN, &(uint32_t){ 1 }, 4);
	note_u64(m, XEN_ELFNOTE_HV_START_LOW, 0xffff800000000000ull);
	note_u64(m, XEN_ELFNOTE_PADDR_OFFSET, 0);
	note(m, XEN_ELFNOTE_PHYS32_ENTRY, &(uint32_t){ 0x1000050 }, 4);
}

static void add_section(uint8_t *sh, uint32_t name, uint32_t type,
			uint64_t off, uint64_t size)
{
	p32(sh, name);
	p32(sh + 4, type);
	p64(sh + 24, off);
	p64(sh + 32, size);
}

/* Fills in the note segment and the section headers; returns the length. */
static size_t img_finish(struct img *m)
{
	uint8_t *e = m->b;
	unsigned int phnum = 2;

	if (m->pt_note && m->notes_len) {
		phdr(e + 64 + 56 * phnum, 4, 4, 0x400, 0, 0, m->notes_len,
		     m->notes_len);
		phnum++;
	}
	p16(e + 56, (uint16_t)phnum);
	if (m->sections || m->xen_guest) {
		static const char strtab[] = "\0.shstrtab\0.notes\0__xen_guest";
		uint8_t *sh = e + 0x3100;
		unsigned int n = 1;

		memcpy(e + 0x3000, strtab, sizeof(strtab));
		memset(sh, 0, 64);
		add_section(sh + 64 * n++, 1, 3, 0x3000, sizeof(strtab));
		if (m->notes_len)
			add_section(sh + 64 * n++, 11, 7, 0x400, m->notes_len);
		if (m->xen_guest) {
			strcpy((char *)e + 0x300, m->xen_guest);
			add_section(sh + 64 * n++, 18, 1, 0x300,
				    strlen(m->xen_guest) + 1);
		}
		p64(e + 40, 0x3100);
		p16(e + 60, (uint16_t)n);
		p16(e + 62, 1);
		m->len = 0x3100 + 64 * n;
	}
	return m->len;
}

static int parse_img(struct img *m, struct kimage *ki)
{
	return kimage_parse(ki, m->b, img_finish(m), 0);
}

TEST(elf_linux_like_notes)
{
	struct img m;
	struct kimage ki;

	img_init(&m);
	img_linux_notes(&m);
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK(ki.owned == NULL && ki.elf == m.b && !ki.bzimage);
	CHECK_EQ(ki.compression, DECOMPRESS_UNKNOWN);
	CHECK_EQ(ki.virt_base, VBASE);
	CHECK_EQ(ki.paddr_offset, 0);
	CHECK_EQ(ki.virt_offset, VBASE);
	CHECK_EQ(ki.entry, KSTART + 0x10);
	CHECK_EQ(ki.hypercall_page, KSTART);
	CHECK_EQ(ki.virt_kstart, KSTART);
	CHECK_EQ(ki.virt_kend, KSTART + 0x5000);
	CHECK_EQ(ki.init_p2m, 0x8000000000ull);
	CHECK_EQ(ki.hv_start_low, 0xffff800000000000ull);
	CHECK_EQ(ki.phys32_entry, 0x1000050);
	CHECK(ki.mod_start_pfn && ki.suspend_cancel && !ki.bsd_symtab);
	CHECK(!ki.legacy_guest_info);
	CHECK_EQ(ki.features_required[0], 1u << XENFEAT_writable_page_tables);
	CHECK_EQ(ki.features_supported[0],
		 0x8801u | 1u << XENFEAT_pae_pgdir_above_4gb);
	CHECK_STR(ki.guest_os, "linux");
	CHECK_STR(ki.guest_version, "2.6");
	CHECK_STR(ki.loader, "generic");
	CHECK_STR(ki.xen_version, "xen-3.0");
	CHECK_EQ(ki.nr_segments, 2);
	CHECK_EQ(ki.segments[1].vaddr, KSTART + 0x2000);
	CHECK_EQ(ki.segments[1].filesz, 0x800);
	CHECK_EQ(ki.segments[1].memsz, 0x3000);
	CHECK_EQ(ki.segments[0].flags, 5);
	kimage_log(&ki);
	kimage_free(&ki);
}

/* Without notes for them: VIRT_BASE 0, PADDR_OFFSET 0, entry = e_entry. */
TEST(elf_defaults)
{
	struct img m;
	struct kimage ki;

	img_init(&m);
	note_str(&m, XEN_ELFNOTE_LOADER, "generic");
	note_str(&m, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK_EQ(ki.virt_base, 0);
	CHECK_EQ(ki.paddr_offset, 0);
	CHECK_EQ(ki.virt_kstart, 0x1000000);
	CHECK_EQ(ki.entry, 0x1000010);
	CHECK_EQ(ki.hypercall_page, KIMAGE_UNSET);
	CHECK_EQ(ki.init_p2m, KIMAGE_UNSET);
	CHECK_EQ(ki.segments[0].vaddr, 0x1000000);
	kimage_free(&ki);

	/* VIRT_BASE alone: PADDR_OFFSET defaults to 0 with notes. */
	img_init(&m);
	note_str(&m, XEN_ELFNOTE_GUEST_OS, "linux");
	note_str(&m, XEN_ELFNOTE_XEN_VERSION, "xen-3.0.4");
	note_u64(&m, XEN_ELFNOTE_VIRT_BASE, VBASE);
	note_u64(&m, XEN_ELFNOTE_ENTRY, KSTART);
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK_EQ(ki.paddr_offset, 0);
	CHECK_EQ(ki.virt_kstart, KSTART);
	kimage_free(&ki);
}

/* libelf falls back to SHT_NOTE sections when no PT_NOTE has Xen notes. */
TEST(elf_notes_from_sections)
{
	struct img m;
	struct kimage ki;

	img_init(&m);
	img_linux_notes(&m);
	m.pt_note = false;
	m.sections = true;
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK_EQ(ki.virt_base, VBASE);
	CHECK_EQ(ki.entry, KSTART + 0x10);
	kimage_free(&ki);
}

TEST(elf_legacy_xen_guest)
{
	struct img m;
	struct kimage ki;

	/* Old kernels: p_paddr == p_vaddr and the hypercall page as a pfn. */
	img_init(&m);
	p64(m.b + 64 + 24, KSTART);
	p64(m.b + 120 + 24, KSTART + 0x2000);
	p64(m.b + 24, KSTART + 0x20);
	m.xen_guest = "GUEST_OS=linux,GUEST_VER=2.6,XEN_VER=xen-3.0,"
		      "VIRT_BASE=0xffffffff80000000,HYPERCALL_PAGE=0x1000,"
		      "FEATURES=!writable_page_tables|hvm_callback_vector,"
		      "LOADER=generic,BSD_SYMTAB";
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK(ki.legacy_guest_info);
	CHECK_EQ(ki.virt_base, VBASE);
	CHECK_EQ(ki.paddr_offset, VBASE);
	CHECK_EQ(ki.virt_offset, 0);
	CHECK_EQ(ki.virt_kstart, KSTART);
	CHECK_EQ(ki.entry, KSTART + 0x20);
	CHECK_EQ(ki.hypercall_page, VBASE + (0x1000ull << 12));
	CHECK_EQ(ki.features_required[0], 1u << XENFEAT_writable_page_tables);
	CHECK_EQ(ki.features_supported[0], 1u << XENFEAT_writable_page_tables |
					     1u << XENFEAT_hvm_callback_vector);
	CHECK(ki.bsd_symtab);
	CHECK_STR(ki.guest_version, "2.6");
	kimage_free(&ki);
}

/* Each of libelf's refusals, one image each. */
TEST(elf_refusals)
{
	struct img m;
	struct kimage ki;

	img_init(&m); /* no notes at all */
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m);
	note_str(&m, XEN_ELFNOTE_GUEST_OS, "netbsd");
	note_str(&m, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m);
	note_str(&m, XEN_ELFNOTE_LOADER, "generic");
	note_str(&m, XEN_ELFNOTE_XEN_VERSION, "xen-2.0");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m);
	note_str(&m, XEN_ELFNOTE_LOADER, "generic");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL); /* no XEN_VERSION */

	img_init(&m);
	img_linux_notes(&m);
	note_str(&m, XEN_ELFNOTE_FEATURES, "!dom0");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m);
	img_linux_notes(&m);
	note_str(&m, XEN_ELFNOTE_FEATURES, "some_future_thing|!warp_drive");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* unknown supported names are fine */
	img_linux_notes(&m);
	note_str(&m, XEN_ELFNOTE_FEATURES, "some_future_thing||!|");
	CHECK_EQ(parse_img(&m, &ki), -EINVAL); /* ... but "!" alone is not */

	img_init(&m);
	img_linux_notes(&m);
	note_str(&m, XEN_ELFNOTE_FEATURES, "some_future_thing||dom0");
	CHECK_EQ(parse_img(&m, &ki), 0);
	kimage_free(&ki);

	img_init(&m); /* PADDR_OFFSET without VIRT_BASE */
	note_str(&m, XEN_ELFNOTE_LOADER, "generic");
	note_str(&m, XEN_ELFNOTE_XEN_VERSION, "xen-3.0");
	note_u64(&m, XEN_ELFNOTE_PADDR_OFFSET, 0);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* entry outside the image */
	img_linux_notes(&m);
	note_u64(&m, XEN_ELFNOTE_ENTRY, KSTART + 0x6000);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* virt_base above the image */
	img_linux_notes(&m);
	note_u64(&m, XEN_ELFNOTE_VIRT_BASE, KSTART + 0x1000);
	note_u64(&m, XEN_ELFNOTE_PADDR_OFFSET, 0x1000);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* p2m inside the kernel */
	img_linux_notes(&m);
	note_u64(&m, XEN_ELFNOTE_INIT_P2M, KSTART + 0x2000);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* hypercall page not page aligned, or outside */
	img_linux_notes(&m);
	note_u64(&m, XEN_ELFNOTE_HYPERCALL_PAGE, KSTART + 0x10);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);
	img_init(&m);
	img_linux_notes(&m);
	note_u64(&m, XEN_ELFNOTE_HYPERCALL_PAGE, KSTART + 0x5000);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* 32-bit */
	img_linux_notes(&m);
	m.b[4] = 1;
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* ET_DYN */
	img_linux_notes(&m);
	p16(m.b + 16, 3);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);

	img_init(&m); /* bss over 1 GiB */
	img_linux_notes(&m);
	p64(m.b + 120 + 40, (1ull << 30) + 0x1000);
	CHECK_EQ(parse_img(&m, &ki), -EFBIG);
	img_init(&m); /* ... or up to the top of the address space: wraps */
	img_linux_notes(&m);
	p64(m.b + 120 + 40, 2ull << 30);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);
}

/* Strings without a NUL are skipped, as libelf's elf_strval() does. */
TEST(elf_unterminated_string_note)
{
	struct img m;
	struct kimage ki;

	img_init(&m);
	img_linux_notes(&m);
	/* A 3-byte number reads as 0: VIRT_BASE 0 puts the entry outside. */
	note(&m, XEN_ELFNOTE_VIRT_BASE, "\1\2\3", 3);
	CHECK_EQ(parse_img(&m, &ki), -EINVAL);
	/* The string may end in the padding or beyond, as in libelf. */
	img_init(&m);
	img_linux_notes(&m);
	note(&m, XEN_ELFNOTE_GUEST_OS, "linuxlinux", 8);
	CHECK_EQ(parse_img(&m, &ki), 0);
	CHECK_STR(ki.guest_os, "linuxlin");
	kimage_free(&ki);

	/* A second note segment at the very end: "netbsd" and no NUL. */
	size_t len;
	img_init(&m);
	img_linux_notes(&m);
	len = img_finish(&m);
	p16(m.b + 56, 4);
	phdr(m.b + 232, 4, 4, len, 0, 0, 16 + 8, 16 + 8);
	memcpy(m.b + len, "\4\0\0\0\6\0\0\0\6\0\0\0Xen\0netbsd", 22);
	CHECK_EQ(kimage_parse(&ki, m.b, len + 22, 0), -EINVAL); /* desc overruns */
	p32(m.b + 232 + 32, 22);
	CHECK_EQ(kimage_parse(&ki, m.b, len + 22, 0), 0);
	CHECK_STR(ki.guest_os, "linux"); /* the unterminated note was skipped */
	kimage_free(&ki);
	CHECK_EQ(kimage_parse(&ki, m.b, len + 23, 0), 0); /* a NUL follows now */
	CHECK_STR(ki.guest_os, "netbsd");
	kimage_free(&ki);
}

TEST(elf_hostile_headers)
{
	struct img m;
	struct kimage ki;
	size_t len;

	img_init(&m); /* phdrs past the end */
	img_linux_notes(&m);
	len = img_finish(&m);
	p64(m.b + 32, len - 100);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p64(m.b + 32, ~0ull - 8);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p64(m.b + 32, 64);
	p16(m.b + 56, 0xffff);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p16(m.b + 56, 3);
	p16(m.b + 54, 32); /* phentsize */
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);

	img_init(&m); /* segment data past the end, and wrapping */
	img_linux_notes(&m);
	len = img_finish(&m);
	p64(m.b + 64 + 8, len - 0x10);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p64(m.b + 64 + 8, ~0ull - 0x10);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p64(m.b + 64 + 8, 0x1000);
	p64(m.b + 64 + 32, 0x2000); /* filesz > memsz */
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	p64(m.b + 64 + 32, 0x1000);
	p64(m.b + 64 + 24, ~0ull - 0x10); /* paddr + memsz wraps */
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);

	/* Note sizes that overflow the segment, or 32 bits. */
	static const uint32_t bad[][2] = { { 4, 0xffffffff }, { 0xffffffff, 4 },
					   { 0xfffffffd, 0 }, { 4, 0x10000 } };
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		img_init(&m);
		img_linux_notes(&m);
		len = img_finish(&m);
		p32(m.b + 0x400, bad[i][0]);
		p32(m.b + 0x404, bad[i][1]);
		CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);
	}
	img_init(&m); /* note segment itself past the end */
	img_linux_notes(&m);
	len = img_finish(&m);
	p64(m.b + 176 + 32, len);
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), -EINVAL);

	img_init(&m); /* section table past the end */
	img_linux_notes(&m);
	m.sections = true;
	len = img_finish(&m);
	CHECK_EQ(kimage_parse(&ki, m.b, len - 1, 0), -EINVAL);
	p16(m.b + 62, 200); /* shstrndx out of range: tolerated */
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), 0);
	kimage_free(&ki);

	CHECK_EQ(kimage_parse(&ki, NULL, 0, 0), -ENOEXEC);
	CHECK_EQ(kimage_parse(&ki, "\x7f" "ELF", 4, 0), -EINVAL);
	CHECK_EQ(kimage_parse(&ki, "MZ\0\0", 4, 0), -ENOEXEC);
}

/* Every prefix of a good image: short ones fail, none crash. */
TEST(elf_every_truncation)
{
	struct img m;
	struct kimage ki;
	size_t len;

	img_init(&m);
	img_linux_notes(&m);
	m.sections = true;
	m.xen_guest = "GUEST_OS=linux";
	len = img_finish(&m);
	for (size_t cut = 0; cut < len; cut++) {
		int rc = kimage_parse(&ki, m.b, cut, 0);

		if (cut < 0x2800)
			CHECK(rc < 0);
		if (rc == 0)
			kimage_free(&ki);
	}
	CHECK_EQ(kimage_parse(&ki, m.b, len, 0), 0);
	kimage_free(&ki);
}

struct map_ctx {
	uint8_t *guest;
	uint64_t base;
	size_t size;
	int calls;
	bool crossed;
	bool fail;
};

static void *test_map(void *ctx, uint64_t vaddr, size_t len)
{
	struct map_ctx *c = ctx;

	c->calls++;
	if (vaddr / KIMAGE_PAGE_BYTES != (vaddr + len - 1) / KIMAGE_PAGE_BYTES)
		c->crossed = true;
	if (c->fail || vaddr < c->base || vaddr + len > c->base + c->size)
		return NULL;
	return c->guest + (vaddr - c->base);
}

TEST(load_segments)
{
	struct img m;
	struct kimage ki;
	struct map_ctx c = { 0 };
	uint8_t *flat;

	img_init(&m);
	img_linux_notes(&m);
	CHECK_EQ(parse_img(&m, &ki), 0);
	c.base = KSTART - 0x1000;
	c.size = 0x7000;
	c.guest = malloc(c.size);
	memset(c.guest, 0xaa, c.size);
	CHECK_EQ(kimage_load(&ki, test_map, &c), 0);
	CHECK(!c.crossed);
	CHECK(memcmp(c.guest + 0x1000, m.b + 0x1000, 0x1000) == 0);
	for (size_t i = 0x2000; i < 0x3000; i++)
		CHECK_EQ(c.guest[i], 0); /* gap between segments */
	CHECK(memcmp(c.guest + 0x3000, m.b + 0x2000, 0x800) == 0);
	for (size_t i = 0x3800; i < 0x6000; i++)
		CHECK_EQ(c.guest[i], 0); /* bss */
	CHECK_EQ(c.guest[0xfff], 0xaa); /* outside: untouched */
	CHECK_EQ(c.guest[0x6000], 0xaa);

	flat = malloc(0x5000);
	CHECK_EQ(kimage_load_flat(&ki, flat, KSTART, 0x5000), 0);
	CHECK(memcmp(flat, c.guest + 0x1000, 0x5000) == 0);
	CHECK_EQ(kimage_load_flat(&ki, flat, KSTART, 0x4fff), -ERANGE);
	CHECK_EQ(kimage_load_flat(&ki, flat, KSTART + 1, 0x5000), -ERANGE);
	c.fail = true;
	CHECK_EQ(kimage_load(&ki, test_map, &c), -EFAULT);
	free(flat);
	free(c.guest);
	kimage_free(&ki);
}

/* A gzip'd ELF (xl's kernel="vmlinux.gz") and a synthetic bzImage. */
TEST(compressed_elf_and_bzimage)
{
	struct img m;
	struct kimage ki;
	size_t len, zlen, xlen;
	uint8_t *z, *x, *bz;

	img_init(&m);
	img_linux_notes(&m);
	len = img_finish(&m);
	z = run_tool("gzip -c", m.b, len, &zlen);
	CHECK(z);
	CHECK_EQ(kimage_parse(&ki, z, zlen, 0), 0);
	CHECK(ki.owned && !ki.bzimage);
	CHECK_EQ(ki.compression, DECOMPRESS_GZIP);
	CHECK_EQ(ki.elf_bytes, len);
	CHECK_EQ(ki.entry, KSTART + 0x10);
	kimage_free(&ki);
	CHECK_EQ(kimage_parse(&ki, z, zlen, len - 1), -EFBIG);

	/* bzImage: setup_sects 0 means 4, so the payload follows 5 sectors. */
	x = run_tool("xz -c --check=crc32 --x86 --lzma2", m.b, len, &xlen);
	CHECK(x);
	size_t poff = 0x30, plen = xlen + 4, blen = 5 * 512 + poff + plen;
	bz = calloc(1, blen);
	bz[0x1f1] = 0;
	memcpy(bz + 0x202, "HdrS", 4);
	p16(bz + 0x206, 0x020f);
	p32(bz + 0x248, (uint32_t)poff);
	p32(bz + 0x24c, (uint32_t)plen);
	memcpy(bz + 5 * 512 + poff, x, xlen);
	p32(bz + 5 * 512 + poff + xlen, (uint32_t)len); /* Linux's size trailer */
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), 0);
	CHECK(ki.bzimage);
	CHECK_EQ(ki.compression, DECOMPRESS_XZ);
	CHECK_EQ(ki.virt_kstart, KSTART);
	kimage_free(&ki);

	/* Payload past the end, in several ways; old protocol; bad payload. */
	CHECK_EQ(kimage_parse(&ki, bz, blen - 1, 0), -EINVAL);
	p32(bz + 0x24c, 0xffffffff);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	p32(bz + 0x24c, 0);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	p32(bz + 0x24c, (uint32_t)plen);
	p32(bz + 0x248, 0xfffffff0);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	p32(bz + 0x248, (uint32_t)poff);
	bz[0x1f1] = 0xff;
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	bz[0x1f1] = 0;
	p16(bz + 0x206, 0x0207);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	p16(bz + 0x206, 0x020f);
	bz[5 * 512 + poff + 100] ^= 0x40; /* CRC32 catches it */
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	memset(bz + 5 * 512 + poff, 'A', 8);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EINVAL);
	memcpy(bz + 5 * 512 + poff, "BZh9", 4);
	CHECK_EQ(kimage_parse(&ki, bz, blen, 0), -EOPNOTSUPP);

	/* A compressed file that is not an ELF. */
	CHECK(packed[5]);
	CHECK_EQ(kimage_parse(&ki, packed[5], packed_len[5], 0), -EINVAL);
	free(z);
	free(x);
	free(bz);
}

/* ---- the host's real Debian kernel ---- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

TEST(debian_vmlinuz)
{
	glob_t g;
	uint8_t *file, *ref, *guest;
	size_t len, ref_len;
	struct kimage ki;
	double t0, t1;
	int rc;

	if (glob("/boot/vmlinuz-*", 0, NULL, &g) != 0 || g.gl_pathc == 0) {
		printf("note: no /boot/vmlinuz-*: apt-get install linux-image-amd64\n");
		CHECK(!"a Debian kernel in /boot");
	}
	file = read_file(g.gl_pathv[g.gl_pathc - 1], &len);
	printf("note: %s, %zu bytes\n", g.gl_pathv[g.gl_pathc - 1], len);
	globfree(&g);
	CHECK(file);

	t0 = now_ms();
	rc = kimage_parse(&ki, file, len, 0);
	t1 = now_ms();
	CHECK_EQ(rc, 0);
	printf("note: vmlinuz: %s payload -> %zu-byte ELF in %.0f ms (host, ASan build)\n",
	       decompress_format_name(ki.compression), ki.elf_bytes, t1 - t0);
	kimage_log(&ki);
	CHECK(ki.bzimage);
	CHECK(ki.compression == DECOMPRESS_XZ || ki.compression == DECOMPRESS_ZSTD ||
	      ki.compression == DECOMPRESS_GZIP || ki.compression == DECOMPRESS_LZ4_LEGACY);
	CHECK_EQ(ki.virt_base, VBASE);
	CHECK_EQ(ki.paddr_offset, 0);
	CHECK(ki.virt_kstart >= KSTART && ki.virt_kend > ki.virt_kstart);
	CHECK(ki.entry > ki.virt_kstart && ki.entry < ki.virt_kend);
	/* Debian 6.1 no longer has a hypercall page (stable backport, 2024). */
	CHECK(ki.hypercall_page == KIMAGE_UNSET ||
	      (ki.hypercall_page >= ki.virt_kstart && ki.hypercall_page < ki.virt_kend));
	CHECK_EQ(ki.init_p2m, 0x8000000000ull);
	CHECK(ki.mod_start_pfn);
	CHECK_STR(ki.guest_os, "linux");
	CHECK_STR(ki.loader, "generic");
	CHECK_STR(ki.xen_version, "xen-3.0");
	CHECK(ki.features_required[0] & 1u << XENFEAT_writable_page_tables);
	CHECK(ki.features_supported[0] & 1u << XENFEAT_pae_pgdir_above_4gb);
	CHECK(ki.features_supported[0] & 1u << XENFEAT_dom0);
	CHECK(!(ki.features_required[0] & 1u << XENFEAT_dom0));
	CHECK(ki.nr_segments >= 3);
	/* Linux's percpu segment has p_vaddr 0: placement must use p_paddr. */
	bool zero_vaddr = false;
	for (unsigned int i = 0; i < ki.nr_segments; i++) {
		CHECK_EQ(ki.segments[i].vaddr, ki.segments[i].paddr + VBASE);
		zero_vaddr |= ki.segments[i].elf_vaddr == 0;
	}
	CHECK(zero_vaddr);

	/* The same bytes as the host's xz tool gives for the payload. */
	uint32_t po, pl;
	size_t off = ((file[0x1f1] ? file[0x1f1] : 4) + 1) * 512u;
	memcpy(&po, file + 0x248, 4);
	memcpy(&pl, file + 0x24c, 4);
	if (ki.compression == DECOMPRESS_XZ) {
		ref = run_tool("xz -dc --single-stream", file + off + po, pl, &ref_len);
		CHECK(ref);
		CHECK_EQ(ref_len, ki.elf_bytes);
		CHECK(memcmp(ref, ki.elf, ref_len) == 0);
		free(ref);
	}
	uint32_t trailer;
	memcpy(&trailer, file + off + po + pl - 4, 4);
	CHECK_EQ(ki.elf_bytes, trailer);

	/* Load it flat and spot-check the first and last segment. */
	size_t span = ki.virt_kend - ki.virt_kstart;
	guest = malloc(span);
	CHECK(guest);
	CHECK_EQ(kimage_load_flat(&ki, guest, ki.virt_kstart, span), 0);
	const struct kimage_segment *s = &ki.segments[0];
	CHECK(memcmp(guest + (s->vaddr - ki.virt_kstart), ki.elf + s->file_offset,
		     s->filesz) == 0);
	s = &ki.segments[ki.nr_segments - 1];
	CHECK(memcmp(guest + (s->vaddr - ki.virt_kstart), ki.elf + s->file_offset,
		     s->filesz) == 0);
	free(guest);

	/* Truncated or bounded, the real kernel fails cleanly. */
	struct kimage ki2;
	CHECK_EQ(kimage_parse(&ki2, file, len / 2, 0), -EINVAL);
	CHECK_EQ(kimage_parse(&ki2, file, len, 16u << 20), -EFBIG);
	kimage_free(&ki);
	free(file);
}

/*
 * Debian's PV GRUB (grub-xen-host), as xl users give it as kernel =: Xen notes
 * with VIRT_BASE 0 and ENTRY 0, no hypercall page, and a second PT_LOAD (its
 * modules) whose file offset is not congruent to its address.  What the
 * parser finds is compared with the file's own program headers.  The 32-bit
 * image beside it is refused (keel builds 64-bit PV guests only).
 */
TEST(debian_pvgrub)
{
	static const char path[] = "/usr/lib/grub-xen/grub-x86_64-xen.bin";
	uint8_t *file, *guest;
	size_t len, len32;
	struct kimage ki;
	uint64_t phoff, lo = ~0ull, hi = 0, entry;
	uint16_t phnum;
	unsigned int nload = 0;

	file = read_file(path, &len);
	if (!file)
		printf("note: no %s: apt-get install grub-xen-host (scripts/deps.sh)\n", path);
	CHECK(file);
	CHECK_EQ(kimage_parse(&ki, file, len, 0), 0);
	kimage_log(&ki);
	CHECK(!ki.bzimage);
	CHECK_EQ(ki.compression, 0);
	CHECK_STR(ki.guest_os, "GRUB");
	CHECK_STR(ki.loader, "generic");
	CHECK_STR(ki.xen_version, "xen-3.0");
	CHECK_EQ(ki.virt_base, 0);
	CHECK_EQ(ki.paddr_offset, 0);
	CHECK_EQ(ki.hypercall_page, KIMAGE_UNSET);

	memcpy(&entry, file + 24, 8);
	memcpy(&phoff, file + 32, 8);
	memcpy(&phnum, file + 56, 2);
	CHECK_EQ(ki.entry, entry);
	for (unsigned int i = 0; i < phnum; i++) {
		const uint8_t *ph = file + phoff + i * 56u;
		uint32_t type;
		uint64_t off, paddr, filesz, memsz;

		memcpy(&type, ph, 4);
		if (type != 1)
			continue;
		memcpy(&off, ph + 8, 8);
		memcpy(&paddr, ph + 24, 8);
		memcpy(&filesz, ph + 32, 8);
		memcpy(&memsz, ph + 40, 8);
		CHECK(nload < ki.nr_segments);
		CHECK_EQ(ki.segments[nload].file_offset, off);
		CHECK_EQ(ki.segments[nload].vaddr, paddr);
		CHECK_EQ(ki.segments[nload].filesz, filesz);
		CHECK_EQ(ki.segments[nload].memsz, memsz);
		lo = MIN(lo, paddr);
		hi = MAX(hi, paddr + memsz);
		nload++;
	}
	CHECK_EQ(ki.nr_segments, nload);
	CHECK(nload >= 2);
	CHECK_EQ(ki.virt_kstart, lo);
	CHECK_EQ(ki.virt_kend, hi);

	/* Loaded flat: every segment's bytes where its header says, bss zero. */
	guest = malloc(hi);
	CHECK(guest);
	memset(guest, 0xaa, hi);
	CHECK_EQ(kimage_load_flat(&ki, guest, 0, hi), 0);
	for (unsigned int i = 0; i < ki.nr_segments; i++) {
		const struct kimage_segment *s = &ki.segments[i];

		CHECK(memcmp(guest + s->vaddr, file + s->file_offset, s->filesz) == 0);
		for (uint64_t b = s->vaddr + s->filesz; b < s->vaddr + s->memsz; b += 4093)
			CHECK_EQ(guest[b], 0);
	}
	free(guest);
	kimage_free(&ki);
	free(file);

	file = read_file("/usr/lib/grub-xen/grub-i386-xen.bin", &len32);
	CHECK(file);
	CHECK_EQ(file[4], 1); /* ELFCLASS32 */
	CHECK_EQ(kimage_parse(&ki, file, len32, 0), -EINVAL);
	free(file);
}

TEST(cleanup)
{
	for (size_t i = 0; i < ARRAY_SIZE(tool_cases); i++)
		free(packed[i]);
	free(data);
	cleanup_tmpdir();
}

static const struct test_case tests[] = {
	T(abi_versions),
	T(tools_compress),
	T(detect_formats),
	T(roundtrip_each_format),
	T(bound_exact_and_one_less),
	T(truncated_input_fails),
	T(corrupt_input_never_crashes),
	T(chunked_and_sink),
	T(zstd_linux_style_with_and_without_size),
	T(yield_hook_between_chunks),
	T(steps_sized_by_time),
	T(big_output_buffer_through_hook),
	T(sink_error_and_abandoned_stream),
	T(bomb_stops_at_max_out),
	T(lz4_legacy_blocks_and_trailer),
	T(elf_linux_like_notes),
	T(elf_defaults),
	T(elf_notes_from_sections),
	T(elf_legacy_xen_guest),
	T(elf_refusals),
	T(elf_unterminated_string_note),
	T(elf_hostile_headers),
	T(elf_every_truncation),
	T(load_segments),
	T(compressed_elf_and_bzimage),
	T(debian_vmlinuz),
	T(debian_pvgrub),
	T(cleanup),
};

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	return run_tests(tests, ARRAY_SIZE(tests));
}

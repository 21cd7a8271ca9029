/* fuzz-srcs: toolstack/kimage.c lib/decompress.c
 * fuzz-libs: -llzma -lz -lzstd -llz4
 *
 * libFuzzer target for guest kernel images and the decompression glue.  The
 * first input byte picks how the rest is used, so that mutations reach deep
 * without a seed corpus:
 *   0  the whole file: kimage_parse(), then kimage_load_flat() if it parsed;
 *   1  compressed data: decompress() flat and through a sink, 1 MiB bound;
 *   2  the note segment of a valid ELF skeleton (Xen notes parser);
 *   3  the first 0x400 bytes (ELF and program headers) of that skeleton,
 *      whose notes say Linux: header and segment validation;
 *   4  a bzImage payload behind a valid setup header;
 *   5  the __xen_guest string of a skeleton without notes.
 * Every path must end with 0 or -errno, never read outside its buffer
 * (ASan) and never leak (LSan).
 */
#include <lib/base.h>
#include <lib/decompress.h>
#include <keel/kimage.h>

#define MAX_OUT (1u << 20)
#define SKEL_BYTES 0x3000u
#define NOTES_AT 0x400u
#define NOTES_MAX 0x800u
#define GUEST_AT 0xc00u

static void p16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void p32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void p64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static void phdr(uint8_t *p, uint32_t type, uint32_t flags, uint64_t off,
		 uint64_t paddr, uint64_t filesz, uint64_t memsz)
{
	p32(p, type);
	p32(p + 4, flags);
	p64(p + 8, off);
	p64(p + 16, paddr + 0xffffffff80000000ull);
	p64(p + 24, paddr);
	p64(p + 32, filesz);
	p64(p + 40, memsz);
}

static size_t note(uint8_t *p, uint32_t type, const void *desc, uint32_t len)
{
	p32(p, 4);
	p32(p + 4, len);
	p32(p + 8, type);
	memcpy(p + 12, "Xen", 4);
	memcpy(p + 16, desc, len);
	return 16 + ((len + 3) & ~3u);
}

/* A two-segment x86_64 ET_EXEC with a PT_NOTE of notes_len bytes at 0x400. */
static void skeleton(uint8_t *e, size_t notes_len, bool sections)
{
	memset(e, 0, SKEL_BYTES + 0x200);
	memcpy(e, "\x7f" "ELF\x02\x01\x01", 7);
	p16(e + 16, 2);
	p16(e + 18, 62);
	p32(e + 20, 1);
	p64(e + 24, 0xffffffff81000010ull);
	p64(e + 32, 64);
	p16(e + 52, 64);
	p16(e + 54, 56);
	p16(e + 56, 3);
	phdr(e + 64, 1, 5, 0x1000, 0x1000000, 0x1000, 0x1000);
	phdr(e + 120, 1, 6, 0x2000, 0x1002000, 0x800, 0x3000);
	phdr(e + 176, 4, 4, NOTES_AT, 0, notes_len, notes_len);
	if (sections) {
		static const char strtab[] = "\0.shstrtab\0__xen_guest";
		uint8_t *sh = e + SKEL_BYTES + 0x40;

		memcpy(e + SKEL_BYTES, strtab, sizeof(strtab));
		p32(sh + 64, 1);
		p32(sh + 64 + 4, 3);
		p64(sh + 64 + 24, SKEL_BYTES);
		p64(sh + 64 + 32, sizeof(strtab));
		p32(sh + 128, 11);
		p32(sh + 128 + 4, 1);
		p64(sh + 128 + 24, GUEST_AT);
		p64(sh + 128 + 32, NOTES_MAX);
		p64(e + 40, SKEL_BYTES + 0x40);
		p16(e + 58, 64);
		p16(e + 60, 3);
		p16(e + 62, 1);
	}
}

static size_t linux_notes(uint8_t *p)
{
	size_t n = 0;
	uint64_t vbase = 0xffffffff80000000ull, entry = 0xffffffff81000010ull;

	n += note(p + n, XEN_ELFNOTE_GUEST_OS, "linux", 6);
	n += note(p + n, XEN_ELFNOTE_XEN_VERSION, "xen-3.0", 8);
	n += note(p + n, XEN_ELFNOTE_VIRT_BASE, &vbase, 8);
	n += note(p + n, XEN_ELFNOTE_ENTRY, &entry, 8);
	n += note(p + n, XEN_ELFNOTE_FEATURES, "!writable_page_tables", 22);
	return n;
}

static void parse_and_load(const uint8_t *file, size_t len)
{
	struct kimage ki;
	uint8_t *dst;

	if (kimage_parse(&ki, file, len, 4 * MAX_OUT) != 0)
		return;
	ASSERT(ki.virt_kstart <= ki.virt_kend && ki.nr_segments > 0);
	ASSERT(ki.entry >= ki.virt_kstart && ki.entry <= ki.virt_kend);
	if (ki.virt_kend - ki.virt_kstart <= 4 * MAX_OUT) {
		size_t span = (size_t)(ki.virt_kend - ki.virt_kstart);

		dst = malloc(span ? span : 1);
		ASSERT(kimage_load_flat(&ki, dst, ki.virt_kstart, span) == 0);
		free(dst);
	}
	kimage_free(&ki);
}

static int sink_count(void *ctx, const void *data, size_t len)
{
	size_t *total = ctx;
	volatile uint8_t touch = len ? ((const uint8_t *)data)[len - 1] : 0;

	(void)touch;
	*total += len;
	return 0;
}

/* A clock whose steps follow the input, so step sizes swing both ways. */
static uint64_t fuzz_now, fuzz_tick;
static uint64_t fuzz_clock(void)
{
	fuzz_now += fuzz_tick;
	fuzz_tick = (fuzz_tick * 7 + 1000003) % (3 * DECOMPRESS_STEP_NS);
	return fuzz_now;
}

static void try_decompress(const uint8_t *in, size_t len)
{
	struct decompress_stream *ds;
	size_t out_len, total = 0;
	void *out;
	int rc;

	rc = decompress(in, len, &out, &out_len, MAX_OUT);
	if (rc == 0) {
		ASSERT(out_len <= MAX_OUT);
		free(out);
	}
	/* Through a sink, with steps sized by a clock. */
	fuzz_tick = len ? in[len - 1] * 100000ull : 0;
	decompress_set_clock(fuzz_clock);
	if (decompress_begin_sink(&ds, in, len, MAX_OUT, sink_count, &total) == 0) {
		while (total <= MAX_OUT) {
			size_t before = total, limit = decompress_step_limit(ds);
			if ((rc = decompress_step(ds)) <= 0)
				break;
			ASSERT(total - before <= limit);
		}
		ASSERT(total <= MAX_OUT && total == decompress_out_bytes(ds));
		decompress_end(ds);
	}
	decompress_set_clock(NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t e[SKEL_BYTES + 0x200];
	uint8_t *buf;
	size_t n;

	if (size < 1)
		return 0;
	switch (data[0] % 6) {
	case 0:
		/* An exact-size copy, so ASan catches any overread. */
		buf = malloc(size - 1 ? size - 1 : 1);
		memcpy(buf, data + 1, size - 1);
		parse_and_load(buf, size - 1);
		free(buf);
		break;
	case 1:
		buf = malloc(size - 1 ? size - 1 : 1);
		memcpy(buf, data + 1, size - 1);
		try_decompress(buf, size - 1);
		free(buf);
		break;
	case 2:
		n = MIN(size - 1, (size_t)NOTES_MAX);
		skeleton(e, n, false);
		memcpy(e + NOTES_AT, data + 1, n);
		parse_and_load(e, SKEL_BYTES);
		break;
	case 3:
		skeleton(e, linux_notes(e + NOTES_AT), false);
		memcpy(e, data + 1, MIN(size - 1, (size_t)NOTES_AT));
		parse_and_load(e, SKEL_BYTES);
		break;
	case 4:
		n = 5 * 512 + size - 1;
		buf = calloc(1, n);
		memcpy(buf + 0x202, "HdrS", 4);
		p16(buf + 0x206, 0x020f);
		p32(buf + 0x24c, (uint32_t)(size - 1));
		memcpy(buf + 5 * 512, data + 1, size - 1);
		parse_and_load(buf, n);
		free(buf);
		break;
	case 5:
		skeleton(e, 0, true);
		p16(e + 56, 2);
		n = MIN(size - 1, (size_t)NOTES_MAX);
		memcpy(e + GUEST_AT, data + 1, n);
		parse_and_load(e, SKEL_BYTES + 0x200);
		break;
	}
	return 0;
}

/* The NVMe driver's PRP construction: every command it builds must obey
 * the PRP rules and, command after command, cover exactly the bytes of the
 * segment list in order. */
#include "harness.h"
#include "../../drivers/nvme/nvme_prp.h"

#define PG 4096u

static uint64_t list[NVME_PRP_LIST_ENTRIES];

struct cmd {
	uint32_t bytes;
	uint32_t npages;
};

/*
 * Cuts segs into commands; checks each against the PRP rules and that the
 * byte addresses the PRPs describe are those of the segments, in order.
 * Returns the number of commands, or -1 (with a FAIL line) on a violation.
 */
static int cut(const struct blk_seg *segs, uint16_t n, uint32_t max, struct cmd *out, int max_out)
{
	struct nvme_prp_cursor cur = { 0, 0 };
	unsigned int si = 0;
	uint32_t soff = 0;
	int ncmd = 0;

	for (;;) {
		uint64_t prp1;
		uint32_t np;
		uint32_t bytes = nvme_prp_build(segs, n, &cur, max, &prp1, list, &np);
		if (!bytes)
			break;
		if (bytes > max || np == 0 || np > NVME_PRP_LIST_ENTRIES + 1 || (prp1 & 3))
			return printf("  bad command %d: %u bytes, %u pages\n", ncmd, bytes, np), -1;
		/* Walk the described bytes page by page. */
		uint32_t left = bytes;
		for (uint32_t p = 0; p < np; p++) {
			uint64_t a = p == 0 ? prp1 : list[p - 1];
			if (p && (a & (PG - 1)))
				return printf("  page %u of command %d not page-aligned\n", p, ncmd), -1;
			uint32_t chunk = (uint32_t)(PG - (a & (PG - 1)));
			if (chunk > left)
				chunk = left;
			if (p + 1 < np && chunk != PG - (a & (PG - 1)))
				return printf("  page %u of command %d ends early\n", p, ncmd), -1;
			/* These chunk bytes must be the next ones of the segments. */
			while (chunk) {
				if (si >= n)
					return printf("  command %d describes bytes past the list\n", ncmd), -1;
				uint64_t sa = dma_x(segs[si].addr) + soff;
				uint32_t srem = segs[si].len_bytes - soff;
				uint32_t take = chunk < srem ? chunk : srem;
				if (sa != a)
					return printf("  command %d page %u: %#llx, segment byte %#llx\n",
						      ncmd, p, (unsigned long long)a,
						      (unsigned long long)sa), -1;
				a += take;
				chunk -= take;
				left -= take;
				soff += take;
				if (soff == segs[si].len_bytes) {
					si++;
					soff = 0;
				}
			}
		}
		if (left)
			return printf("  command %d: %u bytes not described\n", ncmd, left), -1;
		if (ncmd < max_out)
			out[ncmd] = (struct cmd){ bytes, np };
		ncmd++;
	}
	if (si != n)
		return printf("  segments %u.. never sent\n", si), -1;
	return ncmd;
}

static struct blk_seg S(uint64_t page, uint32_t off, uint32_t len)
{
	return (struct blk_seg){ _dma(page * PG + off), len };
}

TEST(one_page_and_two_pages)
{
	struct blk_seg a[] = { S(10, 0, PG) };
	struct cmd c[4];
	CHECK_EQ(cut(a, 1, 128 * PG, c, 4), 1);
	CHECK_EQ(c[0].npages, 1);
	struct blk_seg b[] = { S(10, 0, PG), S(77, 0, PG) };
	CHECK_EQ(cut(b, 2, 128 * PG, c, 4), 1);
	CHECK_EQ(c[0].npages, 2);
	CHECK_EQ(c[0].bytes, 2 * PG);
}

TEST(page_aligned_list_is_one_command)
{
	struct blk_seg s[64];
	struct cmd c[4];
	for (unsigned i = 0; i < 64; i++)
		s[i] = S(1000 - 7 * i, 0, PG);
	CHECK_EQ(cut(s, 64, 128 * PG, c, 4), 1);
	CHECK_EQ(c[0].npages, 64);
	CHECK_EQ(list[0], 993ull * PG);
}

/* What blkback sends from a guest: 512-byte pieces inside pages. */
TEST(breaks_split_the_request)
{
	struct blk_seg s[] = { S(0, 3584, 512), S(1, 0, PG), S(2, 0, 1024), S(3, 512, 1536),
			       S(4, 2048, 2048), S(5, 0, PG), S(6, 1024, 512), S(7, 0, 2560) };
	struct cmd c[8];
	CHECK_EQ(cut(s, 8, 128 * PG, c, 8), 5);
	CHECK_EQ(c[0].bytes, 512 + PG + 1024);
	CHECK_EQ(c[0].npages, 3);
	CHECK_EQ(c[1].bytes, 1536);
	CHECK_EQ(c[2].bytes, 2048 + PG);
	CHECK_EQ(c[3].bytes, 512);
	CHECK_EQ(c[4].bytes, 2560);
	CHECK(!nvme_prp_cuts_aligned(s, 8, 4096));
	CHECK(nvme_prp_cuts_aligned(s, 8, 512));
}

TEST(transfer_limit_cuts_inside_a_segment_run)
{
	static struct blk_seg s[300];
	struct cmd c[8];
	s[0] = S(5000, 3584, 512);
	for (unsigned i = 1; i < 300; i++)
		s[i] = S(i * 3, 0, PG);
	/* 512 + 299 pages with 128-page commands. */
	int n = cut(s, 300, 128 * PG, c, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(c[0].bytes, 128 * PG);
	CHECK_EQ(c[0].npages, 129);  /* 512 bytes + 127 pages + 3584 bytes */
	CHECK_EQ(c[1].bytes, 128 * PG);
	CHECK_EQ(c[2].bytes, 512 + 299 * PG - 256 * PG);
	/* 512 + 299 pages is no whole number of 4 KiB blocks. */
	CHECK(!nvme_prp_cuts_aligned(s, 300, 4096));
	CHECK(nvme_prp_cuts_aligned(s, 300, 512));
}

TEST(largest_command_fits_one_list_page)
{
	static struct blk_seg s[600];
	struct cmd c[4];
	s[0] = S(1, 512, PG - 512);
	for (unsigned i = 1; i < 600; i++)
		s[i] = S(100 + i, 0, PG);
	int n = cut(s, 600, NVME_PRP_MAX_BYTES, c, 4);
	CHECK_EQ(n, 2);
	CHECK_EQ(c[0].bytes, NVME_PRP_MAX_BYTES);
	CHECK_EQ(c[0].npages, NVME_PRP_LIST_ENTRIES + 1);
	/* A limit over what one list page holds is clamped. */
	struct nvme_prp_cursor cur = { 0, 0 };
	uint64_t prp1;
	uint32_t np;
	CHECK_EQ(nvme_prp_build(s, 600, &cur, 8u << 20, &prp1, list, &np), NVME_PRP_MAX_BYTES);
}

TEST(total_must_be_whole_blocks)
{
	struct blk_seg s[] = { S(1, 0, PG), S(2, 0, 512) };
	CHECK(!nvme_prp_cuts_aligned(s, 2, 4096));
	CHECK(nvme_prp_cuts_aligned(s, 2, 512));
	struct blk_seg t[] = { S(1, 0, 2048), S(2, 2048, 2048), S(3, 0, PG) };
	CHECK(nvme_prp_cuts_aligned(t, 3, 2048));
	CHECK(!nvme_prp_cuts_aligned(t, 3, 4096));
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Random lists of 512-byte-multiple pieces inside pages, random limits. */
TEST(random_lists_are_described_exactly)
{
	static struct blk_seg s[256];
	static struct cmd c[1];
	for (int iter = 0; iter < 20000; iter++) {
		uint16_t n = (uint16_t)(1 + next() % 256);
		for (unsigned i = 0; i < n; i++) {
			uint32_t off = (uint32_t)(next() % 8) * 512;
			uint32_t len = (uint32_t)(1 + next() % ((PG - off) / 512)) * 512;
			/* Mostly whole pages, as real lists are. */
			if (next() % 3) {
				off = 0;
				len = PG;
			}
			s[i] = S(next() % 100000, off, len);
		}
		uint32_t max = (uint32_t)(1 + next() % 512) * PG;
		if (cut(s, n, max, c, 0) < 0) {
			printf("  iteration %d, %u segments, max %u\n", iter, n, max);
			CHECK(0);
		}
	}
}

static const struct test_case tests[] = {
	T(one_page_and_two_pages), T(page_aligned_list_is_one_command),
	T(breaks_split_the_request), T(transfer_limit_cuts_inside_a_segment_run),
	T(largest_command_fits_one_list_page), T(total_must_be_whole_blocks),
	T(random_lists_are_described_exactly),
};

int main(void)
{
	return run_tests(tests, ARRAY_SIZE(tests));
}

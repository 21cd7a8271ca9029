/*
 * Host tests for the newc reader (lib/cpio.c) and the boot file tree
 * (fs/bootfs.c): archives built byte by byte here, malformed ones, and one
 * made by the real cpio through scripts/mkarchive.sh.
 */
#include <lib/base.h>
#include <lib/cpio.h>
#include <keel/bootfs.h>
#include "harness.h"

#include <sys/stat.h>
#include <unistd.h>

/* ---- building archives in memory ------------------------------------------ */

struct ar {
	uint8_t buf[16384];
	size_t len;
};

static void ar_pad(struct ar *a)
{
	while (a->len & 3)
		a->buf[a->len++] = 0;
}

static void ar_add_magic(struct ar *a, const char *magic, const char *name, uint32_t mode,
			 const void *data, size_t size, uint32_t ino, uint32_t nlink)
{
	uint32_t check = 0;

	for (size_t i = 0; i < size; i++)
		check += ((const uint8_t *)data)[i];
	a->len += (size_t)sprintf((char *)a->buf + a->len,
				  "%s%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
				  magic, ino, mode, 0, 0, nlink, 0, (unsigned int)size, 0, 0, 0, 0,
				  (unsigned int)strlen(name) + 1, strcmp(magic, "070702") ? 0 : check);
	memcpy(a->buf + a->len, name, strlen(name) + 1);
	a->len += strlen(name) + 1;
	ar_pad(a);
	memcpy(a->buf + a->len, data, size);
	a->len += size;
	ar_pad(a);
}

static uint32_t next_ino = 100;

static void ar_add(struct ar *a, const char *name, uint32_t mode, const char *data)
{
	ar_add_magic(a, "070701", name, mode, data, strlen(data), next_ino++, 1);
}

static void ar_dir(struct ar *a, const char *name) { ar_add(a, name, 0040755, ""); }
static void ar_file(struct ar *a, const char *name, const char *data) { ar_add(a, name, 0100644, data); }
static void ar_link(struct ar *a, const char *name, const char *target) { ar_add(a, name, 0120777, target); }
static void ar_end(struct ar *a) { ar_add(a, "TRAILER!!!", 0, ""); }

static struct ar ar;
static struct bootfs fs;

/* The tree most tests use. */
static void build_sample(void)
{
	memset(&ar, 0, sizeof(ar));
	ar_dir(&ar, ".");
	ar_dir(&ar, "./etc");
	ar_dir(&ar, "./etc/xen");
	ar_file(&ar, "./etc/xen/web.cfg", "name = \"web\"\n");
	ar_file(&ar, "etc/xen/db.cfg", "name = \"db\"\n");
	ar_dir(&ar, "etc/xen/auto");
	ar_link(&ar, "etc/xen/auto/web.cfg", "../web.cfg");
	ar_link(&ar, "etc/xen/auto/db.cfg", "/etc/xen/db.cfg");
	ar_link(&ar, "etc/xen/auto/gone.cfg", "../nothere.cfg");
	ar_file(&ar, "etc/xen/auto/README", "not a cfg\n");
	ar_file(&ar, "etc/xen/auto/.hidden.cfg", "x");
	ar_dir(&ar, "etc/xen/auto/dir.cfg");
	ar_file(&ar, "boot/vmlinuz", "KERNEL");           /* implicit /boot */
	ar_link(&ar, "boot/current", "vmlinuz");
	ar_link(&ar, "loop1", "loop2");
	ar_link(&ar, "loop2", "loop1");
	ar_link(&ar, "etcl", "etc");
	ar_add(&ar, "dev/console", 0020600, "");          /* a device: ignored */
	ar_end(&ar);
}

/* ---- cpio ------------------------------------------------------------------ */

TEST(cpio_iterates_entries)
{
	struct cpio_iter it;
	struct cpio_entry e;
	int n = 0;

	build_sample();
	cpio_iter_init(&it, ar.buf, ar.len);
	while (cpio_next(&it, &e) == 1) {
		if (n == 3) {
			CHECK_STR(e.name, "./etc/xen/web.cfg");
			CHECK_EQ(e.data_bytes, 13);
			CHECK(!memcmp(e.data, "name = \"web\"\n", 13));
			CHECK_EQ(e.mode, 0100644);
		}
		n++;
	}
	CHECK_EQ(n, 18);
	CHECK_EQ(cpio_next(&it, &e), 0);
}

TEST(cpio_rejects_malformed)
{
	struct cpio_iter it;
	struct cpio_entry e;
	struct ar bad;

	/* Bad magic in the second entry: offset names it. */
	memset(&bad, 0, sizeof(bad));
	ar_file(&bad, "a", "x");
	size_t second = bad.len;
	ar_file(&bad, "b", "y");
	ar_end(&bad);
	bad.buf[second + 5] = '9';
	cpio_iter_init(&it, bad.buf, bad.len);
	CHECK_EQ(cpio_next(&it, &e), 1);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_EQ(it.error_offset, second);
	CHECK_STR(it.error, "bad magic (not newc 070701/070702)");
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);

	/* Non-hex digit. */
	bad.buf[second + 5] = '1';
	bad.buf[second + 20] = 'g';
	cpio_iter_init(&it, bad.buf, bad.len);
	CHECK_EQ(cpio_next(&it, &e), 1);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "non-hex digit in header");
	bad.buf[second + 20] = '0';

	/* Name size 0; name past the end; name without its NUL. */
	memcpy(bad.buf + second + 94, "00000000", 8);
	cpio_iter_init(&it, bad.buf, bad.len);
	cpio_next(&it, &e);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "name size 0");
	memcpy(bad.buf + second + 94, "7FFFFFFF", 8);
	cpio_iter_init(&it, bad.buf, bad.len);
	cpio_next(&it, &e);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "name past the end of the archive");
	memcpy(bad.buf + second + 94, "00000001", 8);
	cpio_iter_init(&it, bad.buf, bad.len);
	cpio_next(&it, &e);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "name not NUL-terminated");
	memcpy(bad.buf + second + 94, "00000002", 8);

	/* File size past the end. */
	memcpy(bad.buf + second + 54, "FFFFFFFF", 8);
	cpio_iter_init(&it, bad.buf, bad.len);
	cpio_next(&it, &e);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "file data past the end of the archive");
	CHECK_EQ(it.error_offset, second);
	memcpy(bad.buf + second + 54, "00000001", 8);

	/*
	 * Every truncation is an error, never a read past the end (but the
	 * trailer's last padding bytes may be cut).
	 */
	for (size_t cut = 1; cut < bad.len - 3; cut++) {
		uint8_t *copy = malloc(cut);
		int rc;

		memcpy(copy, bad.buf, cut);
		cpio_iter_init(&it, copy, cut);
		while ((rc = cpio_next(&it, &e)) == 1)
			;
		free(copy);
		CHECK_EQ(rc, -EINVAL);
	}
	/* Missing trailer. */
	cpio_iter_init(&it, bad.buf, second);
	CHECK_EQ(cpio_next(&it, &e), 1);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "missing TRAILER!!!");
}

TEST(cpio_crc_and_concatenation)
{
	struct cpio_iter it;
	struct cpio_entry e;
	struct ar a;
	size_t at;

	memset(&a, 0, sizeof(a));
	ar_add_magic(&a, "070702", "crc", 0100644, "abc", 3, 1, 1);
	ar_end(&a);
	/* NUL padding, then a second archive, then more padding. */
	a.len += 8;
	ar_file(&a, "second", "2");
	ar_end(&a);
	a.len += 12;
	cpio_iter_init(&it, a.buf, a.len);
	CHECK_EQ(cpio_next(&it, &e), 1);
	CHECK_STR(e.name, "crc");
	CHECK_EQ(cpio_next(&it, &e), 1);
	CHECK_STR(e.name, "second");
	CHECK_EQ(cpio_next(&it, &e), 0);

	/* A wrong checksum. */
	at = 116;       /* the data of the first entry: 110 + "crc\0" */
	a.buf[at] = 'X';
	cpio_iter_init(&it, a.buf, a.len);
	CHECK_EQ(cpio_next(&it, &e), -EINVAL);
	CHECK_STR(it.error, "070702 checksum mismatch");
	CHECK_EQ(it.error_offset, 0);

	/* Empty buffer: an empty archive. */
	cpio_iter_init(&it, NULL, 0);
	CHECK_EQ(cpio_next(&it, &e), 0);
}

/* ---- bootfs ----------------------------------------------------------------- */

TEST(bootfs_lookup_and_read)
{
	const void *data;
	size_t size, got;
	char buf[8];

	build_sample();
	CHECK_EQ(bootfs_mount(&fs, ar.buf, ar.len), 0);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/web.cfg", &data, &size), 0);
	CHECK_EQ(size, 13);
	/* No copy: the data is in the archive. */
	CHECK((const uint8_t *)data > ar.buf && (const uint8_t *)data < ar.buf + ar.len);
	CHECK_EQ(bootfs_lookup(&fs, "//etc/./xen/../xen//web.cfg", &data, &size), 0);
	CHECK_EQ(bootfs_lookup(&fs, "/../../etc/xen/db.cfg", &data, &size), 0);
	CHECK_EQ(size, 12);
	CHECK_EQ(bootfs_lookup(&fs, "/boot/current", &data, &size), 0);
	CHECK(!memcmp(data, "KERNEL", 6));
	CHECK_EQ(bootfs_lookup(&fs, "/etcl/xen/auto/web.cfg", &data, &size), 0);
	CHECK_EQ(size, 13);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/auto/../web.cfg", &data, &size), 0);

	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/none", &data, &size), -ENOENT);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen", &data, &size), -EISDIR);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/web.cfg/x", &data, &size), -ENOTDIR);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/web.cfg/", &data, &size), -ENOTDIR);
	CHECK_EQ(bootfs_lookup(&fs, "/loop1", &data, &size), -ELOOP);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/auto/gone.cfg", &data, &size), -ENOENT);
	CHECK_EQ(bootfs_lookup(&fs, "etc/xen/web.cfg", &data, &size), -EINVAL);
	CHECK_EQ(bootfs_lookup(&fs, "/dev/console", &data, &size), -ENOENT);

	CHECK_EQ(bootfs_read_file(&fs, "/etc/xen/web.cfg", 7, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 6);
	CHECK(!memcmp(buf, "\"web\"\n", 6));
	CHECK_EQ(bootfs_read_file(&fs, "/etc/xen/web.cfg", 13, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(bootfs_read_file(&fs, "/etc/xen/web.cfg", 999, buf, sizeof(buf), &got), 0);
	CHECK_EQ(got, 0);
	bootfs_unmount(&fs);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/web.cfg", &data, &size), -ENOENT);
}

TEST(bootfs_stat_and_listing)
{
	static const char *const want[] = { ".hidden.cfg", "README", "db.cfg", "dir.cfg",
					    "gone.cfg", "web.cfg" };
	struct bootfs_stat st;
	struct bootfs_dir d;
	size_t n = 0;

	build_sample();
	CHECK_EQ(bootfs_mount(&fs, ar.buf, ar.len), 0);
	CHECK_EQ(bootfs_stat(&fs, "/", true, &st), 0);
	CHECK_EQ(st.type, BOOTFS_DIR);
	CHECK_EQ(st.mode, 0040755);
	CHECK_EQ(bootfs_stat(&fs, "/boot", true, &st), 0);
	CHECK_EQ(st.type, BOOTFS_DIR);
	CHECK_EQ(bootfs_stat(&fs, "/boot/current", false, &st), 0);
	CHECK_EQ(st.type, BOOTFS_SYMLINK);
	CHECK_EQ(st.size, 7);
	CHECK_EQ(bootfs_stat(&fs, "/boot/current", true, &st), 0);
	CHECK_EQ(st.type, BOOTFS_FILE);
	CHECK_STR(st.name, "vmlinuz");

	CHECK_EQ(bootfs_opendir(&fs, "/etcl/xen/auto", &d), 0);
	while (bootfs_readdir(&d, &st) == 1) {
		CHECK(n < ARRAY_SIZE(want));
		CHECK_STR(st.name, want[n]);
		n++;
	}
	CHECK_EQ(n, ARRAY_SIZE(want));
	CHECK_EQ(bootfs_opendir(&fs, "/etc/xen/web.cfg", &d), -ENOTDIR);
	/* The root lists in byte order too. */
	CHECK_EQ(bootfs_opendir(&fs, "/", &d), 0);
	CHECK_EQ(bootfs_readdir(&d, &st), 1);
	CHECK_STR(st.name, "boot");
	CHECK_EQ(bootfs_readdir(&d, &st), 1);
	CHECK_STR(st.name, "etc");
	CHECK_EQ(bootfs_readdir(&d, &st), 1);
	CHECK_STR(st.name, "etcl");
	bootfs_unmount(&fs);
}

struct seen {
	char paths[8][64];
	int errs[8];
	size_t sizes[8];
	int n;
};

static int record(void *ctx, const char *path, int err, const void *data, size_t size)
{
	struct seen *s = ctx;

	if (s->n >= 8)
		return -E2BIG;
	snprintf(s->paths[s->n], sizeof(s->paths[0]), "%s", path);
	s->errs[s->n] = err;
	s->sizes[s->n] = size;
	if (!err && !data)
		return -EFAULT;
	s->n++;
	return 0;
}

TEST(bootfs_auto_configs_sorted)
{
	struct seen s = { .n = 0 };

	build_sample();
	CHECK_EQ(bootfs_mount(&fs, ar.buf, ar.len), 0);
	CHECK_EQ(bootfs_for_each_cfg(&fs, BOOTFS_AUTO_DIR, record, &s), 0);
	CHECK_EQ(s.n, 4);
	CHECK_STR(s.paths[0], "/etc/xen/auto/db.cfg");
	CHECK_EQ(s.errs[0], 0);
	CHECK_EQ(s.sizes[0], 12);
	CHECK_STR(s.paths[1], "/etc/xen/auto/dir.cfg");
	CHECK_EQ(s.errs[1], -EISDIR);
	CHECK_STR(s.paths[2], "/etc/xen/auto/gone.cfg");
	CHECK_EQ(s.errs[2], -ENOENT);
	CHECK_STR(s.paths[3], "/etc/xen/auto/web.cfg");
	CHECK_EQ(s.errs[3], 0);
	/* No such dir: nothing to start. */
	s.n = 0;
	CHECK_EQ(bootfs_for_each_cfg(&fs, "/etc/xen/none", record, &s), 0);
	CHECK_EQ(s.n, 0);
	CHECK_EQ(bootfs_for_each_cfg(&fs, "/etc/xen/web.cfg", record, &s), -ENOTDIR);
	bootfs_unmount(&fs);
}

TEST(bootfs_rejects_bad_entries)
{
	struct ar a;

	memset(&a, 0, sizeof(a));
	ar_file(&a, "etc/../escape", "x");
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), -EINVAL);

	memset(&a, 0, sizeof(a));
	ar_file(&a, "f", "x");
	ar_file(&a, "f/g", "y");
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), -EINVAL);

	memset(&a, 0, sizeof(a));
	ar_dir(&a, "d");
	ar_file(&a, "d", "y");
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), -EINVAL);

	memset(&a, 0, sizeof(a));
	ar_file(&a, ".", "x");
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), -EINVAL);

	/* A later entry for the same file wins. */
	memset(&a, 0, sizeof(a));
	ar_file(&a, "f", "old");
	ar_file(&a, "./f", "newer");
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), 0);
	{
		const void *data;
		size_t size;

		CHECK_EQ(bootfs_lookup(&fs, "/f", &data, &size), 0);
		CHECK_EQ(size, 5);
	}
	bootfs_unmount(&fs);

	/* Truncated archive. */
	memset(&a, 0, sizeof(a));
	ar_file(&a, "f", "x");
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), -EINVAL);
	CHECK(fs.root == NULL);
}

TEST(bootfs_hard_links_share_data)
{
	struct ar a;
	const void *d1, *d2;
	size_t s1, s2;

	/* As cpio -H newc writes them: data only with the last link. */
	memset(&a, 0, sizeof(a));
	ar_add_magic(&a, "070701", "one", 0100644, "", 0, 7, 2);
	ar_add_magic(&a, "070701", "two", 0100644, "shared", 6, 7, 2);
	ar_end(&a);
	CHECK_EQ(bootfs_mount(&fs, a.buf, a.len), 0);
	CHECK_EQ(bootfs_lookup(&fs, "/one", &d1, &s1), 0);
	CHECK_EQ(bootfs_lookup(&fs, "/two", &d2, &s2), 0);
	CHECK_EQ(s1, 6);
	CHECK(d1 == d2);
	bootfs_unmount(&fs);
}

/* ---- with the real cpio ----------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

TEST(bootfs_from_mkarchive)
{
	char dir[] = "/tmp/keel-bootfs-XXXXXX";
	char path[256], cmd[512];
	struct seen s = { .n = 0 };
	const void *data;
	size_t size;
	uint8_t *buf;
	long len;
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/src/etc/xen/auto", dir);
	snprintf(cmd, sizeof(cmd), "mkdir -p %s", path);
	CHECK_EQ(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/src/etc/xen/b.cfg", dir);
	write_file(path, "name = \"b\"\n");
	snprintf(path, sizeof(path), "%s/src/etc/xen/a.cfg", dir);
	write_file(path, "name = \"a\"\n");
	snprintf(path, sizeof(path), "%s/src/etc/xen/auto/b.cfg", dir);
	CHECK_EQ(symlink("../b.cfg", path), 0);
	snprintf(path, sizeof(path), "%s/src/etc/xen/auto/a.cfg", dir);
	CHECK_EQ(symlink("/etc/xen/a.cfg", path), 0);
	snprintf(path, sizeof(path), "%s/src/etc/xen/a-link.cfg", dir);
	snprintf(cmd, sizeof(cmd), "%s/src/etc/xen/a.cfg", dir);
	CHECK_EQ(link(cmd, path), 0);

	snprintf(cmd, sizeof(cmd), "scripts/mkarchive.sh %s/src %s/boot.cpio", dir, dir);
	CHECK_EQ(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/boot.cpio", dir);
	f = fopen(path, "rb");
	CHECK(f != NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	CHECK(buf && fread(buf, 1, (size_t)len, f) == (size_t)len);
	fclose(f);

	CHECK_EQ(bootfs_mount(&fs, buf, (size_t)len), 0);
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/a.cfg", &data, &size), 0);
	CHECK_EQ(size, 11);
	CHECK(!memcmp(data, "name = \"a\"\n", 11));
	CHECK_EQ(bootfs_lookup(&fs, "/etc/xen/a-link.cfg", &data, &size), 0);
	CHECK_EQ(size, 11);
	CHECK_EQ(bootfs_for_each_cfg(&fs, BOOTFS_AUTO_DIR, record, &s), 0);
	CHECK_EQ(s.n, 2);
	CHECK_STR(s.paths[0], "/etc/xen/auto/a.cfg");
	CHECK_EQ(s.errs[0], 0);
	CHECK_STR(s.paths[1], "/etc/xen/auto/b.cfg");
	CHECK_EQ(s.sizes[1], 11);
	bootfs_unmount(&fs);
	free(buf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
}

static const struct test_case tests[] = {
	T(cpio_iterates_entries),
	T(cpio_rejects_malformed),
	T(cpio_crc_and_concatenation),
	T(bootfs_lookup_and_read),
	T(bootfs_stat_and_listing),
	T(bootfs_auto_configs_sorted),
	T(bootfs_rejects_bad_entries),
	T(bootfs_hard_links_share_data),
	T(bootfs_from_mkarchive),
};

RUN_TESTS(tests)

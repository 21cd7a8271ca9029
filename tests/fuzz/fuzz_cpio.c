/* libFuzzer target for the newc reader and the boot file tree.  fuzz-srcs: lib/cpio.c fs/bootfs.c
 *
 * Any bytes are an archive: iteration and mount must end cleanly without
 * reading outside the buffer (ASan sees the exact-size copy libFuzzer
 * passes), and whatever mounts must answer lookups, listings and the
 * auto-config walk with data that lies inside the archive.
 */
#include <lib/base.h>
#include <lib/cpio.h>
#include <keel/bootfs.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *arch;
static size_t arch_len;

static void check_inside(const void *p, size_t n)
{
	const uint8_t *b = p;

	if (n && (b < arch || b + n > arch + arch_len))
		abort();
}

static int visit(void *ctx, const char *path, int err, const void *data, size_t size)
{
	(void)ctx;
	if (!path || path[0] != '/' || (err && data))
		abort();
	if (!err)
		check_inside(data, size);
	return 0;
}

/* Walks the whole tree depth-first, looking every path up; bounded depth. */
static void walk(const struct bootfs *fs, char *path, size_t len, int depth)
{
	struct bootfs_dir d;
	struct bootfs_stat st;

	if (depth > 16 || bootfs_opendir(fs, path, &d))
		return;
	while (bootfs_readdir(&d, &st) == 1) {
		size_t n = strlen(st.name);
		const void *data;
		size_t size;

		if (!n || len + 1 + n + 1 > BOOTFS_PATH_MAX)
			continue;
		snprintf(path + len, BOOTFS_PATH_MAX - len, "%s%s", len > 1 ? "/" : "", st.name);
		if (bootfs_lookup(fs, path, &data, &size) == 0)
			check_inside(data, size);
		if (st.type == BOOTFS_DIR)
			walk(fs, path, strlen(path), depth + 1);
		path[len] = 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char path[BOOTFS_PATH_MAX];
	struct cpio_iter it;
	struct cpio_entry e;
	struct bootfs fs;
	int rc;

	arch = data;
	arch_len = size;
	cpio_iter_init(&it, data, size);
	while ((rc = cpio_next(&it, &e)) == 1) {
		check_inside(e.name, e.name_len + 1);
		check_inside(e.data, e.data_bytes);
		if (e.name[e.name_len] != 0 || strlen(e.name) != e.name_len)
			abort();
	}
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == -EINVAL && (it.error_offset > size || !it.error))
		abort();
	/* Mount would fail the same way (its first pass is this loop), logging each time. */
	if (rc)
		return 0;

	if (bootfs_mount(&fs, data, size) != 0)
		return 0;
	strcpy(path, "/");
	walk(&fs, path, 1, 0);
	bootfs_for_each_cfg(&fs, BOOTFS_AUTO_DIR, visit, NULL);
	bootfs_for_each_cfg(&fs, "/", visit, NULL);
	{
		const void *d;
		size_t n;

		if (bootfs_lookup(&fs, "/a/../b/./c", &d, &n) == 0)
			check_inside(d, n);
	}
	bootfs_unmount(&fs);
	return 0;
}

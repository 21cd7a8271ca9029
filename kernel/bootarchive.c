/*
 * The boot archive: the module Xen hands dom0 after its kernel, mounted as a
 * read-only file tree (fs/bootfs.c) that holds guest kernels, ramdisks and
 * configs.  Also the `ls` and `cat` commands over it.
 */
#include <keel/bootfs.h>
#include <keel/commands.h>
#include <keel/kernel.h>
#include <keel/mm.h>

struct bootfs boot_fs;
static bool mounted;

void bootarchive_init(void)
{
	if (!start_info->mod_start || !start_info->mod_len) {
		klog("bootfs: no boot module: the file tree is empty\n");
		return;
	}
	/* Without a MOD_START_PFN note the module is mapped right after the
	 * kernel and mod_start is its virtual address (fact 10). */
	const void *archive = (const void *)start_info->mod_start;
	int rc = bootfs_mount(&boot_fs, archive, start_info->mod_len);
	if (rc) {
		klog("bootfs: boot module (%lu bytes) is not a usable newc archive: %d\n",
		     (unsigned long)start_info->mod_len, rc);
		return;
	}
	mounted = true;
}

bool bootarchive_mounted(void)
{
	return mounted;
}

static const char *type_char(const struct bootfs_stat *st)
{
	return st->type == BOOTFS_DIR ? "d" : st->type == BOOTFS_SYMLINK ? "l" : "-";
}

static int cmd_ls(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/";
	struct bootfs_stat st;
	struct bootfs_dir dir;

	if (!mounted) {
		kprintf("ls: no boot archive mounted\n");
		return -ENOENT;
	}
	int rc = bootfs_stat(&boot_fs, path, true, &st);
	if (rc) {
		kprintf("ls: %s: %s\n", path, rc == -ENOENT ? "no such file or directory"
					      : rc == -ENOTDIR ? "not a directory" : "cannot access");
		return rc;
	}
	if (st.type != BOOTFS_DIR) {
		kprintf("%s %10zu %s\n", type_char(&st), st.size, path);
		return 0;
	}
	bootfs_opendir(&boot_fs, path, &dir);
	while (bootfs_readdir(&dir, &st) == 1)
		kprintf("%s %10zu %s%s\n", type_char(&st), st.size, st.name,
			st.type == BOOTFS_DIR ? "/" : "");
	return 0;
}

static int cmd_cat(int argc, char **argv)
{
	const void *data;
	size_t size;

	if (argc < 2) {
		kprintf("usage: cat FILE...\n");
		return -EINVAL;
	}
	for (int i = 1; i < argc; i++) {
		int rc = mounted ? bootfs_lookup(&boot_fs, argv[i], &data, &size) : -ENOENT;
		if (rc) {
			kprintf("cat: %s: %s\n", argv[i], rc == -ENOENT ? "no such file"
						     : rc == -EISDIR ? "is a directory" : "cannot read");
			continue;
		}
		console_write(data, size);
		log_record(data, size);
	}
	return 0;
}

const struct command bootfs_commands[] = {
	{ "ls", cmd_ls, "[PATH]", "list the boot archive" },
	{ "cat", cmd_cat, "FILE...", "print files of the boot archive" },
	{ NULL, NULL, NULL, NULL },
};

/*
 * The boot file tree: a read-only view of the newc cpio archive that Xen hands
 * dom0 as a boot module, with directories, regular files and symlinks.  File
 * contents are never copied: they point into the archive, which must stay
 * mapped and unchanged for as long as the tree is mounted.  Nodes are
 * allocated at mount time; lookups and listings never allocate except for
 * one path buffer per call.  There is no locking: mount once during boot,
 * then any number of readers.
 *
 * Paths are absolute ("/etc/xen/auto"); "." and ".." are handled, repeated
 * slashes are one, ".." at the root stays there.  Symlinks are followed
 * everywhere, at most BOOTFS_MAX_SYMLINKS times per lookup (-ELOOP beyond).
 * Archive names may start with "./" or "/" (stripped); an archive name with a
 * ".." component is rejected.  Directories named only as parents of an entry
 * ("a/b/c" alone) exist implicitly with mode 0755.  Device nodes, FIFOs and
 * sockets in the archive are ignored.  When a path appears twice, the later
 * entry wins, except that a directory and a non-directory never replace each
 * other (-EINVAL).  Hard links (newc "nlink > 1": data stored once, with the
 * last link) share that data.
 */
#ifndef KEEL_BOOTFS_H
#define KEEL_BOOTFS_H

#include <lib/base.h>


#define BOOTFS_PATH_MAX 4096    /* bytes, with the NUL, during any lookup */
#define BOOTFS_MAX_SYMLINKS 40  /* as Linux's MAXSYMLINKS */
#define BOOTFS_AUTO_DIR "/etc/xen/auto"

enum bootfs_type { BOOTFS_DIR, BOOTFS_FILE, BOOTFS_SYMLINK };

struct bootfs_node;

struct bootfs {
	struct bootfs_node *root;
	struct bootfs_node **hash;      /* (parent, name) -> node, open addressing */
	size_t hash_slots;
	size_t nr_nodes;
};

/* What stat and a directory listing report about one node. */
struct bootfs_stat {
	const char *name;               /* NUL-terminated; "/" for the root */
	enum bootfs_type type;
	uint32_t mode;                  /* permission bits and S_IF* type, as archived */
	size_t size;                    /* file bytes, link-target bytes, 0 for a dir */
};

struct bootfs_dir {
	const struct bootfs_node *next;
};

/*
 * Builds the tree from a newc archive (see include/lib/cpio.h) at
 * [archive, archive + len).  Returns 0, -EINVAL for a malformed archive or a
 * bad entry (klog names its offset), or -ENOMEM; on error nothing is left
 * allocated.  May be called with an fs that was never mounted (its contents
 * are overwritten).
 */
int bootfs_mount(struct bootfs *fs, const void *archive, size_t len);

/* Frees every node; the fs may be mounted again. */
void bootfs_unmount(struct bootfs *fs);

/*
 * Resolves path (following symlinks) to a regular file and returns where its
 * contents sit in the archive.  Returns 0, -ENOENT, -ENOTDIR (a non-directory
 * used as one), -EISDIR (path is a directory), -ELOOP, -ENAMETOOLONG, or
 * -EINVAL (path not absolute).
 */
int bootfs_lookup(const struct bootfs *fs, const char *path,
		  const void **data, size_t *size_bytes);

/*
 * Copies at most buf_bytes of the file at path, starting at offset, into buf
 * and sets *read_bytes (0 at or past the end).  Errors as bootfs_lookup().
 */
int bootfs_read_file(const struct bootfs *fs, const char *path, size_t offset,
		     void *buf, size_t buf_bytes, size_t *read_bytes);

/*
 * Describes the node at path.  follow_last: whether a symlink as the last
 * component is followed (stat) or described itself (lstat).  Errors as
 * bootfs_lookup() except that a directory is fine.  st->name stays valid
 * while the fs is mounted.
 */
int bootfs_stat(const struct bootfs *fs, const char *path, bool follow_last,
		struct bootfs_stat *st);

/*
 * Opens the directory at path (symlinks followed) for listing.  Entries come
 * in byte order of their names, without "." and "..".  Returns 0, -ENOTDIR,
 * or an error as bootfs_lookup().
 */
int bootfs_opendir(const struct bootfs *fs, const char *path, struct bootfs_dir *dir);

/* Returns 1 with *st describing the next entry (symlinks not followed), 0 at the end. */
int bootfs_readdir(struct bootfs_dir *dir, struct bootfs_stat *st);

/*
 * Calls fn once for every entry of dir whose name ends in ".cfg" and does not
 * start with "." (what the shell glob "*.cfg" matches in dir), in byte order
 * of the names, as xendomains does with /etc/xen/auto.  path is "DIR/NAME"; err is 0 and
 * data/size_bytes give the file's contents once symlinks are followed, or err
 * is a negative errno (a dangling link -ENOENT, a directory -EISDIR, ...) and
 * data is NULL.  A non-zero return from fn stops the walk and is returned.
 * A missing dir is not an error (no domains to start): returns 0.  Returns
 * -ENOTDIR if dir is not a directory, -ENOMEM, or what fn returned.
 */
int bootfs_for_each_cfg(const struct bootfs *fs, const char *dir,
			int (*fn)(void *ctx, const char *path, int err,
				  const void *data, size_t size_bytes),
			void *ctx);

#endif

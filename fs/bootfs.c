/*
 * The boot file tree (see include/keel/bootfs.h): mount turns the cpio
 * entries into nodes, looks them up by (parent, name) through one hash table,
 * and finally sorts every directory's children so listings come out ordered.
 * Path walks keep the not-yet-walked rest of the path right-aligned in one
 * buffer, so expanding a symlink is writing its target just before that rest.
 */
#include <lib/base.h>
#include <lib/cpio.h>
#include <keel/bootfs.h>

#define IMPLICIT_DIR_MODE (CPIO_S_IFDIR | 0755)

struct bootfs_node {
	struct bootfs_node *parent;     /* the root is its own parent */
	struct bootfs_node *children;   /* sorted by name once mounted */
	struct bootfs_node *next;       /* sibling */
	const void *data;               /* in the archive: contents or link target */
	size_t size;
	uint32_t mode;
	uint32_t ino;
	uint32_t devmajor;
	uint32_t devminor;
	uint32_t nlink;
	enum bootfs_type type;
	size_t name_len;
	char name[];
};

/* ---- the (parent, name) hash ------------------------------------------- */

static size_t hash_key(const struct bootfs_node *parent, const char *name, size_t len)
{
	uint64_t h = 14695981039346656037ull;   /* FNV-1a */
	uintptr_t p = (uintptr_t)parent;

	for (size_t i = 0; i < sizeof(p); i++) {
		h ^= (p >> (8 * i)) & 0xff;
		h *= 1099511628211ull;
	}
	for (size_t i = 0; i < len; i++) {
		h ^= (uint8_t)name[i];
		h *= 1099511628211ull;
	}
	return (size_t)h;
}

static struct bootfs_node **hash_slot(const struct bootfs *fs,
				      const struct bootfs_node *parent,
				      const char *name, size_t len)
{
	size_t mask = fs->hash_slots - 1;
	size_t i = hash_key(parent, name, len) & mask;

	/* At most half full (see mount), so an empty slot always ends the probe. */
	for (;; i = (i + 1) & mask) {
		struct bootfs_node *n = fs->hash[i];

		if (!n || (n->parent == parent && n->name_len == len &&
			   memcmp(n->name, name, len) == 0))
			return &fs->hash[i];
	}
}

static struct bootfs_node *child_of(const struct bootfs *fs, const struct bootfs_node *dir,
				    const char *name, size_t len)
{
	return *hash_slot(fs, dir, name, len);
}

static struct bootfs_node *node_new(const char *name, size_t len)
{
	struct bootfs_node *n = kzalloc(sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	memcpy(n->name, name, len);
	n->name[len] = 0;
	n->name_len = len;
	return n;
}

static struct bootfs_node *add_child(struct bootfs *fs, struct bootfs_node *dir,
				     const char *name, size_t len)
{
	struct bootfs_node **slot = hash_slot(fs, dir, name, len);
	struct bootfs_node *n = node_new(name, len);

	if (!n)
		return NULL;
	ASSERT(!*slot && fs->nr_nodes < fs->hash_slots / 2);
	n->parent = dir;
	n->next = dir->children;
	dir->children = n;
	*slot = n;
	fs->nr_nodes++;
	return n;
}

/* ---- mount ---------------------------------------------------------------- */

/* Next component of an archive name: skips "/" and "."; NULL at the end. */
static const char *next_component(const char **cursor, const char *end, size_t *len)
{
	const char *p = *cursor;

	for (;;) {
		const char *q;

		while (p < end && *p == '/')
			p++;
		if (p == end) {
			*cursor = p;
			return NULL;
		}
		q = p;
		while (q < end && *q != '/')
			q++;
		if (q - p == 1 && p[0] == '.') {
			p = q;
			continue;
		}
		*cursor = q;
		*len = (size_t)(q - p);
		return p;
	}
}

static enum bootfs_type type_of(uint32_t mode, bool *known)
{
	*known = true;
	switch (mode & CPIO_S_IFMT) {
	case CPIO_S_IFDIR:
		return BOOTFS_DIR;
	case CPIO_S_IFREG:
		return BOOTFS_FILE;
	case CPIO_S_IFLNK:
		return BOOTFS_SYMLINK;
	default:
		*known = false;
		return BOOTFS_FILE;
	}
}

static int bad_entry(const struct cpio_entry *e, const char *why)
{
	klog("bootfs: archive entry at offset %zu (%.64s): %s\n", e->offset, e->name, why);
	return -EINVAL;
}

static int add_entry(struct bootfs *fs, const struct cpio_entry *e)
{
	const char *cursor = e->name, *end = e->name + e->name_len;
	struct bootfs_node *dir = fs->root, *n;
	const char *comp;
	size_t len;
	bool known;
	enum bootfs_type type = type_of(e->mode, &known);

	if (!known)
		return 0;
	comp = next_component(&cursor, end, &len);
	if (!comp) {
		if (type != BOOTFS_DIR)
			return bad_entry(e, "the root must be a directory");
		fs->root->mode = e->mode;
		return 0;
	}
	for (;;) {
		const char *after = cursor;
		size_t next_len;
		const char *next = next_component(&after, end, &next_len);

		if (len == 2 && comp[0] == '.' && comp[1] == '.')
			return bad_entry(e, "name has a \"..\" component");
		n = child_of(fs, dir, comp, len);
		if (!next)
			break;
		if (!n) {
			n = add_child(fs, dir, comp, len);
			if (!n)
				return -ENOMEM;
			n->type = BOOTFS_DIR;
			n->mode = IMPLICIT_DIR_MODE;
		} else if (n->type != BOOTFS_DIR) {
			return bad_entry(e, "a parent is not a directory");
		}
		dir = n;
		comp = next;
		len = next_len;
		cursor = after;
	}

	if (n && (n->type == BOOTFS_DIR) != (type == BOOTFS_DIR))
		return bad_entry(e, "a directory and a non-directory share this name");
	if (!n) {
		n = add_child(fs, dir, comp, len);
		if (!n)
			return -ENOMEM;
	}
	/* A repeated name: the later entry wins, as when Linux unpacks initramfs. */
	n->type = type;
	n->mode = e->mode;
	n->ino = e->ino;
	n->devmajor = e->devmajor;
	n->devminor = e->devminor;
	n->nlink = e->nlink;
	n->data = type == BOOTFS_DIR ? NULL : e->data;
	n->size = type == BOOTFS_DIR ? 0 : e->data_bytes;
	return 0;
}

/* Merge sort of a sibling list by name (bottom-up: no recursion, O(n log n)). */
static int name_cmp(const struct bootfs_node *a, const struct bootfs_node *b)
{
	size_t n = MIN(a->name_len, b->name_len);
	int c = memcmp(a->name, b->name, n);

	if (c)
		return c;
	return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static struct bootfs_node *sort_siblings(struct bootfs_node *list)
{
	for (size_t width = 1;; width *= 2) {
		struct bootfs_node *head = NULL, **tail = &head, *p = list;
		size_t merges = 0;

		while (p) {
			struct bootfs_node *q = p;
			size_t psize = 0, qsize = width;

			merges++;
			while (psize < width && q) {
				psize++;
				q = q->next;
			}
			while (psize || (qsize && q)) {
				struct bootfs_node *take;

				if (!psize) {
					take = q, q = q->next, qsize--;
				} else if (!qsize || !q || name_cmp(p, q) <= 0) {
					take = p, p = p->next, psize--;
				} else {
					take = q, q = q->next, qsize--;
				}
				*tail = take;
				tail = &take->next;
			}
			p = q;
		}
		*tail = NULL;
		list = head;
		if (merges <= 1)
			return list;
	}
}

/*
 * newc stores a hard-linked file's data once, with its last link; the other
 * links have size 0.  Gives those the data, matching on (dev, ino).
 */
static int share_hard_links(struct bootfs *fs)
{
	size_t count = 0, slots = 1, mask;
	struct bootfs_node **table;

	for (size_t i = 0; i < fs->hash_slots; i++) {
		struct bootfs_node *n = fs->hash[i];

		if (n && n->type == BOOTFS_FILE && n->nlink > 1 && n->size)
			count++;
	}
	if (!count)
		return 0;
	while (slots < 2 * count)
		slots *= 2;
	mask = slots - 1;
	table = kzalloc(slots * sizeof(*table));
	if (!table)
		return -ENOMEM;
	for (size_t i = 0; i < fs->hash_slots; i++) {
		struct bootfs_node *n = fs->hash[i];
		size_t h;

		if (!n || n->type != BOOTFS_FILE || n->nlink < 2 || !n->size)
			continue;
		h = (n->ino * 2654435761u + n->devminor * 40503u + n->devmajor) & mask;
		while (table[h] && (table[h]->ino != n->ino || table[h]->devmajor != n->devmajor ||
				    table[h]->devminor != n->devminor))
			h = (h + 1) & mask;
		table[h] = n;
	}
	for (size_t i = 0; i < fs->hash_slots; i++) {
		struct bootfs_node *n = fs->hash[i];
		size_t h;

		if (!n || n->type != BOOTFS_FILE || n->nlink < 2 || n->size)
			continue;
		h = (n->ino * 2654435761u + n->devminor * 40503u + n->devmajor) & mask;
		for (; table[h]; h = (h + 1) & mask) {
			if (table[h]->ino == n->ino && table[h]->devmajor == n->devmajor &&
			    table[h]->devminor == n->devminor) {
				n->data = table[h]->data;
				n->size = table[h]->size;
				break;
			}
		}
	}
	kfree(table);
	return 0;
}

void bootfs_unmount(struct bootfs *fs)
{
	if (fs->hash)
		for (size_t i = 0; i < fs->hash_slots; i++)
			kfree(fs->hash[i]);
	kfree(fs->hash);
	kfree(fs->root);
	memset(fs, 0, sizeof(*fs));
}

int bootfs_mount(struct bootfs *fs, const void *archive, size_t len)
{
	struct cpio_iter it;
	struct cpio_entry e;
	size_t max_nodes = 0;
	int rc;

	memset(fs, 0, sizeof(*fs));

	/* Pass 1: validate the whole archive and bound the node count. */
	cpio_iter_init(&it, archive, len);
	while ((rc = cpio_next(&it, &e)) == 1) {
		const char *cursor = e.name;
		size_t clen;

		while (next_component(&cursor, e.name + e.name_len, &clen))
			max_nodes++;
	}
	if (rc < 0) {
		klog("bootfs: bad archive at offset %zu: %s\n", it.error_offset, it.error);
		return rc;
	}

	fs->hash_slots = 16;
	while (fs->hash_slots < 2 * max_nodes + 2)
		fs->hash_slots *= 2;
	fs->hash = kzalloc(fs->hash_slots * sizeof(*fs->hash));
	fs->root = node_new("/", 1);
	if (!fs->hash || !fs->root) {
		rc = -ENOMEM;
		goto err_unmount;
	}
	fs->root->parent = fs->root;
	fs->root->type = BOOTFS_DIR;
	fs->root->mode = IMPLICIT_DIR_MODE;

	/* Pass 2: build. */
	cpio_iter_init(&it, archive, len);
	while ((rc = cpio_next(&it, &e)) == 1) {
		rc = add_entry(fs, &e);
		if (rc)
			goto err_unmount;
	}
	ASSERT(rc == 0);

	rc = share_hard_links(fs);
	if (rc)
		goto err_unmount;
	fs->root->children = sort_siblings(fs->root->children);
	for (size_t i = 0; i < fs->hash_slots; i++)
		if (fs->hash[i] && fs->hash[i]->type == BOOTFS_DIR)
			fs->hash[i]->children = sort_siblings(fs->hash[i]->children);
	return 0;

err_unmount:
	bootfs_unmount(fs);
	return rc;
}

/* ---- path walk -------------------------------------------------------- */

/*
 * Resolves path to a node.  follow_last: follow a symlink that is the last
 * component.  The unwalked rest lives at the end of a PATH_MAX buffer; a
 * symlink's target is written just before it.
 */
static int walk(const struct bootfs *fs, const char *path, bool follow_last,
		const struct bootfs_node **out)
{
	size_t len, links = 0;
	const struct bootfs_node *cur;
	bool need_dir = false;
	char *buf, *rest;
	int rc = 0;

	if (!fs->root)
		return -ENOENT;
	if (!path || path[0] != '/')
		return -EINVAL;
	len = strlen(path);
	if (len >= BOOTFS_PATH_MAX)
		return -ENAMETOOLONG;
	buf = kmalloc(BOOTFS_PATH_MAX);
	if (!buf)
		return -ENOMEM;
	rest = buf + BOOTFS_PATH_MAX - 1 - len;
	memcpy(rest, path, len + 1);
	cur = fs->root;

	for (;;) {
		const struct bootfs_node *n;
		char *q;
		size_t clen;

		while (*rest == '/')
			rest++;
		if (!*rest) {
			if (need_dir && cur->type != BOOTFS_DIR)
				rc = -ENOTDIR;
			break;
		}
		if (cur->type != BOOTFS_DIR) {
			rc = -ENOTDIR;
			break;
		}
		for (q = rest; *q && *q != '/'; q++)
			;
		clen = (size_t)(q - rest);
		need_dir = *q == '/';
		if (clen == 1 && rest[0] == '.') {
			rest = q;
			continue;
		}
		if (clen == 2 && rest[0] == '.' && rest[1] == '.') {
			cur = cur->parent;
			rest = q;
			continue;
		}
		n = child_of(fs, cur, rest, clen);
		if (!n) {
			rc = -ENOENT;
			break;
		}
		rest = q;
		if (n->type != BOOTFS_SYMLINK || (!*q && !follow_last)) {
			cur = n;
			continue;
		}
		/* Expand: the rest becomes target + rest; relative targets start at cur. */
		if (++links > BOOTFS_MAX_SYMLINKS) {
			rc = -ELOOP;
			break;
		}
		if (!n->size || memchr(n->data, 0, n->size)) {
			rc = -ENOENT;
			break;
		}
		if (n->size > (size_t)(rest - buf)) {
			rc = -ENAMETOOLONG;
			break;
		}
		rest -= n->size;
		memcpy(rest, n->data, n->size);
		if (rest[0] == '/')
			cur = fs->root;
	}
	kfree(buf);
	if (!rc)
		*out = cur;
	return rc;
}

static void fill_stat(const struct bootfs_node *n, struct bootfs_stat *st)
{
	st->name = n->name;
	st->type = n->type;
	st->mode = n->mode;
	st->size = n->size;
}

int bootfs_stat(const struct bootfs *fs, const char *path, bool follow_last,
		struct bootfs_stat *st)
{
	const struct bootfs_node *n;
	int rc = walk(fs, path, follow_last, &n);

	if (rc)
		return rc;
	fill_stat(n, st);
	return 0;
}

int bootfs_lookup(const struct bootfs *fs, const char *path,
		  const void **data, size_t *size_bytes)
{
	const struct bootfs_node *n;
	int rc = walk(fs, path, true, &n);

	if (rc)
		return rc;
	if (n->type == BOOTFS_DIR)
		return -EISDIR;
	*data = n->data;
	*size_bytes = n->size;
	return 0;
}

int bootfs_read_file(const struct bootfs *fs, const char *path, size_t offset,
		     void *buf, size_t buf_bytes, size_t *read_bytes)
{
	const void *data;
	size_t size, n = 0;
	int rc = bootfs_lookup(fs, path, &data, &size);

	if (rc)
		return rc;
	if (offset < size) {
		n = MIN(buf_bytes, size - offset);
		memcpy(buf, (const uint8_t *)data + offset, n);
	}
	*read_bytes = n;
	return 0;
}

int bootfs_opendir(const struct bootfs *fs, const char *path, struct bootfs_dir *dir)
{
	const struct bootfs_node *n;
	int rc = walk(fs, path, true, &n);

	if (rc)
		return rc;
	if (n->type != BOOTFS_DIR)
		return -ENOTDIR;
	dir->next = n->children;
	return 0;
}

int bootfs_readdir(struct bootfs_dir *dir, struct bootfs_stat *st)
{
	const struct bootfs_node *n = dir->next;

	if (!n)
		return 0;
	fill_stat(n, st);
	dir->next = n->next;
	return 1;
}

int bootfs_for_each_cfg(const struct bootfs *fs, const char *dir,
			int (*fn)(void *ctx, const char *path, int err,
				  const void *data, size_t size_bytes),
			void *ctx)
{
	static const char suffix[] = ".cfg";
	const size_t suffix_len = sizeof(suffix) - 1;
	struct bootfs_dir d;
	struct bootfs_stat st;
	size_t dir_len;
	char *path;
	int rc = bootfs_opendir(fs, dir, &d);

	if (rc == -ENOENT)
		return 0;
	if (rc)
		return rc;
	dir_len = strlen(dir);
	while (dir_len > 1 && dir[dir_len - 1] == '/')
		dir_len--;
	path = kmalloc(BOOTFS_PATH_MAX);
	if (!path)
		return -ENOMEM;
	while (bootfs_readdir(&d, &st) == 1) {
		size_t name_len = strlen(st.name);
		const void *data = NULL;
		size_t size = 0;
		int err;

		if (st.name[0] == '.' || name_len < suffix_len ||
		    strcmp(st.name + name_len - suffix_len, suffix) != 0)
			continue;
		if (dir_len + 1 + name_len >= BOOTFS_PATH_MAX) {
			err = -ENAMETOOLONG;
			snprintf(path, BOOTFS_PATH_MAX, "%.*s/...", (int)dir_len, dir);
		} else {
			snprintf(path, BOOTFS_PATH_MAX, "%.*s/%s",
				 (int)(dir_len == 1 && dir[0] == '/' ? 0 : dir_len), dir, st.name);
			err = bootfs_lookup(fs, path, &data, &size);
		}
		if (err)
			data = NULL, size = 0;
		rc = fn(ctx, path, err, data, size);
		if (rc)
			break;
	}
	kfree(path);
	return rc;
}

/*
 * LVM2 volumes as block devices, and the administrator's volume commands
 * (pvs, vgs, lvs, lvcreate, lvremove, lvextend).  The metadata parser and
 * writer are pure code (lvm.c, lvm_meta.c, lvm_write.c); this file reads
 * and writes the PV through the block layer, keeps each VG's current text,
 * and registers every usable visible linear LV as a blkdev "VG/LV" stacked
 * on the PV's device (disk or partition).
 *
 * Single-PV volume groups are served; an LV with a segment on a PV keel
 * has not found is listed with the reason and not offered.  LV blkdevs are
 * updated in place after a change (a running vbd keeps its pointer); a
 * removed LV's blkdev is freed only when nothing holds it.
 */
#include <keel/blkscan.h>
#include <keel/commands.h>
#include <keel/kernel.h>
#include <keel/lvm.h>
#include <keel/pci.h>
#include <keel/sync.h>
#include <lib/printf.h>

#define DM_MAJOR 253

struct vg_state {
	struct blkdev *pv_dev;
	struct lvm_pv *pv;
	struct lvm_vg *vg;
	char *text;
	size_t text_len, text_cap;
	struct vg_state *next;
};

static struct vg_state *vgs;
static uint32_t next_dm_minor;
static struct mutex lvm_lock = MUTEX_INIT("lvm volume groups");

static void lv_blkname(const struct lvm_vg *vg, const struct lvm_lv *lv, char *buf, size_t len)
{
	ksnprintf(buf, len, "%s/%s", vg->name, lv->name);
}

/* Makes the blkdevs match the VG: new LVs added, changed ones updated in
 * place, removed ones freed unless held. */
static void sync_lvs(struct vg_state *vs)
{
	struct lvm_vg *vg = vs->vg;
	static struct lvm_extent ext[LVM_MAX_SEGMENTS];  /* under lvm_lock */
	char name[48];

	for (unsigned int i = 0; i < vg->lv_count; i++) {
		const struct lvm_lv *lv = &vg->lvs[i];
		if (!(lv->status & LVM_LV_VISIBLE))
			continue;
		lv_blkname(vg, lv, name, sizeof(name));
		unsigned int n = 0;
		if (!lv->usable || lvm_lv_map(vg, lv, ext, ARRAY_SIZE(ext), &n)) {
			klog("lvm: %s/%s: not offered: %s\n", vg->name, lv->name,
			     lv->why[0] ? lv->why : "cannot map its extents");
			continue;
		}
		struct blkdev *b = blkdev_find(name);
		struct blk_extent *e = kzalloc(MAX(n, 1u) * sizeof(*e));
		if (!e)
			continue;
		uint64_t at = 0;
		for (unsigned int k = 0; k < n; k++) {
			e[k] = (struct blk_extent){ at, ext[k].sectors, ext[k].pv_sector };
			at += ext[k].sectors;
		}
		if (!b) {
			b = blkdev_add_child(vs->pv_dev, BLKDEV_LVM, name, n);
			if (!b) {
				kfree(e);
				continue;
			}
			b->major = DM_MAJOR;
			b->minor = next_dm_minor++;
		}
		kfree(b->extents);
		b->extents = e;
		b->nr_extents = n;
		b->nr_sectors = at;
		b->read_only = vs->pv_dev->read_only || !(lv->status & LVM_LV_WRITE);
	}
	/* LV blkdevs of this VG whose LV is gone. */
	for (struct blkdev *b = blkdev_first(); b;) {
		struct blkdev *next = b->next;
		size_t vl = strlen(vg->name);
		if (b->type == BLKDEV_LVM && b->parent == vs->pv_dev &&
		    strncmp(b->name, vg->name, vl) == 0 && b->name[vl] == '/' &&
		    !lvm_vg_find_lv(vg, b->name + vl + 1))
			blkdev_remove_one(b);
		b = next;
	}
}

/* Reads the PV label and VG metadata on dev; quiet when there is no PV. */
static int read_vg(struct blkdev *dev, struct vg_state *vs, bool quiet)
{
	struct blkdev_reader c;
	struct disk_reader rd;
	char reason[LVM_REASON_BYTES];
	int rc;

	if (blkdev_reader_open(&c, dev, &rd))
		return -ENOMEM;
	rc = lvm_pv_read(&rd, vs->pv, reason, sizeof(reason));
	if (rc) {
		if (!quiet || rc != -ENOENT)
			if (rc != -ENOENT)
				klog("lvm: %s: PV label refused: %s\n", dev->name, reason);
		goto out;
	}
	size_t cap = lvm_pv_text_buffer_bytes(vs->pv);
	if (cap > vs->text_cap) {
		kfree(vs->text);
		vs->text = kmalloc(cap);
		vs->text_cap = vs->text ? cap : 0;
		if (!vs->text) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = lvm_pv_read_text(&rd, vs->pv, vs->text, vs->text_cap, &vs->text_len, NULL, reason,
			      sizeof(reason));
	if (rc) {
		klog("lvm: %s: metadata refused: %s\n", dev->name, reason);
		goto out;
	}
	if (reason[0])
		klog("lvm: %s: %s\n", dev->name, reason);
	rc = lvm_vg_parse(vs->text, vs->text_len, vs->vg, reason, sizeof(reason));
	if (rc) {
		klog("lvm: %s: metadata refused: %s\n", dev->name, reason);
		goto out;
	}
	if (lvm_vg_attach_pv(vs->vg, vs->pv->uuid, dev->nr_sectors)) {
		klog("lvm: %s: PV %s is not in the metadata of VG %s\n", dev->name, vs->pv->uuid,
		     vs->vg->name);
		rc = -EINVAL;
		goto out;
	}
	lvm_vg_check(vs->vg);
out:
	blkdev_reader_close(&c);
	return rc;
}

void blkscan_lvm(struct blkdev *dev)
{
	struct vg_state *vs = kzalloc(sizeof(*vs));
	if (!vs)
		return;
	vs->pv = kzalloc(sizeof(*vs->pv));
	vs->vg = kzalloc(sizeof(*vs->vg));
	if (!vs->pv || !vs->vg || read_vg(dev, vs, true)) {
		kfree(vs->pv);
		kfree(vs->vg);
		kfree(vs->text);
		kfree(vs);
		return;
	}
	vs->pv_dev = dev;
	mutex_lock(&lvm_lock);
	for (struct vg_state *o = vgs; o; o = o->next) {
		if (strcmp(o->vg->name, vs->vg->name) == 0) {
			klog("lvm: %s: VG %s is already on %s: multi-PV volume groups are not "
			     "served\n", dev->name, vs->vg->name, o->pv_dev->name);
			mutex_unlock(&lvm_lock);
			kfree(vs->pv);
			kfree(vs->vg);
			kfree(vs->text);
			kfree(vs);
			return;
		}
	}
	vs->next = vgs;
	vgs = vs;
	ksnprintf(dev->holder, sizeof(dev->holder), "LVM2 PV of %s", vs->vg->name);
	klog("lvm: %s: PV of VG %s, %u LVs\n", dev->name, vs->vg->name, vs->vg->lv_count);
	sync_lvs(vs);
	mutex_unlock(&lvm_lock);
}

/* ---- commands ---- */

/* lvm2's default size display: two decimals of the largest unit that fits. */
static void lvm_size(uint64_t sectors, char *buf, size_t len)
{
	static const char units[] = "kmgtp";
	uint64_t bytes = sectors * SECTOR_BYTES;
	uint64_t unit = 1024;
	int u = 0;
	while (u < 4 && bytes >= unit * 1024) {
		unit *= 1024;
		u++;
	}
	uint64_t hundredths = (bytes * 100 + unit / 2) / unit;
	ksnprintf(buf, len, "%llu.%02llu%c", (unsigned long long)(hundredths / 100),
		  (unsigned long long)(hundredths % 100), units[u]);
}

static void wait_probe(void)
{
	pci_probe_wait(30000000000ull);
}

static int cmd_pvs(int argc, char **argv)
{
	char size[24], freeb[24];
	(void)argc;
	(void)argv;
	wait_probe();
	kprintf("  %-12s %-8s %-4s %-4s %8s %8s\n", "PV", "VG", "Fmt", "Attr", "PSize", "PFree");
	mutex_lock(&lvm_lock);
	for (struct vg_state *vs = vgs; vs; vs = vs->next) {
		uint64_t ext = vs->vg->extent_sectors;
		lvm_size(lvm_vg_extent_count(vs->vg) * ext, size, sizeof(size));
		lvm_size(lvm_vg_free_extents(vs->vg) * ext, freeb, sizeof(freeb));
		char dev[40];
		ksnprintf(dev, sizeof(dev), "/dev/%s", vs->pv_dev->name);
		kprintf("  %-12s %-8s lvm2 a--  %8s %8s\n", dev, vs->vg->name, size, freeb);
	}
	mutex_unlock(&lvm_lock);
	return 0;
}

static int cmd_vgs(int argc, char **argv)
{
	char size[24], freeb[24];
	(void)argc;
	(void)argv;
	wait_probe();
	kprintf("  %-8s %3s %3s %3s %-6s %8s %8s\n", "VG", "#PV", "#LV", "#SN", "Attr", "VSize",
		"VFree");
	mutex_lock(&lvm_lock);
	for (struct vg_state *vs = vgs; vs; vs = vs->next) {
		unsigned int visible = 0;
		for (unsigned int i = 0; i < vs->vg->lv_count; i++)
			visible += !!(vs->vg->lvs[i].status & LVM_LV_VISIBLE);
		uint64_t ext = vs->vg->extent_sectors;
		lvm_size(lvm_vg_extent_count(vs->vg) * ext, size, sizeof(size));
		lvm_size(lvm_vg_free_extents(vs->vg) * ext, freeb, sizeof(freeb));
		kprintf("  %-8s %3u %3u %3u %-6s %8s %8s\n", vs->vg->name, vs->vg->pv_count, visible,
			0, vs->vg->writeable ? "wz--n-" : "r---n-", size, freeb);
	}
	mutex_unlock(&lvm_lock);
	return 0;
}

static int cmd_lvs(int argc, char **argv)
{
	char size[24];
	bool sectors = argc > 2 && !strcmp(argv[1], "--units") && !strcmp(argv[2], "s");
	wait_probe();
	kprintf("  %-16s %-8s %-10s %10s  %s\n", "LV", "VG", "Attr", "LSize", "Note");
	mutex_lock(&lvm_lock);
	for (struct vg_state *vs = vgs; vs; vs = vs->next) {
		for (unsigned int i = 0; i < vs->vg->lv_count; i++) {
			const struct lvm_lv *lv = &vs->vg->lvs[i];
			if (!(lv->status & LVM_LV_VISIBLE))
				continue;
			uint64_t s = lv->extents * vs->vg->extent_sectors;
			if (sectors)
				ksnprintf(size, sizeof(size), "%llus", (unsigned long long)s);
			else
				lvm_size(s, size, sizeof(size));
			/* lv_attr: volume type, permissions, allocation, fixed minor,
			 * state (a: active, served by keel), open, target... */
			char attr[12];
			ksnprintf(attr, sizeof(attr), "-%ci-%c-----",
				  (lv->status & LVM_LV_WRITE) ? 'w' : 'r', lv->usable ? 'a' : '-');
			kprintf("  %-16s %-8s %-10s %10s  %s\n", lv->name, vs->vg->name, attr, size,
				lv->usable ? "" : lv->why);
		}
	}
	mutex_unlock(&lvm_lock);
	return 0;
}

static struct vg_state *find_vg(const char *name)
{
	for (struct vg_state *vs = vgs; vs; vs = vs->next)
		if (strcmp(vs->vg->name, name) == 0)
			return vs;
	return NULL;
}

/* Writes new metadata text to every metadata area of the VG's PV, then
 * re-reads it and brings the LV blkdevs in line. */
static int commit(struct vg_state *vs, const char *text, size_t bytes, char *msg, size_t msg_len)
{
	struct blkdev_reader c = { NULL, NULL };
	struct disk_reader rd;
	uint8_t *scratch = page_alloc(1);
	int rc = -ENOMEM;

	if (!scratch || blkdev_reader_open(&c, vs->pv_dev, &rd))
		goto out;
	rc = 0;
	for (unsigned int i = 0; i < vs->pv->mda_count && !rc; i++) {
		if (!vs->pv->mdas[i].valid || vs->pv->mdas[i].ignored)
			continue;
		rc = lvm_mda_write(&rd, blkdev_reader_write, &vs->pv->mdas[i], text, bytes, scratch, msg,
				   msg_len);
	}
	if (!rc)
		rc = blk_flush_sync(vs->pv_dev);
	if (!rc)
		rc = read_vg(vs->pv_dev, vs, false);
	if (!rc)
		sync_lvs(vs);
out:
	blkdev_reader_close(&c);
	if (scratch)
		page_free(scratch, 1);
	return rc;
}

static void stamp_for(struct lvm_stamp *st, const char *command)
{
	uint64_t x = time_now_ns() ^ time_wallclock_ns() ^ 0x6b65656cull;
	st->time_seconds = time_wallclock_ns() / 1000000000ull;
	st->host = "keel";
	st->command = command;
	for (unsigned int i = 0; i < sizeof(st->random); i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		st->random[i] = (uint8_t)(x >> 24);
	}
}

enum lv_op { LV_CREATE, LV_REMOVE, LV_EXTEND };

static int lv_change(enum lv_op op, const char *vgname, const char *lvname, uint64_t sectors,
		     const char *command)
{
	char msg[256];
	struct lvm_stamp st;

	mutex_lock(&lvm_lock);
	struct vg_state *vs = find_vg(vgname);
	if (!vs) {
		kprintf("  Volume group \"%s\" not found\n", vgname);
		mutex_unlock(&lvm_lock);
		return -ENOENT;
	}
	if (op == LV_REMOVE) {
		char name[48];
		ksnprintf(name, sizeof(name), "%s/%s", vgname, lvname);
		struct blkdev *b = blkdev_find(name);
		if (b && b->holder[0]) {
			kprintf("  Logical volume %s/%s in use (%s).\n", vgname, lvname, b->holder);
			mutex_unlock(&lvm_lock);
			return -EBUSY;
		}
	}
	size_t cap = vs->text_len + 8192;
	char *out = kmalloc(cap);
	if (!out) {
		mutex_unlock(&lvm_lock);
		return -ENOMEM;
	}
	size_t bytes = 0;
	stamp_for(&st, command);
	msg[0] = 0;
	int rc;
	if (op == LV_CREATE)
		rc = lvm_lvcreate(vs->vg, vs->text, vs->text_len, lvname, sectors, &st, out, cap,
				  &bytes, msg, sizeof(msg));
	else if (op == LV_REMOVE)
		rc = lvm_lvremove(vs->vg, vs->text, vs->text_len, lvname, &st, out, cap, &bytes, msg,
				  sizeof(msg));
	else
		rc = lvm_lvextend(vs->vg, vs->text, vs->text_len, lvname, sectors, &st, out, cap,
				  &bytes, msg, sizeof(msg));
	if (!rc)
		rc = commit(vs, out, bytes, msg, sizeof(msg));
	if (rc)
		kprintf("  %s\n", msg[0] ? msg : "failed");
	else if (op == LV_CREATE)
		kprintf("  Logical volume \"%s\" created.\n", lvname);
	else if (op == LV_REMOVE)
		kprintf("  Logical volume \"%s\" successfully removed.\n", lvname);
	else
		kprintf("  Logical volume %s/%s successfully resized.\n", vgname, lvname);
	kfree(out);
	mutex_unlock(&lvm_lock);
	return rc;
}

/* "VG/LV" or "/dev/VG/LV" into its two names. */
static int split_vg_lv(const char *arg, char *vg, size_t vlen, const char **lv)
{
	if (strncmp(arg, "/dev/", 5) == 0)
		arg += 5;
	const char *slash = strchr(arg, '/');
	if (!slash || slash == arg || !slash[1] || (size_t)(slash - arg) >= vlen)
		return -EINVAL;
	memcpy(vg, arg, (size_t)(slash - arg));
	vg[slash - arg] = 0;
	*lv = slash + 1;
	return 0;
}

static int size_arg(const char *arg, uint64_t *sectors)
{
	char msg[160];
	bool rel;
	if (lvm_size_parse(arg, sectors, &rel, msg, sizeof(msg))) {
		kprintf("  %s\n", msg);
		return -EINVAL;
	}
	if (rel) {
		kprintf("  Relative sizes (+/-) are not supported; give the new size.\n");
		return -EINVAL;
	}
	return 0;
}

static int cmd_lvcreate(int argc, char **argv)
{
	const char *size = NULL, *name = NULL, *vg = NULL;
	for (int i = 1; i < argc; i++) {
		if ((!strcmp(argv[i], "-L") || !strcmp(argv[i], "--size")) && i + 1 < argc)
			size = argv[++i];
		else if ((!strcmp(argv[i], "-n") || !strcmp(argv[i], "--name")) && i + 1 < argc)
			name = argv[++i];
		else if (argv[i][0] != '-')
			vg = argv[i];
		else {
			kprintf("  lvcreate: unsupported option %s\n", argv[i]);
			return -EINVAL;
		}
	}
	if (!size || !name || !vg) {
		kprintf("usage: lvcreate -L SIZE -n NAME VG\n");
		return -EINVAL;
	}
	char msg[160];
	if (lvm_lv_name_check(name, msg, sizeof(msg))) {
		kprintf("  %s\n", msg);
		return -EINVAL;
	}
	uint64_t sectors;
	if (size_arg(size, &sectors))
		return -EINVAL;
	wait_probe();
	return lv_change(LV_CREATE, vg, name, sectors, "lvcreate");
}

static int cmd_lvremove(int argc, char **argv)
{
	char vg[LVM_NAME_BYTES];
	const char *lv;
	if (argc != 2 || split_vg_lv(argv[1], vg, sizeof(vg), &lv)) {
		kprintf("usage: lvremove VG/LV\n");
		return -EINVAL;
	}
	wait_probe();
	return lv_change(LV_REMOVE, vg, lv, 0, "lvremove");
}

static int cmd_lvextend(int argc, char **argv)
{
	char vg[LVM_NAME_BYTES];
	const char *lv;
	if (argc != 4 || (strcmp(argv[1], "-L") && strcmp(argv[1], "--size")) ||
	    split_vg_lv(argv[3], vg, sizeof(vg), &lv)) {
		kprintf("usage: lvextend -L SIZE VG/LV\n");
		return -EINVAL;
	}
	uint64_t sectors;
	if (size_arg(argv[2], &sectors))
		return -EINVAL;
	wait_probe();
	return lv_change(LV_EXTEND, vg, lv, sectors, "lvextend");
}

const struct command lvm_commands[] = {
	{ "pvs", cmd_pvs, "", "LVM physical volumes" },
	{ "vgs", cmd_vgs, "", "LVM volume groups" },
	{ "lvs", cmd_lvs, "[--units s]", "LVM logical volumes" },
	{ "lvcreate", cmd_lvcreate, "-L SIZE -n NAME VG", "create a linear LV" },
	{ "lvremove", cmd_lvremove, "VG/LV", "remove an LV" },
	{ "lvextend", cmd_lvextend, "-L SIZE VG/LV", "grow an LV to SIZE" },
	{ NULL, NULL, NULL, NULL },
};

/*
 * New LVM2 metadata text for lvcreate, lvremove and lvextend, made by editing
 * the current text at the spans lvm_meta.c recorded (so nothing keel does not
 * understand is lost), bumping seqno and rewriting the trailer lvm2 puts
 * after the VG (contents, version, description, creation_host/time).  Also
 * the -L size parser and lvm2's LV name rules.  Pure: the caller writes the
 * result with lvm_mda_write().  Contract in include/keel/lvm.h; messages are
 * lvm2's own wording (lib/metadata/lv_manip.c, tools/lvmcmdline.c,
 * lib/misc/lvm-string.c).
 */
#include <keel/lvm.h>

#define ALLOC_RUNS_MAX 16 /* segments one lvcreate/lvextend may add */


/* ---- -L SIZE ------------------------------------------------------------------ */

int lvm_size_parse(const char *arg, uint64_t *sectors, bool *relative, char *msg, size_t msg_len)
{
	static const char units[] = "kmgtpe";
	const char *p = arg;
	uint64_t whole = 0, frac = 0, frac_scale = 1, mult = 2048; /* MiB by default */
	bool digits = false;

	*sectors = 0;
	if (relative)
		*relative = false;
	if (*p == '+' || *p == '-') {
		if (p[1] == '+' || p[1] == '-') {
			lvm_msg(msg, msg_len, "Multiple sign symbols detected.");
			return -EINVAL;
		}
		if (*p == '-') {
			lvm_msg(msg, msg_len, "Size may not be negative.");
			return -EINVAL;
		}
		if (!relative) {
			lvm_msg(msg, msg_len, "Size may not be relative/signed.");
			return -EINVAL;
		}
		*relative = true;
		p++;
	}
	if (!(*p >= '0' && *p <= '9') && *p != '.') {
		lvm_msg(msg, msg_len, "Size requires number argument.");
		return -EINVAL;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		if (whole > (UINT64_MAX >> 10) / 10)
			goto too_big;
		whole = whole * 10 + (uint64_t)(*p - '0');
		digits = true;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (frac_scale < 1000000000ull) { /* nine decimals are plenty */
				frac = frac * 10 + (uint64_t)(*p - '0');
				frac_scale *= 10;
			}
			digits = true;
		}
	}
	if (!digits)
		goto cannot_parse;
	if (*p) {
		char u = (char)(*p | 0x20); /* lower case */
		const char *k = strchr(units, u);

		if (u == 's') {
			mult = 1;
			p++;
		} else if (u == 'b') {
			if (p[1])
				goto cannot_parse;
			if (whole % 512) {
				uint64_t up = whole + 512 - whole % 512;

				lvm_msg(msg, msg_len,
				    "Size is not a multiple of 512. Try using %llu or %llu.\n"
				    "Invalid argument for --size: %s",
				    (unsigned long long)(up - 512), (unsigned long long)up, arg);
				return -EINVAL;
			}
			*sectors = whole / 512;
			return 0;
		} else if (u && k) {
			mult = 2;
			for (long i = 0; i < k - units; i++)
				mult *= 1024;
			p++;
			/* 1G, 1GB and 1GiB all mean GiB, as in lvm2. */
			if ((*p | 0x20) == 'i' && (p[1] | 0x20) == 'b')
				p += 2;
			else if ((*p | 0x20) == 'b')
				p++;
		} else {
			goto cannot_parse;
		}
		if (*p)
			goto cannot_parse;
	}
	if (whole > (UINT64_MAX >> 10) / mult)
		goto too_big;
	*sectors = whole * mult + frac * mult / frac_scale;
	return 0;

cannot_parse:
	lvm_msg(msg, msg_len, "Can't parse size argument.\nInvalid argument for --size: %s", arg);
	return -EINVAL;
too_big:
	lvm_msg(msg, msg_len, "Size is too big (>=16EiB).");
	return -EINVAL;
}

/* ---- names -------------------------------------------------------------------- */

int lvm_lv_name_check(const char *name, char *msg, size_t msg_len)
{
	static const char *const prefixes[] = { "pvmove", "snapshot" };
	static const char *const reserved[] = {
		"_cdata", "_cmeta", "_corig", "_cpool", "_cvol", "_wcorig", "_mimage", "_mlog",
		"_rimage", "_rmeta", "_tdata", "_tmeta", "_vdata", "_imeta", "_iorig", "_pmspare",
		"_vorigin",
	};
	size_t len = strnlen(name, LVM_NAME_BYTES);
	bool ok = len > 0 && len < LVM_NAME_BYTES && name[0] != '-' && strcmp(name, ".") != 0 &&
		  strcmp(name, "..") != 0;

	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];

		ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     c == '.' || c == '_' || c == '-' || c == '+';
	}
	if (!ok) {
		lvm_msg(msg, msg_len, "Logical volume name \"%.*s\" is invalid.", (int)MIN(len, 127u), name);
		return -EINVAL;
	}
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0) {
			lvm_msg(msg, msg_len,
			    "Names starting \"%s\" are reserved. Please choose a different LV name.",
			    prefixes[i]);
			return -EINVAL;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
		if (strchr(name, '_') && strstr(strchr(name, '_'), reserved[i])) {
			lvm_msg(msg, msg_len,
			    "Names including \"%s\" are reserved. Please choose a different LV name.",
			    reserved[i]);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- building the new text ---------------------------------------------------- */

struct out {
	char *buf;
	size_t cap, len;
	bool overflow;
	bool bad_order;
	const char *text;  /* the old text */
	size_t copied;     /* old text copied (or skipped) up to here */
};

static void out_mem(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void out_fmt(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_fmt(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->overflow = true;
		return;
	}
	o->len += (size_t)n;
}

/* Copies the old text up to pos (edits come in increasing order). */
static void out_copy_to(struct out *o, size_t pos)
{
	if (pos < o->copied) {
		o->bad_order = true; /* spans out of order: hostile or odd text */
		return;
	}
	out_mem(o, o->text + o->copied, pos - o->copied);
	o->copied = pos;
}

static void out_skip_to(struct out *o, size_t pos)
{
	if (pos < o->copied)
		o->bad_order = true;
	else
		o->copied = pos;
}

/* A string value as lvm2 quotes it: " and \ escaped, control bytes dropped. */
static void out_quoted(struct out *o, const char *s, size_t max)
{
	out_mem(o, "\"", 1);
	for (size_t i = 0; s && s[i] && i < max; i++) {
		char c = s[i];

		if ((unsigned char)c < 0x20 || c == 0x7f)
			continue;
		if (c == '"' || c == '\\')
			out_mem(o, "\\", 1);
		out_mem(o, &c, 1);
	}
	out_mem(o, "\"", 1);
}

static void out_seqno(struct out *o, const struct lvm_vg *vg)
{
	out_copy_to(o, vg->seqno_value.start);
	out_fmt(o, "%llu", (unsigned long long)vg->seqno + 1);
	out_skip_to(o, vg->seqno_value.end);
}

/* Ends the VG section and writes the trailer lvm2 puts after it. */
static void out_finish(struct out *o, const struct lvm_vg *vg, const struct lvm_stamp *st)
{
	char cmd[256];

	out_copy_to(o, vg->vg_close + 1);
	out_fmt(o, "\n# Generated by keel\n\ncontents = \"Text Format Volume Group\"\nversion = 1\n\n");
	lvm_msg(cmd, sizeof(cmd), "Write from %s.", st->command ? st->command : "keel");
	out_fmt(o, "description = ");
	out_quoted(o, cmd, sizeof(cmd));
	out_fmt(o, "\n\ncreation_host = ");
	out_quoted(o, st->host ? st->host : "keel", 64);
	out_fmt(o, "\t# keel\ncreation_time = %llu\t# keel\n\n", (unsigned long long)st->time_seconds);
	out_mem(o, "", 1); /* the NUL lvm2 counts in raw_locn.size */
}

static int out_result(struct out *o, size_t *out_bytes, char *msg, size_t msg_len)
{
	if (o->bad_order) {
		lvm_msg(msg, msg_len, "VG metadata layout not understood; not changing it.");
		return -EINVAL;
	}
	if (o->overflow || o->len > LVM_TEXT_MAX) {
		lvm_msg(msg, msg_len, "New metadata does not fit in the buffer (%zu bytes).", o->cap);
		return -E2BIG;
	}
	*out_bytes = o->len;
	return 0;
}

static void out_segment(struct out *o, const struct lvm_vg *vg, unsigned number, uint64_t lv_start,
			unsigned pv, uint64_t pv_start, uint64_t count)
{
	out_fmt(o, "\nsegment%u {\nstart_extent = %llu\nextent_count = %llu\n\ntype = \"striped\"\n"
		   "stripe_count = 1\n\nstripes = [\n\"%s\", %llu\n]\n}\n",
		number, (unsigned long long)lv_start, (unsigned long long)count, vg->pvs[pv].key,
		(unsigned long long)pv_start);
}

/* ---- checks and allocation ------------------------------------------------------ */

static int check_writable(const struct lvm_vg *vg, const char *text, size_t text_len, char *msg,
			  size_t msg_len)
{
	if (!vg->writeable) {
		lvm_msg(msg, msg_len, "%s", vg->not_writeable_why);
		return -EINVAL;
	}
	for (unsigned i = 0; i < vg->pv_count; i++) {
		if (!vg->pvs[i].present) {
			lvm_msg(msg, msg_len, "Cannot change VG %s while PVs are missing.", vg->name);
			return -EINVAL;
		}
	}
	if (vg->seqno >= UINT32_MAX) {
		lvm_msg(msg, msg_len, "VG %s has reached the last sequence number.", vg->name);
		return -EINVAL;
	}
	if (!vg->used_complete) {
		lvm_msg(msg, msg_len, "keel cannot account for every extent of VG %s; not changing it.",
		    vg->name);
		return -EINVAL;
	}
	if (vg->vg_close >= text_len || text[vg->vg_close] != '}' ||
	    vg->seqno_value.end > vg->vg_close || (vg->lvs_close && vg->lvs_close >= vg->vg_close)) {
		lvm_msg(msg, msg_len, "VG %s metadata layout not understood; not changing it.", vg->name);
		return -EINVAL;
	}
	return 0;
}

struct alloc {
	unsigned n;
	struct {
		unsigned pv;
		uint64_t start, count;
	} runs[ALLOC_RUNS_MAX];
};

static bool pv_allocatable(const struct lvm_vg *vg, unsigned i)
{
	return vg->pvs[i].allocatable && vg->pvs[i].present;
}

/* Extents of PV i that fit on the device, by the metadata's dev_size and by
 * the size of the device actually attached: never allocate past either. */
static uint64_t pv_extent_limit(const struct lvm_vg *vg, unsigned i)
{
	const struct lvm_pv_info *pv = &vg->pvs[i];
	uint64_t limit = pv->pe_count;
	uint64_t sizes[2] = { pv->dev_size_sectors, pv->device_sectors };

	for (int k = 0; k < 2; k++) {
		if (!sizes[k])
			continue;
		if (sizes[k] <= pv->pe_start_sectors)
			return 0;
		limit = MIN(limit, (sizes[k] - pv->pe_start_sectors) / vg->extent_sectors);
	}
	return limit;
}

/* lvm_free_run() clipped to pv_extent_limit(). */
static int free_run(const struct lvm_vg *vg, unsigned i, uint64_t from, uint64_t *start,
		    uint64_t *count)
{
	uint64_t limit = pv_extent_limit(vg, i);

	if (lvm_free_run(vg, i, from, start, count) != 0 || *start >= limit)
		return -ENOENT;
	*count = MIN(*count, limit - *start);
	return 0;
}

static uint64_t free_on_allocatable(const struct lvm_vg *vg)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vg->pv_count; i++) {
		uint64_t at = 0, start, count;

		if (!pv_allocatable(vg, i))
			continue;
		while (free_run(vg, i, at, &start, &count) == 0) {
			n += count;
			at = start + count;
		}
	}
	return n;
}

/*
 * Finds `need` extents: first from the run starting exactly at
 * (prefer_pv, prefer_start) when given (lvextend growing in place), then the
 * lowest single run big enough for the rest, else runs in PV and offset
 * order.  The caller checked that enough extents are free.
 */
static int allocate(const struct lvm_vg *vg, uint64_t need, int prefer_pv, uint64_t prefer_start,
		    struct alloc *a)
{
	uint64_t start, count;

	a->n = 0;
	if (prefer_pv >= 0 && pv_allocatable(vg, (unsigned)prefer_pv) &&
	    free_run(vg, (unsigned)prefer_pv, prefer_start, &start, &count) == 0 &&
	    start == prefer_start) {
		a->runs[0].pv = (unsigned)prefer_pv;
		a->runs[0].start = start;
		a->runs[0].count = MIN(count, need);
		a->n = 1;
		need -= a->runs[0].count;
	}
	if (!need)
		return 0;
	for (unsigned i = 0; i < vg->pv_count; i++) {
		uint64_t at = 0;

		if (!pv_allocatable(vg, i))
			continue;
		while (free_run(vg, i, at, &start, &count) == 0) {
			if (a->n && a->runs[0].pv == i && a->runs[0].start == start) {
				at = start + count; /* the preferred run, already taken */
				continue;
			}
			if (count >= need) {
				a->runs[a->n].pv = i;
				a->runs[a->n].start = start;
				a->runs[a->n].count = need;
				a->n++;
				return 0;
			}
			at = start + count;
		}
	}
	for (unsigned i = 0; i < vg->pv_count && need; i++) {
		uint64_t at = 0;

		if (!pv_allocatable(vg, i))
			continue;
		while (need && free_run(vg, i, at, &start, &count) == 0) {
			if (a->n == ALLOC_RUNS_MAX)
				return -E2BIG;
			if (a->n && a->runs[0].pv == i && a->runs[0].start == start &&
			    prefer_pv >= 0) {
				at = start + count;
				continue;
			}
			a->runs[a->n].pv = i;
			a->runs[a->n].start = start;
			a->runs[a->n].count = MIN(count, need);
			need -= a->runs[a->n].count;
			a->n++;
			at = start + count;
		}
	}
	return need ? -ENOSPC : 0;
}

static void new_id(const struct lvm_vg *vg, const struct lvm_stamp *st, char out[LVM_UUID_BYTES])
{
	static const char alphabet[] =
		"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const int group[] = { 6, 4, 4, 4, 4, 4, 6 };

	for (unsigned attempt = 0;; attempt++) {
		bool clash = false;
		int k = 0, o = 0;

		for (int g = 0; g < 7; g++) {
			if (g)
				out[o++] = '-';
			for (int i = 0; i < group[g]; i++, k++)
				out[o++] = alphabet[(st->random[k] + attempt * (unsigned)(k + 1)) % 62];
		}
		out[o] = 0;
		for (unsigned i = 0; i < vg->lv_count; i++)
			clash |= strcmp(vg->lvs[i].id, out) == 0;
		for (unsigned i = 0; i < vg->pv_count; i++)
			clash |= strcmp(vg->pvs[i].uuid, out) == 0;
		if (!clash || attempt == 8)
			return;
	}
}

/* lvm2 prints sizes with two decimals in the largest binary unit <= size. */
static void size_text(uint64_t sectors, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB", "PiB" };
	uint64_t div = 2; /* sectors per KiB */
	unsigned u = 0;

	while (u + 1 < ARRAY_SIZE(unit) && sectors / div >= 1024) {
		div *= 1024;
		u++;
	}
	lvm_msg(buf, len, "%llu.%02llu %s", (unsigned long long)(sectors / div),
	    (unsigned long long)((sectors % div) * 100 / div), unit[u]);
}

/* ---- the three commands ---------------------------------------------------------- */

int lvm_lvcreate(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 uint64_t size_sectors, const struct lvm_stamp *st, char *out_buf, size_t out_cap,
		 size_t *out_bytes, char *msg, size_t msg_len)
{
	struct out o = { .buf = out_buf, .cap = out_cap, .text = text };
	uint64_t extents, free_count;
	char id[LVM_UUID_BYTES];
	struct alloc a;
	int rc;

	*out_bytes = 0;
	rc = lvm_lv_name_check(name, msg, msg_len);
	if (rc)
		return rc;
	if (size_sectors == 0) {
		lvm_msg(msg, msg_len, "--size may not be zero.");
		return -EINVAL;
	}
	rc = check_writable(vg, text, text_len, msg, msg_len);
	if (rc)
		return rc;
	if (lvm_vg_find_lv(vg, name)) {
		lvm_msg(msg, msg_len, "Logical Volume \"%s\" already exists in volume group \"%s\"", name,
		    vg->name);
		return -EEXIST;
	}
	if (vg->lv_count >= LVM_MAX_LVS) {
		lvm_msg(msg, msg_len, "VG %s already has %u LVs, keel's limit.", vg->name, LVM_MAX_LVS);
		return -E2BIG;
	}
	extents = size_sectors / vg->extent_sectors + (size_sectors % vg->extent_sectors != 0);
	free_count = free_on_allocatable(vg);
	if (extents > free_count) {
		lvm_msg(msg, msg_len,
		    "Volume group \"%s\" has insufficient free space (%llu extents): %llu required.",
		    vg->name, (unsigned long long)free_count, (unsigned long long)extents);
		return -ENOSPC;
	}
	rc = allocate(vg, extents, -1, 0, &a);
	if (rc) {
		lvm_msg(msg, msg_len, "Volume group \"%s\": free space too fragmented for %llu extents.",
		    vg->name, (unsigned long long)extents);
		return rc;
	}
	new_id(vg, st, id);

	out_seqno(&o, vg);
	if (vg->lvs_close) {
		out_copy_to(&o, vg->lvs_close);
	} else {
		out_copy_to(&o, vg->vg_close);
		out_fmt(&o, "\nlogical_volumes {\n");
	}
	out_fmt(&o, "\n%s {\nid = \"%s\"\nstatus = [\"READ\", \"WRITE\", \"VISIBLE\"]\nflags = []\n"
		    "creation_time = %llu\ncreation_host = ",
		name, id, (unsigned long long)st->time_seconds);
	out_quoted(&o, st->host ? st->host : "keel", 64);
	out_fmt(&o, "\nsegment_count = %u\n", a.n);
	{
		uint64_t lv_start = 0;

		for (unsigned i = 0; i < a.n; i++) {
			out_segment(&o, vg, i + 1, lv_start, a.runs[i].pv, a.runs[i].start,
				    a.runs[i].count);
			lv_start += a.runs[i].count;
		}
	}
	out_fmt(&o, "}\n");
	if (!vg->lvs_close)
		out_fmt(&o, "}\n");
	out_finish(&o, vg, st);
	rc = out_result(&o, out_bytes, msg, msg_len);
	if (!rc)
		lvm_msg(msg, msg_len, "Logical volume \"%s\" created.", name);
	return rc;
}

/* True when "name" (quoted) appears in the text outside the LV's own block:
 * another LV refers to it (thin pool, origin, sub-LV...). */
static bool lv_referenced(const char *text, size_t text_len, const struct lvm_lv *lv)
{
	size_t n = strlen(lv->name);

	for (size_t i = 0; i + n + 2 <= text_len; i++) {
		if (i >= lv->block.start && i < lv->block.end)
			continue;
		if (text[i] == '"' && text[i + n + 1] == '"' && memcmp(text + i + 1, lv->name, n) == 0)
			return true;
	}
	return false;
}

int lvm_lvremove(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 const struct lvm_stamp *st, char *out_buf, size_t out_cap, size_t *out_bytes,
		 char *msg, size_t msg_len)
{
	struct out o = { .buf = out_buf, .cap = out_cap, .text = text };
	const struct lvm_lv *lv = lvm_vg_find_lv(vg, name);
	size_t start, end;
	int rc;

	*out_bytes = 0;
	if (!lv) {
		lvm_msg(msg, msg_len, "Failed to find logical volume \"%s/%s\"", vg->name, name);
		return -ENOENT;
	}
	rc = check_writable(vg, text, text_len, msg, msg_len);
	if (rc)
		return rc;
	if (!lv->linear) {
		lvm_msg(msg, msg_len, "keel does not remove %s/%s: %s", vg->name, name, lv->why);
		return -EINVAL;
	}
	if (!(lv->status & LVM_LV_VISIBLE) || lv_referenced(text, vg->vg_close, lv)) {
		lvm_msg(msg, msg_len, "keel does not remove %s/%s: it is part of another LV.", vg->name,
		    name);
		return -EINVAL;
	}
	if (lv->block.start <= vg->seqno_value.end || lv->block.end > vg->vg_close) {
		lvm_msg(msg, msg_len, "VG %s metadata layout not understood; not changing it.", vg->name);
		return -EINVAL;
	}
	/* Take the blank line before the block and the newline after it too,
	 * so create/remove cycles do not grow the text. */
	start = lv->block.start;
	end = lv->block.end;
	if (start >= 2 && text[start - 1] == '\n' && text[start - 2] == '\n')
		start--;
	if (end < vg->vg_close && text[end] == '\n')
		end++;
	out_seqno(&o, vg);
	out_copy_to(&o, start);
	out_skip_to(&o, end);
	out_finish(&o, vg, st);
	rc = out_result(&o, out_bytes, msg, msg_len);
	if (!rc)
		lvm_msg(msg, msg_len, "Logical volume \"%s\" successfully removed.", name);
	return rc;
}

int lvm_lvextend(const struct lvm_vg *vg, const char *text, size_t text_len, const char *name,
		 uint64_t size_sectors, const struct lvm_stamp *st, char *out_buf, size_t out_cap,
		 size_t *out_bytes, char *msg, size_t msg_len)
{
	struct out o = { .buf = out_buf, .cap = out_cap, .text = text };
	const struct lvm_lv *lv = lvm_vg_find_lv(vg, name);
	const struct lvm_segment *last;
	uint64_t extents, need, free_count;
	char from[32], to[32];
	unsigned first_new = 0, segments;
	struct alloc a;
	int rc;

	*out_bytes = 0;
	if (!lv) {
		lvm_msg(msg, msg_len, "Failed to find logical volume \"%s/%s\"", vg->name, name);
		return -ENOENT;
	}
	rc = check_writable(vg, text, text_len, msg, msg_len);
	if (rc)
		return rc;
	if (!lv->linear || !lv->segment_count) {
		lvm_msg(msg, msg_len, "keel does not extend %s/%s: %s", vg->name, name, lv->why);
		return -EINVAL;
	}
	if (size_sectors == 0) {
		lvm_msg(msg, msg_len, "New size of 0 not permitted.");
		return -EINVAL;
	}
	extents = size_sectors / vg->extent_sectors + (size_sectors % vg->extent_sectors != 0);
	if (extents < lv->extents) {
		lvm_msg(msg, msg_len, "New size given (%llu extents) not larger than existing size (%llu extents)",
		    (unsigned long long)extents, (unsigned long long)lv->extents);
		return -EINVAL;
	}
	if (extents == lv->extents) {
		lvm_msg(msg, msg_len, "New size (%llu extents) matches existing size (%llu extents).",
		    (unsigned long long)extents, (unsigned long long)lv->extents);
		return -EINVAL;
	}
	need = extents - lv->extents;
	free_count = free_on_allocatable(vg);
	if (need > free_count) {
		lvm_msg(msg, msg_len, "Insufficient free space: %llu extents needed, but only %llu available",
		    (unsigned long long)need, (unsigned long long)free_count);
		return -ENOSPC;
	}
	last = &vg->segments[lv->first_segment + lv->segment_count - 1];
	rc = allocate(vg, need, (int)last->pv, last->pv_start_extent + last->extents, &a);
	if (rc) {
		lvm_msg(msg, msg_len, "Volume group \"%s\": free space too fragmented for %llu extents.",
		    vg->name, (unsigned long long)need);
		return rc;
	}
	if (!(vg->seqno_value.end <= lv->segment_count_value.start &&
	      lv->segment_count_value.end <= lv->last_extent_count_value.start &&
	      lv->last_extent_count_value.end <= lv->last_segment_end &&
	      lv->last_segment_end <= lv->block.end && lv->segment_count_value.end)) {
		lvm_msg(msg, msg_len, "VG %s metadata layout not understood; not changing it.", vg->name);
		return -EINVAL;
	}
	/* A run right after the last segment, on its PV, grows that segment. */
	if (a.runs[0].pv == last->pv && a.runs[0].start == last->pv_start_extent + last->extents)
		first_new = 1;
	segments = lv->segment_count + a.n - first_new;

	out_seqno(&o, vg);
	out_copy_to(&o, lv->segment_count_value.start);
	out_fmt(&o, "%u", segments);
	out_skip_to(&o, lv->segment_count_value.end);
	if (first_new) {
		out_copy_to(&o, lv->last_extent_count_value.start);
		out_fmt(&o, "%llu", (unsigned long long)(last->extents + a.runs[0].count));
		out_skip_to(&o, lv->last_extent_count_value.end);
	}
	out_copy_to(&o, lv->last_segment_end);
	{
		uint64_t lv_start = lv->extents + (first_new ? a.runs[0].count : 0);
		unsigned number = lv->segment_count + 1;

		for (unsigned i = first_new; i < a.n; i++) {
			out_segment(&o, vg, number++, lv_start, a.runs[i].pv, a.runs[i].start,
				    a.runs[i].count);
			lv_start += a.runs[i].count;
		}
	}
	out_finish(&o, vg, st);
	rc = out_result(&o, out_bytes, msg, msg_len);
	if (!rc) {
		size_text(lv->extents * vg->extent_sectors, from, sizeof(from));
		size_text(extents * vg->extent_sectors, to, sizeof(to));
		lvm_msg(msg, msg_len,
		    "Size of logical volume %s/%s changed from %s (%llu extents) to %s (%llu extents).\n"
		    "Logical volume %s/%s successfully resized.",
		    vg->name, name, from, (unsigned long long)lv->extents, to,
		    (unsigned long long)extents, vg->name, name);
	}
	return rc;
}

/*
 * The LVM2 text metadata parser: one pass over lvm2's config syntax
 * (sections "name { ... }", assignments "key = value", values that are
 * numbers, "strings" or [ arrays ], # comments) that fills struct lvm_vg.
 * It understands the VG, its physical_volumes and logical_volumes with their
 * segments (lvm2's lib/format_text/export.c writes them; import_vsn1.c reads
 * them) and skips, while still checking the syntax, everything else.  It also
 * records the text spans lvm_write.c edits.  Pure; contract in
 * include/keel/lvm.h.
 *
 * Section kinds by nesting: TOP > VG > PVS > PV, VG > LVS > LV > SEG; any
 * other section is OTHER and its contents are ignored.  Depth is bounded by
 * META_DEPTH_MAX, every loop by the text length.
 */
#include <keel/lvm.h>

#define META_DEPTH_MAX 8
#define META_ARRAY_ITEMS 16
#define META_SEG_REFS 8

enum kind { K_TOP, K_VG, K_PVS, K_PV, K_LVS, K_LV, K_SEG, K_OTHER };

enum tok { T_EOF, T_WORD, T_STRING, T_LBRACE, T_RBRACE, T_LBRACKET, T_RBRACKET, T_EQ, T_COMMA,
	   T_BAD };

struct token {
	enum tok kind;
	size_t start, end; /* T_STRING: the contents, without the quotes */
};

struct item {
	bool is_string;
	bool is_number;  /* an integer >= 0 that fit */
	uint64_t number;
	size_t start, end;
};

struct value {
	struct item scalar;
	bool is_array;
	unsigned count;
	bool truncated;  /* more than META_ARRAY_ITEMS items */
	struct item items[META_ARRAY_ITEMS];
	size_t start, end; /* the whole value in the text */
};

struct seg_state {
	bool has_start, has_count, has_stripes;
	uint64_t start_extent, extent_count, stripe_count;
	char type[32];
	unsigned ref_count;
	bool refs_overflow;
	bool area_not_pv;     /* stripes naming something that is not a PV */
	char unknown_pv[16];
	struct {
		unsigned pv;
		uint64_t start;
		bool mirror;  /* from "mirrors": the area spans the whole segment */
	} refs[META_SEG_REFS];
	struct lvm_span extent_count_value;
};

struct parser {
	const char *s;
	size_t len, pos;
	unsigned line;
	struct lvm_vg *vg;
	char *reason;
	size_t reason_len;
	int err;
	struct value v;
	int pv;       /* index of the PV being parsed, -1 if dropped */
	int lv;
	unsigned lv_segments_seen;
	uint64_t lv_segment_count_declared;
	bool lv_has_segment_count;
	struct seg_state seg;
	bool vg_seen;
	bool vg_has_extent_size;
};


static void fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(struct parser *p, const char *fmt, ...)
{
	char what[96];
	va_list ap;

	if (p->err)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->reason && p->reason_len)
		lvm_msg(p->reason, p->reason_len, "metadata line %u: %s", p->line, what);
	p->err = -EINVAL;
}

static void lv_refuse(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void lv_refuse(struct parser *p, const char *fmt, ...)
{
	struct lvm_lv *lv;
	va_list ap;

	if (p->lv < 0)
		return;
	lv = &p->vg->lvs[p->lv];
	if (!lv->linear)
		return; /* keep the first reason */
	lv->linear = false;
	va_start(ap, fmt);
	vsnprintf(lv->why, sizeof(lv->why), fmt, ap);
	va_end(ap);
}

/* ---- lexer ------------------------------------------------------------------ */

static bool word_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || c == '.' || c == '+' || c == '-';
}

static struct token next(struct parser *p)
{
	struct token t = { T_EOF, p->pos, p->pos };

	for (;;) {
		while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' ||
					   p->s[p->pos] == '\n' || p->s[p->pos] == '\r')) {
			if (p->s[p->pos] == '\n')
				p->line++;
			p->pos++;
		}
		if (p->pos < p->len && p->s[p->pos] == '#') {
			while (p->pos < p->len && p->s[p->pos] != '\n')
				p->pos++;
			continue;
		}
		break;
	}
	t.start = p->pos;
	if (p->pos >= p->len || p->s[p->pos] == 0)
		return t;
	switch (p->s[p->pos]) {
	case '{': t.kind = T_LBRACE; break;
	case '}': t.kind = T_RBRACE; break;
	case '[': t.kind = T_LBRACKET; break;
	case ']': t.kind = T_RBRACKET; break;
	case '=': t.kind = T_EQ; break;
	case ',': t.kind = T_COMMA; break;
	case '"':
		t.kind = T_STRING;
		t.start = ++p->pos;
		while (p->pos < p->len && p->s[p->pos] != '"') {
			if (p->s[p->pos] == 0) {
				t.kind = T_BAD;
				return t;
			}
			if (p->s[p->pos] == '\n')
				p->line++;
			if (p->s[p->pos] == '\\' && p->pos + 1 < p->len)
				p->pos++;
			p->pos++;
		}
		if (p->pos >= p->len) {
			t.kind = T_BAD;
			return t;
		}
		t.end = p->pos++;
		return t;
	default:
		if (!word_char(p->s[p->pos])) {
			t.kind = T_BAD;
			return t;
		}
		while (p->pos < p->len && word_char(p->s[p->pos]))
			p->pos++;
		t.kind = T_WORD;
		t.end = p->pos;
		return t;
	}
	t.end = ++p->pos;
	return t;
}

static bool tok_is(const struct parser *p, size_t start, size_t end, const char *word)
{
	size_t n = strlen(word);

	return end - start == n && memcmp(p->s + start, word, n) == 0;
}

static bool item_is(const struct parser *p, const struct item *it, const char *word)
{
	return tok_is(p, it->start, it->end, word);
}

/* An unsigned decimal that fits in 63 bits, else not a number. */
static void classify_word(const struct parser *p, struct item *it)
{
	uint64_t n = 0;

	it->is_number = false;
	if (it->start == it->end)
		return;
	for (size_t i = it->start; i < it->end; i++) {
		char c = p->s[i];

		if (c < '0' || c > '9' || n > (UINT64_MAX >> 1) / 10)
			return;
		n = n * 10 + (uint64_t)(c - '0');
	}
	if (n > (UINT64_MAX >> 1))
		return;
	it->is_number = true;
	it->number = n;
}

static bool read_item(struct parser *p, struct token t, struct item *it)
{
	it->start = t.start;
	it->end = t.end;
	it->is_string = t.kind == T_STRING;
	it->is_number = false;
	if (t.kind == T_WORD)
		classify_word(p, it);
	return t.kind == T_STRING || t.kind == T_WORD;
}

/* Reads the value after '=' into p->v. */
static void read_value(struct parser *p)
{
	struct value *v = &p->v;
	struct token t = next(p);

	memset(v, 0, offsetof(struct value, items));
	v->start = t.start - (t.kind == T_STRING);
	if (t.kind != T_LBRACKET) {
		if (!read_item(p, t, &v->scalar))
			fail(p, "expected a value");
		v->end = t.end + (t.kind == T_STRING);
		return;
	}
	v->is_array = true;
	for (;;) {
		struct item it;

		t = next(p);
		if (t.kind == T_RBRACKET && v->count == 0)
			break;
		if (!read_item(p, t, &it)) {
			fail(p, "expected an array item");
			return;
		}
		if (v->count < META_ARRAY_ITEMS)
			v->items[v->count++] = it;
		else
			v->truncated = true;
		t = next(p);
		if (t.kind == T_RBRACKET)
			break;
		if (t.kind != T_COMMA) {
			fail(p, "expected ',' or ']'");
			return;
		}
	}
	v->end = t.end;
}

/* ---- interpreting assignments ----------------------------------------------- */

static bool want_number(struct parser *p, const char *key, uint64_t *out)
{
	if (p->v.is_array || !p->v.scalar.is_number) {
		fail(p, "%s is not a number", key);
		return false;
	}
	*out = p->v.scalar.number;
	return true;
}

static bool want_string(struct parser *p, const char *key, char *out, size_t out_len)
{
	const struct item *it = &p->v.scalar;
	size_t n;

	if (p->v.is_array || !it->is_string) {
		fail(p, "%s is not a string", key);
		return false;
	}
	n = MIN(it->end - it->start, out_len - 1);
	memcpy(out, p->s + it->start, n);
	out[n] = 0;
	return true;
}

static bool array_has(const struct parser *p, const char *word)
{
	for (unsigned i = 0; i < p->v.count; i++)
		if (p->v.items[i].is_string && item_is(p, &p->v.items[i], word))
			return true;
	return false;
}

static bool valid_uuid(const char *s)
{
	size_t n = strlen(s);

	if (n != 38)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (i == 6 || i == 11 || i == 16 || i == 21 || i == 26 || i == 31) {
			if (c != '-')
				return false;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z') || c == '!' || c == '#')) {
			return false;
		}
	}
	return true;
}

static void assign_vg(struct parser *p, size_t ks, size_t ke)
{
	struct lvm_vg *vg = p->vg;

	if (tok_is(p, ks, ke, "id")) {
		if (want_string(p, "id", vg->id, sizeof(vg->id)) && !valid_uuid(vg->id))
			fail(p, "VG id is not an lvm2 uuid");
	} else if (tok_is(p, ks, ke, "seqno")) {
		if (want_number(p, "seqno", &vg->seqno) && vg->seqno > UINT32_MAX)
			fail(p, "seqno is out of range");
		vg->seqno_value.start = p->v.start;
		vg->seqno_value.end = p->v.end;
	} else if (tok_is(p, ks, ke, "extent_size")) {
		if (want_number(p, "extent_size", &vg->extent_sectors) &&
		    (vg->extent_sectors == 0 || vg->extent_sectors > UINT32_MAX))
			fail(p, "extent_size %llu is invalid", (unsigned long long)vg->extent_sectors);
		p->vg_has_extent_size = true;
	} else if (tok_is(p, ks, ke, "status")) {
		if (!p->v.is_array || !array_has(p, "WRITE") || !array_has(p, "RESIZEABLE")) {
			vg->writeable = false;
			lvm_msg(vg->not_writeable_why, sizeof(vg->not_writeable_why),
				 "Volume group \"%s\" is read-only.", vg->name);
		}
		if (p->v.is_array && array_has(p, "EXPORTED")) {
			vg->writeable = false;
			lvm_msg(vg->not_writeable_why, sizeof(vg->not_writeable_why),
				 "Volume group \"%s\" is exported", vg->name);
		}
	} else if (tok_is(p, ks, ke, "lock_type") || tok_is(p, ks, ke, "system_id")) {
		if (!p->v.is_array && p->v.scalar.is_string && p->v.scalar.end > p->v.scalar.start) {
			vg->writeable = false;
			lvm_msg(vg->not_writeable_why, sizeof(vg->not_writeable_why),
				 "Cannot change VG %s: it has a %.*s (shared or foreign VG).", vg->name,
				 (int)(ke - ks), p->s + ks);
		}
	}
}

static void assign_pv(struct parser *p, size_t ks, size_t ke)
{
	struct lvm_pv_info *pv;

	if (p->pv < 0)
		return;
	pv = &p->vg->pvs[p->pv];
	if (tok_is(p, ks, ke, "id")) {
		if (want_string(p, "id", pv->uuid, sizeof(pv->uuid)) && !valid_uuid(pv->uuid))
			fail(p, "PV id is not an lvm2 uuid");
	} else if (tok_is(p, ks, ke, "device")) {
		if (!p->v.is_array && p->v.scalar.is_string)
			want_string(p, "device", pv->device_hint, sizeof(pv->device_hint));
	} else if (tok_is(p, ks, ke, "dev_size")) {
		want_number(p, "dev_size", &pv->dev_size_sectors);
	} else if (tok_is(p, ks, ke, "pe_start")) {
		want_number(p, "pe_start", &pv->pe_start_sectors);
	} else if (tok_is(p, ks, ke, "pe_count")) {
		if (want_number(p, "pe_count", &pv->pe_count) && pv->pe_count > UINT32_MAX)
			fail(p, "pe_count is out of range");
	} else if (tok_is(p, ks, ke, "status")) {
		pv->allocatable = p->v.is_array && array_has(p, "ALLOCATABLE");
	}
}

static void assign_lv(struct parser *p, size_t ks, size_t ke)
{
	struct lvm_lv *lv;

	if (p->lv < 0)
		return;
	lv = &p->vg->lvs[p->lv];
	if (tok_is(p, ks, ke, "id")) {
		if (want_string(p, "id", lv->id, sizeof(lv->id)) && !valid_uuid(lv->id))
			fail(p, "LV id is not an lvm2 uuid");
	} else if (tok_is(p, ks, ke, "status")) {
		lv->status = 0;
		if (p->v.is_array) {
			if (array_has(p, "READ"))
				lv->status |= LVM_LV_READ;
			if (array_has(p, "WRITE"))
				lv->status |= LVM_LV_WRITE;
			if (array_has(p, "VISIBLE"))
				lv->status |= LVM_LV_VISIBLE;
		}
	} else if (tok_is(p, ks, ke, "segment_count")) {
		if (want_number(p, "segment_count", &p->lv_segment_count_declared))
			p->lv_has_segment_count = true;
		lv->segment_count_value.start = p->v.start;
		lv->segment_count_value.end = p->v.end;
	}
}

static int pv_by_key(const struct parser *p, const struct item *it)
{
	for (unsigned i = 0; i < p->vg->pv_count; i++)
		if (item_is(p, it, p->vg->pvs[i].key))
			return (int)i;
	return -1;
}

/* Collects the PV areas of a stripes or mirrors array: "pvN", start pairs. */
static void seg_areas(struct parser *p, bool mirror, bool stripes)
{
	struct seg_state *s = &p->seg;

	if (p->v.truncated)
		s->refs_overflow = true;
	for (unsigned i = 0; i < p->v.count; i += 2) {
		const struct item *name = &p->v.items[i], *start;
		int pv;

		if (i + 1 == p->v.count) {
			/* A list cut at META_ARRAY_ITEMS may end on a name. */
			if (!p->v.truncated)
				fail(p, "area list has an odd number of items");
			return;
		}
		start = &p->v.items[i + 1];
		if (!name->is_string) {
			fail(p, "area name is not a string");
			return;
		}
		pv = pv_by_key(p, name);
		if (pv < 0) {
			/* Layered segments name LVs here; that is not a PV area. */
			if (stripes) {
				s->area_not_pv = true;
				lvm_msg(s->unknown_pv, sizeof(s->unknown_pv), "%.*s",
					 (int)(name->end - name->start), p->s + name->start);
			}
			continue;
		}
		if (!start->is_number) {
			fail(p, "area start is not a number");
			return;
		}
		if (s->ref_count == META_SEG_REFS) {
			s->refs_overflow = true;
			continue;
		}
		s->refs[s->ref_count].pv = (unsigned)pv;
		s->refs[s->ref_count].start = start->number;
		s->refs[s->ref_count].mirror = mirror;
		s->ref_count++;
	}
}

static void assign_seg(struct parser *p, size_t ks, size_t ke)
{
	struct seg_state *s = &p->seg;

	if (tok_is(p, ks, ke, "start_extent")) {
		s->has_start = want_number(p, "start_extent", &s->start_extent);
	} else if (tok_is(p, ks, ke, "extent_count")) {
		s->has_count = want_number(p, "extent_count", &s->extent_count);
		s->extent_count_value.start = p->v.start;
		s->extent_count_value.end = p->v.end;
	} else if (tok_is(p, ks, ke, "type")) {
		want_string(p, "type", s->type, sizeof(s->type));
	} else if (tok_is(p, ks, ke, "stripe_count")) {
		s->has_stripes = want_number(p, "stripe_count", &s->stripe_count);
	} else if (p->v.is_array && tok_is(p, ks, ke, "stripes")) {
		seg_areas(p, false, true);
	} else if (p->v.is_array && tok_is(p, ks, ke, "mirrors")) {
		seg_areas(p, true, false);
	}
}

static void add_used(struct parser *p, unsigned pv, uint64_t start, uint64_t count)
{
	struct lvm_vg *vg = p->vg;

	if (!count)
		return;
	if (vg->used_count == LVM_MAX_USED) {
		vg->used_complete = false;
		return;
	}
	vg->used[vg->used_count].pv = pv;
	vg->used[vg->used_count].start = start;
	vg->used[vg->used_count].count = count;
	vg->used_count++;
}

/* A segment's closing brace: record its PV use; keep it if linear. */
static void seg_close(struct parser *p, size_t close_end)
{
	struct seg_state *s = &p->seg;
	struct lvm_vg *vg = p->vg;
	struct lvm_lv *lv;
	uint64_t stripes = s->has_stripes && s->stripe_count ? s->stripe_count : 1;
	const struct lvm_pv_info *pv;
	struct lvm_segment *seg;
	unsigned index = p->lv_segments_seen;

	if (!s->has_start || !s->has_count || !s->type[0]) {
		fail(p, "segment %u of an LV lacks start_extent, extent_count or type", index);
		return;
	}
	/* Extents in use count for every LV, kept or not (LVs past the limit). */
	if (s->refs_overflow)
		vg->used_complete = false;
	for (unsigned i = 0; i < s->ref_count; i++)
		add_used(p, s->refs[i].pv, s->refs[i].start,
			 s->refs[i].mirror ? s->extent_count : s->extent_count / stripes);
	if (p->lv < 0)
		return;
	lv = &vg->lvs[p->lv];
	lv->last_extent_count_value = s->extent_count_value;
	lv->last_segment_end = close_end;

	if (strcmp(s->type, "striped") != 0 && strcmp(s->type, "linear") != 0) {
		lv_refuse(p, "lv '%s': segment type '%s' not supported", lv->name, s->type);
		return;
	}
	if (stripes != 1) {
		lv_refuse(p, "lv '%s': segment type 'striped' with %llu stripes not supported",
			  lv->name, (unsigned long long)stripes);
		return;
	}
	if (s->area_not_pv) {
		lv_refuse(p, "lv '%s': segment %u is on '%s', not a PV of the VG", lv->name, index,
			  s->unknown_pv);
		return;
	}
	if (s->ref_count != 1) {
		lv_refuse(p, "lv '%s': segment %u has %u areas, not 1", lv->name, index, s->ref_count);
		return;
	}
	if (s->extent_count == 0 || s->start_extent != lv->extents) {
		lv_refuse(p, "lv '%s': segment %u does not follow the previous one", lv->name, index);
		return;
	}
	pv = &vg->pvs[s->refs[0].pv];
	if (s->refs[0].start > pv->pe_count || s->extent_count > pv->pe_count - s->refs[0].start) {
		lv_refuse(p, "lv '%s': segment %u ends past the last extent of %s (%llu > %llu)",
			  lv->name, index, pv->key,
			  (unsigned long long)(s->refs[0].start + s->extent_count),
			  (unsigned long long)pv->pe_count);
		return;
	}
	if (vg->segment_count == LVM_MAX_SEGMENTS) {
		lv_refuse(p, "lv '%s': more than %u segments in the VG", lv->name, LVM_MAX_SEGMENTS);
		return;
	}
	seg = &vg->segments[vg->segment_count++];
	seg->lv_start_extent = s->start_extent;
	seg->extents = s->extent_count;
	seg->pv = s->refs[0].pv;
	seg->pv_start_extent = s->refs[0].start;
	lv->segment_count++;
	lv->extents += s->extent_count;
}

/* ---- sections ----------------------------------------------------------------- */

static void name_copy(const struct parser *p, size_t s, size_t e, char *out, size_t out_len)
{
	size_t n = MIN(e - s, out_len - 1);

	memcpy(out, p->s + s, n);
	out[n] = 0;
}

/* Opens a section named [ns, ne) inside `parent`; returns the child's kind. */
static enum kind section_open(struct parser *p, enum kind parent, size_t ns, size_t ne)
{
	struct lvm_vg *vg = p->vg;

	switch (parent) {
	case K_TOP:
		if (p->vg_seen) {
			fail(p, "more than one volume group");
			return K_OTHER;
		}
		p->vg_seen = true;
		if (ne - ns >= LVM_NAME_BYTES) {
			fail(p, "VG name too long");
			return K_OTHER;
		}
		name_copy(p, ns, ne, vg->name, sizeof(vg->name));
		return K_VG;
	case K_VG:
		if (tok_is(p, ns, ne, "physical_volumes"))
			return K_PVS;
		if (tok_is(p, ns, ne, "logical_volumes"))
			return K_LVS;
		return K_OTHER;
	case K_PVS:
		if (vg->pv_count == LVM_MAX_PVS) {
			fail(p, "more than %u PVs in the VG", LVM_MAX_PVS);
			return K_OTHER;
		}
		if (ne - ns >= sizeof(vg->pvs[0].key)) {
			fail(p, "PV key too long");
			return K_OTHER;
		}
		for (unsigned i = 0; i < vg->pv_count; i++) {
			if (tok_is(p, ns, ne, vg->pvs[i].key)) {
				fail(p, "PV %s appears twice", vg->pvs[i].key);
				return K_OTHER;
			}
		}
		p->pv = (int)vg->pv_count++;
		memset(&vg->pvs[p->pv], 0, sizeof(vg->pvs[0]));
		name_copy(p, ns, ne, vg->pvs[p->pv].key, sizeof(vg->pvs[0].key));
		return K_PV;
	case K_LVS:
		if (ne - ns >= LVM_NAME_BYTES) {
			fail(p, "LV name too long");
			return K_OTHER;
		}
		for (unsigned i = 0; i < vg->lv_count; i++) {
			if (tok_is(p, ns, ne, vg->lvs[i].name)) {
				fail(p, "LV %s appears twice", vg->lvs[i].name);
				return K_OTHER;
			}
		}
		p->lv_segments_seen = 0;
		p->lv_has_segment_count = false;
		if (vg->lv_count == LVM_MAX_LVS) {
			/* Still parsed for the extents it uses, but not kept. */
			p->lv = -1;
			vg->writeable = false;
			lvm_msg(vg->not_writeable_why, sizeof(vg->not_writeable_why),
				 "VG %s has more than %u LVs; keel does not change it", vg->name,
				 LVM_MAX_LVS);
			return K_LV;
		}
		p->lv = (int)vg->lv_count++;
		{
			struct lvm_lv *lv = &vg->lvs[p->lv];

			memset(lv, 0, sizeof(*lv));
			name_copy(p, ns, ne, lv->name, sizeof(lv->name));
			lv->linear = true;
			lv->first_segment = vg->segment_count;
			lv->block.start = ns;
		}
		return K_LV;
	case K_LV:
		memset(&p->seg, 0, sizeof(p->seg));
		p->lv_segments_seen++;
		return K_SEG;
	default:
		return K_OTHER;
	}
}

static void section_close(struct parser *p, enum kind kind, size_t brace, size_t end)
{
	struct lvm_vg *vg = p->vg;

	switch (kind) {
	case K_VG:
		vg->vg_close = brace;
		break;
	case K_LVS:
		vg->lvs_close = brace;
		break;
	case K_PV:
		if (p->pv >= 0) {
			struct lvm_pv_info *pv = &vg->pvs[p->pv];

			if (!pv->uuid[0])
				fail(p, "PV %s has no id", pv->key);
			for (int i = 0; i < p->pv; i++)
				if (strcmp(vg->pvs[i].uuid, pv->uuid) == 0)
					fail(p, "PV id %s appears twice", pv->uuid);
			p->pv = -1;
		}
		break;
	case K_SEG:
		seg_close(p, end);
		break;
	case K_LV:
		if (p->lv >= 0) {
			struct lvm_lv *lv = &vg->lvs[p->lv];

			lv->block.end = end;
			if (!lv->id[0])
				fail(p, "LV %s has no id", lv->name);
			if (p->lv_segments_seen == 0)
				lv_refuse(p, "lv '%s' has no segments", lv->name);
			else if (p->lv_has_segment_count &&
				 p->lv_segment_count_declared != p->lv_segments_seen)
				lv_refuse(p, "lv '%s': segment_count %llu but %u segments", lv->name,
					  (unsigned long long)p->lv_segment_count_declared,
					  p->lv_segments_seen);
			if (!lv->linear) {
				/* Its segments, if any were kept, are not served. */
				vg->segment_count = lv->first_segment;
				lv->segment_count = 0;
			}
		}
		p->lv = -1;
		break;
	default:
		break;
	}
}

static void parse_block(struct parser *p, enum kind kind, unsigned depth)
{
	for (;;) {
		struct token name = next(p), t;

		if (p->err)
			return;
		if (name.kind == T_EOF) {
			if (kind != K_TOP)
				fail(p, "unexpected end of metadata");
			return;
		}
		if (name.kind == T_RBRACE) {
			if (kind == K_TOP)
				fail(p, "unbalanced '}'");
			return;
		}
		if (name.kind != T_WORD) {
			fail(p, "expected a name");
			return;
		}
		t = next(p);
		if (t.kind == T_EQ) {
			read_value(p);
			if (p->err)
				return;
			switch (kind) {
			case K_VG: assign_vg(p, name.start, name.end); break;
			case K_PV: assign_pv(p, name.start, name.end); break;
			case K_LV: assign_lv(p, name.start, name.end); break;
			case K_SEG: assign_seg(p, name.start, name.end); break;
			default: break;
			}
		} else if (t.kind == T_LBRACE) {
			enum kind child;
			size_t brace;

			if (depth + 1 >= META_DEPTH_MAX) {
				fail(p, "sections nested too deep");
				return;
			}
			child = section_open(p, kind, name.start, name.end);
			if (p->err)
				return;
			parse_block(p, child, depth + 1);
			if (p->err)
				return;
			brace = p->pos - 1;
			section_close(p, child, brace, p->pos);
		} else {
			fail(p, "expected '=' or '{' after '%.*s'", (int)MIN(name.end - name.start, 40),
			     p->s + name.start);
			return;
		}
		if (p->err)
			return;
	}
}

int lvm_vg_parse(const char *text, size_t len, struct lvm_vg *vg, char *reason, size_t reason_len)
{
	struct parser p;

	memset(vg, 0, sizeof(*vg));
	vg->writeable = true;
	vg->used_complete = true;
	memset(&p, 0, sizeof(p));
	p.s = text;
	p.len = len;
	p.line = 1;
	p.vg = vg;
	p.reason = reason;
	p.reason_len = reason_len;
	p.pv = -1;
	p.lv = -1;
	if (reason && reason_len)
		reason[0] = 0;
	parse_block(&p, K_TOP, 0);
	if (!p.err && !p.vg_seen)
		fail(&p, "no volume group");
	if (!p.err && (!vg->id[0] || !p.vg_has_extent_size || !vg->seqno_value.end))
		fail(&p, "VG %s lacks id, seqno or extent_size", vg->name);
	if (!p.err) {
		for (unsigned i = 0; i < vg->pv_count; i++) {
			const struct lvm_pv_info *pv = &vg->pvs[i];

			/* pe_start + pe_count * extent_size must fit, and the
			 * metadata must believe the extents fit on the device. */
			if (pv->pe_count > (UINT64_MAX >> 2) / vg->extent_sectors ||
			    pv->pe_start_sectors > (UINT64_MAX >> 2)) {
				fail(&p, "PV %s has an impossible size", pv->key);
				break;
			}
		}
	}
	if (p.err) {
		memset(vg, 0, sizeof(*vg));
		return p.err;
	}
	for (unsigned i = 0; i < vg->lv_count; i++) {
		struct lvm_lv *lv = &vg->lvs[i];

		for (unsigned k = 0; lv->linear && k < lv->segment_count; k++) {
			const struct lvm_segment *s = &vg->segments[lv->first_segment + k];
			const struct lvm_pv_info *pv = &vg->pvs[s->pv];
			uint64_t end = pv->pe_start_sectors +
				       (s->pv_start_extent + s->extents) * vg->extent_sectors;

			if (pv->dev_size_sectors && end > pv->dev_size_sectors) {
				lv->linear = false;
				lvm_msg(lv->why, sizeof(lv->why),
					 "lv '%s': segment %u ends past the end of %s (sector %llu > %llu)",
					 lv->name, k + 1, pv->key, (unsigned long long)end,
					 (unsigned long long)pv->dev_size_sectors);
			}
		}
		lv->usable = false;
		if (lv->linear && !lv->why[0])
			lvm_msg(lv->why, sizeof(lv->why), "lv '%s': its PVs are not attached", lv->name);
	}
	return 0;
}

int lvm_vg_attach_pv(struct lvm_vg *vg, const char *pv_uuid, uint64_t device_sectors)
{
	for (unsigned i = 0; i < vg->pv_count; i++) {
		if (strcmp(vg->pvs[i].uuid, pv_uuid) == 0) {
			vg->pvs[i].present = true;
			vg->pvs[i].device_sectors = device_sectors;
			return 0;
		}
	}
	return -ENOENT;
}

void lvm_vg_check(struct lvm_vg *vg)
{
	for (unsigned i = 0; i < vg->lv_count; i++) {
		struct lvm_lv *lv = &vg->lvs[i];

		lv->usable = false;
		if (!lv->linear)
			continue;
		lv->usable = true;
		lv->why[0] = 0;
		for (unsigned k = 0; k < lv->segment_count; k++) {
			const struct lvm_segment *s = &vg->segments[lv->first_segment + k];
			const struct lvm_pv_info *pv = &vg->pvs[s->pv];
			uint64_t end = pv->pe_start_sectors +
				       (s->pv_start_extent + s->extents) * vg->extent_sectors;

			if (!pv->present) {
				lvm_msg(lv->why, sizeof(lv->why), "lv '%s': PV %s (%s) is missing",
					 lv->name, pv->key, pv->uuid);
				lv->usable = false;
				break;
			}
			if (end > pv->device_sectors) {
				lvm_msg(lv->why, sizeof(lv->why),
					 "lv '%s': segment %u ends past the device end of %s (sector %llu > %llu)",
					 lv->name, k + 1, pv->key, (unsigned long long)end,
					 (unsigned long long)pv->device_sectors);
				lv->usable = false;
				break;
			}
		}
	}
}

int lvm_lv_map(const struct lvm_vg *vg, const struct lvm_lv *lv, struct lvm_extent *out,
	       unsigned max, unsigned *n)
{
	*n = 0;
	if (!lv->usable)
		return -EINVAL;
	if (lv->segment_count > max)
		return -E2BIG;
	for (unsigned k = 0; k < lv->segment_count; k++) {
		const struct lvm_segment *s = &vg->segments[lv->first_segment + k];

		out[k].pv = s->pv;
		out[k].pv_sector = vg->pvs[s->pv].pe_start_sectors + s->pv_start_extent * vg->extent_sectors;
		out[k].sectors = s->extents * vg->extent_sectors;
	}
	*n = lv->segment_count;
	return 0;
}

const struct lvm_lv *lvm_vg_find_lv(const struct lvm_vg *vg, const char *name)
{
	for (unsigned i = 0; i < vg->lv_count; i++)
		if (strcmp(vg->lvs[i].name, name) == 0)
			return &vg->lvs[i];
	return NULL;
}

uint64_t lvm_vg_extent_count(const struct lvm_vg *vg)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < vg->pv_count; i++)
		n += vg->pvs[i].pe_count;
	return n;
}

int lvm_free_run(const struct lvm_vg *vg, unsigned pv_index, uint64_t from, uint64_t *start,
		 uint64_t *count)
{
	const struct lvm_pv_info *pv = &vg->pvs[pv_index];
	uint64_t at = from;

	/* Used ranges may overlap in hostile metadata: skip past every range
	 * covering `at`, then the free run ends at the nearest range start.
	 * Each pass moves `at` past one range, so at most used_count passes. */
	for (unsigned pass = 0; pass <= vg->used_count && at < pv->pe_count; pass++) {
		uint64_t next_used = pv->pe_count, used_end = at;

		for (unsigned k = 0; k < vg->used_count; k++) {
			const struct lvm_used *u = &vg->used[k];
			uint64_t ue = u->start + u->count;

			if (u->pv != pv_index || ue <= at)
				continue;
			if (u->start <= at)
				used_end = MAX(used_end, ue);
			else if (u->start < next_used)
				next_used = u->start;
		}
		if (used_end > at) {
			at = used_end;
			continue;
		}
		*start = at;
		*count = next_used - at;
		return 0;
	}
	return -ENOENT;
}

uint64_t lvm_vg_free_extents(const struct lvm_vg *vg)
{
	uint64_t free_count = 0;

	for (unsigned i = 0; i < vg->pv_count; i++) {
		uint64_t at = 0, start, count;

		if (!vg->pvs[i].allocatable)
			continue;
		while (lvm_free_run(vg, i, at, &start, &count) == 0) {
			free_count += count;
			at = start + count;
		}
	}
	return free_count;
}

int lvm_vg_read(const struct disk_reader *disk, struct lvm_pv *pv, char *text, size_t text_cap,
		size_t *text_len, struct lvm_vg *vg, char *reason, size_t reason_len)
{
	char warning[LVM_REASON_BYTES];
	int rc;

	rc = lvm_pv_read(disk, pv, reason, reason_len);
	if (rc)
		return rc;
	rc = lvm_pv_read_text(disk, pv, text, text_cap, text_len, NULL, warning, sizeof(warning));
	if (rc) {
		lvm_msg(reason, reason_len, "%s", warning);
		return rc;
	}
	rc = lvm_vg_parse(text, *text_len, vg, reason, reason_len);
	if (rc)
		return rc;
	if (lvm_vg_attach_pv(vg, pv->uuid, disk->size_sectors * (disk->sector_bytes / 512)) != 0) {
		lvm_msg(reason, reason_len, "PV %s is not listed in the metadata of VG %s", pv->uuid,
		    vg->name);
		return -EINVAL;
	}
	lvm_vg_check(vg);
	lvm_msg(reason, reason_len, "%s", warning);
	return 0;
}

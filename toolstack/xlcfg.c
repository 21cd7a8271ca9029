/*
 * The xl.cfg parser (see include/keel/xlcfg.h).  It owns the file syntax and
 * the meaning of each key; what the domain builder does with the result is
 * toolstack/domain*.c's business.
 *
 * Design.  Three stages, each of which stops at the first error:
 *  1. prescan: size, line length and NUL bytes, so later stages are bounded;
 *  2. lex + parse into a flat table of settings (key -> value tree).  The
 *     parser is hand-written but walks the same states as libxlu's bison
 *     grammar, and each state's "expecting ..." text is what bison prints
 *     there, default reductions included (which is why, inside a list, only
 *     ']' is ever "expected");
 *  3. interpret: each setting, in file order, through its key's handler into
 *     struct domain_config; then the cross-key checks (name, kernel, maxmem
 *     >= memory, ...).
 * The settings table is freed before returning; only the domain_config
 * survives, owned by the caller.
 */
#include <lib/base.h>
#include <keel/xlcfg.h>

#define MAX_VALUES 4096         /* atoms and lists in one file */
#define NEAR_BYTES 48           /* of a token quoted in a message */

/* ---- values and settings ------------------------------------------------- */

struct value {
	bool is_list;
	int line;
	char *atom;                     /* !is_list: string or number text */
	struct value **items;           /* is_list */
	size_t nr_items;
	size_t cap_items;
};

struct setting {
	char *key;
	bool added;                     /* last written with "+=" */
	int line;                       /* of the key, last assignment */
	struct value *value;
};

struct parse {
	const char *file;
	const char *p, *end;
	int line;                       /* of *p */
	int last_line;                  /* of the last token; $end is reported here */
	char *err;
	size_t errlen;
	struct setting *settings;
	size_t nr_settings;
	size_t nr_values;
	struct domain_config *cfg;
	/* Lines of what the cross-key checks must name. */
	int memory_line, maxmem_line, vcpus_line, maxvcpus_line, cmdline_line;
	bool memory_set, maxmem_set, vcpus_set, maxvcpus_set;
	char *extra, *root;             /* kept until the cmdline is built */
};

static void value_free(struct value *v)
{
	if (!v)
		return;
	kfree(v->atom);
	for (size_t i = 0; i < v->nr_items; i++)
		value_free(v->items[i]);
	kfree(v->items);
	kfree(v);
}

/* ---- messages ------------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int errf(struct parse *ps, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!ps->errlen)
		return -EINVAL;
	/* Without a file (a spec from a command line) there is no place to name. */
	n = ps->file ? snprintf(ps->err, ps->errlen, "%s:%d: ", ps->file, line) : 0;
	if (n >= 0 && (size_t)n < ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err + n, ps->errlen - n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/*
 * Copies at most NEAR_BYTES of s[0..len) into buf (which has NEAR_BYTES + 4
 * bytes), control characters shown as '?', "..." when cut.
 */
static const char *sanitize(const char *s, size_t len, char *buf)
{
	size_t n = MIN(len, (size_t)NEAR_BYTES), i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	if (n < len) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = 0;
	return buf;
}

#define SANE_BYTES (NEAR_BYTES + 4)

/* ---- lexer ------------------------------------------------------------------ */

enum tok_kind {
	TK_END, TK_IDENT, TK_STRING, TK_NUMBER, TK_NEWLINE, TK_ADD,
	TK_EQUALS, TK_SEMI, TK_LBRACKET, TK_RBRACKET, TK_COMMA,
};

/* As bison's yytname, after its yytnamerr unquoting. */
static const char *const tok_names[] = {
	[TK_END] = "$end", [TK_IDENT] = "IDENT", [TK_STRING] = "STRING",
	[TK_NUMBER] = "NUMBER", [TK_NEWLINE] = "NEWLINE", [TK_ADD] = "+=",
	[TK_EQUALS] = "'='", [TK_SEMI] = "';'", [TK_LBRACKET] = "'['",
	[TK_RBRACKET] = "']'", [TK_COMMA] = "','",
};

struct tok {
	enum tok_kind kind;
	const char *text;               /* raw, for "near" and atoms */
	size_t len;
	int line;
};

static bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* As libxlu's lexer: the bad character and what follows it up to a blank. */
static int lexical_error(struct parse *ps, const char *at, const char *why)
{
	const char *q = at + 1;
	char near[SANE_BYTES];

	while (q < ps->end && *q != ' ' && *q != '\t' && *q != '\n')
		q++;
	return errf(ps, ps->line, "config parsing error near `%s': %s",
		    sanitize(at, (size_t)(q - at), near), why);
}

static int lex(struct parse *ps, struct tok *t)
{
	const char *p = ps->p, *end = ps->end;

	/* A "\r\n" ending is taken as "\n" (xl would call the \r a lexical error). */
	while (p < end && (*p == ' ' || *p == '\t' ||
			   (*p == '\r' && p + 1 < end && p[1] == '\n')))
		p++;
	t->text = p;
	t->line = ps->line;
	if (p == end) {
		t->kind = TK_END;
		t->len = 0;
		t->line = ps->last_line;
		ps->p = p;
		return 0;
	}
	switch (*p) {
	case '\n':
	case '#': {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		/* A comment and its newline are one NEWLINE token, as in libxlu. */
		t->kind = TK_NEWLINE;
		t->len = (size_t)((nl ? nl : end) - p);
		ps->p = nl ? nl + 1 : end;
		if (nl)
			ps->line++;
		ps->last_line = t->line;
		return 0;
	}
	case '=': t->kind = TK_EQUALS; break;
	case ';': t->kind = TK_SEMI; break;
	case '[': t->kind = TK_LBRACKET; break;
	case ']': t->kind = TK_RBRACKET; break;
	case ',': t->kind = TK_COMMA; break;
	case '+':
		if (p + 1 < end && p[1] == '=') {
			t->kind = TK_ADD;
			t->len = 2;
			ps->p = p + 2;
			ps->last_line = t->line;
			return 0;
		}
		return lexical_error(ps, p, "lexical error");
	case '"':
	case '\'': {
		const char *q = p + 1;

		while (q < end && *q != *p && *q != '\n') {
			if (*q == '\\') {
				if (q + 1 >= end || q[1] == '\n')
					break;
				q++;
			}
			q++;
		}
		if (q >= end || *q != *p)
			return lexical_error(ps, p, "lexical error");
		t->kind = TK_STRING;
		t->len = (size_t)(q + 1 - p);
		ps->p = q + 1;
		ps->last_line = t->line;
		return 0;
	}
	default:
		if (is_lower(*p) || is_digit(*p)) {
			const char *q = p + 1;
			bool ident = is_lower(*p);

			/* IDENT [a-z][_0-9a-z]*, NUMBER [0-9][0-9a-fx]* */
			while (q < end && (ident ? is_lower(*q) || is_digit(*q) || *q == '_' :
					   is_digit(*q) || (*q >= 'a' && *q <= 'f') || *q == 'x'))
				q++;
			t->kind = ident ? TK_IDENT : TK_NUMBER;
			t->len = (size_t)(q - p);
			ps->p = q;
			ps->last_line = t->line;
			return 0;
		}
		return lexical_error(ps, p, "lexical error");
	}
	t->len = 1;
	ps->p = p + 1;
	ps->last_line = t->line;
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes a quoted STRING token (C escapes, as libxlu's dequote) into *out. */
static int dequote(struct parse *ps, const struct tok *t, char **out)
{
	const char *s = t->text + 1, *end = t->text + t->len - 1;
	char near[SANE_BYTES];
	char *buf = kmalloc(t->len), *q = buf;

	if (!buf)
		return -ENOMEM;
	while (s < end) {
		int c = (unsigned char)*s++;

		if (c == '\\') {
			int e = *s++;
			const char *why = NULL;

			switch (e) {
			case '"': case '\'': case '\\': c = e; break;
			case 'a': c = '\a'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'n': c = '\n'; break;
			case 'r': c = '\r'; break;
			case 't': c = '\t'; break;
			case 'v': c = '\v'; break;
			case 'x':
				if (end - s < 2 || hexval(s[0]) < 0 || hexval(s[1]) < 0) {
					why = "invalid digit after backslash hex numerical character escape in quoted string";
					break;
				}
				c = hexval(s[0]) * 16 + hexval(s[1]);
				s += 2;
				break;
			default:
				if (e >= '0' && e <= '7') {
					c = e - '0';
					for (int i = 0; i < 2 && s < end && *s >= '0' && *s <= '7'; i++)
						c = c * 8 + (*s++ - '0');
					if (c > 0xff)
						why = "octal character escape out of range in quoted string";
					break;
				}
				why = "invalid character after backslash in quoted string";
			}
			if (!why && c == 0)
				why = "NUL character escape in quoted string";
			if (why) {
				kfree(buf);
				return errf(ps, t->line, "config parsing error near `%s': %s",
					    sanitize(t->text, t->len, near), why);
			}
		}
		*q++ = (char)c;
	}
	*q = 0;
	*out = buf;
	return 0;
}

/* ---- parser ------------------------------------------------------------------ */

static int syntax_error(struct parse *ps, const struct tok *t, const char *expecting)
{
	char near[SANE_BYTES + 2];
	size_t len = t->len;

	/* libxlu shows a NEWLINE token's comment, blanks trimmed, or <newline>. */
	if (t->kind == TK_NEWLINE) {
		while (len && (t->text[len - 1] == ' ' || t->text[len - 1] == '\t' ||
			       t->text[len - 1] == '\r'))
			len--;
	}
	if (t->kind == TK_END) {
		snprintf(near, sizeof(near), "end of file");
	} else if (len == 0) {
		snprintf(near, sizeof(near), "<newline>");
	} else {
		char s[SANE_BYTES];

		snprintf(near, sizeof(near), "`%s'", sanitize(t->text, len, s));
	}
	return errf(ps, t->line, "config parsing error near %s: syntax error, unexpected %s, expecting %s",
		    near, tok_names[t->kind], expecting);
}

static int limit_error(struct parse *ps, const struct tok *t, const char *why)
{
	char near[SANE_BYTES];

	return errf(ps, t->line, "config parsing error near `%s': %s",
		    sanitize(t->text, t->len, near), why);
}

static struct value *value_new(struct parse *ps, int line)
{
	struct value *v;

	if (ps->nr_values >= MAX_VALUES)
		return NULL;
	v = kzalloc(sizeof(*v));
	if (v) {
		v->line = line;
		ps->nr_values++;
	}
	return v;
}

static int list_append(struct value *list, struct value *item)
{
	if (list->nr_items == list->cap_items) {
		size_t cap = list->cap_items ? list->cap_items * 2 : 4;
		struct value **items = krealloc(list->items, cap * sizeof(*items));

		if (!items)
			return -ENOMEM;
		list->items = items;
		list->cap_items = cap;
	}
	list->items[list->nr_items++] = item;
	return 0;
}

/* Lexes the next token that is not a NEWLINE (newlines are free in lists). */
static int lex_skip_newlines(struct parse *ps, struct tok *t)
{
	int rc;

	do
		rc = lex(ps, t);
	while (!rc && t->kind == TK_NEWLINE);
	return rc;
}

/* Parses the value that starts with *t (STRING, NUMBER or '['). */
static int parse_value(struct parse *ps, const struct tok *t, int depth, struct value **out)
{
	struct value *v;
	struct tok n;
	int rc;

	if (ps->nr_values >= MAX_VALUES)
		return limit_error(ps, t, "too many values in one file");
	if (t->kind == TK_LBRACKET && depth >= XLCFG_MAX_LIST_DEPTH)
		return limit_error(ps, t, "lists nested too deeply");
	v = value_new(ps, t->line);
	if (!v)
		return -ENOMEM;
	if (t->kind == TK_STRING) {
		rc = dequote(ps, t, &v->atom);
		goto out;
	}
	if (t->kind == TK_NUMBER) {
		v->atom = strndup(t->text, t->len);
		rc = v->atom ? 0 : -ENOMEM;
		goto out;
	}
	v->is_list = true;
	for (;;) {
		struct value *item;

		/* After '[' or ',': an item or ']'. */
		rc = lex_skip_newlines(ps, &n);
		if (rc)
			goto out;
		if (n.kind == TK_RBRACKET)
			break;
		if (n.kind != TK_STRING && n.kind != TK_NUMBER && n.kind != TK_LBRACKET) {
			rc = syntax_error(ps, &n, "']'");
			goto out;
		}
		if (v->nr_items >= XLCFG_MAX_LIST_ITEMS) {
			rc = limit_error(ps, &n, "list has too many items");
			goto out;
		}
		rc = parse_value(ps, &n, depth + 1, &item);
		if (rc)
			goto out;
		rc = list_append(v, item);
		if (rc) {
			value_free(item);
			goto out;
		}
		/* After an item: ',' or ']'. */
		rc = lex_skip_newlines(ps, &n);
		if (rc)
			goto out;
		if (n.kind == TK_RBRACKET)
			break;
		if (n.kind != TK_COMMA) {
			rc = syntax_error(ps, &n, "']'");
			goto out;
		}
	}
	rc = 0;
out:
	if (rc) {
		value_free(v);
		return rc;
	}
	*out = v;
	return 0;
}

static struct setting *find_setting(struct parse *ps, const char *key)
{
	for (size_t i = 0; i < ps->nr_settings; i++)
		if (!strcmp(ps->settings[i].key, key))
			return &ps->settings[i];
	return NULL;
}

/*
 * Records key = value (or key += value).  A repeated key replaces the
 * earlier value, as libxlu's lookups find the newest; "+=" appends to it.
 */
static int store(struct parse *ps, const struct tok *key, bool add, struct value *v)
{
	char *name = strndup(key->text, key->len);
	struct setting *s;
	int rc = 0;

	if (!name) {
		value_free(v);
		return -ENOMEM;
	}
	s = find_setting(ps, name);
	if (s && add) {
		struct value *old = s->value;

		if (old->is_list != v->is_list) {
			rc = errf(ps, key->line, "config parsing error near `%s': can't add [list] to \"string\" or vice versa",
				  name);
		} else if (!v->is_list) {
			size_t a = strlen(old->atom), b = strlen(v->atom);
			char *cat = kmalloc(a + b + 1);

			if (!cat) {
				rc = -ENOMEM;
			} else {
				memcpy(cat, old->atom, a);
				memcpy(cat + a, v->atom, b + 1);
				kfree(v->atom);
				v->atom = cat;
			}
		} else if (old->nr_items + v->nr_items > XLCFG_MAX_LIST_ITEMS) {
			rc = errf(ps, key->line, "config parsing error near `%s': list has too many items", name);
		} else {
			/* The old items, then the new ones; v takes them all over. */
			size_t total = old->nr_items + v->nr_items;
			struct value **items = kmalloc(MAX(total, (size_t)1) * sizeof(*items));

			if (!items) {
				rc = -ENOMEM;
			} else {
				memcpy(items, old->items, old->nr_items * sizeof(*items));
				memcpy(items + old->nr_items, v->items, v->nr_items * sizeof(*items));
				kfree(v->items);
				v->items = items;
				v->nr_items = v->cap_items = total;
				old->nr_items = 0;
			}
		}
	}
	if (rc) {
		kfree(name);
		value_free(v);
		return rc;
	}
	if (s) {
		value_free(s->value);
		s->value = v;
		s->added = add;
		s->line = key->line;
		kfree(name);
		return 0;
	}
	if (ps->nr_settings >= XLCFG_MAX_SETTINGS) {
		kfree(name);
		value_free(v);
		return errf(ps, key->line, "config parsing error near `%.*s': too many settings in one file",
			    (int)MIN(key->len, (size_t)NEAR_BYTES), key->text);
	}
	s = &ps->settings[ps->nr_settings++];
	s->key = name;
	s->added = add;
	s->line = key->line;
	s->value = v;
	return 0;
}

static int parse_file(struct parse *ps)
{
	for (;;) {
		struct tok t, op, val;
		struct value *v;
		int rc = lex(ps, &t);

		if (rc)
			return rc;
		if (t.kind == TK_END)
			return 0;
		if (t.kind == TK_NEWLINE || t.kind == TK_SEMI)
			continue;
		if (t.kind != TK_IDENT)
			return syntax_error(ps, &t, "$end or IDENT or NEWLINE or ';'");
		rc = lex(ps, &op);
		if (rc)
			return rc;
		if (op.kind != TK_EQUALS && op.kind != TK_ADD)
			return syntax_error(ps, &op, "+= or '='");
		rc = lex(ps, &val);
		if (rc)
			return rc;
		if (val.kind != TK_STRING && val.kind != TK_NUMBER && val.kind != TK_LBRACKET)
			return syntax_error(ps, &val, "STRING or NUMBER or '['");
		rc = parse_value(ps, &val, 0, &v);
		if (rc)
			return rc;
		rc = store(ps, &t, op.kind == TK_ADD, v);
		if (rc)
			return rc;
		/* A statement ends at a newline, a ';' or the end of the file. */
		rc = lex(ps, &t);
		if (rc)
			return rc;
		if (t.kind == TK_END)
			return 0;
		if (t.kind != TK_NEWLINE && t.kind != TK_SEMI)
			return syntax_error(ps, &t, "$end");
	}
}

/* Bounds the input before anything is allocated for it. */
static int prescan(struct parse *ps, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	int line = 1;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;

		if ((size_t)(eol - p) > XLCFG_MAX_LINE_BYTES)
			return errf(ps, line, "line is longer than %u bytes",
				    (unsigned int)XLCFG_MAX_LINE_BYTES);
		if ((size_t)(eol - text) > XLCFG_MAX_FILE_BYTES)
			return errf(ps, line, "config file is larger than %u bytes",
				    (unsigned int)XLCFG_MAX_FILE_BYTES);
		if (memchr(p, 0, (size_t)(eol - p)))
			return errf(ps, line, "config file contains a NUL byte");
		p = nl ? nl + 1 : end;
		line++;
	}
	return 0;
}

/* ---- values to fields ------------------------------------------------------- */

static const char *const action_names[] = {
	[XLCFG_ACTION_DESTROY] = "destroy",
	[XLCFG_ACTION_RESTART] = "restart",
	[XLCFG_ACTION_RENAME_RESTART] = "rename-restart",
	[XLCFG_ACTION_PRESERVE] = "preserve",
	[XLCFG_ACTION_COREDUMP_DESTROY] = "coredump-destroy",
	[XLCFG_ACTION_COREDUMP_RESTART] = "coredump-restart",
	[XLCFG_ACTION_SOFT_RESET] = "soft-reset",
};

const char *xlcfg_action_name(enum xlcfg_action action)
{
	if ((unsigned int)action < ARRAY_SIZE(action_names))
		return action_names[action];
	return "?";
}

static int get_string(struct parse *ps, const struct setting *s, const char **out)
{
	*out = "";
	if (s->value->is_list)
		return errf(ps, s->line, "parameter `%s' is a list but should be a single value", s->key);
	*out = s->value->atom;
	return 0;
}

static int get_list(struct parse *ps, const struct setting *s)
{
	if (!s->value->is_list)
		return errf(ps, s->line, "parameter `%s' is a single value but should be a list", s->key);
	return 0;
}

/* As strtol(s, &end, 0) with a check that all of s is used: 0 or -EINVAL/-ERANGE. */
static int parse_integer(const char *s, long long *out)
{
	unsigned long long v = 0, limit;
	bool neg = false;
	unsigned int base = 10;
	int digits = 0;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') && hexval(s[2]) >= 0) {
		base = 16;
		s += 2;
	} else if (s[0] == '0') {
		base = 8;
	}
	limit = neg ? (unsigned long long)INT64_MAX + 1 : (unsigned long long)INT64_MAX;
	for (; *s; s++, digits++) {
		int d = hexval(*s);

		if (d < 0 || (unsigned int)d >= base)
			return -EINVAL;
		if (v > (limit - (unsigned int)d) / base)
			return -ERANGE;
		v = v * base + (unsigned int)d;
	}
	if (!digits)
		return -EINVAL;
	*out = neg ? (long long)(0 - v) : (long long)v;
	return 0;
}

static int get_integer(struct parse *ps, const struct setting *s, long long min, long long max,
		       const char *unit, long long *out)
{
	char sane[SANE_BYTES];
	const char *str;
	int rc = get_string(ps, s, &str);

	if (rc)
		return rc;
	if (s->added)
		return errf(ps, s->line, "can't use += with numbers for parameter `%s'", s->key);
	rc = parse_integer(str, out);
	if (rc == -EINVAL)
		return errf(ps, s->line, "parameter `%s' is not a valid number: `%s'", s->key,
			    sanitize(str, strlen(str), sane));
	if (rc || *out < min || *out > max)
		return errf(ps, s->line, "parameter `%s' is %s%s; it must be between %lld and %lld%s",
			    s->key, sanitize(str, strlen(str), sane), unit, min, max, unit);
	return 0;
}

/* Replaces *field with a copy of the string value of s. */
static int set_string(struct parse *ps, const struct setting *s, char **field)
{
	const char *str;
	char *copy;
	int rc = get_string(ps, s, &str);

	if (rc)
		return rc;
	copy = strdup(str);
	if (!copy)
		return -ENOMEM;
	kfree(*field);
	*field = copy;
	return 0;
}

static int set_path(struct parse *ps, const struct setting *s, char **field)
{
	int rc = set_string(ps, s, field);

	if (!rc && !**field)
		return errf(ps, s->line, "parameter `%s' is an empty path", s->key);
	return rc;
}

static int key_name(struct parse *ps, const struct setting *s)
{
	char sane[SANE_BYTES];
	struct domain_config *cfg = ps->cfg;
	bool digits_only = true;
	size_t len;
	int rc = set_string(ps, s, &cfg->name);

	if (rc)
		return rc;
	len = strlen(cfg->name);
	if (!len)
		return errf(ps, s->line, "name is empty");
	if (len > XLCFG_MAX_NAME_BYTES)
		return errf(ps, s->line, "name `%s' is longer than %d bytes",
			    sanitize(cfg->name, len, sane), XLCFG_MAX_NAME_BYTES);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)cfg->name[i];

		if (c <= ' ' || c == 0x7f || c == '/')
			return errf(ps, s->line, "name `%s' contains a blank, control character or '/'",
				    sanitize(cfg->name, len, sane));
		digits_only &= is_digit((char)c);
	}
	/* xl's commands take a domid or a name: "5" would be ambiguous. */
	if (digits_only)
		return errf(ps, s->line, "name `%s' is all digits, which xl would read as a domid",
			    cfg->name);
	return 0;
}

static int key_uuid(struct parse *ps, const struct setting *s)
{
	char sane[SANE_BYTES];
	struct domain_config *cfg = ps->cfg;
	int rc = set_string(ps, s, &cfg->uuid);
	char *u = cfg->uuid;

	if (rc)
		return rc;
	/*
	 * xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx, as uuid_parse() wants it.  The
	 * groups have even lengths, so a byte's two digits never straddle a '-'.
	 */
	if (strlen(u) != 36)
		goto bad;
	for (int i = 0, b = 0; i < 36;) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (u[i++] != '-')
				goto bad;
			continue;
		}
		if (hexval(u[i]) < 0 || hexval(u[i + 1]) < 0)
			goto bad;
		cfg->uuid_bytes[b++] = (uint8_t)(hexval(u[i]) * 16 + hexval(u[i + 1]));
		i += 2;
	}
	for (int i = 0; i < 36; i++)
		if (u[i] >= 'A' && u[i] <= 'F')
			u[i] = (char)(u[i] - 'A' + 'a');
	return 0;
bad:
	return errf(ps, s->line, "uuid `%s' is not of the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
		    sanitize(u, strlen(u), sane));
}

static int key_memory(struct parse *ps, const struct setting *s)
{
	long long v;
	int rc = get_integer(ps, s, 1, (long long)XLCFG_MAX_MEMORY_MIB, " MiB", &v);

	if (rc)
		return rc;
	if (!strcmp(s->key, "memory")) {
		ps->cfg->memory_mib = (uint64_t)v;
		ps->memory_set = true;
		ps->memory_line = s->line;
	} else {
		ps->cfg->maxmem_mib = (uint64_t)v;
		ps->maxmem_set = true;
		ps->maxmem_line = s->line;
	}
	return 0;
}

static int key_vcpus(struct parse *ps, const struct setting *s)
{
	long long v;
	int rc = get_integer(ps, s, 1, XLCFG_MAX_VCPUS, "", &v);

	if (rc)
		return rc;
	if (!strcmp(s->key, "vcpus")) {
		ps->cfg->vcpus = (unsigned int)v;
		ps->vcpus_set = true;
		ps->vcpus_line = s->line;
	} else {
		ps->cfg->maxvcpus = (unsigned int)v;
		ps->maxvcpus_set = true;
		ps->maxvcpus_line = s->line;
	}
	return 0;
}

static int key_frames(struct parse *ps, const struct setting *s)
{
	long long v;
	int rc = get_integer(ps, s, 1, 1 << 20, "", &v);

	if (rc)
		return rc;
	if (!strcmp(s->key, "max_grant_frames"))
		ps->cfg->max_grant_frames = (int)v;
	else
		ps->cfg->max_maptrack_frames = (int)v;
	return 0;
}

static int key_kernel(struct parse *ps, const struct setting *s)
{
	ps->cfg->kernel_line = s->line;
	return set_path(ps, s, &ps->cfg->kernel);
}

static int key_ramdisk(struct parse *ps, const struct setting *s)
{
	ps->cfg->ramdisk_line = s->line;
	return set_path(ps, s, &ps->cfg->ramdisk);
}

static int key_cmdline(struct parse *ps, const struct setting *s)
{
	int rc;

	if (!strcmp(s->key, "cmdline"))
		rc = set_string(ps, s, &ps->cfg->cmdline);
	else if (!strcmp(s->key, "extra"))
		rc = set_string(ps, s, &ps->extra);
	else
		rc = set_string(ps, s, &ps->root);
	/* The line a too-long command line is blamed on: the last contributor. */
	if (!rc)
		ps->cmdline_line = MAX(ps->cmdline_line, s->line);
	return rc;
}

static int key_action(struct parse *ps, const struct setting *s)
{
	char sane[SANE_BYTES];
	enum xlcfg_action *field;
	const char *str;
	int rc = get_string(ps, s, &str);

	if (rc)
		return rc;
	if (!strcmp(s->key, "on_poweroff"))
		field = &ps->cfg->on_poweroff;
	else if (!strcmp(s->key, "on_reboot"))
		field = &ps->cfg->on_reboot;
	else if (!strcmp(s->key, "on_crash"))
		field = &ps->cfg->on_crash;
	else if (!strcmp(s->key, "on_watchdog"))
		field = &ps->cfg->on_watchdog;
	else
		field = &ps->cfg->on_soft_reset;
	for (size_t i = 0; i < ARRAY_SIZE(action_names); i++) {
		if (!strcmp(str, action_names[i])) {
			*field = (enum xlcfg_action)i;
			return 0;
		}
	}
	return errf(ps, s->line, "unknown %s action `%s' (destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart or soft-reset)",
		    s->key, sanitize(str, strlen(str), sane));
}

static int key_type(struct parse *ps, const struct setting *s)
{
	char sane[SANE_BYTES];
	const char *str;
	int rc = get_string(ps, s, &str);

	if (rc)
		return rc;
	if (!strcmp(s->key, "type")) {
		if (!strcmp(str, "pv"))
			return 0;
		if (!strcmp(str, "hvm") || !strcmp(str, "pvh"))
			return errf(ps, s->line, "type \"%s\" is not supported by keel: it builds PV guests only", str);
		return errf(ps, s->line, "unknown type `%s' (pv, pvh or hvm)", sanitize(str, strlen(str), sane));
	}
	/* The pre-"type" spelling: builder = "generic" (or "linux") is PV. */
	if (!strcmp(str, "generic") || !strcmp(str, "linux"))
		return 0;
	if (!strcmp(str, "hvm"))
		return errf(ps, s->line, "builder \"hvm\" is not supported by keel: it builds PV guests only");
	return errf(ps, s->line, "unknown builder `%s' (generic or hvm)", sanitize(str, strlen(str), sane));
}

static int key_ignored(struct parse *ps, const struct setting *s)
{
	(void)ps;
	(void)s;
	return 0;
}

/* vnc and sdl: 0 asks for nothing; anything else would want graphics. */
static int key_zero_only(struct parse *ps, const struct setting *s)
{
	long long v;
	int rc = get_integer(ps, s, INT32_MIN, INT32_MAX, "", &v);

	if (rc)
		return rc;
	if (v)
		return errf(ps, s->line, "%s = %lld is not supported by keel: it has no graphics", s->key, v);
	return 0;
}

static int key_empty_list_only(struct parse *ps, const struct setting *s)
{
	int rc = get_list(ps, s);

	if (rc)
		return rc;
	if (s->value->nr_items)
		return errf(ps, s->line, "a non-empty `%s' list is not supported by keel", s->key);
	return 0;
}

static int key_unsupported(struct parse *ps, const struct setting *s)
{
	return errf(ps, s->line, "parameter `%s' is not supported by keel", s->key);
}

/*
 * keel runs no bootloader in dom0 (pygrub reads the guest's disk as root):
 * the guest boots from its own disk through PV GRUB, loaded as its kernel.
 */
static int key_bootloader(struct parse *ps, const struct setting *s)
{
	return errf(ps, s->line,
		    "parameter `%s' is not supported by keel: to boot from the guest's disk use "
		    "kernel = \"" KEEL_PVGRUB_HINT "\" (PV GRUB)", s->key);
}

/* ---- disk = [ ... ] ----------------------------------------------------------- */

struct disk_parse {
	struct parse *ps;
	const char *spec;
	int line;
	struct xlcfg_disk *disk;
	bool format_set;
	bool access_set;
	bool had_prefix;
};

static int disk_err(struct disk_parse *dp, const char *near, size_t near_len, const char *why)
{
	char a[SANE_BYTES], b[SANE_BYTES];

	if (!near)
		return errf(dp->ps, dp->line, "config parsing error in disk specification: %s in `%s'",
			    why, sanitize(dp->spec, strlen(dp->spec), b));
	return errf(dp->ps, dp->line, "config parsing error in disk specification: %s: near `%s' in `%s'",
		    why, sanitize(near, near_len, a), sanitize(dp->spec, strlen(dp->spec), b));
}

/* Sets a string parameter once: respecifying a non-empty one is an error. */
static int disk_save(struct disk_parse *dp, char **field, const char *val, size_t len,
		     const char *respecified)
{
	char *copy;

	if (*field && **field)
		return disk_err(dp, val, len, respecified);
	copy = strndup(val, len);
	if (!copy)
		return -ENOMEM;
	kfree(*field);
	*field = copy;
	return 0;
}

static bool word_is(const char *s, size_t len, const char *word)
{
	return strlen(word) == len && !memcmp(s, word, len);
}

static int disk_format(struct disk_parse *dp, const char *s, size_t len)
{
	static const struct { const char *name; enum xlcfg_disk_format format; } formats[] = {
		{ "", XLCFG_DISK_FORMAT_RAW }, { "raw", XLCFG_DISK_FORMAT_RAW },
		{ "qcow", XLCFG_DISK_FORMAT_QCOW }, { "qcow2", XLCFG_DISK_FORMAT_QCOW2 },
		{ "vhd", XLCFG_DISK_FORMAT_VHD }, { "empty", XLCFG_DISK_FORMAT_EMPTY },
		{ "qed", XLCFG_DISK_FORMAT_QED },
	};

	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		if (!word_is(s, len, formats[i].name))
			continue;
		if (dp->format_set && dp->disk->format != formats[i].format)
			return disk_err(dp, s, len, "format respecified");
		dp->disk->format = formats[i].format;
		dp->format_set = true;
		return 0;
	}
	return disk_err(dp, s, len, "unknown value for format");
}

static int disk_access(struct disk_parse *dp, const char *s, size_t len)
{
	if (word_is(s, len, "r") || word_is(s, len, "ro"))
		dp->disk->readwrite = false;
	else if (word_is(s, len, "w") || word_is(s, len, "rw") || !len)
		dp->disk->readwrite = true;
	else
		return disk_err(dp, s, len, "unknown value for access");
	dp->access_set = true;
	return 0;
}

static int disk_backendtype(struct disk_parse *dp, const char *s, size_t len)
{
	static const char *const names[] = {
		[XLCFG_DISK_BACKENDTYPE_PHY] = "phy", [XLCFG_DISK_BACKENDTYPE_TAP] = "tap",
		[XLCFG_DISK_BACKENDTYPE_QDISK] = "qdisk",
		[XLCFG_DISK_BACKENDTYPE_STANDALONE] = "standalone",
	};

	for (size_t i = XLCFG_DISK_BACKENDTYPE_PHY; i < ARRAY_SIZE(names); i++) {
		if (!word_is(s, len, names[i]))
			continue;
		if (dp->disk->backendtype != XLCFG_DISK_BACKENDTYPE_UNSET &&
		    dp->disk->backendtype != (enum xlcfg_disk_backendtype)i)
			return disk_err(dp, s, len, "backendtype respecified");
		dp->disk->backendtype = (enum xlcfg_disk_backendtype)i;
		return 0;
	}
	return disk_err(dp, s, len, "unknown value for backendtype");
}

/* A positional vdev may be "<vdev>:cdrom" or "<vdev>:disk" (deprecated). */
static int disk_vdev(struct disk_parse *dp, const char *s, size_t len, bool *had_devtype)
{
	const char *colon = NULL;

	for (size_t i = 0; i < len; i++)
		if (s[i] == ':')
			colon = s + i;
	*had_devtype = colon != NULL;
	if (!colon)
		return disk_save(dp, &dp->disk->vdev, s, len, "vdev respecified");
	if (word_is(colon + 1, (size_t)(s + len - colon - 1), "cdrom"))
		dp->disk->cdrom = true;
	else if (word_is(colon + 1, (size_t)(s + len - colon - 1), "disk"))
		dp->disk->cdrom = false;
	else
		return disk_err(dp, colon + 1, (size_t)(s + len - colon - 1), "unknown deprecated type");
	return disk_save(dp, &dp->disk->vdev, s, (size_t)(colon - s), "vdev respecified");
}

static int disk_positional(struct disk_parse *dp, const char *s, size_t len)
{
	struct xlcfg_disk *d = dp->disk;
	bool had_devtype;

	if (!d->target)
		return disk_save(dp, &d->target, s, len, "target respecified");
	if (!dp->had_prefix && !dp->format_set) {
		/* An empty target then "hdc:cdrom" is the old spelling of an empty drive. */
		if (!*d->target && memchr(s, ':', len)) {
			int rc = disk_vdev(dp, s, len, &had_devtype);

			if (!rc) {
				d->format = XLCFG_DISK_FORMAT_EMPTY;
				dp->format_set = true;
			}
			return rc;
		}
		return disk_format(dp, s, len);
	}
	if (!d->vdev)
		return disk_vdev(dp, s, len, &had_devtype);
	if (!dp->access_set)
		return disk_access(dp, s, len);
	return disk_err(dp, s, len, "too many positional parameters");
}

/* "<key>=" at s?  Then *val is what follows, up to the next comma. */
static bool disk_key(const char *s, const char *end, const char *key, const char **val)
{
	size_t n = strlen(key);

	if ((size_t)(end - s) <= n || memcmp(s, key, n) || s[n] != '=')
		return false;
	*val = s + n + 1;
	return true;
}

static int disk_deprecated_prefix(struct disk_parse *dp, const char *s, size_t len, bool *taken)
{
	static const char *const no_op[] = { "tapdisk", "tap", "tap2", "aio", "ioemu", "file", "phy" };
	static const char *const scripts[] = { "iscsi", "nbd", "enbd", "drbd" };
	static const char *const formats[] = { "raw", "qcow", "qcow2", "vhd" };

	*taken = true;
	dp->had_prefix = true;
	for (size_t i = 0; i < ARRAY_SIZE(no_op); i++)
		if (word_is(s, len, no_op[i]))
			return 0;
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++)
		if (word_is(s, len, formats[i]))
			return disk_format(dp, s, len);
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		if (word_is(s, len, scripts[i])) {
			char script[16];

			snprintf(script, sizeof(script), "block-%s", scripts[i]);
			return disk_save(dp, &dp->disk->script, script, strlen(script),
					 "script respecified");
		}
	}
	dp->had_prefix = false;
	*taken = false;
	return 0;
}

static int parse_disk(struct parse *ps, const char *spec, int line, struct xlcfg_disk *d)
{
	struct disk_parse dp = { .ps = ps, .spec = spec, .line = line, .disk = d };
	const char *p = spec, *end = spec + strlen(spec);
	int rc = 0;

	memset(d, 0, sizeof(*d));
	d->line = line;
	d->readwrite = true;
	while (!rc && p < end) {
		const char *comma, *val, *q;
		size_t len;

		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
			p++;
		if (p == end)
			break;
		/* target= takes the rest of the spec, commas included. */
		if (disk_key(p, end, "target", &val)) {
			len = (size_t)(end - val);
			if (len && val[len - 1] == ',')
				len--;
			rc = disk_save(&dp, &d->target, val, len, "target respecified");
			break;
		}
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		len = (size_t)(comma - p);

		/* Old "phy:", "file:", "raw:" ... prefixes: the target follows the colon. */
		for (q = p; q < comma && (is_lower(*q) || is_digit(*q)); q++)
			;
		if (q > p && is_lower(*p) && q < comma && *q == ':' &&
		    (q + 1 == end || !(is_lower(q[1]) || is_digit(q[1])))) {
			bool taken;

			rc = disk_deprecated_prefix(&dp, p, (size_t)(q - p), &taken);
			if (rc)
				break;
			if (!taken) {
				rc = disk_err(&dp, p, (size_t)(q + 1 - p), "unknown deprecated disk prefix");
				break;
			}
			p = q + 1;
			continue;
		}

		if (disk_key(p, comma, "format", &val))
			rc = disk_format(&dp, val, (size_t)(comma - val));
		else if (disk_key(p, comma, "vdev", &val))
			rc = disk_save(&dp, &d->vdev, val, (size_t)(comma - val), "vdev respecified");
		else if (disk_key(p, comma, "access", &val))
			rc = disk_access(&dp, val, (size_t)(comma - val));
		else if (disk_key(p, comma, "backendtype", &val))
			rc = disk_backendtype(&dp, val, (size_t)(comma - val));
		else if (disk_key(p, comma, "backend", &val))
			rc = disk_save(&dp, &d->backend, val, (size_t)(comma - val), "backend respecified");
		else if (disk_key(p, comma, "script", &val))
			rc = disk_save(&dp, &d->script, val, (size_t)(comma - val), "script respecified");
		else if (disk_key(p, comma, "devtype", &val)) {
			if (word_is(val, (size_t)(comma - val), "cdrom"))
				d->cdrom = true;
			else if (word_is(val, (size_t)(comma - val), "disk"))
				d->cdrom = false;
			else
				rc = disk_err(&dp, p, len, "unknown value for type");
		} else if (disk_key(p, comma, "specification", &val)) {
			if (word_is(val, (size_t)(comma - val), "virtio"))
				rc = disk_err(&dp, p, len, "virtio disks are not supported by keel");
			else if (!word_is(val, (size_t)(comma - val), "xen"))
				rc = disk_err(&dp, p, len, "unknown value for specification");
		} else if (word_is(p, len, "cdrom")) {
			d->cdrom = true;
		} else if (word_is(p, len, "direct-io-safe") || word_is(p, len, "discard") ||
			   word_is(p, len, "no-discard") || word_is(p, len, "trusted") ||
			   word_is(p, len, "untrusted") || word_is(p, len, "grant_usage=0") ||
			   word_is(p, len, "grant_usage=1") || word_is(p, len, "no-colo")) {
			/* Backend hints that a PV guest's disk works without. */
		} else if (memchr(p, '=', len)) {
			for (q = p; q < comma && (is_lower(*q) || is_digit(*q) || *q == '-' || *q == '_'); q++)
				;
			rc = disk_err(&dp, p, len, q > p && *q == '=' && is_lower(*p) ?
				      "unknown parameter" : "bad disk syntax");
		} else {
			rc = disk_positional(&dp, p, len);
		}
		p = comma < end ? comma + 1 : end;
	}
	if (rc)
		return rc;

	if (!d->target) {
		d->target = strdup("");
		if (!d->target)
			return -ENOMEM;
	}
	if (d->cdrom) {
		/* A cdrom is read-only; with no medium it is an empty drive. */
		d->readwrite = false;
		if (!*d->target)
			d->format = XLCFG_DISK_FORMAT_EMPTY;
	} else if (!*d->target) {
		return disk_err(&dp, NULL, 0, "no target specified");
	}
	if (!d->vdev)
		return disk_err(&dp, NULL, 0, "no vdev specified");
	if (xlcfg_vdev_to_devid(d->vdev, &d->devid))
		return disk_err(&dp, d->vdev, strlen(d->vdev), "invalid virtual device");
	return 0;
}

static void disk_free(struct xlcfg_disk *d)
{
	kfree(d->target);
	kfree(d->vdev);
	kfree(d->backend);
	kfree(d->script);
}

/* Bijective base 26: "a" 0 ... "z" 25, "aa" 26 ... as Linux names xvd disks. */
static int parse_disk_letters(const char **s, uint32_t max, uint32_t *disk)
{
	const char *p = *s;
	uint64_t v = 0;

	if (!is_lower(*p))
		return -EINVAL;
	for (; is_lower(*p); p++) {
		v = v * 26 + (uint64_t)(*p - 'a' + 1);
		if (v - 1 > max)
			return -EINVAL;
	}
	*disk = (uint32_t)(v - 1);
	*s = p;
	return 0;
}

/* A decimal partition without leading zeros; "" is 0 (the whole disk). */
static int parse_partition(const char *p, uint32_t max, uint32_t *partition)
{
	uint32_t v = 0;

	if (!*p) {
		*partition = 0;
		return 0;
	}
	if (*p == '0')
		return -EINVAL;
	for (; *p; p++) {
		if (!is_digit(*p))
			return -EINVAL;
		v = v * 10 + (uint32_t)(*p - '0');
		if (v > max)
			return -EINVAL;
	}
	*partition = v;
	return 0;
}

int xlcfg_vdev_to_devid(const char *vdev, uint32_t *devid)
{
	uint32_t disk, part;
	const char *p;

	if (!strncmp(vdev, "xvd", 3)) {
		p = vdev + 3;
		if (parse_disk_letters(&p, (1u << 20) - 1, &disk) || parse_partition(p, 255, &part))
			return -EINVAL;
		if (disk < 16 && part < 16)
			*devid = (202u << 8) | (disk << 4) | part;
		else
			*devid = (1u << 28) | (disk << 8) | part;
		return 0;
	}
	if (!strncmp(vdev, "hd", 2)) {
		p = vdev + 2;
		if (parse_disk_letters(&p, 3, &disk) || parse_partition(p, 63, &part))
			return -EINVAL;
		*devid = ((disk < 2 ? 3u : 22u) << 8) | ((disk & 1) << 6) | part;
		return 0;
	}
	if (!strncmp(vdev, "sd", 2)) {
		p = vdev + 2;
		if (parse_disk_letters(&p, 15, &disk) || parse_partition(p, 15, &part))
			return -EINVAL;
		*devid = (8u << 8) | (disk << 4) | part;
		return 0;
	}
	if (vdev[0] == 'd' && is_digit(vdev[1])) {
		/* "d<disk>p<partition>", the extended scheme. */
		uint32_t v = 0;

		p = vdev + 1;
		if (*p == '0' && is_digit(p[1]))
			return -EINVAL;
		for (; is_digit(*p); p++) {
			v = v * 10 + (uint32_t)(*p - '0');
			if (v > (1u << 20) - 1)
				return -EINVAL;
		}
		disk = v;
		part = 0;
		if (*p == 'p') {
			p++;
			if (!*p || parse_partition(p, 255, &part))
				return -EINVAL;
		} else if (*p) {
			return -EINVAL;
		}
		*devid = (1u << 28) | (disk << 8) | part;
		return 0;
	}
	return -EINVAL;
}

static int key_disk(struct parse *ps, const struct setting *s)
{
	struct domain_config *cfg = ps->cfg;
	struct xlcfg_disk *disks;
	size_t n;
	int rc = get_list(ps, s);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		disk_free(&cfg->disks[i]);
	kfree(cfg->disks);
	cfg->disks = NULL;
	cfg->nr_disks = 0;
	n = s->value->nr_items;
	if (!n)
		return 0;
	disks = kzalloc(n * sizeof(*disks));
	if (!disks)
		return -ENOMEM;
	cfg->disks = disks;
	for (size_t i = 0; i < n; i++) {
		const struct value *item = s->value->items[i];

		if (item->is_list)
			return errf(ps, item->line, "disk entry %zu is a list but should be a string", i + 1);
		rc = parse_disk(ps, item->atom, item->line, &disks[i]);
		cfg->nr_disks = (unsigned int)i + 1;
		if (rc)
			return rc;
		for (size_t j = 0; j < i; j++)
			if (disks[j].devid == disks[i].devid)
				return errf(ps, item->line, "disk vdev `%s' is the same device as `%s' (line %d)",
					    disks[i].vdev, disks[j].vdev, disks[j].line);
	}
	return 0;
}

/* ---- vif = [ ... ] ------------------------------------------------------------ */

static int parse_mac(const char *s, size_t len, uint8_t mac[6])
{
	/* Exactly xx:xx:xx:xx:xx:xx, either case. */
	if (len != 17)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -EINVAL;
		mac[i] = (uint8_t)(hi * 16 + lo);
	}
	return 0;
}

static int vif_err(struct parse *ps, int line, const char *spec, const char *what,
		   const char *near, size_t near_len)
{
	char a[SANE_BYTES], b[SANE_BYTES];

	return errf(ps, line, "vif specification `%s': %s `%s'",
		    sanitize(spec, strlen(spec), b), what, sanitize(near, near_len, a));
}

/* Appends one sentence to the vif's note ("; " between them), cut to fit. */
__attribute__((format(printf, 2, 3)))
static void vif_note(struct xlcfg_vif *v, const char *fmt, ...)
{
	size_t used = strlen(v->note);
	va_list ap;

	if (used && used + 2 < sizeof(v->note)) {
		memcpy(v->note + used, "; ", 3);
		used += 2;
	}
	if (used + 1 >= sizeof(v->note))
		return;
	va_start(ap, fmt);
	vsnprintf(v->note + used, sizeof(v->note) - used, fmt, ap);
	va_end(ap);
}

/* Digits only, as xl's regular expressions; 0 for none or past max. */
static uint64_t vif_digits(const char **p, const char *end, uint64_t max)
{
	uint64_t v = 0;
	const char *s = *p;

	while (s < end && is_digit(*s)) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return 0;
		s++;
	}
	if (s == *p)
		return 0;
	*p = s;
	return v;
}

/*
 * rate=RATE/s[@INTERVAL], as libxlu's xlu_vif_parse_rate reads it: RATE is
 * 1..2^32-1 with G/M/K (x1000 each) and B or b (bits, /8); INTERVAL is
 * 1..2^32-1 with us, u, ms, m, s or nothing (seconds), at most 2^32-1 us.
 */
static int parse_rate(const char *s, size_t len, struct xlcfg_vif *v, const char **why)
{
	const char *p = s, *end = s + len, *at = memchr(s, '@', len);
	const char *rate_end = at ? at : end;
	uint64_t bytes, usecs = XLCFG_VIF_DEFAULT_RATE_INTERVAL_USECS;

	*why = "invalid rate";
	if (p == rate_end) {
		*why = "no rate specified";
		return -EINVAL;
	}
	bytes = vif_digits(&p, rate_end, UINT32_MAX);
	if (!bytes) {
		/* All digits but zero or too large: xl's "rate overflow". */
		const char *q = s;
		while (q < rate_end && is_digit(*q))
			q++;
		if (q != s)
			*why = "rate overflow";
		return -EINVAL;
	}
	if (p < rate_end && (*p == 'G' || *p == 'M' || *p == 'K')) {
		bytes *= *p == 'G' ? 1000000000ull : *p == 'M' ? 1000000ull : 1000ull;
		p++;
	}
	if (p >= rate_end || (*p != 'B' && *p != 'b'))
		return -EINVAL;
	if (*p == 'b')
		bytes /= 8;
	p++;
	if (rate_end - p != 2 || p[0] != '/' || p[1] != 's')
		return -EINVAL;
	if (at) {
		const char *q = at + 1;

		*why = "invalid replenishment interval";
		usecs = vif_digits(&q, end, UINT32_MAX);
		if (!usecs) {
			const char *d = at + 1;
			while (d < end && is_digit(*d))
				d++;
			if (d != at + 1)
				*why = "replenishment interval overflow";
			return -EINVAL;
		}
		if (q < end && (*q == 'm' || *q == 'u')) {
			if (*q == 'm')
				usecs *= 1000;
			q++;
			if (q < end && *q == 's')
				q++;
		} else {
			if (q < end && *q == 's')
				q++;
			usecs *= 1000000;
		}
		if (q != end)
			return -EINVAL;
		if (usecs > UINT32_MAX) {
			*why = "replenishment interval overflow";
			return -EINVAL;
		}
	}
	if (bytes > UINT64_MAX / usecs) {
		*why = "rate overflow";
		return -EINVAL;
	}
	/* xl would store 0 here, which reads as "no limit": a tiny rate over
	 * a short interval is refused instead. */
	if (bytes * usecs / 1000000 == 0) {
		*why = "rate too small for its interval";
		return -EINVAL;
	}
	v->rate_bytes_per_interval = bytes * usecs / 1000000;
	v->rate_interval_usecs = (uint32_t)usecs;
	return 0;
}

/* One dotted-quad IPv4 address, each part 0..255 without a sign; not
 * 0.0.0.0, the broadcast or a multicast address (a guest's own address). */
static int parse_ipv4(const char *s, size_t len, uint32_t *out)
{
	uint8_t b[4];
	const char *p = s, *end = s + len;

	for (int i = 0; i < 4; i++) {
		unsigned int v = 0, digits = 0;

		while (p < end && is_digit(*p) && digits < 4) {
			v = v * 10 + (unsigned int)(*p++ - '0');
			digits++;
		}
		if (!digits || digits > 3 || v > 255)
			return -EINVAL;
		b[i] = (uint8_t)v;
		if (i < 3) {
			if (p >= end || *p != '.')
				return -EINVAL;
			p++;
		}
	}
	if (p != end)
		return -EINVAL;
	if ((b[0] | b[1] | b[2] | b[3]) == 0 || (b[0] & b[1] & b[2] & b[3]) == 255 ||
	    (b[0] & 0xf0) == 0xe0)
		return -EINVAL;
	memcpy(out, b, 4);      /* network byte order, as on the wire */
	return 0;
}

static int parse_vif_ips(struct parse *ps, int line, const char *spec, const char *val,
			 size_t len, struct xlcfg_vif *v)
{
	const char *p = val, *end = val + len;

	v->nr_ips = 0;
	while (p < end) {
		const char *w;

		while (p < end && *p == ' ')
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && *p != ' ')
			p++;
		if (v->nr_ips == XLCFG_VIF_MAX_IPS)
			return vif_err(ps, line, spec, "more than 4 addresses in", val, len);
		if (parse_ipv4(w, (size_t)(p - w), &v->ips[v->nr_ips]))
			return vif_err(ps, line, spec, "invalid IPv4 address", w, (size_t)(p - w));
		v->nr_ips++;
	}
	if (!v->nr_ips)
		return vif_err(ps, line, spec, "no address in", val, len);
	return 0;
}

static int parse_vif(struct parse *ps, const char *spec, int line, struct xlcfg_vif *v)
{
	const char *p = spec, *end = spec + strlen(spec);

	memset(v, 0, sizeof(*v));
	v->line = line;
	v->devid = -1;
	while (p < end) {
		const char *comma, *eq, *val;
		size_t key_len, val_len;
		char **field = NULL;
		long long n;

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		comma = memchr(p, ',', (size_t)(end - p));
		if (!comma)
			comma = end;
		if (comma == p) {
			p = comma < end ? comma + 1 : end;
			continue;
		}
		eq = memchr(p, '=', (size_t)(comma - p));
		if (!eq)
			return vif_err(ps, line, spec, "unknown parameter", p, (size_t)(comma - p));
		key_len = (size_t)(eq - p);
		val = eq + 1;
		val_len = (size_t)(comma - val);
		while (val_len && (val[val_len - 1] == ' ' || val[val_len - 1] == '\t'))
			val_len--;

		if (word_is(p, key_len, "mac")) {
			static const uint8_t zero[6];

			if (parse_mac(val, val_len, v->mac))
				return vif_err(ps, line, spec, "invalid MAC address", val, val_len);
			/* Bit 0 of the first octet: a group address no NIC may own. */
			if (v->mac[0] & 1)
				return vif_err(ps, line, spec, "multicast MAC address", val, val_len);
			/* All zeros is libxl's "not given". */
			v->mac_set = memcmp(v->mac, zero, 6) != 0;
		} else if (word_is(p, key_len, "bridge")) {
			if (!val_len)
				return vif_err(ps, line, spec, "empty bridge name in", p, (size_t)(comma - p));
			field = &v->bridge;
		} else if (word_is(p, key_len, "ip")) {
			int rc = parse_vif_ips(ps, line, spec, val, val_len, v);

			if (rc)
				return rc;
			field = &v->ip;
		} else if (word_is(p, key_len, "rate")) {
			const char *why;

			if (parse_rate(val, val_len, v, &why))
				return vif_err(ps, line, spec, why, val, val_len);
		} else if (word_is(p, key_len, "script")) {
			field = &v->script;
			vif_note(v, "script=%.*s ignored: keel joins the vif to its built-in switch itself",
				 (int)MIN(val_len, (size_t)40), val);
		} else if (word_is(p, key_len, "vifname")) {
			field = &v->vifname;
		} else if (word_is(p, key_len, "backend")) {
			field = &v->backend;
		} else if (word_is(p, key_len, "model")) {
			field = &v->model;
			vif_note(v, "model=%.*s ignored: keel's PV guests get a netfront vif",
				 (int)MIN(val_len, (size_t)40), val);
		} else if (word_is(p, key_len, "type")) {
			/* Only HVM guests care (emulated vs PV NIC); both are a PV vif here. */
			if (word_is(val, val_len, "ioemu"))
				vif_note(v, "type=ioemu taken as type=vif: keel runs no device model");
			else if (!word_is(val, val_len, "vif"))
				return vif_err(ps, line, spec, "unknown type", val, val_len);
		} else if (word_is(p, key_len, "accel")) {
			/* Ignored by xl too. */
		} else if (word_is(p, key_len, "mtu") || word_is(p, key_len, "devid")) {
			char num[16];
			bool mtu = key_len == 3;

			if (val_len >= sizeof(num))
				return vif_err(ps, line, spec, mtu ? "invalid mtu" : "invalid devid", val, val_len);
			memcpy(num, val, val_len);
			num[val_len] = 0;
			if (parse_integer(num, &n) || n < (mtu ? 68 : 0) || n > (mtu ? 65535 : INT32_MAX))
				return vif_err(ps, line, spec, mtu ? "invalid mtu" : "invalid devid", val, val_len);
			if (mtu)
				v->mtu = (unsigned int)n;
			else
				v->devid = (int)n;
		} else if (word_is(p, key_len, "gatewaydev") || word_is(p, key_len, "netdev") ||
			   word_is(p, key_len, "forwarddev")) {
			return vif_err(ps, line, spec, "not supported by keel:", p, key_len);
		} else {
			return vif_err(ps, line, spec, "unknown parameter", p, key_len);
		}
		if (field) {
			char *copy = strndup(val, val_len);

			if (!copy)
				return -ENOMEM;
			kfree(*field);
			*field = copy;
		}
		p = comma < end ? comma + 1 : end;
	}
	if (!v->bridge) {
		v->bridge = strdup(XLCFG_VIF_DEFAULT_BRIDGE);
		if (!v->bridge)
			return -ENOMEM;
	}
	return 0;
}

void xlcfg_vif_free(struct xlcfg_vif *v)
{
	if (!v)
		return;
	kfree(v->bridge);
	kfree(v->ip);
	kfree(v->script);
	kfree(v->vifname);
	kfree(v->backend);
	kfree(v->model);
	memset(v, 0, sizeof(*v));
}

static void vif_free(struct xlcfg_vif *v)
{
	xlcfg_vif_free(v);
}

int xlcfg_parse_vif_spec(const char *spec, struct xlcfg_vif *out, char *err, size_t errlen)
{
	/* No file: errf leaves out the "FILE:LINE: " part. */
	struct parse ps = { .file = NULL, .err = err, .errlen = errlen };
	int rc;

	if (errlen)
		err[0] = 0;
	rc = parse_vif(&ps, spec ? spec : "", 0, out);
	if (rc) {
		if (rc == -ENOMEM && errlen)
			snprintf(err, errlen, "out of memory while parsing a vif specification");
		xlcfg_vif_free(out);
	}
	return rc;
}

void xlcfg_vif_default_mac(const char *domain_name, unsigned int devid, uint8_t mac[6])
{
	/* FNV-1a over the name, a separator and the devid: any change of
	 * either changes the MAC, and the same pair always gives the same. */
	uint64_t h = 0xcbf29ce484222325ull;
	const unsigned char *p = (const unsigned char *)(domain_name ? domain_name : "");

	for (; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (int i = 0; i < 4; i++)
		h = (h ^ ((devid >> (8 * i)) & 0xff)) * 0x100000001b3ull;
	h ^= h >> 32;
	mac[0] = 0x00;
	mac[1] = 0x16;
	mac[2] = 0x3e;
	/* Keep the top bit clear, as libxl's random MACs do (it leaves room
	 * for MACs an administrator assigns by hand). */
	mac[3] = (uint8_t)((h >> 16) & 0x7f);
	mac[4] = (uint8_t)(h >> 8);
	mac[5] = (uint8_t)h;
}

static int key_vif(struct parse *ps, const struct setting *s)
{
	struct domain_config *cfg = ps->cfg;
	struct xlcfg_vif *vifs;
	size_t n;
	int rc = get_list(ps, s);

	if (rc)
		return rc;
	for (unsigned int i = 0; i < cfg->nr_vifs; i++)
		vif_free(&cfg->vifs[i]);
	kfree(cfg->vifs);
	cfg->vifs = NULL;
	cfg->nr_vifs = 0;
	n = s->value->nr_items;
	if (!n)
		return 0;
	vifs = kzalloc(n * sizeof(*vifs));
	if (!vifs)
		return -ENOMEM;
	cfg->vifs = vifs;
	for (size_t i = 0; i < n; i++) {
		const struct value *item = s->value->items[i];

		if (item->is_list)
			return errf(ps, item->line, "vif entry %zu is a list but should be a string", i + 1);
		rc = parse_vif(ps, item->atom, item->line, &vifs[i]);
		cfg->nr_vifs = (unsigned int)i + 1;
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the key table -------------------------------------------------------------- */

static const struct {
	const char *key;
	int (*fn)(struct parse *ps, const struct setting *s);
} keys[] = {
	{ "name", key_name },
	{ "uuid", key_uuid },
	{ "memory", key_memory },
	{ "maxmem", key_memory },
	{ "vcpus", key_vcpus },
	{ "maxvcpus", key_vcpus },
	{ "kernel", key_kernel },
	{ "ramdisk", key_ramdisk },
	{ "cmdline", key_cmdline },
	{ "extra", key_cmdline },
	{ "root", key_cmdline },
	{ "on_poweroff", key_action },
	{ "on_reboot", key_action },
	{ "on_crash", key_action },
	{ "on_watchdog", key_action },
	{ "on_soft_reset", key_action },
	{ "type", key_type },
	{ "builder", key_type },
	{ "disk", key_disk },
	{ "vif", key_vif },
	{ "max_grant_frames", key_frames },
	{ "max_maptrack_frames", key_frames },
	/* Harmless for a PV guest without graphics: see the header. */
	{ "serial", key_ignored },
	{ "dhcp", key_ignored },
	{ "nomigrate", key_ignored },
	{ "vnc", key_zero_only },
	{ "sdl", key_zero_only },
	{ "vfb", key_empty_list_only },
	{ "vkb", key_empty_list_only },
	{ "pci", key_empty_list_only },
	{ "vtpm", key_empty_list_only },
	{ "channel", key_empty_list_only },
	{ "usbctrl", key_empty_list_only },
	{ "usbdev", key_empty_list_only },
	{ "p9", key_empty_list_only },
	{ "vdispl", key_empty_list_only },
	{ "vsnd", key_empty_list_only },
	{ "iomem", key_empty_list_only },
	{ "ioports", key_empty_list_only },
	{ "irqs", key_empty_list_only },
	/* Would change the guest: refused rather than silently dropped. */
	{ "bootloader", key_bootloader },
	{ "bootloader_args", key_bootloader },
	{ "cpus", key_unsupported },
	{ "cpus_soft", key_unsupported },
	{ "cpu_weight", key_unsupported },
	{ "cap", key_unsupported },
	{ "seclabel", key_unsupported },
};

static int interpret(struct parse *ps)
{
	struct domain_config *cfg = ps->cfg;
	int rc;

	for (size_t i = 0; i < ps->nr_settings; i++) {
		const struct setting *s = &ps->settings[i];
		size_t k;

		for (k = 0; k < ARRAY_SIZE(keys); k++)
			if (!strcmp(keys[k].key, s->key))
				break;
		if (k == ARRAY_SIZE(keys)) {
			/* xl ignores a key it does not know; the caller warns. */
			if (cfg->nr_unknown < XLCFG_MAX_UNKNOWN_KEPT) {
				struct xlcfg_unknown_key *u = &cfg->unknown[cfg->nr_unknown];
				snprintf(u->key, sizeof(u->key), "%s", s->key);
				u->line = s->line;
			}
			cfg->nr_unknown++;
			continue;
		}
		rc = keys[k].fn(ps, s);
		if (rc)
			return rc;
	}

	if (!cfg->name)
		return errf(ps, ps->last_line, "no domain name: name = \"...\" is required");
	if (!cfg->kernel)
		return errf(ps, ps->last_line, "no kernel: kernel = \"/path\" is required (keel runs no bootloader; "
			    "PV GRUB boots from the guest's disk: kernel = \"" KEEL_PVGRUB_HINT "\")");
	if (!ps->maxmem_set)
		cfg->maxmem_mib = cfg->memory_mib;
	else if (cfg->maxmem_mib < cfg->memory_mib)
		return errf(ps, MAX(ps->maxmem_line, ps->memory_line),
			    "maxmem (%llu MiB) is less than memory (%llu MiB)",
			    (unsigned long long)cfg->maxmem_mib, (unsigned long long)cfg->memory_mib);
	if (!ps->maxvcpus_set)
		cfg->maxvcpus = cfg->vcpus;
	else if (cfg->maxvcpus < cfg->vcpus)
		return errf(ps, MAX(ps->maxvcpus_line, ps->vcpus_line),
			    "maxvcpus (%u) is less than vcpus (%u)", cfg->maxvcpus, cfg->vcpus);

	/* xl: cmdline wins; else "root=ROOT EXTRA". */
	if (!cfg->cmdline) {
		size_t n = (ps->root ? strlen(ps->root) + 5 : 0) + (ps->extra ? strlen(ps->extra) + 1 : 0) + 1;

		cfg->cmdline = kmalloc(n);
		if (!cfg->cmdline)
			return -ENOMEM;
		if (ps->root && ps->extra)
			snprintf(cfg->cmdline, n, "root=%s %s", ps->root, ps->extra);
		else if (ps->root)
			snprintf(cfg->cmdline, n, "root=%s", ps->root);
		else
			snprintf(cfg->cmdline, n, "%s", ps->extra ? ps->extra : "");
	}
	if (strlen(cfg->cmdline) > XLCFG_MAX_CMDLINE_BYTES)
		return errf(ps, ps->cmdline_line, "the kernel command line is %zu bytes; a PV guest takes at most %d",
			    strlen(cfg->cmdline), XLCFG_MAX_CMDLINE_BYTES);
	return 0;
}

/* ---- entry points ------------------------------------------------------------------ */

void xlcfg_free(struct domain_config *cfg)
{
	if (!cfg)
		return;
	kfree(cfg->name);
	kfree(cfg->uuid);
	kfree(cfg->kernel);
	kfree(cfg->ramdisk);
	kfree(cfg->cmdline);
	for (unsigned int i = 0; i < cfg->nr_disks; i++)
		disk_free(&cfg->disks[i]);
	kfree(cfg->disks);
	for (unsigned int i = 0; i < cfg->nr_vifs; i++)
		vif_free(&cfg->vifs[i]);
	kfree(cfg->vifs);
	memset(cfg, 0, sizeof(*cfg));
}

int xlcfg_parse(const char *filename, const char *text, size_t len,
		struct domain_config *out, char *err, size_t errlen)
{
	struct parse ps = {
		.file = filename ? filename : "(config)",
		.p = text ? text : "",
		.line = 1,
		.last_line = 1,
		.err = err,
		.errlen = errlen,
		.cfg = out,
	};
	int rc;

	memset(out, 0, sizeof(*out));
	if (errlen)
		err[0] = 0;
	ps.end = text ? text + len : ps.p;
	out->memory_mib = XLCFG_DEFAULT_MEMORY_MIB;
	out->vcpus = 1;
	out->on_poweroff = XLCFG_ACTION_DESTROY;
	out->on_reboot = XLCFG_ACTION_RESTART;
	out->on_crash = XLCFG_ACTION_DESTROY;
	out->on_watchdog = XLCFG_ACTION_DESTROY;
	out->on_soft_reset = XLCFG_ACTION_SOFT_RESET;
	out->max_grant_frames = -1;
	out->max_maptrack_frames = -1;

	rc = prescan(&ps, ps.p, (size_t)(ps.end - ps.p));
	if (rc)
		goto out;
	ps.settings = kzalloc(XLCFG_MAX_SETTINGS * sizeof(*ps.settings));
	if (!ps.settings) {
		rc = -ENOMEM;
		goto out;
	}
	rc = parse_file(&ps);
	if (!rc)
		rc = interpret(&ps);

out:
	for (size_t i = 0; i < ps.nr_settings; i++) {
		kfree(ps.settings[i].key);
		value_free(ps.settings[i].value);
	}
	kfree(ps.settings);
	kfree(ps.extra);
	kfree(ps.root);
	if (rc) {
		if (rc == -ENOMEM && errlen)
			snprintf(err, errlen, "%s: out of memory while parsing", ps.file);
		xlcfg_free(out);
	}
	return rc;
}

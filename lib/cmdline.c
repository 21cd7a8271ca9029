/*
 * Boot command-line parser (see include/lib/cmdline.h).  Pure: no allocation,
 * bounded by the fixed word buffer; words longer than that are rejected.
 */
#include <lib/base.h>
#include <lib/cmdline.h>
#include <lib/printf.h>

#define WORD_MAX 256

static const struct cmdline_opt *find_opt(const struct cmdline_opt *opts, size_t n,
					  const char *name, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
			return &opts[i];
	return NULL;
}

static int parse_u64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		int d;
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base)
			return -ERANGE;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static int apply(const struct cmdline_opt *o, const char *val, bool has_val,
		 char *msg, size_t msglen)
{
	switch (o->type) {
	case CMDLINE_BOOL: {
		bool b;
		if (!has_val || !strcmp(val, "1") || !strcmp(val, "on") ||
		    !strcmp(val, "yes") || !strcmp(val, "true"))
			b = true;
		else if (!strcmp(val, "0") || !strcmp(val, "off") || !strcmp(val, "no") ||
			 !strcmp(val, "false"))
			b = false;
		else {
			ksnprintf(msg, msglen, "option '%s': '%s' is not a boolean (use 0/1, on/off)",
				  o->name, val);
			return -EINVAL;
		}
		*(bool *)o->target = b;
		return 0;
	}
	case CMDLINE_UINT: {
		uint64_t v;
		if (!has_val || !*val) {
			ksnprintf(msg, msglen, "option '%s' needs a number", o->name);
			return -EINVAL;
		}
		int rc = parse_u64(val, &v);
		if (rc) {
			ksnprintf(msg, msglen, "option '%s': '%s' is not a number", o->name, val);
			return rc;
		}
		if (v < o->min || v > o->max) {
			ksnprintf(msg, msglen, "option '%s': %llu is out of range [%llu, %llu]",
				  o->name, (unsigned long long)v, (unsigned long long)o->min,
				  (unsigned long long)o->max);
			return -ERANGE;
		}
		*(uint64_t *)o->target = v;
		return 0;
	}
	case CMDLINE_STRING:
		if (!has_val) {
			ksnprintf(msg, msglen, "option '%s' needs a value", o->name);
			return -EINVAL;
		}
		if (strlen(val) + 1 > o->target_size) {
			ksnprintf(msg, msglen, "option '%s': value longer than %zu bytes", o->name,
				  o->target_size - 1);
			return -E2BIG;
		}
		memcpy(o->target, val, strlen(val) + 1);
		return 0;
	}
	return -EINVAL;
}

int cmdline_parse(const char *line, const struct cmdline_opt *opts, size_t n_opts,
		  void (*report)(void *ctx, const char *msg), void *ctx)
{
	char word[WORD_MAX];
	char msg[WORD_MAX + 96];
	int errors = 0;
	const char *p = line;

	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
			p++;
		if (!*p)
			break;
		/* Collect one word; quotes group spaces and are dropped. */
		size_t len = 0;
		char quote = 0;
		bool too_long = false;
		for (; *p; p++) {
			if (quote) {
				if (*p == quote) {
					quote = 0;
					continue;
				}
			} else if (*p == '"' || *p == '\'') {
				quote = *p;
				continue;
			} else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
				break;
			}
			if (len + 1 < sizeof(word))
				word[len++] = *p;
			else
				too_long = true;
		}
		word[len] = 0;
		if (quote) {
			ksnprintf(msg, sizeof(msg), "unterminated quote in '%s'", word);
			report(ctx, msg);
			errors++;
			break;
		}
		if (too_long) {
			ksnprintf(msg, sizeof(msg), "word longer than %d bytes ignored: '%.40s...'",
				  WORD_MAX - 1, word);
			report(ctx, msg);
			errors++;
			continue;
		}
		char *eq = strchr(word, '=');
		size_t name_len = eq ? (size_t)(eq - word) : len;
		const struct cmdline_opt *o = find_opt(opts, n_opts, word, name_len);
		if (!o) {
			ksnprintf(msg, sizeof(msg), "unknown option '%.*s' ignored", (int)name_len,
				  word);
			report(ctx, msg);
			errors++;
			continue;
		}
		if (apply(o, eq ? eq + 1 : "", eq != NULL, msg, sizeof(msg))) {
			report(ctx, msg);
			errors++;
		}
	}
	return errors;
}

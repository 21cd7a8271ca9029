/*
 * Boot command-line parsing: "name=value name2 name3='a b'" against a table
 * of known options.  A bad word is reported (through the caller's report
 * function) and skipped; the rest of the line still applies.
 */
#ifndef KEEL_LIB_CMDLINE_H
#define KEEL_LIB_CMDLINE_H

#include <lib/base.h>

enum cmdline_type { CMDLINE_BOOL, CMDLINE_UINT, CMDLINE_STRING };

struct cmdline_opt {
	const char *name;
	enum cmdline_type type;
	void *target;        /* bool *, uint64_t *, or char[target_size] */
	size_t target_size;  /* CMDLINE_STRING: buffer size incl. NUL */
	uint64_t min, max;   /* CMDLINE_UINT: inclusive range */
	const char *help;
};

/*
 * Applies every well-formed option of line to its target.  Returns the
 * number of words that were rejected (0 = all good); each rejection calls
 * report(ctx, message) with a one-line explanation.
 */
int cmdline_parse(const char *line, const struct cmdline_opt *opts, size_t n_opts,
		  void (*report)(void *ctx, const char *msg), void *ctx);

#endif

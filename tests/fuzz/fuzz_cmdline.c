/* fuzz-srcs: lib/cmdline.c lib/printf.c
 *
 * libFuzzer target for keel's boot command-line parser (lib/cmdline.c): any
 * bytes are a command line against a table with one option of each type.
 * The parser never writes past a target, keeps every number in its range,
 * terminates every string it stores, reports each rejected word with a
 * terminated message, and counts exactly the words it reported.
 */
#include <lib/base.h>
#include <lib/cmdline.h>

static int reports;

static void report(void *ctx, const char *msg)
{
	(void)ctx;
	if (strnlen(msg, 4096) == 4096 || !msg[0])
		abort();
	reports++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[1024];
	struct {
		char str[8];
		char guard[8];
	} s;
	bool b = false;
	uint64_t u = 5;
	static const char zero[8];
	const struct cmdline_opt opts[] = {
		{ "flag", CMDLINE_BOOL, &b, 0, 0, 0, "" },
		{ "num", CMDLINE_UINT, &u, 0, 3, 9, "" },
		{ "str", CMDLINE_STRING, s.str, sizeof(s.str), 0, 0, "" },
	};

	if (size >= sizeof(line))
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	memset(&s, 0, sizeof(s));
	reports = 0;
	int errors = cmdline_parse(line, opts, ARRAY_SIZE(opts), report, NULL);
	if (errors != reports || errors < 0)
		abort();
	if (u < 3 || u > 9)
		abort();
	if (memcmp(s.guard, zero, sizeof(zero)) || strnlen(s.str, sizeof(s.str)) == sizeof(s.str))
		abort();
	return 0;
}

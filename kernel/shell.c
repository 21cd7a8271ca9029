/*
 * The dom0 console shell: reads lines from keel's console input, splits them
 * into words, and runs kernel or toolstack commands.  `xl CMD` reaches the
 * toolstack table only (so `xl dmesg` is Xen's log while `dmesg` is keel's).
 */
#include <keel/commands.h>
#include <keel/evtchn.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>

#define LINE_MAX 256
#define ARGS_MAX 32

static const struct command *find(const struct command *table, const char *name)
{
	for (; table->name; table++)
		if (!strcmp(table->name, name))
			return table;
	return NULL;
}

static void help_table(const struct command *t, const char *prefix)
{
	for (; t->name; t++)
		kprintf("  %s%-12s %-24s %s\n", prefix, t->name, t->usage ? t->usage : "",
			t->help);
}

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kprintf("keel commands:\n");
	help_table(kernel_commands, "");
	help_table(bootfs_commands, "");
	help_table(selftest_commands, "");
	kprintf("device commands:\n");
	help_table(device_commands, "");
	help_table(lvm_commands, "");
	help_table(nic_commands, "");
	kprintf("toolstack commands (also as `xl CMD`):\n");
	help_table(xl_commands, "");
	help_table(xl_block_commands, "");
	help_table(xl_net_commands, "");
	return 0;
}

/* Splits line in place; quotes group words.  Returns argc or -E2BIG. */
static int split(char *line, char **argv)
{
	int argc = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			return argc;
		if (argc == ARGS_MAX)
			return -E2BIG;
		char quote = 0;
		char *out = p;
		argv[argc++] = out;
		for (; *p; p++) {
			if (quote && *p == quote) {
				quote = 0;
				continue;
			}
			if (!quote && (*p == '"' || *p == '\'')) {
				quote = *p;
				continue;
			}
			if (!quote && (*p == ' ' || *p == '\t'))
				break;
			*out++ = *p;
		}
		if (*p)
			p++;
		*out = 0;
	}
}

static void run_words(int argc, char **argv);

/* `time CMD...`: runs CMD and says how long it took (keel's clock). */
static int cmd_time(int argc, char **argv)
{
	if (argc < 2) {
		kprintf("usage: time COMMAND [ARGS]\n");
		return -EINVAL;
	}
	uint64_t t0 = time_now_ns();
	run_words(argc - 1, argv + 1);
	uint64_t us = (time_now_ns() - t0) / 1000;
	kprintf("time: %llu.%03llu ms\n", (unsigned long long)(us / 1000),
		(unsigned long long)(us % 1000));
	return 0;
}

void shell_run_line(char *line)
{
	char *words[ARGS_MAX + 1];
	char **argv = words;
	int argc = split(line, words);

	if (argc < 0) {
		kprintf("keel: too many words (at most %d)\n", ARGS_MAX);
		return;
	}
	if (argc == 0)
		return;
	argv[argc] = NULL;
	run_words(argc, argv);
}

static void run_words(int argc, char **argv)
{
	const struct command *c = NULL;
	if (!strcmp(argv[0], "xl")) {
		if (argc == 1) {
			kprintf("usage: xl COMMAND [ARGS]; `help` lists the commands\n");
			return;
		}
		argv++;
		argc--;
		c = find(xl_commands, argv[0]);
		if (!c)
			c = find(xl_block_commands, argv[0]);
		if (!c)
			c = find(xl_net_commands, argv[0]);
	} else if (!strcmp(argv[0], "help") || !strcmp(argv[0], "?")) {
		cmd_help(argc, argv);
		return;
	} else if (!strcmp(argv[0], "time")) {
		cmd_time(argc, argv);
		return;
	} else {
		/* A name in both tables (reboot, uptime, dmesg) is keel's own when
		 * bare and xl's with arguments: `reboot` restarts the host,
		 * `reboot kt1` a domain -- never the host by mistake. */
		const struct command *xl = find(xl_commands, argv[0]);
		c = find(kernel_commands, argv[0]);
		if (!c)
			c = find(bootfs_commands, argv[0]);
		if (!c)
			c = find(selftest_commands, argv[0]);
		if (!c)
			c = find(device_commands, argv[0]);
		if (!c)
			c = find(lvm_commands, argv[0]);
		if (!c)
			c = find(nic_commands, argv[0]);
		if (!c)
			c = find(xl_block_commands, argv[0]);
		if (!c)
			c = find(xl_net_commands, argv[0]);
		if (!c || (xl && argc > 1))
			c = xl;
	}
	if (!c) {
		kprintf("keel: unknown command '%s' (type `help` for the list)\n", argv[0]);
		return;
	}
	c->fn(argc, argv);
}

/* Reads one line with echo and basic editing (backspace, ^U). */
static void read_line(char *buf, size_t size)
{
	size_t len = 0;

	for (;;) {
		int c = console_getc();
		if (c == '\r' || c == '\n') {
			log_record(buf, len);
			kprintf("\n");
			buf[len] = 0;
			return;
		}
		if (c == 0x7f || c == 0x08) {
			if (len) {
				len--;
				console_puts("\b \b");
			}
			continue;
		}
		if (c == 0x15) { /* ^U: erase the line */
			while (len) {
				len--;
				console_puts("\b \b");
			}
			continue;
		}
		if (c == 0x03) { /* ^C: drop the line */
			console_puts("^C\r\n");
			len = 0;
			buf[0] = 0;
			return;
		}
		if (c < 0x20 || c > 0x7e)
			continue; /* other control bytes and escape sequences */
		if (len + 1 < size) {
			buf[len++] = (char)c;
			char ch = (char)c;
			console_write(&ch, 1);
		}
	}
}

void shell_main(void *unused)
{
	static char line[LINE_MAX];
	struct mm_stats st;

	(void)unused;
	mm_get_stats(&st);
	boot_phase_done("threads, shell");
	boot_prompt_ns = time_now_ns();
	uint64_t boot_us = (boot_prompt_ns - boot_entry_ns) / 1000;
	kprintf("\nkeel 0.1 - a Xen dom0 kernel (%llu MiB, booted in %llu.%03llu ms)\n"
		"Type `help` for commands.  Ctrl-a three times switches to Xen's console.\n",
		(unsigned long long)(st.total_pages * PAGE_SIZE >> 20),
		(unsigned long long)(boot_us / 1000), (unsigned long long)(boot_us % 1000));
	for (;;) {
		kprintf("keel# ");
		read_line(line, sizeof(line));
		shell_run_line(line);
	}
}

/*
 * Console commands.  Each takes argc/argv like main() and returns 0 or a
 * negative errno (the shell prints nothing more: the command says why).
 * All run in the shell thread and may sleep.
 */
#ifndef KEEL_COMMANDS_H
#define KEEL_COMMANDS_H

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
};

/* Command tables from each subsystem, ended by a { NULL } entry. */
extern const struct command kernel_commands[];
extern const struct command xl_commands[];
extern const struct command bootfs_commands[];
extern const struct command selftest_commands[];
extern const struct command device_commands[];
extern const struct command lvm_commands[];
extern const struct command xl_block_commands[];
extern const struct command xl_net_commands[];
extern const struct command nic_commands[];

#endif

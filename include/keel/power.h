/*
 * Taking the host down (kernel/power.c): reboot, ACPI S5 power-off and the
 * crash stop, and the ordered shutdown that runs before the first two.
 *
 * Shutdown hooks
 * --------------
 * `poweroff` and `reboot` first run every registered hook, stage by stage
 * and, within a stage, in registration order, in the shell's thread:
 *
 *   POWER_STAGE_GUESTS   the toolstack, as xendomains does: asks each guest
 *                        to shut down (control/shutdown), waits with a
 *                        bounded timeout, destroys what is left.
 *   POWER_STAGE_DEVICES  after every guest is gone and before the machine
 *                        goes down: flush every disk, stop devices (block
 *                        drivers and backends register here).
 *
 * A hook may sleep (it runs in thread context with the scheduler running)
 * but must bound its own wait: nothing times it out.  It cannot stop the
 * shutdown; it prints what it did.  power_crash() runs no hook.
 */
#ifndef KEEL_POWER_H
#define KEEL_POWER_H

#include <lib/base.h>

enum power_action {
	POWER_ACTION_OFF,
	POWER_ACTION_REBOOT,
};

enum power_stage {
	POWER_STAGE_GUESTS,
	POWER_STAGE_DEVICES,
	POWER_STAGE_COUNT,
};

/* Storage owned by the registrant (static), linked in by registration. */
struct power_hook {
	const char *name;            /* for the log: "xendomains", "blkfront flush" */
	enum power_stage stage;
	void (*fn)(void *ctx, enum power_action action);
	void *ctx;
	struct power_hook *next;     /* power.c's list */
};

/*
 * Adds hook to the list run before poweroff and reboot.  Register once, at
 * init, from thread context; the hook must stay valid for ever.  Does not
 * sleep.
 */
void power_register_shutdown_hook(struct power_hook *hook);

/* Runs every hook (once per boot; later calls do nothing).  May sleep. */
void power_run_shutdown_hooks(enum power_action action);

/* Runs the hooks, then restarts the machine.  May sleep first. */
void power_reboot(void) __attribute__((noreturn));
/*
 * Runs the hooks, then powers the machine off through ACPI S5; returns only
 * on failure (-errno), with the guests already gone.  May sleep.
 */
int power_off(void);
/* Stops dom0 at once (Xen reboots the machine); no hooks. */
void power_crash(void) __attribute__((noreturn));

#endif

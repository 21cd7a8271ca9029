/*
 * Ending the host: reboot, crash stop, and ACPI S5 power-off.
 *
 * SCHEDOP_shutdown(poweroff) from dom0 only halts Xen and leaves the machine
 * on (fact 22), so poweroff does what Linux dom0 does: read the FADT's PM1
 * control blocks and the DSDT's \_S5 sleep type (drivers/acpi), then ask Xen
 * to enter S5 with XENPF_enter_acpi_sleep.  If Xen refuses, or the machine is
 * still running a moment later, keel writes SLP_TYP|SLP_EN to the PM1 control
 * ports itself (with the I/O privilege from PHYSDEVOP_set_iopl).
 *
 * Before either reboot or power-off, the shutdown hooks of <keel/power.h>
 * run: guests first (the toolstack), then devices.
 */
#include <keel/acpi.h>
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>
#include <keel/mm.h>

static struct power_hook *hooks;
static bool hooks_ran;

void power_register_shutdown_hook(struct power_hook *hook)
{
	struct power_hook **pp = &hooks;

	/* Appended: within a stage, hooks run in registration order. */
	while (*pp)
		pp = &(*pp)->next;
	hook->next = NULL;
	*pp = hook;
}

void power_run_shutdown_hooks(enum power_action action)
{
	static const char *const stage_names[] = {
		[POWER_STAGE_GUESTS] = "guests", [POWER_STAGE_DEVICES] = "devices",
	};

	if (hooks_ran)
		return;
	hooks_ran = true;
	for (unsigned int stage = 0; stage < POWER_STAGE_COUNT; stage++) {
		for (struct power_hook *h = hooks; h; h = h->next) {
			if (h->stage != stage)
				continue;
			kprintf("keel: %s: shutdown stage '%s': %s\n",
				action == POWER_ACTION_REBOOT ? "reboot" : "poweroff",
				stage_names[stage], h->name);
			h->fn(h->ctx, action);
		}
	}
}

static void shutdown(unsigned int reason)
{
	struct sched_shutdown op = { .reason = reason };

	hyp_sched_op(SCHEDOP_shutdown, &op);
}

void power_crash(void)
{
	irq_disable();
	console_puts("keel: dom0 stopped (crash); Xen will reboot the machine\n");
	for (;;)
		shutdown(SHUTDOWN_crash);
}

void power_reboot(void)
{
	power_run_shutdown_hooks(POWER_ACTION_REBOOT);
	klog("keel: rebooting the machine\n");
	irq_disable();
	for (;;)
		shutdown(SHUTDOWN_reboot);
}


static inline void outw(uint16_t port, uint16_t val)
{
	__asm__ volatile("outw %0, %1" : : "a"(val), "Nd"(port));
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

int power_off(void)
{
	struct acpi_s5_info s5;
	int rc;

	power_run_shutdown_hooks(POWER_ACTION_OFF);
	rc = acpi_find_s5(acpi_ioremap_read, NULL, &s5);

	if (rc) {
		klog("poweroff: no usable ACPI S5 data (%d); cannot power off\n", rc);
		return rc;
	}
	klog("poweroff: ACPI PM1a_CNT %#x PM1b_CNT %#x, \\_S5 SLP_TYP a=%u b=%u\n",
	     s5.pm1a_cnt_blk, s5.pm1b_cnt_blk, s5.slp_typa, s5.slp_typb);

	struct physdev_set_iopl iopl = { .iopl = 1 };
	long io_rc = hyp_physdev_op(PHYSDEVOP_set_iopl, &iopl);
	uint16_t keep_a = 0, keep_b = 0;
	if (!io_rc) {
		/* Preserve the register's other bits (SCI_EN) as ACPICA does. */
		keep_a = inw(s5.pm1a_cnt_blk) & ~(ACPI_PM1_SLP_TYP_MASK | ACPI_PM1_SLP_EN);
		if (s5.pm1b_cnt_blk)
			keep_b = inw(s5.pm1b_cnt_blk) &
				 ~(ACPI_PM1_SLP_TYP_MASK | ACPI_PM1_SLP_EN);
	}
	uint16_t val_a = keep_a | acpi_s5_pm1_value(&s5, 0);
	uint16_t val_b = keep_b | acpi_s5_pm1_value(&s5, 1);

	struct xen_platform_op op = {
		.cmd = XENPF_enter_acpi_sleep,
		.interface_version = XENPF_INTERFACE_VERSION,
	};
	op.u.enter_acpi_sleep.val_a = val_a;
	op.u.enter_acpi_sleep.val_b = val_b;
	op.u.enter_acpi_sleep.sleep_state = 5;
	klog("keel: powering off\n");
	long prc = hyp_platform_op(&op);
	if (prc)
		klog("poweroff: XENPF_enter_acpi_sleep: %ld; writing PM1 control directly\n", prc);
	else
		thread_sleep_ns(1000000000ULL);

	if (io_rc) {
		klog("poweroff: PHYSDEVOP_set_iopl failed: %ld\n", io_rc);
		return (int)io_rc;
	}
	irq_disable();
	if (s5.pm1b_cnt_blk)
		outw(s5.pm1b_cnt_blk, val_b);
	outw(s5.pm1a_cnt_blk, val_a);
	for (volatile int i = 0; i < 100000000; i++)
		;
	irq_enable();
	klog("poweroff: the machine is still running after the S5 write\n");
	return -EIO;
}

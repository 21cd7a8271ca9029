/*
 * "Interrupts" for a PV kernel are event upcalls, switched off by the
 * evtchn_upcall_mask byte in our vcpu_info.  These helpers are the only place
 * that touches it outside the upcall path.
 */
#ifndef KEEL_IRQ_H
#define KEEL_IRQ_H

#include <lib/base.h>
#include <xen/xen.h>

extern struct shared_info *shared_info;

static inline struct vcpu_info *this_vcpu(void)
{
	return &shared_info->vcpu_info[0];
}

#define barrier() __asm__ volatile("" ::: "memory")

/* Makes Xen deliver an upcall that became pending while we were masked. */
void irq_force_callback(void);

static inline unsigned long irq_save(void)
{
	struct vcpu_info *v = this_vcpu();
	unsigned long old = v->evtchn_upcall_mask;

	v->evtchn_upcall_mask = 1;
	barrier();
	return old;
}

static inline void irq_restore(unsigned long old)
{
	struct vcpu_info *v = this_vcpu();

	barrier();
	v->evtchn_upcall_mask = (uint8_t)old;
	/* Unmasking does not deliver what is already pending (fact 16). */
	barrier();
	if (!old && v->evtchn_upcall_pending)
		irq_force_callback();
}

static inline void irq_disable(void)
{
	this_vcpu()->evtchn_upcall_mask = 1;
	barrier();
}

static inline void irq_enable(void)
{
	irq_restore(0);
}

#endif

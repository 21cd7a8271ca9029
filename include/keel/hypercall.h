/*
 * Typed hypercall wrappers.  Each returns Xen's result: 0 (or a value) on
 * success, a negative Xen errno (same numbers as ours) on failure.  None of
 * them sleep; all may be called with events masked.
 */
#ifndef KEEL_HYPERCALL_H
#define KEEL_HYPERCALL_H

#include <arch/hypercall.h>
#include <xen/event_channel.h>
#include <xen/memory.h>
#include <xen/physdev.h>
#include <xen/platform.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

static inline long hyp_console_io(int cmd, int count, char *buf)
{
	return hypercall3(__HYPERVISOR_console_io, cmd, count, buf);
}

static inline long hyp_sched_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_sched_op, cmd, arg);
}

static inline long hyp_event_channel_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_event_channel_op, cmd, arg);
}

static inline long hyp_physdev_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_physdev_op, cmd, arg);
}

static inline long hyp_xen_version(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_xen_version, cmd, arg);
}

static inline long hyp_memory_op(int cmd, void *arg)
{
	return hypercall2(__HYPERVISOR_memory_op, cmd, arg);
}

static inline long hyp_set_timer_op(uint64_t deadline_ns)
{
	return hypercall1(__HYPERVISOR_set_timer_op, deadline_ns);
}

static inline long hyp_mmu_update(mmu_update_t *req, unsigned int count,
				  unsigned int *done, domid_t foreigndom)
{
	return hypercall4(__HYPERVISOR_mmu_update, req, count, done, foreigndom);
}

static inline long hyp_mmuext_op(struct mmuext_op *op, unsigned int count,
				 unsigned int *done, domid_t foreigndom)
{
	return hypercall4(__HYPERVISOR_mmuext_op, op, count, done, foreigndom);
}

static inline long hyp_update_va_mapping(unsigned long va, uint64_t pte,
					 unsigned long flags)
{
	return hypercall3(__HYPERVISOR_update_va_mapping, va, pte, flags);
}

static inline long hyp_set_trap_table(const struct trap_info *table)
{
	return hypercall1(__HYPERVISOR_set_trap_table, table);
}

static inline long hyp_set_callbacks(unsigned long event, unsigned long failsafe,
				     unsigned long syscall)
{
	return hypercall3(__HYPERVISOR_set_callbacks, event, failsafe, syscall);
}

static inline long hyp_fpu_taskswitch(int set)
{
	return hypercall1(__HYPERVISOR_fpu_taskswitch, set);
}

static inline long hyp_set_segment_base(unsigned int which, unsigned long base)
{
	return hypercall2(__HYPERVISOR_set_segment_base, which, base);
}

static inline long hyp_vcpu_op(int cmd, unsigned int vcpu, void *arg)
{
	return hypercall3(__HYPERVISOR_vcpu_op, cmd, vcpu, arg);
}

static inline long hyp_sysctl(void *arg)
{
	return hypercall1(__HYPERVISOR_sysctl, arg);
}

static inline long hyp_domctl(void *arg)
{
	return hypercall1(__HYPERVISOR_domctl, arg);
}

static inline long hyp_platform_op(void *arg)
{
	return hypercall1(__HYPERVISOR_platform_op, arg);
}

static inline long hyp_grant_table_op(unsigned int cmd, void *arg, unsigned int count)
{
	return hypercall3(__HYPERVISOR_grant_table_op, cmd, arg, count);
}

#endif

/*
 * The virtual IDT: Xen delivers our exceptions to the stubs in head.S, which
 * call trap_handler with a uniform frame.  #NM (first SSE use) is handled
 * and returned from; any other exception is a keel bug: it prints the
 * registers and a frame-pointer backtrace, then stops dom0 cleanly.
 */
#include <keel/hypercall.h>
#include <keel/irq.h>
#include <keel/kernel.h>

struct trap_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi;
	int64_t vector;
	uint64_t error_code, rip, cs, rflags, rsp, ss;
};

#define STUB(name) extern char name[];
STUB(trap_divide_error) STUB(trap_debug) STUB(trap_nmi) STUB(trap_int3)
STUB(trap_overflow) STUB(trap_bounds) STUB(trap_invalid_op)
STUB(trap_device_not_available) STUB(trap_coprocessor_segment_overrun)
STUB(trap_invalid_TSS) STUB(trap_segment_not_present) STUB(trap_stack_segment)
STUB(trap_general_protection) STUB(trap_page_fault) STUB(trap_spurious_interrupt_bug)
STUB(trap_coprocessor_error) STUB(trap_alignment_check) STUB(trap_machine_check)
STUB(trap_simd_coprocessor_error)
extern char hypervisor_callback[], failsafe_callback[];
extern char _text[], _etext[];

/* Flags 0: DPL 0, events stay as they were (we mask nothing extra). */
#define ENTRY(v, fn) { (v), 0, FLAT_KERNEL_CS, (unsigned long)(fn) }
static const struct trap_info trap_table[] = {
	ENTRY(0, trap_divide_error), ENTRY(1, trap_debug), ENTRY(3, trap_int3),
	ENTRY(4, trap_overflow), ENTRY(5, trap_bounds), ENTRY(6, trap_invalid_op),
	ENTRY(7, trap_device_not_available), ENTRY(9, trap_coprocessor_segment_overrun),
	ENTRY(10, trap_invalid_TSS), ENTRY(11, trap_segment_not_present),
	ENTRY(12, trap_stack_segment), ENTRY(13, trap_general_protection),
	ENTRY(14, trap_page_fault), ENTRY(15, trap_spurious_interrupt_bug),
	ENTRY(16, trap_coprocessor_error), ENTRY(17, trap_alignment_check),
	ENTRY(18, trap_machine_check), ENTRY(19, trap_simd_coprocessor_error),
	{ 0, 0, 0, 0 }
};

static const char *const names[] = {
	"divide error", "debug", "NMI", "int3", "overflow", "bounds", "invalid opcode",
	"device not available", "double fault", "coprocessor overrun", "invalid TSS",
	"segment not present", "stack segment", "general protection", "page fault",
	"spurious", "x87 error", "alignment check", "machine check", "SIMD error",
};

static bool in_fatal;

void arch_backtrace(uint64_t rbp)
{
	kprintf("Backtrace (addr2line -e build/keel ADDR):\n");
	for (int depth = 0; depth < 16 && rbp; depth++) {
		/* Stay inside our own mapped memory; a corrupt chain ends the walk. */
		if (rbp < 0xffffffff80000000ULL || (rbp & 7))
			break;
		uint64_t *frame = (uint64_t *)rbp;
		uint64_t ret = frame[1];
		if (ret < (uint64_t)_text || ret >= (uint64_t)_etext)
			break;
		kprintf("  #%d %016llx\n", depth, (unsigned long long)ret);
		if (frame[0] <= rbp)
			break;
		rbp = frame[0];
	}
}

static void dump_frame(const struct trap_frame *f)
{
	kprintf("RIP: %04llx:%016llx  RFLAGS: %016llx  error code: %llx\n",
		(unsigned long long)(f->cs & 0xffff), (unsigned long long)f->rip,
		(unsigned long long)f->rflags, (unsigned long long)f->error_code);
	kprintf("RSP: %04llx:%016llx  CR2: %016llx\n", (unsigned long long)(f->ss & 0xffff),
		(unsigned long long)f->rsp, (unsigned long long)this_vcpu()->arch.cr2);
	kprintf("RAX: %016llx RBX: %016llx RCX: %016llx\n", (unsigned long long)f->rax,
		(unsigned long long)f->rbx, (unsigned long long)f->rcx);
	kprintf("RDX: %016llx RSI: %016llx RDI: %016llx\n", (unsigned long long)f->rdx,
		(unsigned long long)f->rsi, (unsigned long long)f->rdi);
	kprintf("RBP: %016llx R8:  %016llx R9:  %016llx\n", (unsigned long long)f->rbp,
		(unsigned long long)f->r8, (unsigned long long)f->r9);
	kprintf("R10: %016llx R11: %016llx R12: %016llx\n", (unsigned long long)f->r10,
		(unsigned long long)f->r11, (unsigned long long)f->r12);
	kprintf("R13: %016llx R14: %016llx R15: %016llx\n", (unsigned long long)f->r13,
		(unsigned long long)f->r14, (unsigned long long)f->r15);
}

void trap_handler(struct trap_frame *f)
{
	if (f->vector == 7) {
		/* First FPU/SSE use since boot: Xen set CR0.TS for us; clear it. */
		hyp_fpu_taskswitch(0);
		return;
	}
	irq_disable();
	if (in_fatal) {
		/* A fault while reporting a fault: do not loop, just stop. */
		console_puts("keel: fault during fault report, stopping\n");
		power_crash();
	}
	in_fatal = true;
	thread_stack_overflow_report(f->vector, this_vcpu()->arch.cr2, f->rsp);
	const char *name = f->vector >= 0 && (size_t)f->vector < ARRAY_SIZE(names)
				   ? names[f->vector] : "unknown";
	kprintf("\nkeel: FATAL EXCEPTION %lld (%s) in thread '%s'\n", (long long)f->vector,
		name, thread_name(thread_current()));
	dump_frame(f);
	kprintf("  #-1 %016llx (faulting instruction)\n", (unsigned long long)f->rip);
	arch_backtrace(f->rbp);
	kprintf("keel: stopped after fatal exception\n");
	power_crash();
}

void trap_failsafe(struct trap_frame *f)
{
	(void)f;
	console_puts("keel: failsafe callback (bad segment on return), stopping\n");
	power_crash();
}

void irq_force_callback(void)
{
	/* Any hypercall returns through the event check; this one is cheap. */
	hyp_xen_version(XENVER_version, NULL);
}

void traps_init(void)
{
	long rc = hyp_set_trap_table(trap_table);

	if (rc)
		panic("set_trap_table failed: %ld", rc);
	rc = hyp_set_callbacks((unsigned long)hypervisor_callback,
			       (unsigned long)failsafe_callback, 0);
	if (rc)
		panic("set_callbacks failed: %ld", rc);
}

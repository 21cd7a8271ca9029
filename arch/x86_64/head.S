/*
 * keel's entry from Xen, its ELF notes, and the low-level stubs for traps,
 * event upcalls and thread switches.  Everything here runs in ring 3 as a
 * 64-bit PV kernel; higher-level handling lives in arch/x86_64/traps.c and
 * xen/evtchn.c.
 */
#include <xen/elfnote.h>
#include <xen/xen.h>

#define NOTE(type, desctype, descdata) \
	.pushsection .note.Xen, "a"; \
	.balign 4; \
	.long 2f - 1f; \
	.long 4f - 3f; \
	.long type; \
1:	.asciz "Xen"; \
2:	.balign 4; \
3:	desctype descdata; \
4:	.balign 4; \
	.popsection

/* What Xen's PV loader checks (shared/reference facts 4-8). */
NOTE(XEN_ELFNOTE_GUEST_OS, .asciz, "keel")
NOTE(XEN_ELFNOTE_LOADER, .asciz, "generic")
NOTE(XEN_ELFNOTE_XEN_VERSION, .asciz, "xen-3.0")
NOTE(XEN_ELFNOTE_VIRT_BASE, .quad, 0xffffffff80000000)
NOTE(XEN_ELFNOTE_PADDR_OFFSET, .quad, 0xffffffff80000000)
NOTE(XEN_ELFNOTE_ENTRY, .quad, _start)
NOTE(XEN_ELFNOTE_HYPERCALL_PAGE, .quad, hypercall_page)
/* XENFEAT_dom0 (bit 11): keel can run as the control domain. */
NOTE(XEN_ELFNOTE_SUPPORTED_FEATURES, .long, (1 << 11))

	.section .text.head, "ax"
	.code64
	.globl _start
_start:
	cld
	/* rsi = start_info; Xen's boot stack is replaced by our own. */
	leaq boot_stack_top(%rip), %rsp
	movq %rsi, %rdi
	xorl %ebp, %ebp
	call kernel_start
1:	hlt
	jmp 1b

	.text

/*
 * Exceptions arrive as [rcx, r11, (error code), rip, cs, rflags, rsp, ss]
 * (fact 18).  Every stub restores rcx/r11, makes the frame uniform with a
 * dummy error code where the CPU pushes none, and pushes the vector.
 */
.macro TRAP_NOERR name vec
	.globl \name
\name:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $0
	pushq $\vec
	jmp trap_common
.endm

.macro TRAP_ERR name vec
	.globl \name
\name:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $\vec
	jmp trap_common
.endm

.macro SAVE_REGS
	pushq %rdi
	pushq %rsi
	pushq %rdx
	pushq %rcx
	pushq %rax
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %rbx
	pushq %rbp
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

.macro RESTORE_REGS
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbp
	popq %rbx
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rax
	popq %rcx
	popq %rdx
	popq %rsi
	popq %rdi
.endm

TRAP_NOERR trap_divide_error 0
TRAP_NOERR trap_debug 1
TRAP_NOERR trap_nmi 2
TRAP_NOERR trap_int3 3
TRAP_NOERR trap_overflow 4
TRAP_NOERR trap_bounds 5
TRAP_NOERR trap_invalid_op 6
TRAP_NOERR trap_device_not_available 7
TRAP_NOERR trap_coprocessor_segment_overrun 9
TRAP_ERR trap_invalid_TSS 10
TRAP_ERR trap_segment_not_present 11
TRAP_ERR trap_stack_segment 12
TRAP_ERR trap_general_protection 13
TRAP_ERR trap_page_fault 14
TRAP_NOERR trap_spurious_interrupt_bug 15
TRAP_NOERR trap_coprocessor_error 16
TRAP_ERR trap_alignment_check 17
TRAP_NOERR trap_machine_check 18
TRAP_NOERR trap_simd_coprocessor_error 19

trap_common:
	SAVE_REGS
	movq %rsp, %rdi
	call trap_handler
	RESTORE_REGS
	addq $16, %rsp		/* vector and error code */
	/* Return through HYPERVISOR_iret: it takes [flags, rip, cs, rflags,
	 * rsp, ss] and restores the event mask from the saved IF bit. */
	pushq $0
	jmp hypercall_page + (__HYPERVISOR_iret * 32)

/*
 * Event upcall: [rcx, r11, rip, cs, rflags, rsp, ss] pushed on the current
 * stack with events masked (fact 15).  The C handler runs with events still
 * masked; the iret hypercall unmasks them and Xen redelivers anything that
 * became pending meanwhile.
 */
	.globl hypervisor_callback
hypervisor_callback:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $0
	pushq $-1
	SAVE_REGS
	movq %rsp, %rdi
	call evtchn_do_upcall
	RESTORE_REGS
	addq $16, %rsp
	pushq $0
	jmp hypercall_page + (__HYPERVISOR_iret * 32)

/* Xen calls this when it could not load our segment state on return. */
	.globl failsafe_callback
failsafe_callback:
	movq (%rsp), %rcx
	movq 8(%rsp), %r11
	addq $16, %rsp
	pushq $0
	pushq $-2
	SAVE_REGS
	movq %rsp, %rdi
	call trap_failsafe
1:	hlt
	jmp 1b

/*
 * void arch_switch_stack(uint64_t *save_rsp, uint64_t new_rsp)
 * Cooperative switch: only callee-saved registers need saving.
 */
	.globl arch_switch_stack
arch_switch_stack:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

/* First code of a new thread: r12 = function, r13 = argument. */
	.globl arch_thread_trampoline
arch_thread_trampoline:
	movq %r13, %rdi
	call *%r12
	call thread_exit
1:	hlt
	jmp 1b

	.bss
	.balign 16
boot_stack:
	.skip 32768
	.globl boot_stack_top
boot_stack_top:

/*
 * x86_64 PV hypercalls: a call into the hypercall page Xen filled in, entry
 * number * 32.  Arguments go in rdi, rsi, rdx, r10, r8; the entry clobbers
 * rcx and r11 (fact 14).  Xen may also scribble on argument registers in
 * debug builds, so every argument register is an in/out operand here.
 */
#ifndef KEEL_ARCH_HYPERCALL_H
#define KEEL_ARCH_HYPERCALL_H

#include <lib/base.h>
#include <xen/xen.h>

extern char hypercall_page[4096];

#define HYPERCALL_STR(n) "call hypercall_page + (" #n " * 32)"

static inline long hypercall5(unsigned int op, unsigned long a1, unsigned long a2,
			      unsigned long a3, unsigned long a4, unsigned long a5)
{
	register unsigned long r10 __asm__("r10") = a4;
	register unsigned long r8 __asm__("r8") = a5;
	long ret;

	__asm__ volatile("call *%[entry]"
			 : "=a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8)
			 : [entry] "r"(hypercall_page + op * 32)
			 : "memory", "rcx", "r11");
	return ret;
}

#define hypercall0(op) hypercall5((op), 0, 0, 0, 0, 0)
#define hypercall1(op, a) hypercall5((op), (unsigned long)(a), 0, 0, 0, 0)
#define hypercall2(op, a, b) \
	hypercall5((op), (unsigned long)(a), (unsigned long)(b), 0, 0, 0)
#define hypercall3(op, a, b, c) \
	hypercall5((op), (unsigned long)(a), (unsigned long)(b), (unsigned long)(c), 0, 0)
#define hypercall4(op, a, b, c, d) \
	hypercall5((op), (unsigned long)(a), (unsigned long)(b), (unsigned long)(c), \
		   (unsigned long)(d), 0)

#endif

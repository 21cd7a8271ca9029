/*
 * x86 port I/O and memory-mapped register access, with the ordering each
 * needs.  Port I/O needs the I/O privilege (PHYSDEVOP_set_iopl, see
 * arch_io_init in drivers/pci/pci.c); Xen emulates the ports it keeps for
 * itself (0xcf8/0xcfc) and passes the rest through.
 *
 * Ordering on x86: loads and stores to write-back memory are seen by a
 * device in program order (TSO, coherent DMA), and accesses to an uncached
 * mapping are never reordered with each other or with earlier stores, so a
 * driver needs only to stop the *compiler* reordering: every accessor below
 * is a volatile access with a compiler barrier on both sides.  The fence
 * macros exist for the rare write-combining case and to name intent.
 */
#ifndef ARCH_IO_H
#define ARCH_IO_H

#include <lib/base.h>

#define io_compiler_barrier() __asm__ volatile("" ::: "memory")
/* Full fences: a store before mb() is globally visible before a load after it. */
#define mb() __asm__ volatile("mfence" ::: "memory")
#define rmb() __asm__ volatile("lfence" ::: "memory")
#define wmb() __asm__ volatile("sfence" ::: "memory")
/* Ordering of normal-memory descriptor writes against each other as a DMA
 * device sees them: x86 keeps store order, so a compiler barrier suffices. */
#define dma_wmb() io_compiler_barrier()
#define dma_rmb() io_compiler_barrier()

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

/* MMIO: `addr` is an uncached mapping from ioremap(). */
static inline uint8_t mmio_read8(const volatile void *addr)
{
	uint8_t v;
	__asm__ volatile("movb %1, %0" : "=q"(v) : "m"(*(const volatile uint8_t *)addr) : "memory");
	return v;
}

static inline uint16_t mmio_read16(const volatile void *addr)
{
	uint16_t v;
	__asm__ volatile("movw %1, %0" : "=r"(v) : "m"(*(const volatile uint16_t *)addr) : "memory");
	return v;
}

static inline uint32_t mmio_read32(const volatile void *addr)
{
	uint32_t v;
	__asm__ volatile("movl %1, %0" : "=r"(v) : "m"(*(const volatile uint32_t *)addr) : "memory");
	return v;
}

/* A 64-bit register read as one access (NVMe CAP); devices that need two
 * 32-bit halves use mmio_read32 twice. */
static inline uint64_t mmio_read64(const volatile void *addr)
{
	uint64_t v;
	__asm__ volatile("movq %1, %0" : "=r"(v) : "m"(*(const volatile uint64_t *)addr) : "memory");
	return v;
}

static inline void mmio_write8(volatile void *addr, uint8_t v)
{
	__asm__ volatile("movb %1, %0" : "=m"(*(volatile uint8_t *)addr) : "q"(v) : "memory");
}

static inline void mmio_write16(volatile void *addr, uint16_t v)
{
	__asm__ volatile("movw %1, %0" : "=m"(*(volatile uint16_t *)addr) : "r"(v) : "memory");
}

static inline void mmio_write32(volatile void *addr, uint32_t v)
{
	__asm__ volatile("movl %1, %0" : "=m"(*(volatile uint32_t *)addr) : "r"(v) : "memory");
}

static inline void mmio_write64(volatile void *addr, uint64_t v)
{
	__asm__ volatile("movq %1, %0" : "=m"(*(volatile uint64_t *)addr) : "r"(v) : "memory");
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

#endif

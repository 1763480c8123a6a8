/* Port I/O and the few privileged operations kernel C code needs, as inline functions.
   Kernel C code runs at CPL 3, so each of these is a call into the ring-0 monitor (arch/x86/monitor.h);
   they are slow (a trap each) and meant for device setup and consoles, not for hot paths. MMIO, rdtsc
   and cpuid work directly. */
#ifndef ARCH_X86_IO_H
#define ARCH_X86_IO_H
#include <stdint.h>
#include "arch/x86/monitor.h"

static inline void outb(uint16_t port, uint8_t v) { monitor_call(MON_OUTB, port, v, 0); }
static inline void outw(uint16_t port, uint16_t v) { monitor_call(MON_OUTW, port, v, 0); }
static inline void outl(uint16_t port, uint32_t v) { monitor_call(MON_OUTL, port, v, 0); }
static inline uint8_t inb(uint16_t port) { return (uint8_t)monitor_call(MON_INB, port, 0, 0); }
static inline uint16_t inw(uint16_t port) { return (uint16_t)monitor_call(MON_INW, port, 0, 0); }
static inline uint32_t inl(uint16_t port) { return (uint32_t)monitor_call(MON_INL, port, 0, 0); }
static inline void io_wait(void) { outb(0x80, 0); }
static inline void cpu_relax(void) { __asm__ volatile("pause"); }
/* Sleep until the next interrupt (returns at once when one is already pending). */
static inline void cpu_wait_irq(void) { monitor_call(MON_WAIT_IRQ, 0, 0, 0); }
static inline uint64_t rdmsr(uint32_t msr) { return monitor_call(MON_RDMSR, msr, 0, 0); }
static inline void wrmsr(uint32_t msr, uint64_t v) { monitor_call(MON_WRMSR, msr, v, 0); }
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#endif

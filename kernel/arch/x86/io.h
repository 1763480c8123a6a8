/* Port I/O and the few privileged operations kernel C code needs, as inline functions.
   Kernel C code runs at CPL 3. Port I/O is the plain instruction: the TSS's I/O permission bitmap allows every
   port (arch/x86/monitor.h); under kvm-pvm each access is still a VM exit (~15 us), so it is for device setup
   and consoles, not for hot paths. cpu_wait_irq and the MSRs are calls into the ring-0 monitor. MMIO, rdtsc
   and cpuid work directly. */
#ifndef ARCH_X86_IO_H
#define ARCH_X86_IO_H
#include <stdint.h>
#include "arch/x86/monitor.h"

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
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

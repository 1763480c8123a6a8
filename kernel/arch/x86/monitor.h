/* The ring-0 monitor's call interface. All kernel C code runs at CPL 3 in long mode (see docs/ARCHITECTURE.md:
   under kvm-pvm only 64-bit CPL-3 code runs natively); privileged work is requested with `ud1 %eax, %eax`: the
   #UD handler at CPL 0 sees that marker at RIP, performs operation RAX with arguments RDI/RSI/RDX, returns the
   result in RAX and resumes after it. (kvm-pvm answers `int $0x80` with #UD and does not enter CPL 0 on SYSCALL,
   but it does deliver exceptions through the IDT; the marker behaves the same under TCG and on real CPUs.)
   RCX, RDX, RSI and RDI are clobbered. The monitor itself is kernel/arch/x86/monitor.S. */
#ifndef ARCH_X86_MONITOR_H
#define ARCH_X86_MONITOR_H

#define MON_OUTB 0         /* (port, value) */
#define MON_OUTW 1
#define MON_OUTL 2
#define MON_INB 3          /* (port) -> value */
#define MON_INW 4
#define MON_INL 5
#define MON_WAIT_IRQ 6     /* halt until an interrupt unless one is already pending */
#define MON_WAIT_WORD 7    /* (addr, old): halt until an interrupt unless *(uint64_t *)addr != old (SMP workers) */
/* 8 is unused (was a PIC mask operation; interrupts go through the APICs, see irq.h) */
#define MON_EXIT 9         /* (code): isa-debug-exit, then power off; never returns */
#define MON_RDMSR 10       /* (msr) -> value */
#define MON_WRMSR 11       /* (msr, value) */
#define MON_SERIAL_WRITE 12 /* (ptr, len): bytes to COM1 */
#define MON_PCI_READ32 13  /* (config address) -> dword: out 0xcf8 then in 0xcfc in one trap (drivers/pci.c) */
#define MON_PCI_WRITE32 14 /* (config address, dword): out 0xcf8 then out 0xcfc in one trap */
#define MON_COUNT 15


/* The marker instruction, `ud1 %eax, %eax`, spelled as bytes for any assembler. Not UD2: gcc emits UD2 for
   __builtin_trap(), which must stay a fault rather than become a monitor call. */
#define MON_CALL_INSN ".byte 0x0f, 0xb9, 0xc0"

#ifndef __ASSEMBLER__
#include <stdint.h>

static inline uint64_t monitor_call(uint64_t op, uint64_t a1, uint64_t a2, uint64_t a3)
{
    uint64_t ret = op;
    __asm__ volatile(MON_CALL_INSN : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3) : : "rcx", "memory");
    return ret;
}
#endif

#endif

/* The ring-0 monitor's call interface. All kernel C code runs at CPL 3 in long mode (see docs/ARCHITECTURE.md:
   under kvm-pvm only 64-bit CPL-3 code runs natively); privileged work is requested with `ud1 %eax, %eax`: the
   #UD handler at CPL 0 sees that marker at RIP, performs operation RAX with arguments RDI/RSI/RDX, returns the
   result in RAX and resumes after it. (kvm-pvm answers `int $0x80` with #UD and does not enter CPL 0 on SYSCALL,
   but it does deliver exceptions through the IDT; the marker behaves the same under TCG and on real CPUs.)
   RCX, RDX, RSI and RDI are clobbered. The monitor itself is kernel/arch/x86/monitor.S.
   Port I/O is not a monitor call: every CPU's TSS carries an I/O permission bitmap that allows all ports, so
   `in`/`out` work at CPL 3 (arch/x86/io.h). Under kvm-pvm each one is still a VM exit, but one that the host
   emulates alone (~15 us measured) instead of a #UD delivered to the guest plus the CPL-0 handler run by the
   instruction emulator (~33 us for one byte, ~37 us for a PCI configuration dword). */
#ifndef ARCH_X86_MONITOR_H
#define ARCH_X86_MONITOR_H

/* 0-5 are unused (were port I/O; see above) */
#define MON_WAIT_IRQ 6     /* halt until an interrupt unless one is already pending */
#define MON_WAIT_WORD 7    /* (addr, old): halt until an interrupt unless *(uint64_t *)addr != old (SMP workers) */
/* 8 is unused (was a PIC mask operation; interrupts go through the APICs, see irq.h) */
#define MON_EXIT 9         /* (code): isa-debug-exit, then power off; never returns */
#define MON_RDMSR 10       /* (msr) -> value */
#define MON_WRMSR 11       /* (msr, value) */
#define MON_SERIAL_WRITE 12 /* (ptr, len): bytes to COM1 (`rep outsb` at CPL 0: ~7 us a byte under kvm-pvm; the
                              same instruction at CPL 3 exits once per byte, ~20 us each) */
#define MON_COUNT 13

/* The TSS's I/O permission bitmap: one bit per port (0 = allowed), then a byte of all ones (SDM vol. 1, 19.5.2) */
#define TSS_IOMAP_BYTES (65536 / 8)
#define TSS_IOMAP_LIMIT (104 + TSS_IOMAP_BYTES) /* TSS descriptor limit: last byte is the 0xff after the bitmap */


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

/* CPU exceptions in the CPL-3 kernel: the monitor (monitor.S) saves the state here and resumes CPL 3 in
   arch_fault_entry (fault.c), which prints a register dump and a backtrace, then exits with FAULT_EXIT_CODE. */
#ifndef ARCH_X86_FAULT_H
#define ARCH_X86_FAULT_H
#include <stdint.h>

#define FAULT_EXIT_CODE 3 /* kernel exit status after a CPU exception (QEMU exits with 7) */

struct fault_frame { /* order fixed by monitor.S */
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t vector, error, rip, cs, rflags, rsp, ss, cr2;
};
_Static_assert(sizeof(struct fault_frame) == 23 * 8, "fault_frame layout is shared with monitor.S");

void arch_fault_entry(struct fault_frame *f) __attribute__((noreturn));
/* Boot self-test (command line fault=pf|ud|de|gp): raise that CPU exception on purpose so the tests can check the
   dump and the exit status. Returns only for an unknown kind. */
void fault_selftest(const char *kind);

#endif

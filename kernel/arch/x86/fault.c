/* Report a CPU exception taken at CPL 3: vector name, error code, CR2, every register and a frame-pointer
   backtrace on the consoles, then exit non-zero. A fault is never silent and never a hang. */
#include "arch/x86/fault.h"
#include "core/log.h"
#include "core/power.h"

static const char *const fault_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD exception", "#VE virtualization", "#CP control protection",
};

extern const char __kernel_start[], __kernel_end[];

void arch_fault_entry(struct fault_frame *f)
{
    const char *name = f->vector < 32 && fault_names[f->vector] ? fault_names[f->vector] : "unknown";
    kprintf("\nFAULT: CPU exception %llu (%s), error code %#llx\n", (unsigned long long)f->vector, name,
            (unsigned long long)f->error);
    if (f->vector == 14)
        kprintf("  CR2 %#018llx (%s, %s)\n", (unsigned long long)f->cr2, (f->error & 1) ? "protection" : "not present",
                (f->error & 2) ? "write" : "read");
    kprintf("  RIP %#018llx  RSP %#018llx  RFLAGS %#llx  CS %#llx SS %#llx\n", (unsigned long long)f->rip,
            (unsigned long long)f->rsp, (unsigned long long)f->rflags, (unsigned long long)f->cs,
            (unsigned long long)f->ss);
    kprintf("  RAX %#018llx  RBX %#018llx  RCX %#018llx  RDX %#018llx\n", (unsigned long long)f->rax,
            (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    kprintf("  RSI %#018llx  RDI %#018llx  RBP %#018llx  R8  %#018llx\n", (unsigned long long)f->rsi,
            (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->r8);
    kprintf("  R9  %#018llx  R10 %#018llx  R11 %#018llx  R12 %#018llx\n", (unsigned long long)f->r9,
            (unsigned long long)f->r10, (unsigned long long)f->r11, (unsigned long long)f->r12);
    kprintf("  R13 %#018llx  R14 %#018llx  R15 %#018llx\n", (unsigned long long)f->r13, (unsigned long long)f->r14,
            (unsigned long long)f->r15);
    /* Frame-pointer chain: [rbp] = caller's rbp, [rbp+8] = return address. Stop at anything implausible. */
    kprintf("  backtrace: %#llx", (unsigned long long)f->rip);
    uint64_t rbp = f->rbp;
    for (int depth = 0; depth < 16; depth++) {
        if (rbp < 0x1000 || (rbp & 7) || rbp >= (uint64_t)(uintptr_t)__kernel_end)
            break;
        const uint64_t *fp = (const uint64_t *)(uintptr_t)rbp;
        uint64_t ret = fp[1];
        if (ret < (uint64_t)(uintptr_t)__kernel_start || ret >= (uint64_t)(uintptr_t)__kernel_end)
            break;
        kprintf(" %#llx", (unsigned long long)ret);
        rbp = fp[0];
    }
    kprintf("\n");
    power_exit(FAULT_EXIT_CODE);
}

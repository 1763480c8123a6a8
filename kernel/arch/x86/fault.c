/* Report a CPU exception taken at CPL 3: vector name, error code, CR2, every register and a frame-pointer
   backtrace on the consoles, then exit non-zero. A fault is never silent and never a hang. */
#include "arch/x86/fault.h"
#include "core/log.h"
#include "core/power.h"
#include "lib/string.h"

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
        kprintf("  CR2 0x%016llx (%s, %s)\n", (unsigned long long)f->cr2, (f->error & 1) ? "protection" : "not present",
                (f->error & 2) ? "write" : "read");
    kprintf("  RIP 0x%016llx  RSP 0x%016llx  RFLAGS %#llx  CS %#llx SS %#llx\n", (unsigned long long)f->rip,
            (unsigned long long)f->rsp, (unsigned long long)f->rflags, (unsigned long long)f->cs,
            (unsigned long long)f->ss);
    kprintf("  RAX 0x%016llx  RBX 0x%016llx  RCX 0x%016llx  RDX 0x%016llx\n", (unsigned long long)f->rax,
            (unsigned long long)f->rbx, (unsigned long long)f->rcx, (unsigned long long)f->rdx);
    kprintf("  RSI 0x%016llx  RDI 0x%016llx  RBP 0x%016llx  R8  0x%016llx\n", (unsigned long long)f->rsi,
            (unsigned long long)f->rdi, (unsigned long long)f->rbp, (unsigned long long)f->r8);
    kprintf("  R9  0x%016llx  R10 0x%016llx  R11 0x%016llx  R12 0x%016llx\n", (unsigned long long)f->r9,
            (unsigned long long)f->r10, (unsigned long long)f->r11, (unsigned long long)f->r12);
    kprintf("  R13 0x%016llx  R14 0x%016llx  R15 0x%016llx\n", (unsigned long long)f->r13, (unsigned long long)f->r14,
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

void fault_selftest(const char *kind)
{
    log_warn("fault: raising %s on purpose (command line fault=%s)", kind, kind);
    if (strcmp(kind, "pf") == 0) {
        volatile uintptr_t addr = 0x10; /* page 0 is not mapped */
        *(volatile uint32_t *)addr = 1;
    } else if (strcmp(kind, "ud") == 0) {
        __builtin_trap(); /* UD2 */
    } else if (strcmp(kind, "de") == 0) {
        uint32_t lo = 1, hi = 0, zero = 0; /* a real DIV: gcc folds 1u / x into a comparison */
        __asm__ volatile("divl %2" : "+a"(lo), "+d"(hi) : "r"(zero));
    } else if (strcmp(kind, "gp") == 0) {
        __asm__ volatile("cli"); /* privileged at CPL 3 */
    }
    log_warn("fault: unknown kind '%s' (pf, ud, de, gp)", kind);
}

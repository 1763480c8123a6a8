/* Multiprocessor bring-up: every CPU in the ACPI MADT (arch/x86/acpi.c) is started with INIT-SIPI-SIPI through
   the local APIC's ICR (MMIO, done at CPL 3). Each application processor (AP) runs the real-mode trampoline
   (arch/x86/ap_boot.S, copied below 1 MiB), climbs to long mode on the boot CPU's page tables, loads its own
   TSS (RSP0 = its own monitor stack; GDT slot 0x40 + 16 * cpu, reserved in boot.S) and drops to CPL 3 in
   smp_ap_main, which enables its local APIC and enters the worker loop (llm/workers.c). The boot CPU (index 0)
   keeps serving the network and joins the workers for each matrix product. */
#ifndef ARCH_X86_SMP_H
#define ARCH_X86_SMP_H

#define SMP_MAX_CPUS 16              /* CPUs we bring up at most (GDT TSS slots in boot.S) */
#define SMP_TRAMPOLINE 0x8000        /* physical page the AP trampoline is copied to (SIPI vector 0x08) */
#define SMP_WAKE_VECTOR 0x3e         /* IPI that wakes a halted worker (monitor.S treats it as IRQ bit 30) */
#define SMP_SEL_TSS(cpu) (0x40 + 16 * (cpu))

/* Offsets in struct smp_ap_args (ap_boot.S reads them). */
#define SMP_ARG_MONITOR_STACK 0
#define SMP_ARG_USER_STACK 8
#define SMP_ARG_CPU 16
#define SMP_ARG_TSS_SEL 24
#define SMP_ARG_ALIVE 32

#ifndef __ASSEMBLER__
#include <stdbool.h>
#include <stdint.h>

/* What the boot CPU hands the AP it is starting (one at a time). */
struct smp_ap_args {
    uint64_t monitor_stack;   /* RSP0 top (CPL-0 stack for interrupts and monitor calls) */
    uint64_t user_stack;      /* CPL-3 stack top for smp_ap_main */
    uint64_t cpu;             /* our index: 1..n-1 */
    uint64_t tss_sel;         /* GDT selector of its TSS */
    volatile uint64_t alive;  /* set to cpu by the AP at CPL 0 once in long mode and done with these fields */
};

extern struct smp_ap_args smp_ap_args;

/* Boot: find the CPUs (MADT) and set up the worker pool; returns the MADT's count. The APs are started by
   smp_poll, which the event loop calls (true when it did something): its first call starts the first AP, later
   ones start the next as each arrives, and log "smp: CPU k ... online after N us" per AP, then "smp: N CPUs
   online". Not before the loop: under kvm-pvm an AP's climb to long mode is emulated (~2 ms) and slowed the
   boot CPU's own VM exits meanwhile, so the kernel now listens first. smp_finish waits for the end of it. */
int smp_init(void);
bool smp_poll(void);
void smp_finish(void);
int smp_cpu_count(void);           /* CPUs started (reached long mode), the boot CPU included */
int smp_cpus_running(void);        /* of those, CPUs that have reached CPL 3 (smp_ap_main) */
/* Send the wake IPI to CPU index cpu (1..n-1). */
void smp_wake(int cpu);
/* Entered at CPL 3 on each AP (from ap_boot.S); never returns. */
void smp_ap_main(uint64_t cpu) __attribute__((noreturn));
#endif

#endif

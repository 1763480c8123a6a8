/* SMP bring-up (see smp.h): MADT processors -> per-AP TSS, stacks and GDT slot -> INIT-SIPI-SIPI, one AP at a
   time. The boot CPU never waits for an AP: the event loop's first smp_poll sends the first one's INIT and SIPI,
   and later calls notice when it has reached long mode and taken its arguments (smp_ap_args is then free for the
   next one), sends the second SIPI if it has not come up 200 us after the first, and starts the next; the AP
   finishes its way to CPL 3 and the worker loop on its own (llm/workers.c never waits for a worker to start,
   and counts only the CPUs online so far). Runs at CPL 3 on the boot CPU: the ICR and the
   trampoline page are plain identity-mapped memory. INIT/SIPI protocol: Intel SDM vol. 3A, 9.4.4.1 (the MP
   initialization example: INIT, 10 ms, SIPI, 200 us, SIPI) and 12.6.1 (ICR). The 10 ms after INIT is for
   the external-APIC (82489DX) era: Pentium 4 / P6-family and later Intel CPUs, AMD family 0Fh and later, and
   virtual CPUs accept the SIPI at once (Linux skips the wait on them too), so it is skipped there. */
#include "arch/x86/smp.h"
#include "arch/x86/acpi.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/mboot.h"
#include "lib/string.h"
#include "llm/workers.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_ID 0x020
#define LAPIC_TPR 0x080
#define LAPIC_SVR 0x0f0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define ICR_INIT 0x00000500u
#define ICR_STARTUP 0x00000600u
#define ICR_ASSERT 0x00004000u
#define ICR_LEVEL 0x00008000u
#define ICR_PENDING 0x00001000u   /* delivery status: send pending */

#define AP_MONITOR_STACK 16384    /* bytes: interrupts and monitor calls at CPL 0 */
#define AP_DF_STACK 4096          /* bytes: double-fault IST */
#define AP_USER_STACK (256 * 1024) /* bytes: the worker loop at CPL 3 */
#define AP_START_TIMEOUT_NS 500000000ull  /* per AP; under kvm-pvm real mode is emulated (~1.4 M instr/s) */
#define AP_INIT_DELAY_US 10000            /* after INIT, for CPUs older than smp_init_needs_no_delay() accepts */
#define AP_SIPI_DELAY_US 200              /* after the first SIPI, before a second one if the AP is not up */

struct smp_ap_args smp_ap_args;
extern uint8_t gdt[];
extern const uint8_t gdt_ptr32[6];
extern const uint8_t ap_trampoline_start[], ap_trampoline_end[], ap_gdt_ptr[];

static int n_online = 1;
static uint32_t cpu_apic_id[SMP_MAX_CPUS];
static volatile uint32_t ap_started[SMP_MAX_CPUS];   /* set by smp_ap_main at CPL 3 (smp_cpus_running) */

static inline void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v; }
static inline uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg); }

static void delay_us(uint64_t us)
{
    uint64_t t0 = clock_ns();
    while (clock_ns() - t0 < us * 1000u)
        cpu_relax();
}

static int icr_send(uint32_t apic_id, uint32_t lo)
{
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, lo);
    for (int i = 0; i < 100000; i++)
        if (!(lapic_read(LAPIC_ICR_LO) & ICR_PENDING))
            return 0;
    return -1;
}

void smp_wake(int cpu)
{
    if (cpu > 0 && cpu < n_online)
        icr_send(cpu_apic_id[cpu], SMP_WAKE_VECTOR);  /* fixed delivery, physical destination, edge */
}

int smp_cpu_count(void) { return n_online; }

int smp_cpus_running(void)
{
    int n = 1;
    for (int i = 1; i < n_online; i++)
        n += __atomic_load_n(&ap_started[i], __ATOMIC_ACQUIRE) != 0;
    return n;
}

/* The trampoline page must be RAM the memory map calls available (and the heap never uses the first MiB). */
static int trampoline_page_free(void)
{
    const struct mboot_info *mb = mboot_get();
    if (mb->n_mmap == 0)
        return mb->mem_lower_kb * 1024u >= SMP_TRAMPOLINE + 4096u;
    for (int i = 0; i < mb->n_mmap; i++)
        if (mb->mmap[i].type == MBOOT_MEM_AVAILABLE && mb->mmap[i].base <= SMP_TRAMPOLINE &&
            mb->mmap[i].base + mb->mmap[i].len >= SMP_TRAMPOLINE + 4096u)
            return 1;
    return 0;
}

/* A 64-bit available-TSS descriptor for tss (SDM vol. 3A, 8.2.3) in GDT slot of cpu. */
static void gdt_set_tss(int cpu, const uint8_t *tss)
{
    uint8_t *d = gdt + SMP_SEL_TSS(cpu);
    uint64_t base = (uintptr_t)tss;
    memset(d, 0, 16);
    d[0] = (uint8_t)TSS_IOMAP_LIMIT;
    d[1] = (uint8_t)(TSS_IOMAP_LIMIT >> 8);
    d[2] = (uint8_t)base;
    d[3] = (uint8_t)(base >> 8);
    d[4] = (uint8_t)(base >> 16);
    d[5] = 0x89;
    d[7] = (uint8_t)(base >> 24);
    d[8] = (uint8_t)(base >> 32);
    d[9] = (uint8_t)(base >> 40);
    d[10] = (uint8_t)(base >> 48);
    d[11] = (uint8_t)(base >> 56);
}

/* Whether the 10 ms wait after INIT can be skipped: integrated-APIC CPUs (Intel family 6 and up, AMD 0Fh and up)
   and any virtual CPU. */
static bool smp_init_needs_no_delay(void)
{
    const struct cpu_features *f = &cpu_features;
    if (f->hypervisor[0])
        return true;
    if (strcmp(f->vendor, "GenuineIntel") == 0)
        return f->family >= 6;
    if (strcmp(f->vendor, "AuthenticAMD") == 0 || strcmp(f->vendor, "HygonGenuine") == 0)
        return f->family >= 0x0f;
    return false;
}

/* The bring-up in progress: the MADT's APIC IDs, the next one to start, and the AP being started (0: none).
   An AP's climb to long mode is run by the instruction emulator under kvm-pvm (~2 ms), so the boot CPU does not
   wait for it: smp_poll, called by the event loop, sees it arrive and starts the next one. */
static struct {
    uint32_t ids[SMP_MAX_CPUS];
    int n, next;              /* MADT entries (capped); index of the next to consider */
    uint32_t self;            /* the boot CPU's APIC ID */
    int starting;             /* CPU index being started, 0 when none */
    int sipis;                /* STARTUP IPIs sent to it */
    uint64_t t0_ns, sipi_ns;  /* when its INIT and its last SIPI went out */
    bool done;
} boot;

static void smp_boot_done(void)
{
    boot.done = true;
    boot.starting = 0;
    workers_set_count(n_online);
    log_info("smp: %d CPUs online (MADT lists %d)", n_online, boot.n);
}

/* Prepare CPU index cpu (TSS, stacks, GDT slot, smp_ap_args) and send INIT and the first SIPI. */
static int start_ap(int cpu, uint32_t apic_id)
{
    uint8_t *tss = kcalloc(1, TSS_IOMAP_LIMIT + 1);
    uint8_t *mstack = kmalloc_aligned(AP_MONITOR_STACK + AP_DF_STACK, 4096);
    uint8_t *ustack = kmalloc_aligned(AP_USER_STACK, 4096);
    if (!tss || !mstack || !ustack) {
        log_error("smp: out of memory for CPU %d's stacks", cpu);
        return -1;
    }
    uint64_t rsp0 = (uintptr_t)mstack + AP_MONITOR_STACK, ist1 = rsp0 + AP_DF_STACK;
    memcpy(tss + 4, &rsp0, 8);
    memcpy(tss + 36, &ist1, 8);
    tss[102] = 104;                               /* I/O bitmap right after the TSS: every port allowed, as on */
    tss[TSS_IOMAP_LIMIT] = 0xff;                  /* the boot CPU (arch/x86/monitor.h), then its 0xff byte */
    gdt_set_tss(cpu, tss);
    smp_ap_args.monitor_stack = rsp0;
    smp_ap_args.user_stack = (uintptr_t)ustack + AP_USER_STACK;
    smp_ap_args.cpu = (uint64_t)cpu;
    smp_ap_args.tss_sel = SMP_SEL_TSS(cpu);
    smp_ap_args.alive = 0;
    cpu_apic_id[cpu] = apic_id;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    boot.t0_ns = clock_ns();
    if (icr_send(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL) < 0)
        return -1;
    if (!smp_init_needs_no_delay())
        delay_us(AP_INIT_DELAY_US);
    if (icr_send(apic_id, ICR_STARTUP | (SMP_TRAMPOLINE >> 12)) < 0)
        return -1;
    boot.sipi_ns = clock_ns();
    boot.sipis = 1;
    boot.starting = cpu;
    return 0;
}

/* Start the next AP in the MADT, or finish when there is none (or it cannot be started). */
static void smp_start_next(void)
{
    while (boot.next < boot.n && boot.ids[boot.next] == boot.self)
        boot.next++;
    if (boot.next >= boot.n || start_ap(n_online, boot.ids[boot.next++]) < 0)
        smp_boot_done();                          /* keep the CPUs that did start: indices stay dense */
}

bool smp_poll(void)
{
    if (boot.done)
        return false;
    if (!boot.starting) {                         /* the first call: start the first AP */
        smp_start_next();
        return true;
    }
    int cpu = boot.starting;
    /* `alive` is the AP's last access to smp_ap_args: it enters CPL 3 and the worker loop on its own */
    if (__atomic_load_n(&smp_ap_args.alive, __ATOMIC_ACQUIRE)) {
        log_info("smp: CPU %d (APIC %u) online after %llu us (in long mode; it enters CPL 3 on its own)", cpu,
                 (unsigned)cpu_apic_id[cpu], (unsigned long long)((clock_ns() - boot.t0_ns) / 1000u));
        n_online++;
        workers_set_count(n_online);
        smp_start_next();
        return true;
    }
    uint64_t now = clock_ns();
    if (boot.sipis == 1 && now - boot.sipi_ns > AP_SIPI_DELAY_US * 1000u) { /* the SDM's second SIPI */
        if (icr_send(cpu_apic_id[cpu], ICR_STARTUP | (SMP_TRAMPOLINE >> 12)) == 0)
            boot.sipis = 2;
        return true;
    }
    if (now - boot.t0_ns > AP_START_TIMEOUT_NS) {
        log_error("smp: CPU %d (APIC %u) did not reach long mode", cpu, (unsigned)cpu_apic_id[cpu]);
        smp_boot_done();
        return true;
    }
    return false;
}

void smp_finish(void)
{
    while (!boot.done)
        if (!smp_poll())
            cpu_relax();
}

int smp_init(void)
{
    int n = acpi_find_cpus(boot.ids, SMP_MAX_CPUS);
    boot.self = lapic_read(LAPIC_ID) >> 24;
    cpu_apic_id[0] = boot.self;
    if (n > SMP_MAX_CPUS) {
        log_warn("smp: %d CPUs, using the first %d", n, SMP_MAX_CPUS);
        n = SMP_MAX_CPUS;
    }
    boot.n = n;
    if (n <= 1 || !trampoline_page_free()) {
        if (n > 1)
            log_warn("smp: trampoline page %#x is not free RAM; staying on one CPU", SMP_TRAMPOLINE);
        log_info("smp: 1 CPU online");
        workers_init(1);
        boot.done = true;
        return 1;
    }
    memcpy((void *)(uintptr_t)SMP_TRAMPOLINE, ap_trampoline_start, (size_t)(ap_trampoline_end - ap_trampoline_start));
    memcpy((void *)(uintptr_t)(SMP_TRAMPOLINE + (ap_gdt_ptr - ap_trampoline_start)), gdt_ptr32, 6);
    workers_init(n);                              /* the workers' shared state must exist before any AP runs */
    return n;                                     /* smp_poll starts the APs (after the boot: see smp.h) */
}

void smp_ap_main(uint64_t cpu)
{
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_SVR, 0x100 | 0xff);         /* APIC software enable (the wake IPI), spurious 0xff */
    __atomic_store_n(&ap_started[cpu], 1, __ATOMIC_RELEASE);
    workers_ap_loop((int)cpu);
}

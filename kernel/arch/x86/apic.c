/* Local APIC and IOAPIC, programmed from CPL 3 through their MMIO pages (identity-mapped, uncached).
   Register offsets: Intel SDM vol. 3A, 12.4 (local APIC) and the 82093AA IOAPIC datasheet, 3.
   The interrupt handlers themselves are in monitor.S; they share ioapic_redir_lo[] to mask a pin. */
#include "arch/x86/irq.h"
#include "core/clock.h"
#include "arch/x86/io.h"
#include "core/log.h"

#define LAPIC_BASE 0xfee00000u
#define LAPIC_TPR 0x080      /* task priority */
#define LAPIC_SVR 0x0f0      /* spurious interrupt vector; bit 8 = APIC software enable */
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0
#define LAPIC_LVT_MASKED (1u << 16)
#define LAPIC_TIMER_PERIODIC (1u << 17)
#define LAPIC_SPURIOUS_VECTOR 0xff
#define LAPIC_TIMER_VECTOR (IRQ_VECTOR_BASE + IRQ_TIMER)
#define LAPIC_CALIBRATE_NS 1000000u /* 1 ms window for the timer's rate (was 10 ms: boot time) */

#define IOAPIC_BASE 0xfec00000u
#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
#define IOAPIC_MASKED (1u << 16)
#define IOAPIC_LEVEL (1u << 15)

/* Low dword of each IOAPIC redirection entry as last programmed; monitor.S reads it to mask a pin. */
volatile uint32_t ioapic_redir_lo[IRQ_IOAPIC_PINS];

/* The LAPIC timer's calibration window: count c0 read between clock readings a0 and b0 (irq_init) */
static struct { uint64_t a0, b0; uint32_t c0; } lapic_cal;

static inline void lapic_write(uint32_t reg, uint32_t v) { *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg) = v; }
static inline uint32_t lapic_read(uint32_t reg) { return *(volatile uint32_t *)(uintptr_t)(LAPIC_BASE + reg); }

static void ioapic_write(uint32_t reg, uint32_t v)
{
    *(volatile uint32_t *)(uintptr_t)(IOAPIC_BASE + IOAPIC_REGSEL) = reg;
    *(volatile uint32_t *)(uintptr_t)(IOAPIC_BASE + IOAPIC_WIN) = v;
}

void irq_mask(int irq)
{
    if (irq < 0 || irq >= IRQ_IOAPIC_PINS)
        return;
    ioapic_redir_lo[irq] |= IOAPIC_MASKED;
    ioapic_write(IOAPIC_REDTBL(irq), ioapic_redir_lo[irq]);
}

void irq_unmask(int irq)
{
    if (irq < 0 || irq >= IRQ_IOAPIC_PINS)
        return;
    ioapic_redir_lo[irq] &= ~IOAPIC_MASKED;
    ioapic_write(IOAPIC_REDTBL(irq), ioapic_redir_lo[irq]);
}

void irq_route(int irq, bool level)
{
    if (irq < 0 || irq >= IRQ_IOAPIC_PINS)
        return;
    /* Fixed delivery, physical destination, active high: QEMU's ACPI tables describe its PCI interrupt links
       as level-triggered, active-high at the IOAPIC (an active-low setting made KVM deliver twice per event). */
    uint32_t lo = (uint32_t)(IRQ_VECTOR_BASE + irq) | IOAPIC_MASKED;
    if (level)
        lo |= IOAPIC_LEVEL;
    ioapic_write(IOAPIC_REDTBL(irq) + 1, 0); /* destination: APIC 0 (the boot CPU) */
    ioapic_redir_lo[irq] = lo;
    ioapic_write(IOAPIC_REDTBL(irq), lo);
    irq_unmask(irq);
}

void irq_init(void)
{
    for (int i = 0; i < IRQ_IOAPIC_PINS; i++) {
        ioapic_redir_lo[i] = (uint32_t)(IRQ_VECTOR_BASE + i) | IOAPIC_MASKED;
        ioapic_write(IOAPIC_REDTBL(i), ioapic_redir_lo[i]);
    }
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_LINT0, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT1, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_SVR, 0x100 | LAPIC_SPURIOUS_VECTOR);

    /* Calibrate the LAPIC timer against the TSC clock over at least LAPIC_CALIBRATE_NS: the count starts here
       and is read again by irq_start_timer, at the end of the boot, so the window costs no waiting (the rest of
       the boot is longer than it). Each end reads the count between two clock readings (an MMIO read is a VM
       exit) and takes their midpoint, so the exit's latency cancels; the tick only wakes the idle loop, so ~1 %
       is plenty. */
    lapic_write(LAPIC_TIMER_DIV, 0x3); /* divide by 16 */
    lapic_write(LAPIC_LVT_TIMER, LAPIC_LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
    lapic_cal.a0 = clock_ns();
    lapic_cal.c0 = lapic_read(LAPIC_TIMER_CUR);
    lapic_cal.b0 = clock_ns();
}

void irq_start_timer(void)
{
    while (clock_ns() - lapic_cal.b0 < LAPIC_CALIBRATE_NS)
        cpu_relax();
    uint64_t a1 = clock_ns();
    uint32_t c1 = lapic_read(LAPIC_TIMER_CUR);
    uint64_t b1 = clock_ns();
    uint64_t a0 = lapic_cal.a0, b0 = lapic_cal.b0;
    uint32_t c0 = lapic_cal.c0;
    uint32_t elapsed = c0 - c1;        /* counts down from 0xffffffff: no wrap within seconds at 1 GHz / 16 */
    uint64_t ns = (a1 + b1) / 2 - (a0 + b0) / 2;
    uint64_t per_sec = ns ? (uint64_t)elapsed * 1000000000u / ns : 0;
    uint32_t count = (uint32_t)(per_sec / IRQ_TIMER_HZ);
    if (count == 0)
        count = 100000; /* implausible calibration: keep a tick rather than none */
    lapic_write(LAPIC_TIMER_INIT, 0);
    lapic_write(LAPIC_LVT_TIMER, LAPIC_TIMER_PERIODIC | LAPIC_TIMER_VECTOR);
    lapic_write(LAPIC_TIMER_INIT, count);
    log_info("irq: LAPIC timer %llu Hz bus/16, tick every %u counts (%u Hz)", (unsigned long long)per_sec, count,
             IRQ_TIMER_HZ);
}

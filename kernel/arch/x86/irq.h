/* Hardware interrupts as seen from the CPL-3 kernel. Interrupts arrive through the local APIC (timer) and the
   IOAPIC (devices); the 8259 PICs stay masked (under kvm-pvm their interrupts never reach the CPU).
   The monitor's handler (monitor.S) sets bit (vector - IRQ_VECTOR_BASE) in irq_pending, masks a device's IOAPIC
   pin (device lines are level-triggered: the driver clears the cause, then calls irq_unmask), and sends the
   LAPIC EOI. The event loop takes the bits with irq_take_pending(). Nothing else runs in interrupt context.
   Implementation: arch/x86/apic.c. */
#ifndef ARCH_X86_IRQ_H
#define ARCH_X86_IRQ_H
#include <stdint.h>
#include <stdbool.h>

#define IRQ_VECTOR_BASE 0x20 /* IOAPIC pin n -> vector 0x20 + n */
#define IRQ_IOAPIC_PINS 24
#define IRQ_TIMER 24         /* pending bit of the LAPIC timer (vector 0x38) */
#define IRQ_TIMER_HZ 100     /* periodic tick that wakes the idle loop for protocol timers */
#define IRQ_MSI_NIC 25       /* pending bit of the NIC's MSI (vector 0x39; edge: nothing to mask) */

extern volatile uint64_t irq_pending;    /* bit n: vector 0x20 + n fired since last taken (set by monitor.S) */
extern volatile uint64_t irq_count[32];  /* totals per bit (set by monitor.S) */

void irq_init(void);                      /* LAPIC on, IOAPIC pins masked, LAPIC timer calibration begun */
/* The LAPIC timer ticking at IRQ_TIMER_HZ: ends the calibration irq_init began (waiting only if less than its
   1 ms window has passed). Before this no tick wakes cpu_wait_irq(). */
void irq_start_timer(void);
/* Route IOAPIC pin `irq` (PCI INTx: level = true; ISA: edge) active high, and unmask it. */
void irq_route(int irq, bool level);
void irq_unmask(int irq);
void irq_mask(int irq);
static inline uint64_t irq_take_pending(void) { return __atomic_exchange_n(&irq_pending, 0, __ATOMIC_ACQ_REL); }

#endif

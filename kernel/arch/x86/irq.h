/* Hardware interrupts as seen from the CPL-3 kernel: the monitor's IRQ handlers acknowledge the PIC and set a
   bit in irq_pending; the event loop takes the bits with irq_take_pending() and polls the devices they name.
   Nothing runs in interrupt context but the monitor's few instructions. */
#ifndef ARCH_X86_IRQ_H
#define ARCH_X86_IRQ_H
#include <stdint.h>
#include "arch/x86/monitor.h"

#define IRQ_TIMER 0 /* PIT channel 0, 100 Hz, programmed by the monitor at boot */

extern volatile uint64_t irq_pending; /* bit n: IRQ n fired since last taken (set by monitor.S) */
extern volatile uint64_t irq_count[16]; /* per-IRQ totals (set by monitor.S) */

static inline void irq_unmask(int irq) { monitor_call(MON_IRQ_UNMASK, (uint64_t)irq, 0, 0); }
static inline void irq_mask(int irq) { monitor_call(MON_IRQ_MASK, (uint64_t)irq, 0, 0); }
static inline uint64_t irq_take_pending(void) { return __atomic_exchange_n(&irq_pending, 0, __ATOMIC_ACQ_REL); }

#endif

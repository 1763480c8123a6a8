/* Monotonic clock: nanoseconds since boot from the TSC, calibrated at boot by CPUID or the PIT (core/clock.c).
   In host builds tests/host/shim.c provides a clock the tests set by hand. */
#ifndef CORE_CLOCK_H
#define CORE_CLOCK_H
#include <stdint.h>

uint64_t clock_ns(void);
static inline uint64_t clock_us(void) { return clock_ns() / 1000u; }
static inline uint64_t clock_ms(void) { return clock_ns() / 1000000u; }
void clock_delay_us(uint32_t us);
void clock_init(void);          /* boot, after cpu_init(): TSC frequency from CPUID or the PIT (core/clock.c) */
uint64_t clock_tsc_hz(void);    /* TSC ticks per second in use */
uint64_t clock_tsc_boot(void);  /* TSC at kernel entry (kmain's first clock_ns), where clock_ns counts from */

#endif

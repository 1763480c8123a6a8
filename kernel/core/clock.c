/* Monotonic clock from the TSC. TODO(kernel-base helper): calibrate against the PIT; until then 1 GHz is assumed. */
#include "core/clock.h"
#include "arch/x86/io.h"

static uint64_t tsc_boot;
static uint64_t tsc_per_us = 1000;

uint64_t clock_ns(void)
{
    if (!tsc_boot)
        tsc_boot = rdtsc();
    return (rdtsc() - tsc_boot) * 1000u / tsc_per_us;
}

void clock_delay_us(uint32_t us)
{
    uint64_t end = clock_ns() + (uint64_t)us * 1000u;
    while (clock_ns() < end)
        cpu_relax();
}

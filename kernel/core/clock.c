/* Monotonic clock from the TSC (core/clock.h). clock_init() finds the TSC frequency, best source first:
   1. a CPUID leaf that states it: hypervisor timing leaf 0x40000010, then 0x15 (crystal ratio), 0x16 (base);
   2. KVM's pvclock (kvmclock, MSR 0x4b564d01, Linux Documentation/virt/kvm/x86/msr.rst): the host publishes
      the exact tsc -> ns scale (mul, shift) for this guest's TSC;
   3. the PIT (Intel 8254, channel 2 via ports 0x42/0x43/0x61): sampled counter latches bracketed by rdtsc
      (also when the command line says clock=pit).
   Port I/O is a monitor call here (~130 us under KVM, longer when the host is busy), so a plain "count down
   10 ms and poll OUT2" measurement came out 0-100 % high; bracketing each latch and keeping the tightest
   brackets makes the latency cancel. ns = (tsc - tsc_boot) * mult >> 32 (128-bit product). */
#include "core/clock.h"
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "core/cmdline.h"
#include "core/log.h"
#include "lib/string.h"

#define PIT_HZ 1193182u           /* 8254 input clock */
#define PIT_CH2_DATA 0x42
#define PIT_CMD 0x43
#define PIT_CMD_CH2_LOHI_MODE2 0xb4 /* channel 2, lobyte/hibyte, mode 2 (rate generator), binary */
#define PIT_CMD_CH2_LATCH 0x80      /* counter latch command for channel 2 */
#define PORT_B 0x61               /* bit 0: channel 2 gate, bit 1: speaker data */
#define PIT_SAMPLES 6             /* latches at each end of the window; the tightest bracket wins */
#define PIT_WINDOW_TICKS 35000u   /* PIT ticks between the two ends (~29 ms) */

#define KVM_CPUID_FEATURES 0x40000001u
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01u

static uint64_t tsc_boot;                 /* TSC at the first clock_ns() call: kernel entry (core/main.c) */
/* Until clock_init a TSC of 10 GHz is assumed, faster than any real one: early log stamps read low (never ahead
   of the calibrated ones that follow) and early delays last longer, never shorter. */
#define CLOCK_ASSUMED_HZ 10000000000ull
static uint64_t tsc_hz = CLOCK_ASSUMED_HZ;
static uint64_t ns_mult = (1000000000ull << 32) / CLOCK_ASSUMED_HZ; /* ns per tick, 32.32 fixed point */

static void clock_set_hz(uint64_t hz)
{
    tsc_hz = hz;
    ns_mult = (1000000000ull << 32) / hz; /* 2^32 * 1e9 < 2^64 */
}

/* kvmclock's per-CPU time structure (pvclock_vcpu_time_info) */
struct pvclock_time {
    uint32_t version;
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time;
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
} __attribute__((aligned(64)));

static struct pvclock_time pvclock; /* identity mapped: its address is its physical address */

static uint64_t clock_hz_kvmclock(const struct cpu_features *f)
{
    uint32_t r[4];
    if (f->max_hv_leaf < KVM_CPUID_FEATURES || __builtin_memcmp(f->hypervisor, "KVMKVMKVM", 9))
        return 0;
    cpu_cpuid(KVM_CPUID_FEATURES, 0, r);
    if (!(r[0] & KVM_FEATURE_CLOCKSOURCE2))
        return 0;
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, (uint64_t)(uintptr_t)&pvclock | 1);
    uint32_t mul = 0;
    int shift = 0;
    for (int tries = 0; tries < 100; tries++) {
        uint32_t v = __atomic_load_n(&pvclock.version, __ATOMIC_ACQUIRE);
        mul = pvclock.tsc_to_system_mul;
        shift = pvclock.tsc_shift;
        if (!(v & 1) && v == __atomic_load_n(&pvclock.version, __ATOMIC_ACQUIRE) && v)
            break;
        mul = 0;
    }
    wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0); /* stop the updates: the memory is ours again */
    if (!mul)
        return 0;
    /* ns = ((ticks << shift) or (ticks >> -shift)) * mul / 2^32  =>  hz = 1e9 * 2^32 / mul / 2^shift */
    uint64_t hz = (1000000000ull << 32) / mul;
    return shift >= 0 ? hz >> shift : hz << -shift;
}

/* One latch of PIT channel 2, bracketed: *mid is the TSC halfway through the latch command, *width its span. */
static uint16_t pit_latch(uint64_t *mid, uint64_t *width)
{
    uint64_t a = rdtsc();
    outb(PIT_CMD, PIT_CMD_CH2_LATCH);
    uint64_t b = rdtsc();
    uint8_t lo = inb(PIT_CH2_DATA);
    uint8_t hi = inb(PIT_CH2_DATA);
    *mid = a + (b - a) / 2;
    *width = b - a;
    return (uint16_t)(lo | hi << 8);
}

/* TSC Hz against the PIT, 0 when the PIT does not count. */
static uint64_t clock_hz_pit(uint64_t *spread_ppm)
{
    uint8_t b = inb(PORT_B);
    outb(PORT_B, (uint8_t)((b & ~0x02) | 0x01)); /* gate on, speaker off */
    outb(PIT_CMD, PIT_CMD_CH2_LOHI_MODE2);
    outb(PIT_CH2_DATA, 0xff);                   /* period 65535 ticks (55 ms): one sweep covers the window */
    outb(PIT_CH2_DATA, 0xff);
    uint64_t best_w0 = ~0ull, best_w1 = ~0ull, t0 = 0, t1 = 0, mid, w;
    uint32_t c0 = 0, c1 = 0;
    uint16_t first = pit_latch(&mid, &w);
    for (int i = 0; i < PIT_SAMPLES; i++) {
        uint16_t c = pit_latch(&mid, &w);
        if (w < best_w0) {
            best_w0 = w;
            t0 = mid;
            c0 = c;
        }
    }
    /* wait until the counter has moved PIT_WINDOW_TICKS past the first sample (it counts down, wrapping) */
    uint64_t start = rdtsc();
    for (;;) {
        uint16_t c = pit_latch(&mid, &w);
        if ((uint16_t)(first - c) >= PIT_WINDOW_TICKS && (uint16_t)(first - c) < 60000u)
            break;
        if (rdtsc() - start > 50000000000ull) { /* tens of seconds: no PIT */
            outb(PORT_B, b);
            return 0;
        }
    }
    for (int i = 0; i < PIT_SAMPLES; i++) {
        uint16_t c = pit_latch(&mid, &w);
        if (w < best_w1) {
            best_w1 = w;
            t1 = mid;
            c1 = c;
        }
    }
    outb(PORT_B, b);
    uint32_t pit_ticks = (uint16_t)(c0 - c1); /* counted down, mode 2 reloads at 0: difference mod 65535 */
    if (c1 > c0)
        pit_ticks = c0 + 65535u - c1;
    if (pit_ticks == 0)
        return 0;
    uint64_t tsc = t1 - t0;
    *spread_ppm = (best_w0 + best_w1) * 500000u / (tsc ? tsc : 1); /* half the brackets, in ppm of the window */
    return tsc * PIT_HZ / pit_ticks; /* tsc < 2^44 for any window under an hour: no overflow */
}

void clock_init(void)
{
    const struct cpu_features *f = &cpu_features;
    const char *source;
    uint64_t hz = 0, spread = 0;
    const char *force = cmdline_get("clock"); /* clock=pit: measure even when a better source exists (tests) */
    if (force && strcmp(force, "pit") == 0) {
        hz = clock_hz_pit(&spread);
        source = "pit (clock=pit)";
    } else if (f->tsc_hz_hv) {
        hz = f->tsc_hz_hv;
        source = "cpuid 0x40000010";
    } else if (f->tsc_hz_leaf15) {
        hz = f->tsc_hz_leaf15;
        source = "cpuid 0x15";
    } else if ((hz = clock_hz_kvmclock(f)) != 0) {
        source = "kvmclock";
    } else if (f->tsc_hz_leaf16) {
        hz = f->tsc_hz_leaf16;
        source = "cpuid 0x16";
    } else {
        hz = clock_hz_pit(&spread);
        source = "pit";
    }
    if (!hz) {
        log_warn("clock: no TSC frequency from CPUID, kvmclock or the PIT; assuming 1 GHz");
        hz = 1000000000u;
        source = "assumed";
    }
    /* tsc_boot stays the TSC at kernel entry, so times from here on are exact (stamps before this read low) */
    clock_ns();
    clock_set_hz(hz);
    if (spread)
        log_info("clock: tsc %llu.%06llu MHz from %s (+-%llu ppm)", (unsigned long long)(hz / 1000000u),
                 (unsigned long long)(hz % 1000000u), source, (unsigned long long)spread);
    else
        log_info("clock: tsc %llu.%06llu MHz from %s", (unsigned long long)(hz / 1000000u),
                 (unsigned long long)(hz % 1000000u), source);
}

uint64_t clock_tsc_hz(void) { return tsc_hz; }
uint64_t clock_tsc_boot(void) { return tsc_boot; }

uint64_t clock_ns(void)
{
    uint64_t t = rdtsc();
    if (!tsc_boot)
        tsc_boot = t;
    return (uint64_t)(((unsigned __int128)(t - tsc_boot) * ns_mult) >> 32);
}

void clock_delay_us(uint32_t us)
{
    uint64_t end = clock_ns() + (uint64_t)us * 1000u;
    while (clock_ns() < end)
        cpu_relax();
}

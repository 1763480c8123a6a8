/* CPU identification from CPUID (Intel SDM vol. 2A, CPUID; AMD APM vol. 3, appendix E): vendor, brand string,
   family/model, SIMD features (and whether the OS side - XCR0 - lets AVX and AVX-512 run), the TSC frequency when a leaf
   states it (0x15 crystal ratio, 0x16 base frequency, hypervisor timing leaf 0x40000010), the hypervisor's
   name. cpu_init() fills cpu_features once at boot and logs it; kernels pick SIMD paths from it. */
#ifndef ARCH_X86_CPU_H
#define ARCH_X86_CPU_H
#include <stdbool.h>
#include <stdint.h>

struct cpu_features {
    char vendor[13];      /* "GenuineIntel", "AuthenticAMD", ... */
    char brand[49];       /* leaves 0x80000002..4, leading spaces trimmed; "" when absent */
    char hypervisor[13];  /* leaf 0x40000000 signature ("KVMKVMKVM", "TCGTCGTCGTCG"), "" on bare metal */
    uint32_t max_leaf, max_ext_leaf, max_hv_leaf;
    uint32_t family, model, stepping;
    bool sse, sse2, sse3, ssse3, sse41, sse42, avx, avx2, fma, f16c, osxsave, invariant_tsc;
    bool avx512f, avx512bw, avx512vl, avx512vnni;   /* leaf 7.0: EBX 16, 30, 31; ECX 11 */
    bool avx_usable;      /* avx && osxsave && XCR0 enables SSE and AVX state */
    bool avx512_usable;   /* avx512f && XCR0 also enables opmask, ZMM_Hi256 and Hi16_ZMM state (bits 5-7) */
    uint64_t tsc_hz_leaf15;   /* 0 when not stated */
    uint64_t tsc_hz_leaf16;   /* base frequency (nominal), 0 when not stated */
    uint64_t tsc_hz_hv;       /* hypervisor timing leaf 0x40000010, 0 when not present */
};

extern struct cpu_features cpu_features;

/* Raw CPUID with subleaf (unprivileged: works at CPL 3). */
static inline void cpu_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

/* Fills cpu_features from CPUID (pure, no logging). */
void cpu_detect(struct cpu_features *f);
/* Boot: cpu_detect into cpu_features, then log vendor, brand, features and frequency leaves. */
void cpu_init(void);

#endif

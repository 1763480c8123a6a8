/* CPUID feature detection (arch/x86/cpu.h). Bits: leaf 1 EDX 25 SSE, 26 SSE2; ECX 0 SSE3, 9 SSSE3, 12 FMA,
   19 SSE4.1, 20 SSE4.2, 27 OSXSAVE, 28 AVX, 29 F16C; leaf 7.0 EBX 5 AVX2; leaf 0x80000007 EDX 8 invariant TSC
   (Intel SDM vol. 2A, table 3-8 and 3-10). Whether AVX may run is the XCR0 the ring-0 side set (xgetbv is
   unprivileged once CR4.OSXSAVE is on). The clock (core/clock.c) uses the frequency leaves. */
#include "arch/x86/cpu.h"
#include "core/log.h"
#include "lib/string.h"

struct cpu_features cpu_features;

static void put_regs(char *dst, const uint32_t *regs, int n)
{
    memcpy(dst, regs, (size_t)n * 4);
    dst[n * 4] = 0;
}

void cpu_detect(struct cpu_features *f)
{
    uint32_t r[4];
    memset(f, 0, sizeof *f);
    cpu_cpuid(0, 0, r);
    f->max_leaf = r[0];
    uint32_t v[3] = {r[1], r[3], r[2]}; /* vendor is EBX, EDX, ECX */
    put_regs(f->vendor, v, 3);
    if (f->max_leaf >= 1) {
        cpu_cpuid(1, 0, r);
        uint32_t fam = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf;
        if (fam == 0xf)
            fam += (r[0] >> 20) & 0xff;
        if (fam == 0x6 || fam >= 0xf)
            model |= ((r[0] >> 16) & 0xf) << 4;
        f->family = fam;
        f->model = model;
        f->stepping = r[0] & 0xf;
        f->sse = (r[3] >> 25) & 1;
        f->sse2 = (r[3] >> 26) & 1;
        f->sse3 = r[2] & 1;
        f->ssse3 = (r[2] >> 9) & 1;
        f->fma = (r[2] >> 12) & 1;
        f->sse41 = (r[2] >> 19) & 1;
        f->sse42 = (r[2] >> 20) & 1;
        f->osxsave = (r[2] >> 27) & 1;
        f->avx = (r[2] >> 28) & 1;
        f->f16c = (r[2] >> 29) & 1;
        if ((r[2] >> 31) & 1) { /* hypervisor present: leaf 0x40000000 */
            cpu_cpuid(0x40000000, 0, r);
            if (r[0] >= 0x40000000 && r[0] < 0x40010000) {
                f->max_hv_leaf = r[0];
                uint32_t hv[3] = {r[1], r[2], r[3]};
                put_regs(f->hypervisor, hv, 3);
            }
        }
    }
    if (f->max_leaf >= 7) {
        cpu_cpuid(7, 0, r);
        f->avx2 = (r[1] >> 5) & 1;
        f->avx512f = (r[1] >> 16) & 1;
        f->avx512bw = (r[1] >> 30) & 1;
        f->avx512vl = (r[1] >> 31) & 1;
        f->avx512vnni = (r[2] >> 11) & 1;
    }
    if (f->osxsave) {
        uint32_t lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        f->avx_usable = f->avx && (lo & 6) == 6; /* XCR0 bit 1 SSE state, bit 2 AVX state */
        f->avx512_usable = f->avx_usable && f->avx512f && (lo & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    }
    if (f->max_leaf >= 0x15) {
        cpu_cpuid(0x15, 0, r); /* TSC = crystal (ECX) * EBX / EAX */
        if (r[0] && r[1] && r[2])
            f->tsc_hz_leaf15 = (uint64_t)r[2] * r[1] / r[0];
    }
    if (f->max_leaf >= 0x16) {
        cpu_cpuid(0x16, 0, r); /* EAX: base frequency in MHz */
        if (r[0] & 0xffff)
            f->tsc_hz_leaf16 = (uint64_t)(r[0] & 0xffff) * 1000000u;
    }
    if (f->max_hv_leaf >= 0x40000010) {
        cpu_cpuid(0x40000010, 0, r); /* EAX: TSC frequency in kHz (VMware/KVM timing leaf) */
        if (r[0])
            f->tsc_hz_hv = (uint64_t)r[0] * 1000u;
    }
    cpu_cpuid(0x80000000, 0, r);
    if (r[0] >= 0x80000000 && r[0] < 0x80010000)
        f->max_ext_leaf = r[0];
    if (f->max_ext_leaf >= 0x80000004) {
        uint32_t b[12];
        for (uint32_t i = 0; i < 3; i++)
            cpu_cpuid(0x80000002 + i, 0, &b[4 * i]);
        char tmp[49];
        put_regs(tmp, b, 12);
        const char *s = tmp;
        while (*s == ' ')
            s++;
        size_t n = strlen(s);
        while (n && s[n - 1] == ' ')
            n--;
        memcpy(f->brand, s, n);
        f->brand[n] = 0;
    }
    if (f->max_ext_leaf >= 0x80000007) {
        cpu_cpuid(0x80000007, 0, r);
        f->invariant_tsc = (r[3] >> 8) & 1;
    }
}

void cpu_init(void)
{
    struct cpu_features *f = &cpu_features;
    cpu_detect(f);
    log_info("cpu: %s \"%s\" family %u model %u stepping %u%s%s", f->vendor, f->brand, (unsigned)f->family,
             (unsigned)f->model, (unsigned)f->stepping, f->hypervisor[0] ? ", hypervisor " : "", f->hypervisor);
    log_info("cpu: features%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", f->sse ? " sse" : "", f->sse2 ? " sse2" : "",
             f->sse3 ? " sse3" : "", f->ssse3 ? " ssse3" : "", f->sse41 ? " sse4.1" : "", f->sse42 ? " sse4.2" : "",
             f->avx ? " avx" : "", f->avx2 ? " avx2" : "", f->fma ? " fma" : "", f->f16c ? " f16c" : "",
             f->avx512f ? " avx512f" : "", f->avx512bw ? " avx512bw" : "", f->avx512vl ? " avx512vl" : "",
             f->avx512vnni ? " avx512vnni" : "", f->invariant_tsc ? " invtsc" : "",
             f->avx ? (f->avx_usable ? " (avx enabled)" : " (avx off: XCR0)") : "",
             f->avx512f ? (f->avx512_usable ? " (avx512 enabled)" : " (avx512 off: XCR0)") : "", "");
    log_info("cpu: tsc leaves: 0x15 %llu Hz, 0x16 %llu Hz, 0x40000010 %llu Hz", (unsigned long long)f->tsc_hz_leaf15,
             (unsigned long long)f->tsc_hz_leaf16, (unsigned long long)f->tsc_hz_hv);
}

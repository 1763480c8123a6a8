/* IEEE half (fp16) and bfloat16 <-> f32 conversions, bit-exact with numpy (astype(float16), round to
   nearest even, subnormals, inf, NaN payloads) and with gguf.quants' BF16 (round to nearest even, NaN quieted).
   Integer code only, so kernel and host builds agree. Used by llm/quant_ref.c and the SIMD files. */
#ifndef LLM_FP16_H
#define LLM_FP16_H
#include <stdint.h>

static inline uint32_t fp32_to_bits(float f)
{
    union { float f; uint32_t u; } v = { .f = f };
    return v.u;
}

static inline float fp32_from_bits(uint32_t u)
{
    union { uint32_t u; float f; } v = { .u = u };
    return v.f;
}

/* binary16 -> f32: exact (every half is an f32). Finite halves: exponent and mantissa shifted into f32 position
   and scaled by 2^112 rebias exactly, subnormal halves included (needs MXCSR DAZ off, the x86 default). */
static inline float fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    if ((h & 0x7c00u) == 0x7c00u)                    /* inf / NaN, payload kept */
        return fp32_from_bits(sign | 0x7f800000u | ((uint32_t)(h & 0x3ffu) << 13));
    return fp32_from_bits(sign | ((uint32_t)(h & 0x7fffu) << 13)) * 0x1p112f;
}

/* f32 -> binary16, round to nearest, ties to even; overflow gives inf; NaN stays NaN with the
   top 10 payload bits (or 1 if they are all zero), as numpy. */
static inline uint16_t fp16_from_fp32(float f)
{
    uint32_t x = fp32_to_bits(f);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) {
        if (ax == 0x7f800000u)
            return (uint16_t)(sign | 0x7c00u);
        uint32_t m = (ax >> 13) & 0x3ffu;             /* payload top bits kept (numpy does not force quiet) */
        return (uint16_t)(sign | 0x7c00u | (m ? m : 1u));
    }
    if (ax >= 0x477ff000u)                           /* >= 65520 rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) {                          /* below 2^-14: half subnormal or zero */
        if (ax <= 0x33000000u)                       /* <= 2^-25: ties to even give 0 */
            return (uint16_t)sign;
        uint32_t e = ax >> 23;                       /* 102..112 */
        uint32_t m = (ax & 0x7fffffu) | 0x800000u;
        uint32_t shift = 126 - e;                    /* value in units of 2^-24 is m >> shift */
        uint32_t q = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        return (uint16_t)(sign | q);
    }
    uint32_t h = (ax >> 13) - ((127u - 15u) << 10);
    uint32_t rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
        h++;                                         /* a carry into the exponent is the right answer */
    return (uint16_t)(sign | h);
}

static inline float bf16_to_fp32(uint16_t b)
{
    return fp32_from_bits((uint32_t)b << 16);
}

/* f32 -> bfloat16, round to nearest even; NaN forced quiet (as ggml_compute_fp32_to_bf16). */
static inline uint16_t bf16_from_fp32(float f)
{
    uint32_t u = fp32_to_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 64u);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

#endif

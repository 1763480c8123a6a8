/* AVX-512 part of the attention (see llm/attn_avx2.c, which calls it): the value pass out = sum_t p_t * v_t,
   16 dimensions per vector, positions in order, multiply then add (no FMA): each output lane is the reference's
   sum (ops_attention_head in llm/ops.c), bit for bit. fp16 values convert with vcvtph2ps (exact). */
#include <immintrin.h>
#include "llm/ops_simd.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

AVX512 static inline __m512 load16(const void *base, int kv_f16, size_t idx)
{
    if (kv_f16)
        return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + idx)));
    return _mm512_loadu_ps((const float *)base + idx);
}

/* out[0 .. 16 nd) with constant nd and kv_f16 (accumulators stay in registers) */
AVX512 static inline __attribute__((always_inline)) void values_nd(float *out, const float *p, const void *v,
                                                                   size_t stride, int kv_f16, int n_pos, int nd)
{
    __m512 o[8];
    #pragma GCC unroll 8
    for (int m = 0; m < 8; m++)
        o[m] = _mm512_setzero_ps();
    for (int t = 0; t < n_pos; t++) {
        __m512 pt = _mm512_set1_ps(p[t]);
        size_t base = (size_t)t * stride;
        #pragma GCC unroll 8
        for (int m = 0; m < nd; m++)
            o[m] = _mm512_add_ps(o[m], _mm512_mul_ps(pt, load16(v, kv_f16, base + 16 * (size_t)m)));
    }
    #pragma GCC unroll 8
    for (int m = 0; m < nd; m++)
        _mm512_storeu_ps(out + 16 * m, o[m]);
}

AVX512 void attention_values_avx512(float *out, const float *p, const void *v, size_t stride, int kv_f16, int n_pos,
                                    int head_dim)
{
    for (int i0 = 0; i0 < head_dim; i0 += 128) {
        int nd = head_dim - i0 < 128 ? (head_dim - i0) / 16 : 8;
        const uint8_t *vi = (const uint8_t *)v + (size_t)i0 * (kv_f16 ? 2 : 4);
        if (nd == 4 && kv_f16)
            values_nd(out + i0, p, vi, stride, 1, n_pos, 4);
        else if (nd == 4)
            values_nd(out + i0, p, vi, stride, 0, n_pos, 4);
        else
            values_nd(out + i0, p, vi, stride, kv_f16, n_pos, nd);
    }
}

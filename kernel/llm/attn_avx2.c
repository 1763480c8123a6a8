/* AVX2 (+F16C) twin of ops_attention_head (llm/ops.c, the scalar reference), bit-identical to it: the scores
   q . k_t are computed for 8 positions at once, each lane adding q[i] * k_t[i] in the reference's order
   (i = 0, 1, ...; multiply then add, no FMA) after an 8x8 transpose of the cached rows; the softmax is the
   reference's (ops_softmax); the output out[i] += p_t * v_t[i] runs 8 dimensions per vector, positions in order.
   fp16 KV rows convert with vcvtph2ps (exact, like fp16_to_fp32). ops_attention_head calls this when
   ggml_types_simd_avx2() (llm/ggml_types.c installed the AVX2 set) and head_dim is a multiple of 8.
   Test: tests/test_llm_simd_forward.py (whole forward bit-identical to the references). */
#include <immintrin.h>
#include "llm/fp16.h"
#include "llm/ops.h"
#include "llm/quant_simd.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

AVX2 static inline __m256 load8(const void *base, int kv_f16, size_t idx)
{
    if (kv_f16)
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + idx)));
    return _mm256_loadu_ps((const float *)base + idx);
}

/* rows r[0..7] -> columns: c[m] lane j = r[j] lane m */
AVX2 static inline void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

static float score_ref(const float *q, const void *k, int kv_f16, size_t off, int head_dim)
{
    float s = 0.0f;
    if (kv_f16) {
        const uint16_t *kt = (const uint16_t *)k + off;
        for (int i = 0; i < head_dim; i++)
            s += q[i] * fp16_to_fp32(kt[i]);
    } else {
        const float *kt = (const float *)k + off;
        for (int i = 0; i < head_dim; i++)
            s += q[i] * kt[i];
    }
    return s;
}

void AVX2 attention_head_avx2(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                              int n_pos, int head_dim, float scale, float *scores)
{
    int t = 0;
    for (; t + 8 <= n_pos; t += 8) {
        __m256 s = _mm256_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = load8(k, kv_f16, (size_t)(t + j) * stride + (size_t)i0);
            transpose8(r);
            for (int m = 0; m < 8; m++)
                s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(q[i0 + m]), r[m]));
        }
        _mm256_storeu_ps(scores + t, _mm256_mul_ps(s, _mm256_set1_ps(scale)));
    }
    for (; t < n_pos; t++)
        scores[t] = score_ref(q, k, kv_f16, (size_t)t * stride, head_dim) * scale;
    ops_softmax(scores, n_pos);
    for (int i0 = 0; i0 < head_dim; i0 += 64) {   /* up to 8 accumulators of 8 dimensions */
        int nd = head_dim - i0 < 64 ? (head_dim - i0) / 8 : 8;
        __m256 o[8];
        for (int m = 0; m < 8; m++)
            o[m] = _mm256_setzero_ps();
        for (int tt = 0; tt < n_pos; tt++) {
            __m256 p = _mm256_set1_ps(scores[tt]);
            size_t base = (size_t)tt * stride + (size_t)i0;
            for (int m = 0; m < nd; m++)
                o[m] = _mm256_add_ps(o[m], _mm256_mul_ps(p, load8(v, kv_f16, base + 8 * (size_t)m)));
        }
        for (int m = 0; m < nd; m++)
            _mm256_storeu_ps(out + i0 + 8 * m, o[m]);
    }
}

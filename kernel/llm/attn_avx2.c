/* AVX2 (+F16C) twin of ops_attention_heads (llm/ops.c; each head bit-identical to the scalar reference
   ops_attention_head): the scores q . k_t are computed for 8 positions at once, each lane adding q[i] * k_t[i]
   in the reference's order (i = 0, 1, ...; multiply then add, no FMA) after an 8x8 transpose of the cached rows,
   which is loaded, converted and transposed once for up to ATTN_HEADS heads sharing the KV head (grouped-query
   attention); the softmax is ops_softmax_avx2 (bit-identical to ops_softmax_ref); the output
   out[i] += p_t * v_t[i] runs 8 dimensions per vector, positions in order. fp16 KV rows convert with vcvtph2ps
   (exact, like fp16_to_fp32). ops_attention_heads calls this when ggml_types_simd_avx2() (llm/ggml_types.c
   installed the AVX2 set) and head_dim is a multiple of 8.
   Tests: tests/test_llm_ops_simd.py (against the reference), tests/test_llm_simd_forward.py (whole forward). */
#include <immintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "llm/quant_simd.h"

#define ATTN_HEADS 4   /* heads per pass over the keys: 8 transposed rows + 4 accumulators stay in 16 registers */

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

/* scores[h * ld + t] = (q_h . k_t) * scale for nq <= ATTN_HEADS heads. The last block of fewer than 8 positions
   transposes zero rows in place of the missing ones and stores only the valid lanes. */
AVX2 static void scores_avx2(const float *q, int nq, const void *k, size_t stride, int kv_f16, int n_pos,
                             int head_dim, float scale, float *scores, int ld)
{
    for (int t = 0; t < n_pos; t += 8) {
        int nt = n_pos - t < 8 ? n_pos - t : 8;
        __m256 s[ATTN_HEADS];
        for (int h = 0; h < ATTN_HEADS; h++)
            s[h] = _mm256_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 8) {
            __m256 r[8];
            for (int j = 0; j < 8; j++)
                r[j] = j < nt ? load8(k, kv_f16, (size_t)(t + j) * stride + (size_t)i0) : _mm256_setzero_ps();
            transpose8(r);
            for (int h = 0; h < nq; h++) {
                const float *qh = q + (size_t)h * head_dim + i0;
                for (int m = 0; m < 8; m++)
                    s[h] = _mm256_add_ps(s[h], _mm256_mul_ps(_mm256_set1_ps(qh[m]), r[m]));
            }
        }
        for (int h = 0; h < nq; h++) {
            __m256 v = _mm256_mul_ps(s[h], _mm256_set1_ps(scale));
            if (nt == 8) {
                _mm256_storeu_ps(scores + (size_t)h * ld + t, v);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, v);
                for (int j = 0; j < nt; j++)
                    scores[(size_t)h * ld + t + j] = tmp[j];
            }
        }
    }
}

/* out = sum_t p_t * v_t for one head */
AVX2 static void values_avx2(float *out, const float *p, const void *v, size_t stride, int kv_f16, int n_pos,
                             int head_dim)
{
    for (int i0 = 0; i0 < head_dim; i0 += 64) {   /* up to 8 accumulators of 8 dimensions */
        int nd = head_dim - i0 < 64 ? (head_dim - i0) / 8 : 8;
        __m256 o[8];
        for (int m = 0; m < 8; m++)
            o[m] = _mm256_setzero_ps();
        for (int tt = 0; tt < n_pos; tt++) {
            __m256 pt = _mm256_set1_ps(p[tt]);
            size_t base = (size_t)tt * stride + (size_t)i0;
            for (int m = 0; m < nd; m++)
                o[m] = _mm256_add_ps(o[m], _mm256_mul_ps(pt, load8(v, kv_f16, base + 8 * (size_t)m)));
        }
        for (int m = 0; m < nd; m++)
            _mm256_storeu_ps(out + i0 + 8 * m, o[m]);
    }
}

void AVX2 attention_heads_avx2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                               int kv_f16, int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_avx2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, k, stride, kv_f16, n_pos,
                    head_dim, scale, scores + (size_t)h0 * n_pos, n_pos);
    for (int h = 0; h < nq; h++) {
        ops_softmax_avx2(scores + (size_t)h * n_pos, n_pos);
        values_avx2(out + (size_t)h * head_dim, scores + (size_t)h * n_pos, v, stride, kv_f16, n_pos, head_dim);
    }
}

void attention_head_avx2(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                         int n_pos, int head_dim, float scale, float *scores)
{
    attention_heads_avx2(out, q, 1, k, v, stride, kv_f16, n_pos, head_dim, scale, scores);
}

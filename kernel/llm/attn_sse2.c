/* SSE2 twin of ops_attention_heads (llm/ops.c; each head bit-identical to the scalar reference ops_attention_head),
   for CPUs without AVX2 (the guest under kvm-pvm): llm/attn_avx2.c's scheme at 4 lanes. The scores q . k_t are
   computed for 4 positions at once, each lane adding q[i] * k_t[i] in the reference's order (i = 0, 1, ...;
   multiply then add) after a 4x4 transpose of the cached rows, which are loaded and converted once for up to
   ATTN_HEADS heads sharing the KV head; the softmax is ops_softmax_rows (the SSE2 twin, llm/ops_sse2.c); the
   output out[i] += p_t * v_t[i] runs 4 dimensions per vector, positions in order. fp16 caches convert with
   integer operations, exactly as fp16_to_fp32 (llm/fp16.h): SSE2-only CPUs have no F16C.
   Tests: tests/test_llm_ops_simd.py (against the reference, f32 and f16 caches). */
#include <emmintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"

#define ATTN_HEADS 4   /* heads per pass over the keys: 4 transposed rows + 4 accumulators + q broadcasts */

/* Halves in the low 16 bits of each 32-bit lane -> f32, as fp16_to_fp32: sign, exponent and mantissa moved into
   f32 position and scaled by 2^112 (exact, subnormal halves included); inf/NaN halves land on the f32 exponent
   143 with their mantissa, and OR-ing in the exponent 255 makes them inf/NaN with the payload kept. */
static inline __m128 half4(__m128i h)
{
    const __m128i exp_half = _mm_set1_epi32(0x7c00);
    __m128i sign = _mm_and_si128(_mm_slli_epi32(h, 16), _mm_set1_epi32((int)0x80000000u));
    __m128i em = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x7fff)), 13);
    __m128 f = _mm_mul_ps(_mm_castsi128_ps(_mm_or_si128(sign, em)), _mm_set1_ps(0x1p112f));
    __m128i special = _mm_cmpeq_epi32(_mm_and_si128(h, exp_half), exp_half);
    return _mm_or_ps(f, _mm_castsi128_ps(_mm_and_si128(special, _mm_set1_epi32(0x7f800000))));
}

/* 4 floats of a cache row at element idx */
static inline __m128 load4(const void *base, int kv_f16, size_t idx)
{
    if (kv_f16)
        return half4(_mm_unpacklo_epi16(_mm_loadl_epi64((const __m128i *)((const uint16_t *)base + idx)),
                                        _mm_setzero_si128()));
    return _mm_loadu_ps((const float *)base + idx);
}

/* scores[h * ld + t] = (q_h . k_t) * scale for nq <= ATTN_HEADS heads. The last block of fewer than 4 positions
   transposes zero rows in place of the missing ones and stores only the valid lanes. Instantiated with constant
   nq and kv_f16. */
static inline __attribute__((always_inline)) void scores_nq(const float *q, int nq, const void *k, size_t stride,
                                                            int kv_f16, int n_pos, int head_dim, float scale,
                                                            float *scores, int ld)
{
    for (int t = 0; t < n_pos; t += 4) {
        int nt = n_pos - t < 4 ? n_pos - t : 4;
        __m128 s[ATTN_HEADS];
        for (int h = 0; h < ATTN_HEADS; h++)
            s[h] = _mm_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 4) {
            __m128 r0 = load4(k, kv_f16, (size_t)t * stride + (size_t)i0);
            __m128 r1 = nt > 1 ? load4(k, kv_f16, (size_t)(t + 1) * stride + (size_t)i0) : _mm_setzero_ps();
            __m128 r2 = nt > 2 ? load4(k, kv_f16, (size_t)(t + 2) * stride + (size_t)i0) : _mm_setzero_ps();
            __m128 r3 = nt > 3 ? load4(k, kv_f16, (size_t)(t + 3) * stride + (size_t)i0) : _mm_setzero_ps();
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);       /* r_m lane j = k_{t+j}[i0 + m] */
            for (int h = 0; h < nq; h++) {
                const float *qh = q + (size_t)h * head_dim + i0;
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[0]), r0));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[1]), r1));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[2]), r2));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[3]), r3));
            }
        }
        for (int h = 0; h < nq; h++) {
            __m128 v = _mm_mul_ps(s[h], _mm_set1_ps(scale));
            if (nt == 4) {
                _mm_storeu_ps(scores + (size_t)h * ld + t, v);
            } else {
                float tmp[4];
                _mm_storeu_ps(tmp, v);
                for (int j = 0; j < nt; j++)
                    scores[(size_t)h * ld + t + j] = tmp[j];
            }
        }
    }
}

static void scores_sse2(const float *q, int nq, const void *k, size_t stride, int kv_f16, int n_pos, int head_dim,
                        float scale, float *scores, int ld)
{
    if (kv_f16) {
        switch (nq) {
        case 1: scores_nq(q, 1, k, stride, 1, n_pos, head_dim, scale, scores, ld); break;
        case 2: scores_nq(q, 2, k, stride, 1, n_pos, head_dim, scale, scores, ld); break;
        case 3: scores_nq(q, 3, k, stride, 1, n_pos, head_dim, scale, scores, ld); break;
        default: scores_nq(q, 4, k, stride, 1, n_pos, head_dim, scale, scores, ld); break;
        }
    } else {
        switch (nq) {
        case 1: scores_nq(q, 1, k, stride, 0, n_pos, head_dim, scale, scores, ld); break;
        case 2: scores_nq(q, 2, k, stride, 0, n_pos, head_dim, scale, scores, ld); break;
        case 3: scores_nq(q, 3, k, stride, 0, n_pos, head_dim, scale, scores, ld); break;
        default: scores_nq(q, 4, k, stride, 0, n_pos, head_dim, scale, scores, ld); break;
        }
    }
}

/* out[0 .. 4 nd) = sum_t p_t * v_t[0 .. 4 nd); instantiated with constant nd and kv_f16 so the accumulators
   stay in registers */
static inline __attribute__((always_inline)) void values_nd(float *out, const float *p, const void *v,
                                                            size_t stride, int kv_f16, int n_pos, int nd)
{
    __m128 o[8];
    for (int m = 0; m < 8; m++)
        o[m] = _mm_setzero_ps();
    for (int t = 0; t < n_pos; t++) {
        __m128 pt = _mm_set1_ps(p[t]);
        size_t base = (size_t)t * stride;
        for (int m = 0; m < nd; m++)
            o[m] = _mm_add_ps(o[m], _mm_mul_ps(pt, load4(v, kv_f16, base + 4 * (size_t)m)));
    }
    for (int m = 0; m < nd; m++)
        _mm_storeu_ps(out + 4 * m, o[m]);
}

/* out = sum_t p_t * v_t for one head, 32 dimensions (8 accumulators) at a time */
static void values_sse2(float *out, const float *p, const void *v, size_t stride, int kv_f16, int n_pos,
                        int head_dim)
{
    for (int i0 = 0; i0 < head_dim; i0 += 32) {
        int nd = head_dim - i0 < 32 ? (head_dim - i0) / 4 : 8;
        const uint8_t *vi = (const uint8_t *)v + (size_t)i0 * (kv_f16 ? 2 : 4);
        if (nd == 8 && kv_f16)
            values_nd(out + i0, p, vi, stride, 1, n_pos, 8);
        else if (nd == 8)
            values_nd(out + i0, p, vi, stride, 0, n_pos, 8);
        else
            values_nd(out + i0, p, vi, stride, kv_f16, n_pos, nd);
    }
}

void attention_heads_sse2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                          int kv_f16, int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_sse2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, k, stride, kv_f16, n_pos,
                    head_dim, scale, scores + (size_t)h0 * n_pos, n_pos);
    ops_softmax_rows(scores, nq, n_pos);
    for (int h = 0; h < nq; h++)
        values_sse2(out + (size_t)h * head_dim, scores + (size_t)h * n_pos, v, stride, kv_f16, n_pos, head_dim);
}

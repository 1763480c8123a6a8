/* AVX2 (+F16C) twin of ops_attention_heads (llm/ops.c; each head bit-identical to the scalar reference
   ops_attention_head): the scores q . k_t are computed for 8 positions at once, each lane adding q[i] * k_t[i]
   in the reference's order (i = 0, 1, ...; multiply then add, no FMA) after an 8x8 transpose of the cached rows,
   which is loaded, converted and transposed once for up to ATTN_HEADS heads sharing the KV head (grouped-query
   attention); the softmax is ops_softmax_rows (the AVX2 or AVX-512 twin, each row bit-identical to ops_softmax_ref); the output
   out[i] += p_t * v_t[i] runs 8 dimensions per vector, positions in order. fp16 KV rows convert with vcvtph2ps
   (exact, like fp16_to_fp32). ops_attention_heads calls this when ggml_types_simd_avx2() (llm/ggml_types.c
   installed the AVX2 set) and head_dim is a multiple of 8.
   For a batch of tokens (prefill) llm/llama.c first converts one KV head's keys, transposed in blocks of 8
   positions, and its values to f32 scratch once per layer (attention_kv_prepare_avx2), and every (token, head)
   then reads them (attention_heads_kt_avx2) without conversions or shuffles: the same products in the same
   order, so the same bits.
   With the AVX-512 set installed the value pass is llm/attn_avx512.c's (16 lanes, the same sums).
   Tests: tests/test_llm_ops_simd.py (against the reference), tests/test_llm_simd_forward.py (whole forward). */
#include <immintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "llm/quant_simd.h"

#define ATTN_HEADS 4   /* heads per pass over the keys: 8 transposed rows + 4 accumulators stay in 16 registers */

#define AVX2 __attribute__((target("avx2,fma,f16c")))
/* The loops over a pass's heads, positions and accumulators are unrolled (#pragma GCC unroll 8): otherwise GCC -O2
   keeps the accumulator arrays on the stack, a load and a store per add */

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
   transposes zero rows in place of the missing ones and stores only the valid lanes. Instantiated with constant
   nq and kv_f16. */
AVX2 static inline __attribute__((always_inline)) void scores_nq(const float *q, int nq, const void *k, size_t stride,
                                                                 int kv_f16, int n_pos, int head_dim, float scale,
                                                                 float *scores, int ld)
{
    for (int t = 0; t < n_pos; t += 8) {
        int nt = n_pos - t < 8 ? n_pos - t : 8;
        __m256 s[ATTN_HEADS];
        #pragma GCC unroll 8
        for (int h = 0; h < ATTN_HEADS; h++)
            s[h] = _mm256_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 8) {
            __m256 r[8];
            #pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
                r[j] = j < nt ? load8(k, kv_f16, (size_t)(t + j) * stride + (size_t)i0) : _mm256_setzero_ps();
            transpose8(r);
            #pragma GCC unroll 8
            for (int h = 0; h < nq; h++) {
                const float *qh = q + (size_t)h * head_dim + i0;
                #pragma GCC unroll 8
                for (int m = 0; m < 8; m++)
                    s[h] = _mm256_add_ps(s[h], _mm256_mul_ps(_mm256_set1_ps(qh[m]), r[m]));
            }
        }
        #pragma GCC unroll 8
        for (int h = 0; h < nq; h++) {
            __m256 v = _mm256_mul_ps(s[h], _mm256_set1_ps(scale));
            if (nt == 8) {
                _mm256_storeu_ps(scores + (size_t)h * ld + t, v);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, v);
                #pragma GCC unroll 8
                for (int j = 0; j < nt; j++)
                    scores[(size_t)h * ld + t + j] = tmp[j];
            }
        }
    }
}

AVX2 static void scores_avx2(const float *q, int nq, const void *k, size_t stride, int kv_f16, int n_pos,
                             int head_dim, float scale, float *scores, int ld)
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

/* out[0 .. 8 nd) = sum_t p_t * v_t[0 .. 8 nd); instantiated with constant nd and kv_f16 so the accumulators
   stay in registers */
AVX2 static inline __attribute__((always_inline)) void values_nd(float *out, const float *p, const void *v,
                                                                 size_t stride, int kv_f16, int n_pos, int nd)
{
    __m256 o[8];
    #pragma GCC unroll 8
    for (int m = 0; m < 8; m++)
        o[m] = _mm256_setzero_ps();
    for (int tt = 0; tt < n_pos; tt++) {
        __m256 pt = _mm256_set1_ps(p[tt]);
        size_t base = (size_t)tt * stride;
        #pragma GCC unroll 8
        for (int m = 0; m < nd; m++)
            o[m] = _mm256_add_ps(o[m], _mm256_mul_ps(pt, load8(v, kv_f16, base + 8 * (size_t)m)));
    }
    #pragma GCC unroll 8
    for (int m = 0; m < nd; m++)
        _mm256_storeu_ps(out + 8 * m, o[m]);
}

/* out = sum_t p_t * v_t for one head, 64 dimensions (8 accumulators) at a time */
AVX2 static void values_avx2(float *out, const float *p, const void *v, size_t stride, int kv_f16, int n_pos,
                             int head_dim)
{
    for (int i0 = 0; i0 < head_dim; i0 += 64) {
        int nd = head_dim - i0 < 64 ? (head_dim - i0) / 8 : 8;
        const uint8_t *vi = (const uint8_t *)v + (size_t)i0 * (kv_f16 ? 2 : 4);
        if (nd == 8 && kv_f16)
            values_nd(out + i0, p, vi, stride, 1, n_pos, 8);
        else if (nd == 8)
            values_nd(out + i0, p, vi, stride, 0, n_pos, 8);
        else
            values_nd(out + i0, p, vi, stride, kv_f16, n_pos, nd);
    }
}

void AVX2 attention_heads_avx2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                               int kv_f16, int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_avx2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, k, stride, kv_f16, n_pos,
                    head_dim, scale, scores + (size_t)h0 * n_pos, n_pos);
    ops_softmax_rows(scores, nq, n_pos);
    int wide = head_dim % 16 == 0 && ops_simd_avx512();   /* llm/attn_avx512.c: the same sums, 16 lanes */
    #pragma GCC unroll 8
    for (int h = 0; h < nq; h++)
        (wide ? attention_values_avx512 : values_avx2)(out + (size_t)h * head_dim, scores + (size_t)h * n_pos, v,
                                                        stride, kv_f16, n_pos, head_dim);
}

/* ---- prefill: keys transposed to f32 once per layer, values converted once (attention_kv_prepare) ---- */

/* Stores lanes [0, nt) of v at dst */
AVX2 static inline void store_lanes(float *dst, __m256 v, int nt)
{
    if (nt == 8) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    #pragma GCC unroll 8
    for (int j = 0; j < nt; j++)
        dst[j] = tmp[j];
}

/* Two blocks (16 positions) per pass: 2 * nq independent accumulator chains hide the add latency (each lane's
   sum is still sequential over i). A last odd block runs alone. Instantiated with a constant nq. */
AVX2 static inline __attribute__((always_inline)) void scores_kt_nq(const float *q, int nq, const float *kt, int n_pos,
                                                                    int head_dim, float scale, float *scores, int ld)
{
    const __m256 vs = _mm256_set1_ps(scale);
    int t = 0;
    for (; t + 8 < n_pos; t += 16) {
        int nt1 = n_pos - t - 8 < 8 ? n_pos - t - 8 : 8;
        const float *b0 = kt + (size_t)(t / 8) * head_dim * 8, *b1 = b0 + (size_t)head_dim * 8;
        __m256 s0[ATTN_HEADS], s1[ATTN_HEADS];
        #pragma GCC unroll 8
        for (int h = 0; h < ATTN_HEADS; h++)
            s0[h] = s1[h] = _mm256_setzero_ps();
        for (int i = 0; i < head_dim; i++) {
            __m256 k0 = _mm256_loadu_ps(b0 + (size_t)i * 8), k1 = _mm256_loadu_ps(b1 + (size_t)i * 8);
            #pragma GCC unroll 8
            for (int h = 0; h < nq; h++) {
                __m256 qh = _mm256_set1_ps(q[(size_t)h * head_dim + i]);
                s0[h] = _mm256_add_ps(s0[h], _mm256_mul_ps(qh, k0));
                s1[h] = _mm256_add_ps(s1[h], _mm256_mul_ps(qh, k1));
            }
        }
        #pragma GCC unroll 8
        for (int h = 0; h < nq; h++) {
            _mm256_storeu_ps(scores + (size_t)h * ld + t, _mm256_mul_ps(s0[h], vs));
            store_lanes(scores + (size_t)h * ld + t + 8, _mm256_mul_ps(s1[h], vs), nt1);
        }
    }
    if (t < n_pos) {
        int nt = n_pos - t;
        const float *b0 = kt + (size_t)(t / 8) * head_dim * 8;
        __m256 s0[ATTN_HEADS];
        #pragma GCC unroll 8
        for (int h = 0; h < ATTN_HEADS; h++)
            s0[h] = _mm256_setzero_ps();
        for (int i = 0; i < head_dim; i++) {
            __m256 k0 = _mm256_loadu_ps(b0 + (size_t)i * 8);
            #pragma GCC unroll 8
            for (int h = 0; h < nq; h++)
                s0[h] = _mm256_add_ps(s0[h], _mm256_mul_ps(_mm256_set1_ps(q[(size_t)h * head_dim + i]), k0));
        }
        #pragma GCC unroll 8
        for (int h = 0; h < nq; h++)
            store_lanes(scores + (size_t)h * ld + t, _mm256_mul_ps(s0[h], vs), nt);
    }
}

AVX2 static void scores_kt_avx2(const float *q, int nq, const float *kt, int n_pos, int head_dim, float scale,
                                float *scores, int ld)
{
    switch (nq) {
    case 1: scores_kt_nq(q, 1, kt, n_pos, head_dim, scale, scores, ld); break;
    case 2: scores_kt_nq(q, 2, kt, n_pos, head_dim, scale, scores, ld); break;
    case 3: scores_kt_nq(q, 3, kt, n_pos, head_dim, scale, scores, ld); break;
    default: scores_kt_nq(q, 4, kt, n_pos, head_dim, scale, scores, ld); break;
    }
}

void AVX2 attention_heads_kt_avx2(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                                  int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_kt_avx2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, kt, n_pos, head_dim,
                       scale, scores + (size_t)h0 * n_pos, n_pos);
    ops_softmax_rows(scores, nq, n_pos);
    int wide = head_dim % 16 == 0 && ops_simd_avx512();
    #pragma GCC unroll 8
    for (int h = 0; h < nq; h++)
        (wide ? attention_values_avx512 : values_avx2)(out + (size_t)h * head_dim, scores + (size_t)h * n_pos, v,
                                                        stride, 0, n_pos, head_dim);
}

void AVX2 attention_kv_prepare_avx2(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                                    int head_dim, int n_pos, int b0, int b1)
{
    for (int b = b0; b < b1; b++) {
        float *blk = kt + (size_t)b * head_dim * 8;
        int nt = n_pos - 8 * b < 8 ? n_pos - 8 * b : 8;
        for (int i0 = 0; i0 < head_dim; i0 += 8) {
            __m256 r[8];
            #pragma GCC unroll 8
            for (int j = 0; j < 8; j++)
                r[j] = j < nt ? load8(k, kv_f16, (size_t)(8 * b + j) * stride + (size_t)i0) : _mm256_setzero_ps();
            transpose8(r);
            #pragma GCC unroll 8
            for (int m = 0; m < 8; m++)
                _mm256_storeu_ps(blk + (size_t)(i0 + m) * 8, r[m]);
        }
        if (v32)
            #pragma GCC unroll 8
            for (int j = 0; j < nt; j++)
                for (int i0 = 0; i0 < head_dim; i0 += 8)
                    _mm256_storeu_ps(v32 + (size_t)(8 * b + j) * stride + (size_t)i0,
                                     load8(v, kv_f16, (size_t)(8 * b + j) * stride + (size_t)i0));
    }
}

void attention_head_avx2(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                         int n_pos, int head_dim, float scale, float *scores)
{
    attention_heads_avx2(out, q, 1, k, v, stride, kv_f16, n_pos, head_dim, scale, scores);
}

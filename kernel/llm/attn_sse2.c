/* SSE2 twin of ops_attention_heads (llm/ops.c; each head bit-identical to the scalar reference ops_attention_head),
   for CPUs without AVX2 (the guest under kvm-pvm): llm/attn_avx2.c's scheme at 4 lanes. The scores q . k_t are
   computed for 4 positions at once, each lane adding q[i] * k_t[i] in the reference's order (i = 0, 1, ...;
   multiply then add) after a 4x4 transpose of the cached rows, which are loaded and converted once for up to
   ATTN_HEADS heads sharing the KV head; the softmax is ops_softmax_rows (the SSE2 twin, llm/ops_sse2.c); the
   output out[i] += p_t * v_t[i] runs 4 dimensions per vector, positions in order, each cached value converted
   once for all those heads. fp16 caches convert with integer operations, exactly as fp16_to_fp32 (llm/fp16.h):
   SSE2-only CPUs have no F16C.
   For a batch of tokens (prefill) llm/llama.c first converts one KV head's keys to f32, transposed in
   attn_avx2.c's blocks of 8 positions, and its values once per layer (attention_kv_prepare_sse2), and every
   (token, head group) then reads them (attention_heads_kt_sse2) without conversions or transposes, each block row
   as two vectors of 4 positions: the same products in the same order, so the same bits.
   Tests: tests/test_llm_ops_simd.py (against the reference, f32 and f16 caches). */
#include <emmintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"

#define ATTN_HEADS 4   /* heads per pass over the keys: 4 transposed rows + 4 accumulators + q broadcasts */
/* The loops over a pass's heads are unrolled (#pragma GCC unroll 4): otherwise GCC -O2 keeps the accumulator
   arrays on the stack, a load and a store per add */

/* Halves in the high 16 bits of each 32-bit lane -> f32, as fp16_to_fp32: exponent and mantissa moved into f32
   position ((h & 0x7fff) << 13), the sign put back, and scaled by 2^112 (exact, subnormal halves included); an
   inf/NaN half (exponent 31: the shifted bits exceed the largest finite one's) lands on the f32 exponent 143
   with its mantissa, and OR-ing in the exponent 255 makes it inf/NaN with the payload kept. */
static inline __m128 half4(__m128i hh)
{
    __m128i em = _mm_srli_epi32(_mm_slli_epi32(hh, 1), 4);
    __m128i sign = _mm_and_si128(hh, _mm_set1_epi32((int)0x80000000u));
    __m128 f = _mm_mul_ps(_mm_castsi128_ps(_mm_or_si128(sign, em)), _mm_set1_ps(0x1p112f));
    __m128i special = _mm_cmpgt_epi32(em, _mm_set1_epi32(0x7bff << 13));
    return _mm_or_ps(f, _mm_castsi128_ps(_mm_and_si128(special, _mm_set1_epi32(0x7f800000))));
}

/* 4 floats of a cache row at element idx */
static inline __m128 load4(const void *base, int kv_f16, size_t idx)
{
    if (kv_f16)
        return half4(_mm_unpacklo_epi16(_mm_setzero_si128(),
                                        _mm_loadl_epi64((const __m128i *)((const uint16_t *)base + idx))));
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
#pragma GCC unroll 4
        for (int h = 0; h < ATTN_HEADS; h++)
            s[h] = _mm_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 4) {
            __m128 r0 = load4(k, kv_f16, (size_t)t * stride + (size_t)i0);
            __m128 r1 = nt > 1 ? load4(k, kv_f16, (size_t)(t + 1) * stride + (size_t)i0) : _mm_setzero_ps();
            __m128 r2 = nt > 2 ? load4(k, kv_f16, (size_t)(t + 2) * stride + (size_t)i0) : _mm_setzero_ps();
            __m128 r3 = nt > 3 ? load4(k, kv_f16, (size_t)(t + 3) * stride + (size_t)i0) : _mm_setzero_ps();
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);       /* r_m lane j = k_{t+j}[i0 + m] */
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++) {
                const float *qh = q + (size_t)h * head_dim + i0;
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[0]), r0));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[1]), r1));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[2]), r2));
                s[h] = _mm_add_ps(s[h], _mm_mul_ps(_mm_set1_ps(qh[3]), r3));
            }
        }
#pragma GCC unroll 4
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

/* The value pass of nq <= ATTN_HEADS heads at once: out_h[i0 .. i0 + 8) = sum_t p_h[t] * v_t[i0 .. i0 + 8), so each
   8 cached values are loaded and converted once for all the heads (p_h = p + h * ld, out_h = out + h * head_dim);
   each lane still adds its products in the reference's order (positions in order). head_dim % 8 == 4 ends with
   one vector per head. Instantiated with constant nq and kv_f16. */
static inline __attribute__((always_inline)) void values_group_nq(float *out, const float *p, int ld, const void *v,
                                                                  size_t stride, int kv_f16, int n_pos,
                                                                  int head_dim, int nq)
{
    int i0 = 0;
    for (; i0 + 8 <= head_dim; i0 += 8) {
        __m128 o0[ATTN_HEADS], o1[ATTN_HEADS];
#pragma GCC unroll 4
        for (int h = 0; h < ATTN_HEADS; h++)
            o0[h] = o1[h] = _mm_setzero_ps();
        for (int t = 0; t < n_pos; t++) {
            size_t idx = (size_t)t * stride + (size_t)i0;
            __m128 a, b;
            if (kv_f16) {
                __m128i hv = _mm_loadu_si128((const __m128i *)((const uint16_t *)v + idx));
                a = half4(_mm_unpacklo_epi16(_mm_setzero_si128(), hv));
                b = half4(_mm_unpackhi_epi16(_mm_setzero_si128(), hv));
            } else {
                a = _mm_loadu_ps((const float *)v + idx);
                b = _mm_loadu_ps((const float *)v + idx + 4);
            }
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++) {
                __m128 pt = _mm_set1_ps(p[(size_t)h * ld + t]);
                o0[h] = _mm_add_ps(o0[h], _mm_mul_ps(pt, a));
                o1[h] = _mm_add_ps(o1[h], _mm_mul_ps(pt, b));
            }
        }
#pragma GCC unroll 4
        for (int h = 0; h < nq; h++) {
            _mm_storeu_ps(out + (size_t)h * head_dim + i0, o0[h]);
            _mm_storeu_ps(out + (size_t)h * head_dim + i0 + 4, o1[h]);
        }
    }
    if (i0 < head_dim) {
        __m128 o0[ATTN_HEADS];
#pragma GCC unroll 4
        for (int h = 0; h < ATTN_HEADS; h++)
            o0[h] = _mm_setzero_ps();
        for (int t = 0; t < n_pos; t++) {
            __m128 a = load4(v, kv_f16, (size_t)t * stride + (size_t)i0);
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                o0[h] = _mm_add_ps(o0[h], _mm_mul_ps(_mm_set1_ps(p[(size_t)h * ld + t]), a));
        }
#pragma GCC unroll 4
        for (int h = 0; h < nq; h++)
            _mm_storeu_ps(out + (size_t)h * head_dim + i0, o0[h]);
    }
}

static void values_group_sse2(float *out, const float *p, int nq, const void *v, size_t stride, int kv_f16,
                              int n_pos, int head_dim)
{
    if (kv_f16) {
        switch (nq) {
        case 1: values_group_nq(out, p, n_pos, v, stride, 1, n_pos, head_dim, 1); break;
        case 2: values_group_nq(out, p, n_pos, v, stride, 1, n_pos, head_dim, 2); break;
        case 3: values_group_nq(out, p, n_pos, v, stride, 1, n_pos, head_dim, 3); break;
        default: values_group_nq(out, p, n_pos, v, stride, 1, n_pos, head_dim, 4); break;
        }
    } else {
        switch (nq) {
        case 1: values_group_nq(out, p, n_pos, v, stride, 0, n_pos, head_dim, 1); break;
        case 2: values_group_nq(out, p, n_pos, v, stride, 0, n_pos, head_dim, 2); break;
        case 3: values_group_nq(out, p, n_pos, v, stride, 0, n_pos, head_dim, 3); break;
        default: values_group_nq(out, p, n_pos, v, stride, 0, n_pos, head_dim, 4); break;
        }
    }
}

void attention_heads_sse2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                          int kv_f16, int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_sse2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, k, stride, kv_f16, n_pos,
                    head_dim, scale, scores + (size_t)h0 * n_pos, n_pos);
    ops_softmax_rows(scores, nq, n_pos);
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        values_group_sse2(out + (size_t)h0 * head_dim, scores + (size_t)h0 * n_pos,
                          nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, v, stride, kv_f16, n_pos, head_dim);
}

/* ---- prefill: keys transposed to f32 once per layer, values converted once (attention_kv_prepare) ---- */

/* The layout is attn_avx2.c's (blocks of 8 positions, (head_dim, 8) each); here each row of a block is read as
   two vectors, positions 8b .. 8b + 3 and 8b + 4 .. 8b + 7. */

/* Stores lanes [0, nt) of v at dst (nt <= 0 stores nothing) */
static inline void store_lanes(float *dst, __m128 v, int nt)
{
    if (nt >= 4) {
        _mm_storeu_ps(dst, v);
        return;
    }
    float tmp[4];
    _mm_storeu_ps(tmp, v);
    for (int j = 0; j < nt; j++)
        dst[j] = tmp[j];
}

/* lo[h] += qb[h] * row[0 .. 4), hi[h] += qb[h] * row[4 .. 8): one dimension of a block for nq heads */
static inline __attribute__((always_inline)) void kt_row(__m128 *lo, __m128 *hi, const __m128 *qb, int nq,
                                                         const float *row)
{
    __m128 k0 = _mm_loadu_ps(row), k1 = _mm_loadu_ps(row + 4);
#pragma GCC unroll 4
    for (int h = 0; h < nq; h++) {
        lo[h] = _mm_add_ps(lo[h], _mm_mul_ps(qb[h], k0));
        hi[h] = _mm_add_ps(hi[h], _mm_mul_ps(qb[h], k1));
    }
}

/* scores[h * ld + t] = (q_h . k_t) * scale for nq <= ATTN_HEADS heads, one block of 8 positions per pass:
   2 * nq accumulator chains, each lane's sum sequential over i. q is loaded 4 dimensions at a time and each
   broadcast by a shuffle. Instantiated with a constant nq. */
static inline __attribute__((always_inline)) void scores_kt_nq(const float *q, int nq, const float *kt, int n_pos,
                                                               int head_dim, float scale, float *scores, int ld)
{
    const __m128 vs = _mm_set1_ps(scale);
    for (int t = 0; t < n_pos; t += 8) {
        int nt = n_pos - t < 8 ? n_pos - t : 8;
        const float *blk = kt + (size_t)(t / 8) * head_dim * 8;
        __m128 lo[ATTN_HEADS], hi[ATTN_HEADS], q4[ATTN_HEADS], qb[ATTN_HEADS];
#pragma GCC unroll 4
        for (int h = 0; h < ATTN_HEADS; h++)
            lo[h] = hi[h] = _mm_setzero_ps();
        for (int i0 = 0; i0 < head_dim; i0 += 4) {
            const float *rows = blk + (size_t)i0 * 8;
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                q4[h] = _mm_loadu_ps(q + (size_t)h * head_dim + i0);
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                qb[h] = _mm_shuffle_ps(q4[h], q4[h], 0x00);
            kt_row(lo, hi, qb, nq, rows);
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                qb[h] = _mm_shuffle_ps(q4[h], q4[h], 0x55);
            kt_row(lo, hi, qb, nq, rows + 8);
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                qb[h] = _mm_shuffle_ps(q4[h], q4[h], 0xaa);
            kt_row(lo, hi, qb, nq, rows + 16);
#pragma GCC unroll 4
            for (int h = 0; h < nq; h++)
                qb[h] = _mm_shuffle_ps(q4[h], q4[h], 0xff);
            kt_row(lo, hi, qb, nq, rows + 24);
        }
#pragma GCC unroll 4
        for (int h = 0; h < nq; h++) {
            store_lanes(scores + (size_t)h * ld + t, _mm_mul_ps(lo[h], vs), nt);
            store_lanes(scores + (size_t)h * ld + t + 4, _mm_mul_ps(hi[h], vs), nt - 4);
        }
    }
}

static void scores_kt_sse2(const float *q, int nq, const float *kt, int n_pos, int head_dim, float scale,
                           float *scores, int ld)
{
    switch (nq) {
    case 1: scores_kt_nq(q, 1, kt, n_pos, head_dim, scale, scores, ld); break;
    case 2: scores_kt_nq(q, 2, kt, n_pos, head_dim, scale, scores, ld); break;
    case 3: scores_kt_nq(q, 3, kt, n_pos, head_dim, scale, scores, ld); break;
    default: scores_kt_nq(q, 4, kt, n_pos, head_dim, scale, scores, ld); break;
    }
}

/* The value pass reads f32 values (v32 or an f32 cache): values_group_sse2 without conversions */
void attention_heads_kt_sse2(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                             int n_pos, int head_dim, float scale, float *scores)
{
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        scores_kt_sse2(q + (size_t)h0 * head_dim, nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, kt, n_pos, head_dim,
                       scale, scores + (size_t)h0 * n_pos, n_pos);
    ops_softmax_rows(scores, nq, n_pos);
    for (int h0 = 0; h0 < nq; h0 += ATTN_HEADS)
        values_group_sse2(out + (size_t)h0 * head_dim, scores + (size_t)h0 * n_pos,
                          nq - h0 < ATTN_HEADS ? nq - h0 : ATTN_HEADS, v, stride, 0, n_pos, head_dim);
}

/* Block b: rows of positions 8b .. 8b + 3 and 8b + 4 .. 8b + 7 transposed 4 x 4 into the block's two halves
   (missing positions as zero rows); then the values of the block's positions converted to f32 when v32 is given */
void attention_kv_prepare_sse2(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                               int head_dim, int n_pos, int b0, int b1)
{
    for (int b = b0; b < b1; b++) {
        float *blk = kt + (size_t)b * head_dim * 8;
        int nt = n_pos - 8 * b < 8 ? n_pos - 8 * b : 8;
        for (int i0 = 0; i0 < head_dim; i0 += 4)
            for (int j0 = 0; j0 < 8; j0 += 4) {
                __m128 r[4];
                for (int j = 0; j < 4; j++)
                    r[j] = j0 + j < nt ? load4(k, kv_f16, (size_t)(8 * b + j0 + j) * stride + (size_t)i0)
                                       : _mm_setzero_ps();
                _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);   /* r[m] lane j = k_{8b+j0+j}[i0 + m] */
                for (int m = 0; m < 4; m++)
                    _mm_storeu_ps(blk + (size_t)(i0 + m) * 8 + j0, r[m]);
            }
        if (v32)
            for (int j = 0; j < nt; j++)
                for (int i0 = 0; i0 < head_dim; i0 += 4)
                    _mm_storeu_ps(v32 + (size_t)(8 * b + j) * stride + (size_t)i0,
                                  load4(v, kv_f16, (size_t)(8 * b + j) * stride + (size_t)i0));
    }
}

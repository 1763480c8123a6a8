/* SSE2 twins of the scalar references in llm/quant_ref.c, for CPUs with SSE2 only (the x86-64 baseline: no SSSE3
   pmaddubsw/pshufb, no SSE4.1; this file builds with -msse2 and nothing more): vec_dot Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
   (against Q8_0/Q8_1) and Q4_K Q5_K Q6_K (against Q8_K), 4-row kernels (vec_dot_rows, with the weight-row
   prefetch) and 4x4 tiles for llm/matmul.c (vec_dot_tile for the K-quants; for the 32-element types, tiles on
   activations laid out once per token block: tile_act + vec_dot_tile_act), the activation quantizers Q8_0 Q8_1 Q8_K
   and F16 dequantization - all bit-identical to the references. Each block's integer dot is summed exactly in
   int32 lanes (int8 and 4/5/6-bit quants widened to int16, pmaddwd), then the reference's float expression is
   evaluated in 4 float lanes (4 blocks of one row, 4 rows, or 4 activation rows: each operation rounds as the
   reference's; no FMA) and the terms are added in the reference's order (block by block, from 0.0f).
   F32 and F16 rows are the exception: the references accumulate x_i * y_i in double in index order, which no
   vector order reproduces, so these keep 8 float partial sums (tested within the summation bound, as the AVX2
   twins); no model we bake uses them for a matrix product (its F32 tensors are norm weights).
   ggml_types_init_simd (llm/ggml_types.c) installs them; neighbours: llm/quant_avx2.c, llm/quant_avx512.c;
   tests: tests/test_llm_quant_sse2.py, tests/test_llm_simd_matmul.py. */
#include <stddef.h>
#include <emmintrin.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/quant_simd.h"

#define SSE2_INLINE static inline __attribute__((always_inline))
#define ROWS_PREFETCH 16   /* rows: the rows kernels prefetch the 4 rows this far ahead (they come from memory) */

/* ---- helpers ---- */

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline __m128i load128(const void *p) { return _mm_loadu_si128((const __m128i *)p); }

/* Four fp16 values (the high 16 bits of each 32-bit lane; the low 16 bits are ignored) to floats, bit for bit
   as fp16_to_fp32 (llm/fp16.h): an arithmetic shift by 3 and a mask put sign, exponent and mantissa in f32
   position, a multiply by 2^112 rebiases them exactly (subnormal halves become normal floats); an inf/NaN half
   (exponent 31) comes out of the multiply with exponent 143 and its mantissa, so or-ing in the all-ones
   exponent gives the reference's inf/NaN with its payload. */
static inline __m128 halves_to_float_x4(__m128i h_hi)
{
    const __m128i e = _mm_set1_epi32(0x0f800000);   /* the half's exponent field after the shift */
    __m128i bits = _mm_and_si128(_mm_srai_epi32(h_hi, 3), _mm_set1_epi32((int)0x8fffe000u));
    __m128 fin = _mm_mul_ps(_mm_castsi128_ps(bits), _mm_set1_ps(0x1p112f));
    __m128i special = _mm_cmpeq_epi32(_mm_and_si128(bits, e), e);
    return _mm_or_ps(fin, _mm_castsi128_ps(_mm_and_si128(special, _mm_set1_epi32(0x7f800000))));
}

/* The fp16 pairs (d, m) or (d, s) at the start of four blocks: lo = [d0 d1 d2 d3], hi = [m0 m1 m2 m3]. For block
   types without a second half the caller ignores hi (every block is longer than 4 bytes). */
static inline void pairs_x4(const void *p0, const void *p1, const void *p2, const void *p3, __m128 *lo, __m128 *hi)
{
    __m128i v = _mm_setr_epi32((int)load_u32(p0), (int)load_u32(p1), (int)load_u32(p2), (int)load_u32(p3));
    *lo = halves_to_float_x4(_mm_slli_epi32(v, 16));
    *hi = halves_to_float_x4(v);
}

/* Sign-extends 16 int8 to two vectors of 8 int16. */
static inline void widen_i8(__m128i v, __m128i *lo, __m128i *hi)
{
    __m128i sign = _mm_cmpgt_epi8(_mm_setzero_si128(), v);
    *lo = _mm_unpacklo_epi8(v, sign);
    *hi = _mm_unpackhi_epi8(v, sign);
}

static inline int hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

/* exact sums of four int32x4 vectors: [sum a, sum b, sum c, sum d] */
static inline __m128i hsum4_epi32(__m128i a, __m128i b, __m128i c, __m128i d)
{
    __m128i ab = _mm_add_epi32(_mm_unpacklo_epi32(a, b), _mm_unpackhi_epi32(a, b));   /* a0+a2 b0+b2 a1+a3 b1+b3 */
    __m128i cd = _mm_add_epi32(_mm_unpacklo_epi32(c, d), _mm_unpackhi_epi32(c, d));
    return _mm_add_epi32(_mm_unpacklo_epi64(ab, cd), _mm_unpackhi_epi64(ab, cd));
}

/* adds the first cnt lanes of t to sum in lane order (the reference's block order) */
static inline float add_lanes(float sum, __m128 t, int cnt)
{
    float tt[4];
    _mm_storeu_ps(tt, t);
    for (int k = 0; k < cnt; k++)
        sum += tt[k];
    return sum;
}

/* s[0 .. cnt-1] = lanes of v */
static inline void store_lanes(float *s, __m128 v, int cnt)
{
    if (cnt == 4) {
        _mm_storeu_ps(s, v);
        return;
    }
    float tt[4];
    _mm_storeu_ps(tt, v);
    for (int k = 0; k < cnt; k++)
        s[k] = tt[k];
}

/* lanes 0 .. cnt-1 from s (the others 0) */
static inline __m128 load_lanes(const float *s, int cnt)
{
    if (cnt == 4)
        return _mm_loadu_ps(s);
    float tt[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
    for (int k = 0; k < cnt; k++)
        tt[k] = s[k];
    return _mm_loadu_ps(tt);
}

/* 4x4 tile results: acc[r] lanes = activation rows t of weight row r; s[t * ls + r] */
static inline void tile_store(float *s, size_t ls, __m128 v0, __m128 v1, __m128 v2, __m128 v3)
{
    _MM_TRANSPOSE4_PS(v0, v1, v2, v3);   /* v_t = [rows 0..3] of activation row t */
    _mm_storeu_ps(s, v0);
    _mm_storeu_ps(s + ls, v1);
    _mm_storeu_ps(s + 2 * ls, v2);
    _mm_storeu_ps(s + 3 * ls, v3);
}

/* prefetches (into L2) the step-th slice of `chunk` bytes from pf: over a row group's blocks the slices cover
   the 4 rows ROWS_PREFETCH ahead (consecutive prefetches are at most 64 bytes apart, so no line is skipped) */
static inline void prefetch_slice(const char *pf, int64_t step, size_t chunk)
{
    if (!pf)
        return;
    for (size_t o = 0; o < chunk; o += 64)
        __builtin_prefetch(pf + (size_t)step * chunk + o, 0, 2);
}

/* ---- Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 (32-element blocks): the weights of one block as int16 (4 vectors, element order),
   the activations likewise, 4 pmaddwd: exact int32 lanes. Then per block the reference's
       term = (float)isum * (dx * dy)            (+ mx * sy for Q4_1/Q5_1) ---- */

enum q32_kind { Q32_Q4_0, Q32_Q4_1, Q32_Q5_0, Q32_Q5_1, Q32_Q8_0 };

SSE2_INLINE size_t q32_xsize(int k)
{
    return k == Q32_Q4_0 ? sizeof(block_q4_0) : k == Q32_Q4_1 ? sizeof(block_q4_1) : k == Q32_Q5_0 ?
           sizeof(block_q5_0) : k == Q32_Q5_1 ? sizeof(block_q5_1) : sizeof(block_q8_0);
}

SSE2_INLINE int q32_has_min(int k) { return k == Q32_Q4_1 || k == Q32_Q5_1; }

/* the activation blocks: Q8_1 for the types with a min, else Q8_0 (d first in both) */
SSE2_INLINE size_t q32_ysize(int k) { return q32_has_min(k) ? sizeof(block_q8_1) : sizeof(block_q8_0); }
SSE2_INLINE size_t q32_yqs(int k) { return q32_has_min(k) ? offsetof(block_q8_1, qs) : offsetof(block_q8_0, qs); }

/* The 32 fifth bits of a Q5 block (qh, little-endian u32, bit j = element j) as bytes 16 or 0:
   h0 = elements 0..15, h1 = 16..31. */
static inline void q5_high_bits(const uint8_t *qh4, __m128i *h0, __m128i *h1)
{
    const __m128i bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)128, 1, 2, 4, 8, 16, 32, 64, (char)128);
    __m128i q = _mm_cvtsi32_si128((int)load_u32(qh4));
    q = _mm_unpacklo_epi8(q, q);                    /* b0 b0 b1 b1 b2 b2 b3 b3 */
    q = _mm_unpacklo_epi16(q, q);                   /* b0 x4, b1 x4, b2 x4, b3 x4 */
    __m128i lo = _mm_unpacklo_epi32(q, q), hi = _mm_unpackhi_epi32(q, q);   /* b0 x8 b1 x8 | b2 x8 b3 x8 */
    const __m128i sixteen = _mm_set1_epi8(16);
    *h0 = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(lo, bit), bit), sixteen);
    *h1 = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(hi, bit), bit), sixteen);
}

/* one weight block as 32 int16 in element order (q[0] = elements 0..7 ... q[3] = 24..31), centred for Q4_0/Q5_0 */
SSE2_INLINE void q32_decode(int k, const uint8_t *xb, __m128i q[4])
{
    if (k == Q32_Q8_0) {
        const block_q8_0 *x = (const block_q8_0 *)xb;
        widen_i8(load128(x->qs), &q[0], &q[1]);
        widen_i8(load128(x->qs + 16), &q[2], &q[3]);
        return;
    }
    const __m128i m4 = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    const uint8_t *qs = k == Q32_Q4_0 ? ((const block_q4_0 *)xb)->qs : k == Q32_Q4_1 ? ((const block_q4_1 *)xb)->qs :
                        k == Q32_Q5_0 ? ((const block_q5_0 *)xb)->qs : ((const block_q5_1 *)xb)->qs;
    __m128i v = load128(qs);
    __m128i lo = _mm_and_si128(v, m4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);   /* elements 0..15, 16..31 */
    if (k == Q32_Q5_0 || k == Q32_Q5_1) {
        __m128i h0, h1;
        q5_high_bits(k == Q32_Q5_0 ? ((const block_q5_0 *)xb)->qh : ((const block_q5_1 *)xb)->qh, &h0, &h1);
        lo = _mm_or_si128(lo, h0);
        hi = _mm_or_si128(hi, h1);
    }
    q[0] = _mm_unpacklo_epi8(lo, zero);
    q[1] = _mm_unpackhi_epi8(lo, zero);
    q[2] = _mm_unpacklo_epi8(hi, zero);
    q[3] = _mm_unpackhi_epi8(hi, zero);
    if (k == Q32_Q4_0 || k == Q32_Q5_0) {
        const __m128i off = _mm_set1_epi16(k == Q32_Q4_0 ? 8 : 16);
        for (int i = 0; i < 4; i++)
            q[i] = _mm_sub_epi16(q[i], off);
    }
}

/* 32 activation int8 as int16, element order */
static inline void widen_y32(const uint8_t *qs, __m128i y[4])
{
    widen_i8(load128(qs), &y[0], &y[1]);
    widen_i8(load128(qs + 16), &y[2], &y[3]);
}

/* the exact integer dot of one block as 4 int32 lanes (|pair sums| <= 2 * 128 * 128) */
static inline __m128i idot32(const __m128i q[4], const __m128i y[4])
{
    return _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(q[0], y[0]), _mm_madd_epi16(q[1], y[1])),
                         _mm_add_epi32(_mm_madd_epi16(q[2], y[2]), _mm_madd_epi16(q[3], y[3])));
}

/* The 4-row and tile kernels' layout for Q4_0/Q4_1 ("even/odd"): 16-bit lane k of the 4 vectors holds element 2k, 2k+1,
   2k+16, 2k+17, which masks and shifts of the 8 words of qs give without unpacking (lo nibble of byte 2k, of
   byte 2k+1, hi nibble of byte 2k, of byte 2k+1); the activations are laid out the same way once per call.
   Q4_0's -8 is taken out of the sum instead: isum = sum q y - 8 sum y (exact). Other types: element order. */
SSE2_INLINE int q32_rows_eo(int k) { return k == Q32_Q4_0 || k == Q32_Q4_1; }

SSE2_INLINE void q32_decode_rows(int k, const uint8_t *xb, __m128i q[4])
{
    if (!q32_rows_eo(k)) {
        q32_decode(k, xb, q);
        return;
    }
    const __m128i m = _mm_set1_epi16(0x000f);
    __m128i v = load128(k == Q32_Q4_0 ? ((const block_q4_0 *)xb)->qs : ((const block_q4_1 *)xb)->qs);
    q[0] = _mm_and_si128(v, m);                      /* elements 0, 2, .. 14 */
    q[1] = _mm_and_si128(_mm_srli_epi16(v, 8), m);   /* 1, 3, .. 15 */
    q[2] = _mm_and_si128(_mm_srli_epi16(v, 4), m);   /* 16, 18, .. 30 */
    q[3] = _mm_srli_epi16(v, 12);                    /* 17, 19, .. 31 */
}

/* the activations of one block in q32_decode_rows' layout; returns their sum (for Q4_0) */
SSE2_INLINE int q32_widen_y_rows(int k, const uint8_t *qs, __m128i y[4])
{
    if (!q32_rows_eo(k)) {
        widen_y32(qs, y);
        return 0;
    }
    __m128i w0 = load128(qs), w1 = load128(qs + 16);
    y[0] = _mm_srai_epi16(_mm_slli_epi16(w0, 8), 8);
    y[1] = _mm_srai_epi16(w0, 8);
    y[2] = _mm_srai_epi16(_mm_slli_epi16(w1, 8), 8);
    y[3] = _mm_srai_epi16(w1, 8);
    const __m128i ones = _mm_set1_epi16(1);
    return hsum_epi32(_mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(y[0], ones), _mm_madd_epi16(y[1], ones)),
                                    _mm_add_epi32(_mm_madd_epi16(y[2], ones), _mm_madd_epi16(y[3], ones))));
}

/* the reference's term per lane: (float)isum * (dx * dy) (+ mx * sy) */
SSE2_INLINE __m128 q32_term(int k, __m128i isum, __m128 dx, __m128 mx, __m128 dy, __m128 sy)
{
    __m128 t = _mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_mul_ps(dx, dy));
    return q32_has_min(k) ? _mm_add_ps(t, _mm_mul_ps(mx, sy)) : t;
}

/* one row, 4 blocks per step (a short last step repeats block b in the unused lanes, which are not added) */
SSE2_INLINE void q32_vec_dot(int k, int64_t n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx, *y = vy;
    const size_t xs = q32_xsize(k), ys = q32_ysize(k), yo = q32_yqs(k);
    const int64_t nb = n / 32;
    float sum = 0.0f;
    for (int64_t b = 0; b < nb; b += 4) {
        int cnt = nb - b < 4 ? (int)(nb - b) : 4;
        const uint8_t *xp[4], *yp[4];
        __m128i is[4];
#pragma GCC unroll 4
        for (int i = 0; i < 4; i++) {
            int64_t bi = i < cnt ? b + i : b;
            __m128i q[4], w[4];
            xp[i] = x + (size_t)bi * xs;
            yp[i] = y + (size_t)bi * ys;
            q32_decode(k, xp[i], q);
            widen_y32(yp[i] + yo, w);
            is[i] = idot32(q, w);
        }
        __m128 dx, mx, dy, sy;
        pairs_x4(xp[0], xp[1], xp[2], xp[3], &dx, &mx);
        pairs_x4(yp[0], yp[1], yp[2], yp[3], &dy, &sy);
        sum = add_lanes(sum, q32_term(k, hsum4_epi32(is[0], is[1], is[2], is[3]), dx, mx, dy, sy), cnt);
    }
    *s = sum;
}

/* several rows against one activation row (matrix-vector: the decode step), lanes = 4 rows. The activations
   are widened to int16 and their scales converted once per call, ROWS_Y_CHUNK blocks at a time (a longer row
   takes several passes, each adding its blocks to the partial sums in s: the reference's order); the leftover
   1..3 rows repeat the last one in the unused lanes. Each block step prefetches the 4 rows ROWS_PREFETCH ahead
   at the same columns (the weights come from memory; prefetches never fault). */
#define ROWS_Y_CHUNK 64   /* blocks: 4 KB of int16 activations and 768 bytes of scales and sums on the stack */

SSE2_INLINE void q32_vec_dot_rows(int k, int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const uint8_t *y = vy;
    const size_t xs = q32_xsize(k), ys = q32_ysize(k), yo = q32_yqs(k);
    const int64_t nb = n / 32;
    __m128i yw[4 * ROWS_Y_CHUNK];
    float dys[ROWS_Y_CHUNK], sys[ROWS_Y_CHUNK];
    int ysum8[ROWS_Y_CHUNK];   /* Q4_0: 8 * sum of the block's activations */
    for (int64_t b0 = 0; b0 < nb; b0 += ROWS_Y_CHUNK) {
        const int nc = nb - b0 < ROWS_Y_CHUNK ? (int)(nb - b0) : ROWS_Y_CHUNK;
        for (int j = 0; j < nc; j += 4) {
            const uint8_t *yb[4];
            for (int i = 0; i < 4; i++)
                yb[i] = y + (size_t)(b0 + (j + i < nc ? j + i : j)) * ys;
            __m128 dy, sy;
            pairs_x4(yb[0], yb[1], yb[2], yb[3], &dy, &sy);
            float td[4], ts[4];
            _mm_storeu_ps(td, dy);
            _mm_storeu_ps(ts, sy);
            for (int i = 0; i < 4 && j + i < nc; i++) {
                ysum8[j + i] = 8 * q32_widen_y_rows(k, yb[i] + yo, &yw[4 * (j + i)]);
                dys[j + i] = td[i];
                sys[j + i] = ts[i];
            }
        }
        for (int64_t r = 0; r < nr; r += 4) {
            const int cnt = nr - r < 4 ? (int)(nr - r) : 4;
            const uint8_t *x[4];
            for (int i = 0; i < 4; i++)
                x[i] = (const uint8_t *)vx + (size_t)(r + (i < cnt ? i : cnt - 1)) * bx + (size_t)b0 * xs;
            const char *pf = cnt == 4 ? (const char *)x[0] + ROWS_PREFETCH * bx : NULL;
            __m128 acc = b0 == 0 ? _mm_setzero_ps() : load_lanes(s + r, cnt);
            for (int j = 0; j < nc; j++) {
                const size_t xo = (size_t)j * xs;
                if (pf) {
                    __builtin_prefetch(pf + xo, 0, 2);
                    __builtin_prefetch(pf + bx + xo, 0, 2);
                    __builtin_prefetch(pf + 2 * bx + xo, 0, 2);
                    __builtin_prefetch(pf + 3 * bx + xo, 0, 2);
                }
                __m128i q[4], is[4];
#pragma GCC unroll 4
                for (int i = 0; i < 4; i++) {
                    q32_decode_rows(k, x[i] + xo, q);
                    is[i] = idot32(q, &yw[4 * j]);
                }
                __m128i isum = hsum4_epi32(is[0], is[1], is[2], is[3]);
                if (k == Q32_Q4_0)
                    isum = _mm_sub_epi32(isum, _mm_set1_epi32(ysum8[j]));
                __m128 dx, mx;
                pairs_x4(x[0] + xo, x[1] + xo, x[2] + xo, x[3] + xo, &dx, &mx);
                acc = _mm_add_ps(acc, q32_term(k, isum, dx, mx, _mm_set1_ps(dys[j]), _mm_set1_ps(sys[j])));
            }
            store_lanes(s + r, acc, cnt);
        }
    }
}

/* 4x4 tiles on prepared activations (ggml_tile_act_fn / ggml_vec_dot_tile_act_fn, used by llm/matmul.c):
   instead of widening 4 activation rows and converting their scales again for every group of 4 weight rows,
   matmul.c has each block of 4 activation rows laid out once per token block (struct q32_act4), and one call
   runs 4 weight rows against several such groups, decoding each weight block and converting the weight scales
   once. Lanes = the activation rows of a group; the reference's integer sums and float operations, in its
   order. */
struct q32_act4 {
    __m128i y[4][4];   /* [activation row]: the block's 32 int8 as int16 in q32_decode_rows' layout */
    __m128 d, s;       /* the 4 rows' dy and sy (sy: Q8_1 only) */
    __m128i ysum8;     /* Q4_0: 8 * sum of each row's block */
};
_Static_assert(sizeof(struct q32_act4) == GGML_TILE_ACT_SIZE, "q32_act4 is one GGML_TILE_ACT_SIZE record");

SSE2_INLINE void q32_tile_act(int k, int64_t nb, void *act, const void *vy, size_t by)
{
    struct q32_act4 *a = act;
    const size_t ys = q32_ysize(k), yo = q32_yqs(k);
    for (int64_t b = 0; b < nb; b++) {
        const uint8_t *y[4];
        int s8[4];
        for (int t = 0; t < 4; t++) {
            y[t] = (const uint8_t *)vy + (size_t)t * by + (size_t)b * ys;
            s8[t] = 8 * q32_widen_y_rows(k, y[t] + yo, a[b].y[t]);
        }
        pairs_x4(y[0], y[1], y[2], y[3], &a[b].d, &a[b].s);
        a[b].ysum8 = _mm_setr_epi32(s8[0], s8[1], s8[2], s8[3]);
    }
}

#define TILE_ACT_GROUPS 4   /* groups of 4 activation rows per weight-row pass (each weight block decoded once) */

/* One weight row (nb blocks at x; its scales broadcast in dxr[b], mxr[b]) against G groups of prepared
   activations (nb records apart): each weight block is decoded once for 4 * G activation rows; acc[gi] lanes =
   the activation rows of group gi. */
SSE2_INLINE void q32_row_vs_groups(int k, int G, int64_t nb, const uint8_t *x, const __m128 *dxr, const __m128 *mxr,
                                   const struct q32_act4 *a, __m128 *acc)
{
    const size_t xs = q32_xsize(k);
    __m128 sum[TILE_ACT_GROUPS];
    for (int gi = 0; gi < G; gi++)
        sum[gi] = acc[gi];
    for (int64_t b = 0; b < nb; b++) {
        __m128i q[4];
        q32_decode_rows(k, x + (size_t)b * xs, q);
#pragma GCC unroll 4
        for (int gi = 0; gi < G; gi++) {
            const struct q32_act4 *ab = a + (size_t)gi * (size_t)nb + b;
            __m128i is = hsum4_epi32(idot32(q, ab->y[0]), idot32(q, ab->y[1]), idot32(q, ab->y[2]),
                                     idot32(q, ab->y[3]));
            if (k == Q32_Q4_0)
                is = _mm_sub_epi32(is, ab->ysum8);
            sum[gi] = _mm_add_ps(sum[gi], q32_term(k, is, dxr[4 * b], mxr[4 * b], ab->d, ab->s));
        }
    }
    for (int gi = 0; gi < G; gi++)
        acc[gi] = sum[gi];
}

/* 4 weight rows (nb blocks each) against ng groups of prepared activations (nb records per group, back to
   back): s[(4g + t) * ls + r], continuing the partial sums in s when acc; up to TILE_ACT_GROUPS groups per pass */
SSE2_INLINE void q32_vec_dot_tile_act(int k, int64_t nb, float *s, size_t ls, const void *vx, size_t bx,
                                      const void *act, int ng, int acc_in)
{
    const size_t xs = q32_xsize(k);
    const uint8_t *x[4];
    for (int r = 0; r < 4; r++)
        x[r] = (const uint8_t *)vx + (size_t)r * bx;
    __m128 dxr[GGML_TILE_ACT_BLOCKS][4], mxr[GGML_TILE_ACT_BLOCKS][4];   /* the weight scales, broadcast */
    for (int64_t b = 0; b < nb; b++) {
        const size_t xo = (size_t)b * xs;
        __m128 dx, mx;
        pairs_x4(x[0] + xo, x[1] + xo, x[2] + xo, x[3] + xo, &dx, &mx);
        dxr[b][0] = _mm_shuffle_ps(dx, dx, 0x00);
        dxr[b][1] = _mm_shuffle_ps(dx, dx, 0x55);
        dxr[b][2] = _mm_shuffle_ps(dx, dx, 0xaa);
        dxr[b][3] = _mm_shuffle_ps(dx, dx, 0xff);
        mxr[b][0] = _mm_shuffle_ps(mx, mx, 0x00);
        mxr[b][1] = _mm_shuffle_ps(mx, mx, 0x55);
        mxr[b][2] = _mm_shuffle_ps(mx, mx, 0xaa);
        mxr[b][3] = _mm_shuffle_ps(mx, mx, 0xff);
    }
    for (int g0 = 0; g0 < ng; g0 += TILE_ACT_GROUPS) {
        const int cnt = ng - g0 < TILE_ACT_GROUPS ? ng - g0 : TILE_ACT_GROUPS;
        const struct q32_act4 *a = (const struct q32_act4 *)act + (size_t)g0 * (size_t)nb;
        __m128 acc[TILE_ACT_GROUPS][4];   /* [group][weight row]: lanes = the group's activation rows */
        for (int gi = 0; gi < cnt; gi++) {
            const float *sg = s + (size_t)(4 * (g0 + gi)) * ls;
            if (acc_in) {   /* tile_store's transpose undone */
                acc[gi][0] = _mm_loadu_ps(sg);
                acc[gi][1] = _mm_loadu_ps(sg + ls);
                acc[gi][2] = _mm_loadu_ps(sg + 2 * ls);
                acc[gi][3] = _mm_loadu_ps(sg + 3 * ls);
                _MM_TRANSPOSE4_PS(acc[gi][0], acc[gi][1], acc[gi][2], acc[gi][3]);
            } else {
                acc[gi][0] = acc[gi][1] = acc[gi][2] = acc[gi][3] = _mm_setzero_ps();
            }
        }
        for (int r = 0; r < 4; r++) {
            __m128 row[TILE_ACT_GROUPS];
            for (int gi = 0; gi < cnt; gi++)
                row[gi] = acc[gi][r];
            if (cnt == TILE_ACT_GROUPS)
                q32_row_vs_groups(k, TILE_ACT_GROUPS, nb, x[r], &dxr[0][r], &mxr[0][r], a, row);
            else
                for (int gi = 0; gi < cnt; gi++)
                    q32_row_vs_groups(k, 1, nb, x[r], &dxr[0][r], &mxr[0][r], a + (size_t)gi * (size_t)nb, &row[gi]);
            for (int gi = 0; gi < cnt; gi++)
                acc[gi][r] = row[gi];
        }
        for (int gi = 0; gi < cnt; gi++)
            tile_store(s + (size_t)(4 * (g0 + gi)) * ls, ls, acc[gi][0], acc[gi][1], acc[gi][2], acc[gi][3]);
    }
}

void vec_dot_q4_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y) { q32_vec_dot(Q32_Q4_0, n, s, x, y); }
void vec_dot_q4_1_q8_1_sse2(int64_t n, float *s, const void *x, const void *y) { q32_vec_dot(Q32_Q4_1, n, s, x, y); }
void vec_dot_q5_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y) { q32_vec_dot(Q32_Q5_0, n, s, x, y); }
void vec_dot_q5_1_q8_1_sse2(int64_t n, float *s, const void *x, const void *y) { q32_vec_dot(Q32_Q5_1, n, s, x, y); }
void vec_dot_q8_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y) { q32_vec_dot(Q32_Q8_0, n, s, x, y); }

void vec_dot_rows_q4_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    q32_vec_dot_rows(Q32_Q4_0, n, nr, s, x, bx, y);
}

void vec_dot_rows_q4_1_q8_1_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    q32_vec_dot_rows(Q32_Q4_1, n, nr, s, x, bx, y);
}

void vec_dot_rows_q5_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    q32_vec_dot_rows(Q32_Q5_0, n, nr, s, x, bx, y);
}

void vec_dot_rows_q5_1_q8_1_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    q32_vec_dot_rows(Q32_Q5_1, n, nr, s, x, bx, y);
}

void vec_dot_rows_q8_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    q32_vec_dot_rows(Q32_Q8_0, n, nr, s, x, bx, y);
}

void tile_act_q4_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by)
{
    q32_tile_act(Q32_Q4_0, nb, act, y, by);
}

void vec_dot_tile_act_q4_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc)
{
    q32_vec_dot_tile_act(Q32_Q4_0, nb, s, ls, x, bx, act, ng, acc);
}

void tile_act_q4_1_q8_1_sse2(int64_t nb, void *act, const void *y, size_t by)
{
    q32_tile_act(Q32_Q4_1, nb, act, y, by);
}

void vec_dot_tile_act_q4_1_q8_1_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc)
{
    q32_vec_dot_tile_act(Q32_Q4_1, nb, s, ls, x, bx, act, ng, acc);
}

void tile_act_q5_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by)
{
    q32_tile_act(Q32_Q5_0, nb, act, y, by);
}

void vec_dot_tile_act_q5_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc)
{
    q32_vec_dot_tile_act(Q32_Q5_0, nb, s, ls, x, bx, act, ng, acc);
}

void tile_act_q5_1_q8_1_sse2(int64_t nb, void *act, const void *y, size_t by)
{
    q32_tile_act(Q32_Q5_1, nb, act, y, by);
}

void vec_dot_tile_act_q5_1_q8_1_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc)
{
    q32_vec_dot_tile_act(Q32_Q5_1, nb, s, ls, x, bx, act, ng, acc);
}

void tile_act_q8_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by)
{
    q32_tile_act(Q32_Q8_0, nb, act, y, by);
}

void vec_dot_tile_act_q8_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc)
{
    q32_vec_dot_tile_act(Q32_Q8_0, nb, s, ls, x, bx, act, ng, acc);
}

/* ---- K-quants against Q8_K. A super-block is handled in 8 units of 32 elements: the quants of unit c times
   their sub-block scale as int16 (|q * scale| <= 4096), against the activations 32c .. 32c+31 widened to
   int16: isum exact in int32 lanes (|isum| < 2^27), msum = sum_j m_j * (bsums[2j] + bsums[2j+1]) by pmaddwd,
   then the reference's float expression. ---- */

enum k_kind { K_Q4, K_Q5, K_Q6 };

/* what one super-block needs besides its quants: Q4_K/Q5_K scales (one per unit) and mins as pmaddwd operands
   for the bsums, d and dmin */
struct kpre {
    int16_t sc[8];
    __m128i mlo, mhi;
    float d, dmin;
};

SSE2_INLINE size_t k_block_size(int kk)
{
    return kk == K_Q4 ? sizeof(block_q4_K) : kk == K_Q5 ? sizeof(block_q5_K) : sizeof(block_q6_K);
}

/* quant_ref.c's k_scale_min for all 8 sub-blocks, with word operations: scales and mins as 8 bytes each */
static inline void k_unpack_scales(const uint8_t *sc6, uint64_t *sc, uint64_t *mn)
{
    uint32_t a = load_u32(sc6), b = load_u32(sc6 + 4), c = load_u32(sc6 + 8);
    uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);   /* low 4 bits | the top 2 bits of a */
    uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    *sc = (a & 0x3f3f3f3fu) | ((uint64_t)sc_hi << 32);
    *mn = (b & 0x3f3f3f3fu) | ((uint64_t)mn_hi << 32);
}

SSE2_INLINE void k_prepare(int kk, const uint8_t *xb, struct kpre *p)
{
    if (kk == K_Q6) {   /* its int8 scales are read in place (k_unit); no mins */
        p->d = fp16_to_fp32(((const block_q6_K *)xb)->d);
        p->dmin = 0.0f;
        p->mlo = p->mhi = _mm_setzero_si128();
        return;
    }
    const block_q4_K *x = (const block_q4_K *)xb;   /* Q5_K: d, dmin and scales at the same places */
    uint64_t sc, mn;
    k_unpack_scales(x->scales, &sc, &mn);
    for (int j = 0; j < 8; j++)
        p->sc[j] = (int16_t)((sc >> (8 * j)) & 0xff);
    __m128i m = _mm_unpacklo_epi8(_mm_cvtsi64_si128((long long)mn), _mm_setzero_si128());   /* m0..m7 as int16 */
    p->mlo = _mm_unpacklo_epi16(m, m);   /* m0 m0 m1 m1 m2 m2 m3 m3 */
    p->mhi = _mm_unpackhi_epi16(m, m);
    p->d = fp16_to_fp32(x->d);
    p->dmin = fp16_to_fp32(x->dmin);
}

/* unit c (elements 32c .. 32c+31) of a super-block: the quants times their scale as int16, element order */
SSE2_INLINE void k_unit(int kk, const uint8_t *xb, const struct kpre *p, int c, __m128i q[4])
{
    const __m128i m4 = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    if (kk == K_Q6) {   /* elements 128h + 32g' .. : sub-blocks 16-wide, low 4 bits in ql, high 2 in qh */
        const block_q6_K *x = (const block_q6_K *)xb;
        const __m128i m3 = _mm_set1_epi8(0x03), k32 = _mm_set1_epi8(32);
        int h = c >> 2;
        for (int half = 0; half < 2; half++) {
            int g = 2 * (c & 3) + half;   /* sub-block 8h + g: elements 128h + 16g .. +15 */
            __m128i ql = load128(x->ql + 64 * h + 16 * (g & 3));
            __m128i qh = load128(x->qh + 32 * h + 16 * (g & 1));
            __m128i lo = _mm_and_si128(_mm_srl_epi16(ql, _mm_cvtsi32_si128(4 * (g >> 2))), m4);
            __m128i hi = _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * (g >> 1))), m3);
            __m128i v = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), k32);   /* -32..31 */
            __m128i a, b;
            widen_i8(v, &a, &b);
            __m128i scale = _mm_set1_epi16(x->scales[8 * h + g]);
            q[2 * half] = _mm_mullo_epi16(a, scale);
            q[2 * half + 1] = _mm_mullo_epi16(b, scale);
        }
        return;
    }
    /* Q4_K/Q5_K: sub-block c = nibble c & 1 of qs[32 * (c / 2) + l], plus (Q5_K) bit c of qh[l] as bit 4 */
    const uint8_t *qs = kk == K_Q5 ? ((const block_q5_K *)xb)->qs : ((const block_q4_K *)xb)->qs;
    const __m128i scale = _mm_set1_epi16(p->sc[c]);
    for (int half = 0; half < 2; half++) {
        __m128i v = load128(qs + 32 * (c >> 1) + 16 * half);
        __m128i nib = _mm_and_si128((c & 1) ? _mm_srli_epi16(v, 4) : v, m4);
        if (kk == K_Q5) {
            __m128i qh = load128(((const block_q5_K *)xb)->qh + 16 * half);
            __m128i bit = _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(c)), _mm_set1_epi8(1));
            nib = _mm_or_si128(nib, _mm_slli_epi16(bit, 4));
        }
        q[2 * half] = _mm_mullo_epi16(_mm_unpacklo_epi8(nib, zero), scale);
        q[2 * half + 1] = _mm_mullo_epi16(_mm_unpackhi_epi8(nib, zero), scale);
    }
}

SSE2_INLINE int k_msum(const struct kpre *p, const block_q8_K *y)
{
    return hsum_epi32(_mm_add_epi32(_mm_madd_epi16(load128(y->bsums), p->mlo),
                                    _mm_madd_epi16(load128(y->bsums + 8), p->mhi)));
}

/* the reference's term of one super-block: Q4_K/Q5_K dall * isum - dmin * msum, Q6_K (y.d * d) * isum */
SSE2_INLINE float k_term(int kk, const struct kpre *p, int isum, const block_q8_K *y)
{
    if (kk == K_Q6)
        return (y->d * p->d) * (float)isum;
    float dall = y->d * p->d, dmin = y->d * p->dmin;
    return dall * (float)isum - dmin * (float)k_msum(p, y);
}

/* the same for 4 lanes (4 rows or 4 activation rows): d, dmin, yd per lane */
SSE2_INLINE __m128 k_term4(int kk, __m128 d, __m128 dmin, __m128 yd, __m128i isum, __m128i msum)
{
    if (kk == K_Q6)
        return _mm_mul_ps(_mm_mul_ps(yd, d), _mm_cvtepi32_ps(isum));
    __m128 dall = _mm_mul_ps(yd, d), dm = _mm_mul_ps(yd, dmin);
    return _mm_sub_ps(_mm_mul_ps(dall, _mm_cvtepi32_ps(isum)), _mm_mul_ps(dm, _mm_cvtepi32_ps(msum)));
}

SSE2_INLINE void k_vec_dot(int kk, int64_t n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *xb = x + (size_t)b * k_block_size(kk);
        struct kpre p;
        k_prepare(kk, xb, &p);
        __m128i acc = _mm_setzero_si128();
#pragma GCC unroll 8
        for (int c = 0; c < 8; c++) {
            __m128i q[4], w[4];
            k_unit(kk, xb, &p, c, q);
            widen_y32((const uint8_t *)y[b].qs + 32 * c, w);
            acc = _mm_add_epi32(acc, idot32(q, w));
        }
        sum += k_term(kk, &p, hsum_epi32(acc), &y[b]);
    }
    *s = sum;
}

/* 4 rows per pass: each super-block's activations are widened once for the 4 rows; lanes = rows */
SSE2_INLINE void k_vec_dot_rows(int kk, int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    const size_t bsz = k_block_size(kk);
    const size_t chunk = nb > 0 ? (4 * bx + (size_t)nb - 1) / (size_t)nb : 0;
    for (int64_t r = 0; r < nr; r += 4) {
        const uint8_t *x[4];
        for (int i = 0; i < 4; i++)
            x[i] = (const uint8_t *)vx + (size_t)(r + i < nr ? r + i : nr - 1) * bx;
        const char *pf = r + 4 <= nr ? (const char *)x[0] + ROWS_PREFETCH * bx : NULL;
        __m128 acc = _mm_setzero_ps();
        for (int64_t b = 0; b < nb; b++) {
            prefetch_slice(pf, b, chunk);
            __m128i w[32];
            for (int c = 0; c < 8; c++)
                widen_y32((const uint8_t *)y[b].qs + 32 * c, &w[4 * c]);
            __m128i is[4], ms[4];
            float d[4], dmin[4];
            for (int i = 0; i < 4; i++) {
                const uint8_t *xb = x[i] + (size_t)b * bsz;
                struct kpre p;
                k_prepare(kk, xb, &p);
                __m128i a = _mm_setzero_si128();
#pragma GCC unroll 8
                for (int c = 0; c < 8; c++) {
                    __m128i q[4];
                    k_unit(kk, xb, &p, c, q);
                    a = _mm_add_epi32(a, idot32(q, &w[4 * c]));
                }
                is[i] = a;
                ms[i] = kk == K_Q6 ? _mm_setzero_si128() :
                        _mm_add_epi32(_mm_madd_epi16(load128(y[b].bsums), p.mlo),
                                      _mm_madd_epi16(load128(y[b].bsums + 8), p.mhi));
                d[i] = p.d;
                dmin[i] = p.dmin;
            }
            __m128 t = k_term4(kk, _mm_loadu_ps(d), _mm_loadu_ps(dmin), _mm_set1_ps(y[b].d),
                               hsum4_epi32(is[0], is[1], is[2], is[3]), hsum4_epi32(ms[0], ms[1], ms[2], ms[3]));
            acc = _mm_add_ps(acc, t);
        }
        store_lanes(s + r, acc, nr - r < 4 ? (int)(nr - r) : 4);
    }
}

/* 4x4 tiles: each weight super-block unit decoded once for the 4 activation rows; lanes = activation rows */
SSE2_INLINE void k_vec_dot_tile(int kk, int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                size_t by)
{
    const size_t bsz = k_block_size(kk);
    const block_q8_K *y[4];
    for (int t = 0; t < 4; t++)
        y[t] = (const block_q8_K *)((const uint8_t *)vy + (size_t)t * by);
    __m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
    for (int64_t b = 0; b < n / QK_K; b++) {
        __m128i w[4][32];
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 8; c++)
                widen_y32((const uint8_t *)y[t][b].qs + 32 * c, &w[t][4 * c]);
        __m128 yd = _mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
        for (int r = 0; r < 4; r++) {
            const uint8_t *xb = (const uint8_t *)vx + (size_t)r * bx + (size_t)b * bsz;
            struct kpre p;
            k_prepare(kk, xb, &p);
            __m128i a[4] = { _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128() };
#pragma GCC unroll 8
            for (int c = 0; c < 8; c++) {
                __m128i q[4];
                k_unit(kk, xb, &p, c, q);
#pragma GCC unroll 4
                for (int t = 0; t < 4; t++)
                    a[t] = _mm_add_epi32(a[t], idot32(q, &w[t][4 * c]));
            }
            __m128i ms = _mm_setzero_si128();
            if (kk != K_Q6) {
                __m128i m[4];
                for (int t = 0; t < 4; t++)
                    m[t] = _mm_add_epi32(_mm_madd_epi16(load128(y[t][b].bsums), p.mlo),
                                         _mm_madd_epi16(load128(y[t][b].bsums + 8), p.mhi));
                ms = hsum4_epi32(m[0], m[1], m[2], m[3]);
            }
            acc[r] = _mm_add_ps(acc[r], k_term4(kk, _mm_set1_ps(p.d), _mm_set1_ps(p.dmin), yd,
                                                hsum4_epi32(a[0], a[1], a[2], a[3]), ms));
        }
    }
    tile_store(s, ls, acc[0], acc[1], acc[2], acc[3]);
}

void vec_dot_q4_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y) { k_vec_dot(K_Q4, n, s, x, y); }
void vec_dot_q5_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y) { k_vec_dot(K_Q5, n, s, x, y); }
void vec_dot_q6_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y) { k_vec_dot(K_Q6, n, s, x, y); }

void vec_dot_rows_q4_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q4, n, nr, s, x, bx, y);
}

void vec_dot_rows_q5_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q5, n, nr, s, x, bx, y);
}

void vec_dot_rows_q6_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q6, n, nr, s, x, bx, y);
}

void vec_dot_tile_q4_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by)
{
    k_vec_dot_tile(K_Q4, n, s, ls, x, bx, y, by);
}

void vec_dot_tile_q5_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by)
{
    k_vec_dot_tile(K_Q5, n, s, ls, x, bx, y, by);
}

void vec_dot_tile_q6_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by)
{
    k_vec_dot_tile(K_Q6, n, s, ls, x, bx, y, by);
}

/* ---- activation quantizers, bit-identical to the references; a block with NaN, or whose scale or its inverse
   would leave the normal float range, goes through the reference ---- */

static inline __m128 abs_ps(__m128 v) { return _mm_andnot_ps(_mm_set1_ps(-0.0f), v); }

/* max |x| over 32 floats, ignoring NaN as the reference's `>` does (maxps returns its second operand when
   either is NaN); *nan set when any element is NaN */
static inline float amax32(const float *x, int *nan)
{
    __m128 m = _mm_setzero_ps(), un = _mm_setzero_ps();
    for (int j = 0; j < 32; j += 4) {
        __m128 v = _mm_loadu_ps(x + j);
        m = _mm_max_ps(abs_ps(v), m);
        un = _mm_or_ps(un, _mm_cmpunord_ps(v, v));
    }
    *nan = _mm_movemask_ps(un);
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 0x55));
    return _mm_cvtss_f32(m);
}

/* quant_ref.c's round_half_away for 4 floats with |v| < 2^31: truncate |v|, add 1 where the (exact) remainder
   is >= 0.5, negate where v < 0 */
static inline __m128i round_half_away4(__m128 v)
{
    __m128 a = abs_ps(v);
    __m128i t = _mm_cvttps_epi32(a);
    __m128 frac = _mm_sub_ps(a, _mm_cvtepi32_ps(t));
    t = _mm_sub_epi32(t, _mm_castps_si128(_mm_cmpge_ps(frac, _mm_set1_ps(0.5f))));
    __m128i neg = _mm_castps_si128(_mm_cmplt_ps(v, _mm_setzero_ps()));
    return _mm_sub_epi32(_mm_xor_si128(t, neg), neg);
}

/* q of one block of 32 into qs (|q| <= 127 here); returns the 4 int32 lanes of their sum */
static inline __m128i quant32(const float *x, float id, int8_t *qs)
{
    __m128 vid = _mm_set1_ps(id);
    __m128i q[8];
    for (int k = 0; k < 8; k++)
        q[k] = round_half_away4(_mm_mul_ps(_mm_loadu_ps(x + 4 * k), vid));
    __m128i lo = _mm_packs_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3]));
    __m128i hi = _mm_packs_epi16(_mm_packs_epi32(q[4], q[5]), _mm_packs_epi32(q[6], q[7]));
    _mm_storeu_si128((__m128i *)qs, lo);
    _mm_storeu_si128((__m128i *)(qs + 16), hi);
    __m128i s = _mm_add_epi32(_mm_add_epi32(q[0], q[1]), _mm_add_epi32(q[2], q[3]));
    return _mm_add_epi32(s, _mm_add_epi32(_mm_add_epi32(q[4], q[5]), _mm_add_epi32(q[6], q[7])));
}

/* the fast path needs a finite amax whose inverse scale is finite (then |x * id| <= 127 + rounding) */
static inline int q8_block_ok(float amax, int nan)
{
    return !nan && amax < 3.0e38f && (amax == 0.0f || amax / 127.0f >= 1.2e-38f);
}

void quantize_row_q8_0_sse2(const float *x, void *vy, int64_t n)
{
    block_q8_0 *y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        int nan;
        float amax = amax32(x, &nan);
        if (!q8_block_ok(amax, nan)) {
            quantize_row_q8_0_ref(x, &y[b], QK8_0);
            continue;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp16_from_fp32(d);
        quant32(x, id, y[b].qs);
    }
}

void quantize_row_q8_1_sse2(const float *x, void *vy, int64_t n)
{
    block_q8_1 *y = vy;
    for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
        int nan;
        float amax = amax32(x, &nan);
        if (!q8_block_ok(amax, nan)) {
            quantize_row_q8_1_ref(x, &y[b], QK8_1);
            continue;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = hsum_epi32(quant32(x, id, y[b].qs));
        y[b].d = fp16_from_fp32(d);
        y[b].s = fp16_from_fp32((float)sum * d);
    }
}

/* Q8_K: max = the element of largest magnitude (first on ties), iscale = -127 / max, q = min(127,
   nearest-even(iscale * x)) computed as the reference does (add 1.5 * 2^23, keep the mantissa), d = 1 / iscale,
   bsums over groups of 16. In the fast path |iscale * x| <= 127 + rounding, so q is in -128..128 and the signed
   saturation of packsswb is the reference's min(127, q). */
void quantize_row_q8_K_sse2(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
    const __m128 magic = _mm_set1_ps(12582912.0f);
    const __m128i mant = _mm_set1_epi32(0x007fffff), half = _mm_set1_epi32(0x00400000);
    const __m128i ones = _mm_set1_epi16(1);
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        int nan = 0, nn;
        float amax = 0.0f;
        for (int j = 0; j < QK_K; j += 32) {
            float a = amax32(x + j, &nn);
            nan |= nn;
            if (a > amax)
                amax = a;
        }
        if (nan || !(amax > 0.0f) || !(amax < 3.0e38f) || amax < 1e-36f) {
            quantize_row_q8_K_ref(x, &y[b], QK_K);
            continue;
        }
        float max = 0.0f;
        __m128 va = _mm_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 4) {   /* the first element with |x| == amax */
            int m = _mm_movemask_ps(_mm_cmpeq_ps(abs_ps(_mm_loadu_ps(x + j)), va));
            if (m) {
                max = x[j + __builtin_ctz((unsigned)m)];
                break;
            }
        }
        float iscale = -127.0f / max;
        __m128 vs = _mm_set1_ps(iscale);
        for (int g = 0; g < QK_K / 16; g++) {
            __m128i q[4];
            for (int k = 0; k < 4; k++) {
                __m128 t = _mm_add_ps(_mm_mul_ps(vs, _mm_loadu_ps(x + 16 * g + 4 * k)), magic);
                q[k] = _mm_sub_epi32(_mm_and_si128(_mm_castps_si128(t), mant), half);
            }
            __m128i w0 = _mm_min_epi16(_mm_packs_epi32(q[0], q[1]), _mm_set1_epi16(127));
            __m128i w1 = _mm_min_epi16(_mm_packs_epi32(q[2], q[3]), _mm_set1_epi16(127));
            _mm_storeu_si128((__m128i *)(y[b].qs + 16 * g), _mm_packs_epi16(w0, w1));
            y[b].bsums[g] = (int16_t)hsum_epi32(_mm_add_epi32(_mm_madd_epi16(w0, ones), _mm_madd_epi16(w1, ones)));
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- float rows ---- */

/* fp16 -> f32 in vectors, bit for bit (halves_to_float_x4 keeps inf/NaN payloads too) */
void dequantize_row_f16_sse2(const void *vx, float *y, int64_t n)
{
    const uint16_t *x = vx;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = load128(x + i);
        _mm_storeu_ps(y + i, halves_to_float_x4(_mm_unpacklo_epi16(_mm_setzero_si128(), h)));
        _mm_storeu_ps(y + i + 4, halves_to_float_x4(_mm_unpackhi_epi16(_mm_setzero_si128(), h)));
    }
    if (i < n)
        dequantize_row_f16_ref(x + i, y + i, n - i);
}

static inline float hsum_ps(__m128 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

/* F32 x F32 and F16 x F16: 8 float partial sums (see the top of the file: within the summation bound of the
   references' in-order double sums, not bit-identical) */
void vec_dot_f32_f32_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(x + i), _mm_loadu_ps(y + i)));
        a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(x + i + 4), _mm_loadu_ps(y + i + 4)));
    }
    float tail = 0.0f;
    if (i < n)
        vec_dot_f32_f32_ref(n - i, &tail, x + i, y + i);
    *s = hsum_ps(_mm_add_ps(a0, a1)) + tail;
}

void vec_dot_f16_f16_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    const __m128i zero = _mm_setzero_si128();
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i hx = load128(x + i), hy = load128(y + i);
        a0 = _mm_add_ps(a0, _mm_mul_ps(halves_to_float_x4(_mm_unpacklo_epi16(zero, hx)),
                                       halves_to_float_x4(_mm_unpacklo_epi16(zero, hy))));
        a1 = _mm_add_ps(a1, _mm_mul_ps(halves_to_float_x4(_mm_unpackhi_epi16(zero, hx)),
                                       halves_to_float_x4(_mm_unpackhi_epi16(zero, hy))));
    }
    float tail = 0.0f;
    if (i < n)
        vec_dot_f16_f16_ref(n - i, &tail, x + i, y + i);
    *s = hsum_ps(_mm_add_ps(a0, a1)) + tail;
}

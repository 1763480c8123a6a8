/* SSE2 twins of the hottest scalar references in llm/quant_ref.c, for the guest under KVM (SSE2 only):
   vec_dot Q4_1 x Q8_1 (SmolLM2's weights), Q8_0 x Q8_0 (its embedding / output head), Q4_0, Q5_0, Q5_1, and
   the K-quants Q4_K, Q5_K, Q6_K (bit-identical to their references), F32/F16 rows, F16 dequantization, and
   4-row variants (vec_dot_rows) for Q4_1 and Q8_0.
   ggml_types_init_simd (llm/ggml_types.c) installs them; tests hold each against its reference
   (tests/test_llm_quant_sse2.py). Without pmaddubsw (SSSE3), 8-bit products go through 16-bit pmaddwd. */
#include <emmintrin.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/quant_simd.h"

/* fp16 -> f32 in vectors: shifting exponent and mantissa into f32 position and multiplying by 2^112 rebiases
   them exactly (subnormal halves become normal floats); inf/NaN halves are left to the scalar reference. */
void dequantize_row_f16_sse2(const void *vx, float *y, int64_t n)
{
    const uint16_t *x = vx;
    const __m128i sign_mask = _mm_set1_epi32((int)0x80000000u);
    const __m128i exp_mant = _mm_set1_epi32(0x7fff);
    const __m128i inf_exp = _mm_set1_epi32(0x7c00);
    const __m128 scale = _mm_set1_ps(0x1p112f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(x + i));
        __m128i lo = _mm_unpacklo_epi16(h, _mm_setzero_si128());
        __m128i hi = _mm_unpackhi_epi16(h, _mm_setzero_si128());
        /* any inf/NaN among the 8: do the whole group with the reference (never happens in real weights) */
        __m128i elo = _mm_and_si128(lo, inf_exp), ehi = _mm_and_si128(hi, inf_exp);
        __m128i special = _mm_or_si128(_mm_cmpeq_epi32(elo, inf_exp), _mm_cmpeq_epi32(ehi, inf_exp));
        if (_mm_movemask_epi8(special)) {
            dequantize_row_f16_ref(x + i, y + i, 8);
            continue;
        }
        __m128i slo = _mm_and_si128(_mm_slli_epi32(lo, 16), sign_mask);
        __m128i shi = _mm_and_si128(_mm_slli_epi32(hi, 16), sign_mask);
        __m128 flo = _mm_castsi128_ps(_mm_or_si128(slo, _mm_slli_epi32(_mm_and_si128(lo, exp_mant), 13)));
        __m128 fhi = _mm_castsi128_ps(_mm_or_si128(shi, _mm_slli_epi32(_mm_and_si128(hi, exp_mant), 13)));
        _mm_storeu_ps(y + i, _mm_mul_ps(flo, scale));
        _mm_storeu_ps(y + i + 4, _mm_mul_ps(fhi, scale));
    }
    if (i < n)
        dequantize_row_f16_ref(x + i, y + i, n - i);
}

/* Sign-extends 16 int8 to two vectors of 8 int16. */
static inline void widen_i8(__m128i v, __m128i *lo, __m128i *hi)
{
    __m128i sign = _mm_cmpgt_epi8(_mm_setzero_si128(), v);
    *lo = _mm_unpacklo_epi8(v, sign);
    *hi = _mm_unpackhi_epi8(v, sign);
}

/* sum over 16 lanes of a (uint8 0..255 or int8, given as two int16 halves) times b (int8), as 4 int32 lanes */
static inline __m128i dot16(__m128i alo, __m128i ahi, __m128i b)
{
    __m128i blo, bhi;
    widen_i8(b, &blo, &bhi);
    return _mm_add_epi32(_mm_madd_epi16(alo, blo), _mm_madd_epi16(ahi, bhi));
}

static inline float hsum_ps(__m128 v)
{
    __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

/* Integer dot of the 32 nibbles of qs (element j low nibble, j+16 high nibble), minus 8 when centered (Q4_0),
   with 32 int8, as 4 int32 lanes. */
static inline __m128i dot_nibbles(const uint8_t *qs, const int8_t *q8, int centered)
{
    const __m128i offset = centered ? _mm_set1_epi8(8) : _mm_setzero_si128();
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m128i zero = _mm_setzero_si128();
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_sub_epi8(_mm_and_si128(v, m4), offset);                    /* elements 0..15 */
    __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(v, 4), m4), offset); /* elements 16..31 */
    __m128i y0 = _mm_loadu_si128((const __m128i *)q8);
    __m128i y1 = _mm_loadu_si128((const __m128i *)(q8 + 16));
    __m128i s0, s1;
    if (centered) {   /* values are signed -8..7 */
        __m128i a0, a1, b0, b1;
        widen_i8(lo, &a0, &a1);
        widen_i8(hi, &b0, &b1);
        s0 = dot16(a0, a1, y0);
        s1 = dot16(b0, b1, y1);
    } else {
        s0 = dot16(_mm_unpacklo_epi8(lo, zero), _mm_unpackhi_epi8(lo, zero), y0);
        s1 = dot16(_mm_unpacklo_epi8(hi, zero), _mm_unpackhi_epi8(hi, zero), y1);
    }
    return _mm_add_epi32(s0, s1);
}

/* Four halves (the 32-bit words a = two halves, b = two halves) to floats [a.lo, a.hi, b.lo, b.hi] at once.
   Sets *special when any of them is inf/NaN (the caller then takes the scalar reference for that block). */
static inline __m128 halves4_to_float(uint32_t a, uint32_t b, int *special)
{
    __m128i h = _mm_unpacklo_epi16(_mm_unpacklo_epi32(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)b)),
                                   _mm_setzero_si128());
    __m128i e = _mm_and_si128(h, _mm_set1_epi32(0x7c00));
    *special = _mm_movemask_epi8(_mm_cmpeq_epi32(e, _mm_set1_epi32(0x7c00)));
    __m128i sign = _mm_and_si128(_mm_slli_epi32(h, 16), _mm_set1_epi32((int)0x80000000u));
    __m128i mag = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x7fff)), 13);
    return _mm_mul_ps(_mm_castsi128_ps(_mm_or_si128(sign, mag)), _mm_set1_ps(0x1p112f));
}

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

void vec_dot_q4_1_q8_1_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK4_1;
    __m128 acc = _mm_setzero_ps();    /* the d_x d_y * isum terms, 4 lanes */
    __m128 macc = _mm_setzero_ps();   /* lane 1: the m_x * s_y terms */
    float extra = 0.0f;               /* blocks with inf/NaN scales, by the reference */
    for (int64_t b = 0; b < nb; b++) {
        int special;
        /* [d_x, m_x, d_y, s_y] -> [d_x d_y, m_x s_y, ., .] */
        __m128 f = halves4_to_float(load_u32(&x[b].d), load_u32(&y[b].d), &special);
        if (special) {
            float t;
            vec_dot_q4_1_q8_1_ref(QK4_1, &t, &x[b], &y[b]);
            extra += t;
            continue;
        }
        __m128 prod = _mm_mul_ps(f, _mm_movehl_ps(f, f));
        macc = _mm_add_ps(macc, prod);
        __m128i isum = dot_nibbles(x[b].qs, y[b].qs, 0);
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_shuffle_ps(prod, prod, 0x00)));
    }
    *s = hsum_ps(acc) + _mm_cvtss_f32(_mm_shuffle_ps(macc, macc, 0x55)) + extra;
}

/* Q4_0 and Q8_0 against Q8_0, two blocks per step so their four fp16 scales convert together. */
static inline __m128i dot_q8_block(const int8_t *xq, const int8_t *yq)
{
    __m128i a0, a1, b0, b1;
    widen_i8(_mm_loadu_si128((const __m128i *)xq), &a0, &a1);
    widen_i8(_mm_loadu_si128((const __m128i *)(xq + 16)), &b0, &b1);
    return _mm_add_epi32(dot16(a0, a1, _mm_loadu_si128((const __m128i *)yq)),
                         dot16(b0, b1, _mm_loadu_si128((const __m128i *)(yq + 16))));
}

void vec_dot_q4_0_q8_0_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK4_0;
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
    float extra = 0.0f;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        int special;
        __m128 f = halves4_to_float((uint32_t)x[b].d | ((uint32_t)x[b + 1].d << 16),
                                    (uint32_t)y[b].d | ((uint32_t)y[b + 1].d << 16), &special);
        if (special) {
            float t;
            vec_dot_q4_0_q8_0_ref(2 * QK4_0, &t, &x[b], &y[b]);
            extra += t;
            continue;
        }
        __m128 d = _mm_mul_ps(f, _mm_movehl_ps(f, f));   /* [dx0 dy0, dx1 dy1, ., .] */
        __m128i i0 = dot_nibbles(x[b].qs, y[b].qs, 1), i1 = dot_nibbles(x[b + 1].qs, y[b + 1].qs, 1);
        acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_cvtepi32_ps(i0), _mm_shuffle_ps(d, d, 0x00)));
        acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_cvtepi32_ps(i1), _mm_shuffle_ps(d, d, 0x55)));
    }
    float tail = 0.0f;
    if (b < nb)   /* an odd last block: the reference */
        vec_dot_q4_0_q8_0_ref(QK4_0, &tail, &x[b], &y[b]);
    *s = hsum_ps(_mm_add_ps(acc0, acc1)) + extra + tail;
}

void vec_dot_q8_0_q8_0_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q8_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
    float extra = 0.0f;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        int special;
        __m128 f = halves4_to_float((uint32_t)x[b].d | ((uint32_t)x[b + 1].d << 16),
                                    (uint32_t)y[b].d | ((uint32_t)y[b + 1].d << 16), &special);
        if (special) {
            float t;
            vec_dot_q8_0_q8_0_ref(2 * QK8_0, &t, &x[b], &y[b]);
            extra += t;
            continue;
        }
        __m128 d = _mm_mul_ps(f, _mm_movehl_ps(f, f));
        __m128i i0 = dot_q8_block(x[b].qs, y[b].qs), i1 = dot_q8_block(x[b + 1].qs, y[b + 1].qs);
        acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_cvtepi32_ps(i0), _mm_shuffle_ps(d, d, 0x00)));
        acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_cvtepi32_ps(i1), _mm_shuffle_ps(d, d, 0x55)));
    }
    float tail = 0.0f;
    if (b < nb)   /* an odd last block: the reference */
        vec_dot_q8_0_q8_0_ref(QK8_0, &tail, &x[b], &y[b]);
    *s = hsum_ps(_mm_add_ps(acc0, acc1)) + extra + tail;
}

/* ---- K-quants against Q8_K: the integer sums are exact in int32 lanes (scales folded in with pmullw before
   pmaddwd), and the final float expression is the reference's, so these equal the references bit for bit. ---- */

static inline int hsum_epi32(__m128i v)
{
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0x4e));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, 0xb1));
    return _mm_cvtsi128_si32(v);
}

/* sum of (q16 * scale) * y over 16 lanes, q16 given as two int16 halves (values small enough that q*scale fits) */
static inline __m128i dot16_scaled(__m128i qlo, __m128i qhi, __m128i scale, const int8_t *y)
{
    __m128i ylo, yhi;
    widen_i8(_mm_loadu_si128((const __m128i *)y), &ylo, &yhi);
    return _mm_add_epi32(_mm_madd_epi16(_mm_mullo_epi16(qlo, scale), ylo),
                         _mm_madd_epi16(_mm_mullo_epi16(qhi, scale), yhi));
}

void vec_dot_q4_K_q8_K_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    const __m128i m4 = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *sc6 = x[b].scales;
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 4; j++) {    /* the 6-bit scale/min unpacking of quant_ref.c's k_scale_min */
            sc[j] = sc6[j] & 63;
            mn[j] = sc6[j + 4] & 63;
            sc[j + 4] = (uint8_t)((sc6[j + 8] & 0x0f) | ((sc6[j] >> 6) << 4));
            mn[j + 4] = (uint8_t)((sc6[j + 8] >> 4) | ((sc6[j + 4] >> 6) << 4));
        }
        /* msum = sum_j m_j * (bsums[2j] + bsums[2j+1]): pmaddwd of the bsums with each m_j in two lanes */
        __m128i mlo = _mm_setr_epi16(mn[0], mn[0], mn[1], mn[1], mn[2], mn[2], mn[3], mn[3]);
        __m128i mhi = _mm_setr_epi16(mn[4], mn[4], mn[5], mn[5], mn[6], mn[6], mn[7], mn[7]);
        __m128i bs0 = _mm_loadu_si128((const __m128i *)y[b].bsums);
        __m128i bs1 = _mm_loadu_si128((const __m128i *)(y[b].bsums + 8));
        int msum = hsum_epi32(_mm_add_epi32(_mm_madd_epi16(bs0, mlo), _mm_madd_epi16(bs1, mhi)));
        __m128i acc = _mm_setzero_si128();
        for (int c = 0; c < 4; c++) {    /* 32 bytes: low nibbles = sub-block 2c, high nibbles = 2c+1 */
            __m128i s0 = _mm_set1_epi16(sc[2 * c]), s1 = _mm_set1_epi16(sc[2 * c + 1]);
            for (int h = 0; h < 2; h++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(x[b].qs + 32 * c + 16 * h));
                __m128i lo = _mm_and_si128(v, m4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);
                acc = _mm_add_epi32(acc, dot16_scaled(_mm_unpacklo_epi8(lo, zero), _mm_unpackhi_epi8(lo, zero), s0,
                                                      y[b].qs + 64 * c + 16 * h));
                acc = _mm_add_epi32(acc, dot16_scaled(_mm_unpacklo_epi8(hi, zero), _mm_unpackhi_epi8(hi, zero), s1,
                                                      y[b].qs + 64 * c + 32 + 16 * h));
            }
        }
        int isum = hsum_epi32(acc);
        float dall = y[b].d * fp16_to_fp32(x[b].d), dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * (float)isum - dmin * (float)msum;
    }
    *s = sum;
}

void vec_dot_q6_K_q8_K_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    const __m128i m4 = _mm_set1_epi8(0x0f), m3 = _mm_set1_epi8(0x03), k32 = _mm_set1_epi8(32);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        __m128i acc = _mm_setzero_si128();
        for (int h = 0; h < 2; h++) {
            for (int g = 0; g < 8; g++) {   /* elements 128h + 16g .. +15: sub-block 8h + g */
                __m128i ql = _mm_loadu_si128((const __m128i *)(x[b].ql + 64 * h + 16 * (g & 3)));
                __m128i qh = _mm_loadu_si128((const __m128i *)(x[b].qh + 32 * h + 16 * (g & 1)));
                __m128i lo = _mm_and_si128(_mm_srl_epi16(ql, _mm_cvtsi32_si128(4 * (g >> 2))), m4);
                __m128i hi = _mm_and_si128(_mm_srl_epi16(qh, _mm_cvtsi32_si128(2 * (g >> 1))), m3);
                __m128i q = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), k32);   /* -32..31 */
                __m128i qlo, qhi;
                widen_i8(q, &qlo, &qhi);
                __m128i scale = _mm_set1_epi16(x[b].scales[8 * h + g]);
                acc = _mm_add_epi32(acc, dot16_scaled(qlo, qhi, scale, y[b].qs + 128 * h + 16 * g));
            }
        }
        int isum = hsum_epi32(acc);
        sum += (y[b].d * fp16_to_fp32(x[b].d)) * (float)isum;
    }
    *s = sum;
}

void vec_dot_q5_K_q8_K_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    const __m128i m4 = _mm_set1_epi8(0x0f), one = _mm_set1_epi8(1), zero = _mm_setzero_si128();
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const uint8_t *sc6 = x[b].scales;
        uint8_t sc[8], mn[8];
        for (int j = 0; j < 4; j++) {
            sc[j] = sc6[j] & 63;
            mn[j] = sc6[j + 4] & 63;
            sc[j + 4] = (uint8_t)((sc6[j + 8] & 0x0f) | ((sc6[j] >> 6) << 4));
            mn[j + 4] = (uint8_t)((sc6[j + 8] >> 4) | ((sc6[j + 4] >> 6) << 4));
        }
        __m128i mlo = _mm_setr_epi16(mn[0], mn[0], mn[1], mn[1], mn[2], mn[2], mn[3], mn[3]);
        __m128i mhi = _mm_setr_epi16(mn[4], mn[4], mn[5], mn[5], mn[6], mn[6], mn[7], mn[7]);
        __m128i bs0 = _mm_loadu_si128((const __m128i *)y[b].bsums);
        __m128i bs1 = _mm_loadu_si128((const __m128i *)(y[b].bsums + 8));
        int msum = hsum_epi32(_mm_add_epi32(_mm_madd_epi16(bs0, mlo), _mm_madd_epi16(bs1, mhi)));
        __m128i qh[2] = { _mm_loadu_si128((const __m128i *)x[b].qh),
                          _mm_loadu_si128((const __m128i *)(x[b].qh + 16)) };
        __m128i acc = _mm_setzero_si128();
        for (int c = 0; c < 4; c++) {
            __m128i s0 = _mm_set1_epi16(sc[2 * c]), s1 = _mm_set1_epi16(sc[2 * c + 1]);
            __m128i sh0 = _mm_cvtsi32_si128(2 * c), sh1 = _mm_cvtsi32_si128(2 * c + 1);
            for (int h = 0; h < 2; h++) {
                __m128i v = _mm_loadu_si128((const __m128i *)(x[b].qs + 32 * c + 16 * h));
                /* bit 2c / 2c+1 of qh[l] is bit 4 of element l of sub-block 2c / 2c+1 */
                __m128i b0 = _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh[h], sh0), one), 4);
                __m128i b1 = _mm_slli_epi16(_mm_and_si128(_mm_srl_epi16(qh[h], sh1), one), 4);
                __m128i lo = _mm_or_si128(_mm_and_si128(v, m4), b0);
                __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m4), b1);
                acc = _mm_add_epi32(acc, dot16_scaled(_mm_unpacklo_epi8(lo, zero), _mm_unpackhi_epi8(lo, zero), s0,
                                                      y[b].qs + 64 * c + 16 * h));
                acc = _mm_add_epi32(acc, dot16_scaled(_mm_unpacklo_epi8(hi, zero), _mm_unpackhi_epi8(hi, zero), s1,
                                                      y[b].qs + 64 * c + 32 + 16 * h));
            }
        }
        int isum = hsum_epi32(acc);
        float dall = y[b].d * fp16_to_fp32(x[b].d), dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * (float)isum - dmin * (float)msum;
    }
    *s = sum;
}

/* ---- Q5_0 / Q5_1: the 32 fifth bits (qh, little-endian u32, bit j = element j) spread to bytes of value 16 ---- */

static inline void q5_high_bits(const uint8_t *qh4, __m128i *h0, __m128i *h1)
{
    const __m128i bit = _mm_setr_epi8(1, 2, 4, 8, 16, 32, 64, (char)128, 1, 2, 4, 8, 16, 32, 64, (char)128);
    __m128i q = _mm_cvtsi32_si128((int)load_u32(qh4));
    q = _mm_unpacklo_epi8(q, q);                    /* b0 b0 b1 b1 b2 b2 b3 b3 */
    q = _mm_unpacklo_epi16(q, q);                   /* b0 x4, b1 x4, b2 x4, b3 x4 */
    __m128i lo = _mm_unpacklo_epi32(q, q), hi = _mm_unpackhi_epi32(q, q);   /* b0 x8 b1 x8 | b2 x8 b3 x8 */
    const __m128i sixteen = _mm_set1_epi8(16);
    *h0 = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(lo, bit), bit), sixteen);   /* elements 0..15 */
    *h1 = _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(hi, bit), bit), sixteen);   /* elements 16..31 */
}

static inline __m128i sixteen_epi8(void) { return _mm_set1_epi8(16); }

/* 5-bit values (minus 16 when centered) of a Q5 block's 32 elements dotted with 32 int8, as 4 int32 lanes */
static inline __m128i dot_q5(const uint8_t *qs, const uint8_t *qh4, const int8_t *q8, int centered)
{
    const __m128i m4 = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    __m128i h0, h1;
    q5_high_bits(qh4, &h0, &h1);
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_or_si128(_mm_and_si128(v, m4), h0);
    __m128i hi = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m4), h1);
    __m128i y0 = _mm_loadu_si128((const __m128i *)q8), y1 = _mm_loadu_si128((const __m128i *)(q8 + 16));
    if (centered) {
        __m128i a0, a1, b0, b1;
        widen_i8(_mm_sub_epi8(lo, sixteen_epi8()), &a0, &a1);
        widen_i8(_mm_sub_epi8(hi, sixteen_epi8()), &b0, &b1);
        return _mm_add_epi32(dot16(a0, a1, y0), dot16(b0, b1, y1));
    }
    return _mm_add_epi32(dot16(_mm_unpacklo_epi8(lo, zero), _mm_unpackhi_epi8(lo, zero), y0),
                         dot16(_mm_unpacklo_epi8(hi, zero), _mm_unpackhi_epi8(hi, zero), y1));
}

void vec_dot_q5_0_q8_0_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK5_0;
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
    float extra = 0.0f;
    int64_t b = 0;
    for (; b + 2 <= nb; b += 2) {
        int special;
        __m128 f = halves4_to_float((uint32_t)x[b].d | ((uint32_t)x[b + 1].d << 16),
                                    (uint32_t)y[b].d | ((uint32_t)y[b + 1].d << 16), &special);
        if (special) {
            float t;
            vec_dot_q5_0_q8_0_ref(2 * QK5_0, &t, &x[b], &y[b]);
            extra += t;
            continue;
        }
        __m128 d = _mm_mul_ps(f, _mm_movehl_ps(f, f));
        __m128i i0 = dot_q5(x[b].qs, x[b].qh, y[b].qs, 1), i1 = dot_q5(x[b + 1].qs, x[b + 1].qh, y[b + 1].qs, 1);
        acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_cvtepi32_ps(i0), _mm_shuffle_ps(d, d, 0x00)));
        acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_cvtepi32_ps(i1), _mm_shuffle_ps(d, d, 0x55)));
    }
    float tail = 0.0f;
    if (b < nb)
        vec_dot_q5_0_q8_0_ref(QK5_0, &tail, &x[b], &y[b]);
    *s = hsum_ps(_mm_add_ps(acc0, acc1)) + extra + tail;
}

void vec_dot_q5_1_q8_1_sse2(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK5_1;
    __m128 acc = _mm_setzero_ps(), macc = _mm_setzero_ps();
    float extra = 0.0f;
    for (int64_t b = 0; b < nb; b++) {
        int special;
        __m128 f = halves4_to_float(load_u32(&x[b].d), load_u32(&y[b].d), &special);   /* [dx, mx, dy, sy] */
        if (special) {
            float t;
            vec_dot_q5_1_q8_1_ref(QK5_1, &t, &x[b], &y[b]);
            extra += t;
            continue;
        }
        __m128 prod = _mm_mul_ps(f, _mm_movehl_ps(f, f));
        macc = _mm_add_ps(macc, prod);
        __m128i isum = dot_q5(x[b].qs, x[b].qh, y[b].qs, 0);
        acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_shuffle_ps(prod, prod, 0x00)));
    }
    *s = hsum_ps(acc) + _mm_cvtss_f32(_mm_shuffle_ps(macc, macc, 0x55)) + extra;
}

/* ---- several rows per activation row: the activation block is widened and its scales converted once for
   4 weight rows (the matrix-vector products of the forward pass). Leftover rows go through vec_dot. ---- */

static inline __m128 hsum4_ps(__m128 a, __m128 b, __m128 c, __m128 d)
{
    /* [sum a, sum b, sum c, sum d] */
    __m128 ab = _mm_add_ps(_mm_unpacklo_ps(a, b), _mm_unpackhi_ps(a, b));   /* a0+a2 b0+b2 a1+a3 b1+b3 */
    __m128 cd = _mm_add_ps(_mm_unpacklo_ps(c, d), _mm_unpackhi_ps(c, d));
    return _mm_add_ps(_mm_movelh_ps(ab, cd), _mm_movehl_ps(cd, ab));
}

/* Four fp16 values to float (no inf/NaN check: callers check first). */
static inline __m128 halves_to_float_x4(__m128i h32)
{
    __m128i sign = _mm_and_si128(_mm_slli_epi32(h32, 16), _mm_set1_epi32((int)0x80000000u));
    __m128i mag = _mm_slli_epi32(_mm_and_si128(h32, _mm_set1_epi32(0x7fff)), 13);
    return _mm_mul_ps(_mm_castsi128_ps(_mm_or_si128(sign, mag)), _mm_set1_ps(0x1p112f));
}

static inline int any_nonfinite_x4(__m128i h32)
{
    __m128i e = _mm_and_si128(h32, _mm_set1_epi32(0x7c00));
    return _mm_movemask_epi8(_mm_cmpeq_epi32(e, _mm_set1_epi32(0x7c00)));
}

static inline __m128i dot_nibbles_widened(const uint8_t *qs, __m128i y0lo, __m128i y0hi, __m128i y1lo, __m128i y1hi)
{
    const __m128i m4 = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m128i lo = _mm_and_si128(v, m4), hi = _mm_and_si128(_mm_srli_epi16(v, 4), m4);
    __m128i s = _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), y0lo),
                              _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), y0hi));
    return _mm_add_epi32(s, _mm_add_epi32(_mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), y1lo),
                                          _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), y1hi)));
}

void vec_dot_rows_q4_1_q8_1_sse2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK4_1;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        const block_q4_1 *x0 = (const block_q4_1 *)((const uint8_t *)vx + (size_t)r * bx);
        const block_q4_1 *x1 = (const block_q4_1 *)((const uint8_t *)x0 + bx);
        const block_q4_1 *x2 = (const block_q4_1 *)((const uint8_t *)x1 + bx);
        const block_q4_1 *x3 = (const block_q4_1 *)((const uint8_t *)x2 + bx);
        __m128 a0 = _mm_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, macc = a0;
        int special = 0;
        for (int64_t b = 0; b < nb && !special; b++) {
            /* d and m of the 4 rows: [d0 m0 d1 m1] [d2 m2 d3 m3] as 32-bit lanes of halves */
            __m128i dm01 = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)load_u32(&x0[b].d)),
                                              _mm_cvtsi32_si128((int)load_u32(&x1[b].d)));
            __m128i dm23 = _mm_unpacklo_epi32(_mm_cvtsi32_si128((int)load_u32(&x2[b].d)),
                                              _mm_cvtsi32_si128((int)load_u32(&x3[b].d)));
            __m128i dm = _mm_unpacklo_epi64(dm01, dm23);          /* 8 halves: d0 m0 d1 m1 d2 m2 d3 m3 */
            __m128i dx = _mm_and_si128(dm, _mm_set1_epi32(0xffff));     /* [d0 d1 d2 d3] */
            __m128i mx = _mm_srli_epi32(dm, 16);                        /* [m0 m1 m2 m3] */
            __m128i ys = _mm_unpacklo_epi16(_mm_cvtsi32_si128((int)load_u32(&y[b].d)), _mm_setzero_si128());
            if (any_nonfinite_x4(dx) | any_nonfinite_x4(mx) | any_nonfinite_x4(ys)) {
                special = 1;   /* rare: redo these 4 rows with the single-row kernel (reference fallback inside) */
                break;
            }
            __m128 fy = halves_to_float_x4(ys);                          /* [dy sy . .] */
            __m128 dd = _mm_mul_ps(halves_to_float_x4(dx), _mm_shuffle_ps(fy, fy, 0x00));   /* dx_r * dy */
            macc = _mm_add_ps(macc, _mm_mul_ps(halves_to_float_x4(mx), _mm_shuffle_ps(fy, fy, 0x55)));
            __m128i y0lo, y0hi, y1lo, y1hi;
            widen_i8(_mm_loadu_si128((const __m128i *)y[b].qs), &y0lo, &y0hi);
            widen_i8(_mm_loadu_si128((const __m128i *)(y[b].qs + 16)), &y1lo, &y1hi);
            a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_cvtepi32_ps(dot_nibbles_widened(x0[b].qs, y0lo, y0hi, y1lo, y1hi)),
                                           _mm_shuffle_ps(dd, dd, 0x00)));
            a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_cvtepi32_ps(dot_nibbles_widened(x1[b].qs, y0lo, y0hi, y1lo, y1hi)),
                                           _mm_shuffle_ps(dd, dd, 0x55)));
            a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_cvtepi32_ps(dot_nibbles_widened(x2[b].qs, y0lo, y0hi, y1lo, y1hi)),
                                           _mm_shuffle_ps(dd, dd, 0xaa)));
            a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_cvtepi32_ps(dot_nibbles_widened(x3[b].qs, y0lo, y0hi, y1lo, y1hi)),
                                           _mm_shuffle_ps(dd, dd, 0xff)));
        }
        if (special) {
            for (int k = 0; k < 4; k++)
                vec_dot_q4_1_q8_1_sse2(n, &s[r + k], (const uint8_t *)vx + (size_t)(r + k) * bx, vy);
            continue;
        }
        _mm_storeu_ps(s + r, _mm_add_ps(hsum4_ps(a0, a1, a2, a3), macc));
    }
    for (; r < nr; r++)
        vec_dot_q4_1_q8_1_sse2(n, &s[r], (const uint8_t *)vx + (size_t)r * bx, vy);
}

void vec_dot_rows_q8_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        const block_q8_0 *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const block_q8_0 *)((const uint8_t *)vx + (size_t)(r + k) * bx);
        __m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
        int special = 0;
        for (int64_t b = 0; b < nb && !special; b++) {
            __m128i dx = _mm_setr_epi32(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d);
            __m128i dy = _mm_cvtsi32_si128(y[b].d);
            if (any_nonfinite_x4(dx) | any_nonfinite_x4(dy)) {
                special = 1;
                break;
            }
            __m128 fy = halves_to_float_x4(dy);
            float ddv[4];
            _mm_storeu_ps(ddv, _mm_mul_ps(halves_to_float_x4(dx), _mm_shuffle_ps(fy, fy, 0x00)));
            __m128i y0lo, y0hi, y1lo, y1hi;
            widen_i8(_mm_loadu_si128((const __m128i *)y[b].qs), &y0lo, &y0hi);
            widen_i8(_mm_loadu_si128((const __m128i *)(y[b].qs + 16)), &y1lo, &y1hi);
            for (int k = 0; k < 4; k++) {
                __m128i a0, a1, b0, b1;
                widen_i8(_mm_loadu_si128((const __m128i *)x[k][b].qs), &a0, &a1);
                widen_i8(_mm_loadu_si128((const __m128i *)(x[k][b].qs + 16)), &b0, &b1);
                __m128i isum = _mm_add_epi32(_mm_add_epi32(_mm_madd_epi16(a0, y0lo), _mm_madd_epi16(a1, y0hi)),
                                             _mm_add_epi32(_mm_madd_epi16(b0, y1lo), _mm_madd_epi16(b1, y1hi)));
                acc[k] = _mm_add_ps(acc[k], _mm_mul_ps(_mm_cvtepi32_ps(isum), _mm_set1_ps(ddv[k])));
            }
        }
        if (special) {
            for (int k = 0; k < 4; k++)
                vec_dot_q8_0_q8_0_sse2(n, &s[r + k], x[k], vy);
            continue;
        }
        _mm_storeu_ps(s + r, hsum4_ps(acc[0], acc[1], acc[2], acc[3]));
    }
    for (; r < nr; r++)
        vec_dot_q8_0_q8_0_sse2(n, &s[r], (const uint8_t *)vx + (size_t)r * bx, vy);
}

/* ---- float rows: F32 x F32 and F16 x F16 with 8 float partial sums (the references accumulate in double) ---- */

static inline void halves8_to_float(const uint16_t *p, __m128 *lo, __m128 *hi)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    *lo = halves_to_float_x4(_mm_unpacklo_epi16(h, _mm_setzero_si128()));
    *hi = halves_to_float_x4(_mm_unpackhi_epi16(h, _mm_setzero_si128()));
}

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
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
    float extra = 0.0f;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i hx = _mm_loadu_si128((const __m128i *)(x + i)), hy = _mm_loadu_si128((const __m128i *)(y + i));
        __m128i e = _mm_set1_epi16(0x7c00);
        if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi16(_mm_and_si128(hx, e), e),
                                           _mm_cmpeq_epi16(_mm_and_si128(hy, e), e)))) {
            float t;   /* inf/NaN among these 8: the reference */
            vec_dot_f16_f16_ref(8, &t, x + i, y + i);
            extra += t;
            continue;
        }
        __m128 xl, xh, yl, yh;
        halves8_to_float(x + i, &xl, &xh);
        halves8_to_float(y + i, &yl, &yh);
        a0 = _mm_add_ps(a0, _mm_mul_ps(xl, yl));
        a1 = _mm_add_ps(a1, _mm_mul_ps(xh, yh));
    }
    float tail = 0.0f;
    if (i < n)
        vec_dot_f16_f16_ref(n - i, &tail, x + i, y + i);
    *s = hsum_ps(_mm_add_ps(a0, a1)) + extra + tail;
}

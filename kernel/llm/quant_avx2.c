/* AVX2 twins of the scalar references in llm/quant_ref.c, for CPUs with AVX2 + FMA + F16C (real hardware, and
   the guest under kvm-pvm or TCG -cpu max: CPL-3 code runs them natively): vec_dot Q4_0 Q4_1 Q5_0 Q5_1 Q8_0
   Q4_K Q5_K Q6_K, the activation quantizers Q8_0 Q8_1 Q8_K and F16 dequantization - all bit-identical to the
   references (exact integer sums, then the references' float expressions in their order) - plus F16 and F32
   rows (FMA, 16 lanes: within the summation bound), 4-row kernels (vec_dot_rows) and 4x4 tiles (vec_dot_tile:
   4 weight rows x 4 activation rows per weight load, for llm/matmul.c) for Q4_1 Q8_0 Q4_K Q5_K Q6_K, also
   bit-identical.
   Every function carries __attribute__((target(...))) so this file builds with the kernel's -msse2 flags and the
   rest of the kernel stays SSE2; ggml_types_init_simd (llm/ggml_types.c) installs these only with AVX2 | FMA
   from the caller (who checked that XCR0 enables AVX state) and F16C (quant_avx2_cpu_ok). Neighbours: the SSE2
   twins in llm/quant_sse2.c, the attention twin in llm/attn_avx2.c; tests: tests/test_llm_simd_avx2.py,
   tests/test_llm_simd_matmul.py, tests/test_llm_simd_forward.py. */
#include <immintrin.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/quant_simd.h"

#define AVX2 __attribute__((target("avx2,fma,f16c")))

/* ---- helpers ---- */

static inline uint32_t load_u32(const void *p)
{
    uint32_t v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

AVX2 static inline float hsum256_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

AVX2 static inline int hsum256_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* The 32 nibbles of 16 bytes: element j (low nibble of byte j) in byte j, element j+16 (high nibble) in byte j+16. */
AVX2 static inline __m256i unpack_nibbles(const uint8_t *qs)
{
    __m128i v = _mm_loadu_si128((const __m128i *)qs);
    __m256i w = _mm256_inserti128_si256(_mm256_castsi128_si256(v), _mm_srli_epi16(v, 4), 1);
    return _mm256_and_si256(w, _mm256_set1_epi8(0x0f));
}

/* sum over groups of 4 bytes of u (unsigned, 0..255 with |u * s| pair sums < 2^15) times s (signed) as 8 int32 */
AVX2 static inline __m256i dot_u8_i8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* signed x signed (a in -128..127, b in -127..127): |a| * (b with a's sign) */
AVX2 static inline __m256i dot_i8_i8(__m256i a, __m256i b)
{
    return dot_u8_i8(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));
}

AVX2 static inline __m256i load256(const void *p) { return _mm256_loadu_si256((const __m256i *)p); }

/* The 32 fifth bits of a Q5 block (qh, little-endian u32, bit j = element j) as bytes of value 16 or 0. */
AVX2 static inline __m256i q5_high_bits(const uint8_t *qh4)
{
    __m256i q = _mm256_set1_epi32((int)load_u32(qh4));
    /* byte j takes byte j/8 of qh */
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    q = _mm256_shuffle_epi8(q, spread);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(q, bit), bit), _mm256_set1_epi8(16));
}

/* ---- Q4_0 Q4_1 Q5_0 Q5_1 Q8_0: bit-identical to the references. Each block's integer dot is summed exactly
   (int32 lanes folded with hadd), then the reference's float expression
       term = (float)isum * (dx * dy)            (+ mx * sy for Q4_1/Q5_1)
   is evaluated in 4 float lanes at once (no FMA: each operation rounds as the reference's), and the terms are
   added in the reference's order: block by block for one row (vec_dot), lane-wise for 4 rows (vec_dot_rows)
   or 4 activation rows (vec_dot_tile). So every kernel, batch shape and row split gives the same bits. ---- */

/* exact sums of four int32x8 vectors: [sum a, sum b, sum c, sum d] */
AVX2 static inline __m128i hsum4_epi32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* four fp16 scales as floats */
AVX2 static inline __m128 halves_x4(uint16_t a, uint16_t b, uint16_t c, uint16_t d)
{
    return _mm_cvtph_ps(_mm_setr_epi16((short)a, (short)b, (short)c, (short)d, 0, 0, 0, 0));
}

/* the fp16 pairs (d, m) or (d, s) at four addresses: lo = [d0 d1 d2 d3], hi = [m0 m1 m2 m3] */
AVX2 static inline void pairs_x4(const void *p0, const void *p1, const void *p2, const void *p3, __m128 *lo,
                                 __m128 *hi)
{
    __m256 f = _mm256_cvtph_ps(_mm_setr_epi32((int)load_u32(p0), (int)load_u32(p1), (int)load_u32(p2),
                                              (int)load_u32(p3)));
    f = _mm256_permutevar8x32_ps(f, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    *lo = _mm256_castps256_ps128(f);
    *hi = _mm256_extractf128_ps(f, 1);
}

AVX2 static inline __m256i q4_0_dot(const block_q4_0 *x, const block_q8_0 *y)
{
    __m256i q = _mm256_sub_epi8(unpack_nibbles(x->qs), _mm256_set1_epi8(8));   /* -8..7 */
    return dot_i8_i8(q, load256(y->qs));
}

AVX2 static inline __m256i q8_0_dot(const block_q8_0 *x, const block_q8_0 *y)
{
    return dot_i8_i8(load256(x->qs), load256(y->qs));   /* |x| * (y with x's sign): right for x = -128 too */
}

AVX2 static inline __m256i q5_0_dot(const block_q5_0 *x, const block_q8_0 *y)
{
    __m256i q = _mm256_or_si256(unpack_nibbles(x->qs), q5_high_bits(x->qh));
    return dot_i8_i8(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), load256(y->qs));   /* -16..15 */
}

AVX2 static inline __m256i q4_1_dot(const block_q4_1 *x, const block_q8_1 *y)
{
    return dot_u8_i8(unpack_nibbles(x->qs), load256(y->qs));
}

AVX2 static inline __m256i q5_1_dot(const block_q5_1 *x, const block_q8_1 *y)
{
    return dot_u8_i8(_mm256_or_si256(unpack_nibbles(x->qs), q5_high_bits(x->qh)), load256(y->qs));   /* 0..31 */
}

/* adds the first cnt lanes of t to sum in lane order (the reference's block order) */
AVX2 static inline float add_lanes(float sum, __m128 t, int cnt)
{
    float tt[4];
    _mm_storeu_ps(tt, t);
    for (int k = 0; k < cnt; k++)
        sum += tt[k];
    return sum;
}

/* one row, 4 blocks per step (a short last step repeats block b in the unused lanes, which are not added) */
#define VEC_DOT_D(name, xtype, dotfn) \
    void AVX2 name(int64_t n, float *s, const void *vx, const void *vy) \
    { \
        const xtype *x = vx; \
        const block_q8_0 *y = vy; \
        const int64_t nb = n / QK8_0; \
        float sum = 0.0f; \
        for (int64_t b = 0; b < nb; b += 4) { \
            int cnt = nb - b < 4 ? (int)(nb - b) : 4; \
            int64_t b1 = cnt > 1 ? b + 1 : b, b2 = cnt > 2 ? b + 2 : b, b3 = cnt > 3 ? b + 3 : b; \
            __m128i is = hsum4_epi32(dotfn(&x[b], &y[b]), dotfn(&x[b1], &y[b1]), dotfn(&x[b2], &y[b2]), \
                                     dotfn(&x[b3], &y[b3])); \
            __m128 dd = _mm_mul_ps(halves_x4(x[b].d, x[b1].d, x[b2].d, x[b3].d), \
                                   halves_x4(y[b].d, y[b1].d, y[b2].d, y[b3].d)); \
            sum = add_lanes(sum, _mm_mul_ps(_mm_cvtepi32_ps(is), dd), cnt); \
        } \
        *s = sum; \
    }

#define VEC_DOT_DM(name, xtype, dotfn) \
    void AVX2 name(int64_t n, float *s, const void *vx, const void *vy) \
    { \
        const xtype *x = vx; \
        const block_q8_1 *y = vy; \
        const int64_t nb = n / QK8_1; \
        float sum = 0.0f; \
        for (int64_t b = 0; b < nb; b += 4) { \
            int cnt = nb - b < 4 ? (int)(nb - b) : 4; \
            int64_t b1 = cnt > 1 ? b + 1 : b, b2 = cnt > 2 ? b + 2 : b, b3 = cnt > 3 ? b + 3 : b; \
            __m128i is = hsum4_epi32(dotfn(&x[b], &y[b]), dotfn(&x[b1], &y[b1]), dotfn(&x[b2], &y[b2]), \
                                     dotfn(&x[b3], &y[b3])); \
            __m128 dx, mx, dy, sy; \
            pairs_x4(&x[b].d, &x[b1].d, &x[b2].d, &x[b3].d, &dx, &mx); \
            pairs_x4(&y[b].d, &y[b1].d, &y[b2].d, &y[b3].d, &dy, &sy); \
            __m128 t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(is), _mm_mul_ps(dx, dy)), _mm_mul_ps(mx, sy)); \
            sum = add_lanes(sum, t, cnt); \
        } \
        *s = sum; \
    }

VEC_DOT_D(vec_dot_q4_0_q8_0_avx2, block_q4_0, q4_0_dot)
VEC_DOT_D(vec_dot_q8_0_q8_0_avx2, block_q8_0, q8_0_dot)
VEC_DOT_D(vec_dot_q5_0_q8_0_avx2, block_q5_0, q5_0_dot)
VEC_DOT_DM(vec_dot_q4_1_q8_1_avx2, block_q4_1, q4_1_dot)
VEC_DOT_DM(vec_dot_q5_1_q8_1_avx2, block_q5_1, q5_1_dot)

/* ---- K-quants against Q8_K: exact int32 sums, then the reference's float expression (bit-identical) ---- */

/* msum = sum_j m_j * (bsums[2j] + bsums[2j+1]), m_j = byte j of mn8 */
AVX2 static inline int k_min_sum(uint64_t mn8, const int16_t *bsums)
{
    __m128i m = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)mn8));   /* m0..m7 */
    __m256i mm = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(m, m)), _mm_unpackhi_epi16(m, m),
                                         1);
    return hsum256_epi32(_mm256_madd_epi16(load256(bsums), mm));
}

/* quant_ref.c's k_scale_min for all 8 sub-blocks: scales and mins as 8 bytes each, with word operations (byte
   stores read back as words would stall store forwarding) */
static inline void k_unpack_scales(const uint8_t *sc6, uint64_t *sc, uint64_t *mn)
{
    uint32_t a = load_u32(sc6), b = load_u32(sc6 + 4), c = load_u32(sc6 + 8);
    uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);   /* low 4 bits | the top 2 bits of a */
    uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    *sc = (a & 0x3f3f3f3fu) | ((uint64_t)sc_hi << 32);
    *mn = (b & 0x3f3f3f3fu) | ((uint64_t)mn_hi << 32);
}

#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma,f16c")))

enum kkind { K_Q4, K_Q5, K_Q6 };

/* One super-block of one row, decoded (once per 4 activation rows in the tiles): q[c] = the unsigned quants of
   32 elements against activation bytes 32c .. 32c+31 (Q4_K/Q5_K: sub-block c; Q6_K: q + 32, sub-blocks 2c and
   2c+1 in the 128-bit halves), sw[c] their scale words; Q4_K/Q5_K mins as bytes, Q6_K the 16 scales as int16. */
struct k2w {
    __m256i q[8], sw[8];
    __m256i s16;
    uint64_t mn;
    float d, dmin;
};

AVX2_INLINE void k_decode(int kk, const uint8_t *xb, struct k2w *w)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), m3 = _mm256_set1_epi8(0x03), one = _mm256_set1_epi8(1);
    if (kk == K_Q6) {
        const block_q6_K *x = (const block_q6_K *)xb;
        w->s16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x->scales));   /* 16 int16 */
        for (int h = 0; h < 2; h++) {
            __m256i qh = load256(x->qh + 32 * h);
            for (int g = 0; g < 4; g++) {   /* elements 128h + 32g .. +31: sub-blocks 8h + 2g, 8h + 2g + 1 */
                __m256i ql = load256(x->ql + 64 * h + 32 * (g & 1));
                __m256i lo = _mm256_and_si256(_mm256_srl_epi16(ql, _mm_cvtsi32_si128(4 * (g >> 1))), m4);
                __m256i hi = _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * g)), m3);
                int k = 8 * h + 2 * g;
                w->q[4 * h + g] = _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));   /* 0..63 */
                w->sw[4 * h + g] = _mm256_inserti128_si256(_mm256_set1_epi16(x->scales[k]),
                                                           _mm_set1_epi16(x->scales[k + 1]), 1);
            }
        }
        w->d = fp16_to_fp32(x->d);
        return;
    }
    const block_q4_K *x4 = (const block_q4_K *)xb;
    const block_q5_K *x5 = (const block_q5_K *)xb;   /* d, dmin at the same place as in Q4_K */
    const int q5 = kk == K_Q5;
    const uint8_t *qs = q5 ? x5->qs : x4->qs;
    uint64_t sc;
    k_unpack_scales(q5 ? x5->scales : x4->scales, &sc, &w->mn);
    __m256i qh = q5 ? load256(x5->qh) : _mm256_setzero_si256();
    for (int c = 0; c < 4; c++) {   /* 32 bytes: low nibbles = sub-block 2c, high nibbles = 2c+1 */
        __m256i v = load256(qs + 32 * c);
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        if (q5) {   /* bit 2c / 2c+1 of qh[l] is bit 4 of element l of sub-block 2c / 2c+1 */
            __m256i h0 = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c));
            __m256i h1 = _mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * c + 1));
            lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(h0, one), 4));
            hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(h1, one), 4));
        }
        w->q[2 * c] = lo, w->q[2 * c + 1] = hi;
        w->sw[2 * c] = _mm256_set1_epi16((short)((sc >> (16 * c)) & 0xff));          /* scale of sub-block 2c */
        w->sw[2 * c + 1] = _mm256_set1_epi16((short)((sc >> (16 * c + 8)) & 0xff));  /* and of 2c + 1 */
    }
    w->d = fp16_to_fp32(x4->d);
    w->dmin = fp16_to_fp32(x4->dmin);
}

/* The reference's term of one super-block of one row: exact isum = sum over sub-blocks of scale * (q . y)
   (Q6_K: - 32 * sum_k scale_k * bsums[k]) and msum (Q4_K/Q5_K), then its float expression in its order */
AVX2_INLINE float k_term_decoded(int kk, const struct k2w *w, const block_q8_K *y)
{
    __m256i acc = _mm256_setzero_si256();
    for (int c = 0; c < 8; c++) {
        __m256i p = _mm256_maddubs_epi16(w->q[c], load256(y->qs + 32 * c));   /* |.| <= 2*63*128 */
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(p, w->sw[c]));
    }
    int isum = hsum256_epi32(acc);
    if (kk == K_Q6) {
        isum -= 32 * hsum256_epi32(_mm256_madd_epi16(w->s16, load256(y->bsums)));
        return (y->d * w->d) * (float)isum;
    }
    int msum = k_min_sum(w->mn, y->bsums);
    float dall = y->d * w->d, dmin = y->d * w->dmin;
    return dall * (float)isum - dmin * (float)msum;
}

AVX2_INLINE float k_term(int kk, const uint8_t *xb, const block_q8_K *y)
{
    struct k2w w;
    k_decode(kk, xb, &w);
    return k_term_decoded(kk, &w, y);
}

AVX2_INLINE size_t k_block_size(int kk)
{
    return kk == K_Q4 ? sizeof(block_q4_K) : kk == K_Q5 ? sizeof(block_q5_K) : sizeof(block_q6_K);
}

AVX2_INLINE void k_vec_dot(int kk, int64_t n, float *s, const void *vx, const void *vy)
{
    const uint8_t *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++)
        sum += k_term(kk, x + (size_t)b * k_block_size(kk), y + b);
    *s = sum;
}

void AVX2 vec_dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q4, n, s, vx, vy);
}

void AVX2 vec_dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q5, n, s, vx, vy);
}

void AVX2 vec_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q6, n, s, vx, vy);
}

/* ---- float rows ---- */

void AVX2 dequantize_row_f16_avx2(const void *vx, float *y, int64_t n)
{
    const uint16_t *x = vx;
    int64_t i = 0;
    const __m128i e = _mm_set1_epi16(0x7c00);
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(x + i));
        if (_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(h, e), e))) {
            dequantize_row_f16_ref(x + i, y + i, 8);   /* inf/NaN: vcvtph2ps quiets signalling NaNs; keep bits */
            continue;
        }
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    if (i < n)
        dequantize_row_f16_ref(x + i, y + i, n - i);
}

void AVX2 vec_dot_f32_f32_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
    }
    float tail = 0.0f;
    if (i < n)
        vec_dot_f32_f32_ref(n - i, &tail, x + i, y + i);
    *s = hsum256_ps(_mm256_add_ps(a0, a1)) + tail;
}

void AVX2 vec_dot_f16_f16_avx2(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i))), a0);
        a1 = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8))),
                             _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8))), a1);
    }
    float tail = 0.0f;
    if (i < n)
        vec_dot_f16_f16_ref(n - i, &tail, x + i, y + i);
    *s = hsum256_ps(_mm256_add_ps(a0, a1)) + tail;
}

/* ---- activation quantizers (bit-identical to the references; blocks with inf/NaN or a scale whose inverse
   overflows go through the reference) ---- */

AVX2 static inline __m256 abs_ps(__m256 v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }

/* max |x| over 32 floats, ignoring NaN (as the reference's `>` does); *nan set when any element is NaN */
AVX2 static inline float amax32(const float *x, int *nan)
{
    __m256 m = _mm256_setzero_ps(), un = _mm256_setzero_ps();
    for (int j = 0; j < 32; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        m = _mm256_max_ps(abs_ps(v), m);   /* NaN in the first operand yields the second */
        un = _mm256_or_ps(un, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    *nan = _mm256_movemask_ps(un);
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

/* round half away from zero of 8 floats with |v| < 2^31 (quant_ref.c's round_half_away), as int32 */
AVX2 static inline __m256i round_half_away8(__m256 v)
{
    __m256 a = abs_ps(v);
    __m256i t = _mm256_cvttps_epi32(a);
    __m256 frac = _mm256_sub_ps(a, _mm256_cvtepi32_ps(t));               /* exact */
    __m256i up = _mm256_castps_si256(_mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ));
    t = _mm256_sub_epi32(t, up);                                          /* +1 where frac >= 0.5 */
    return _mm256_sign_epi32(t, _mm256_castps_si256(v));                  /* negate where v < 0 (0 stays 0) */
}

/* 32 int32 (4 vectors of 8, element order) -> 32 int8 in order (values already in -127..127) */
AVX2 static inline __m256i pack32_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);   /* lane-interleaved */
    __m256i p = _mm256_packs_epi16(ab, cd);
    return _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* q of one block of 32 into qs; returns the int sum when want_sum */
AVX2 static inline __m256i quant32(const float *x, float id, int8_t *qs)
{
    __m256 vid = _mm256_set1_ps(id);
    __m256i q0 = round_half_away8(_mm256_mul_ps(_mm256_loadu_ps(x), vid));
    __m256i q1 = round_half_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 8), vid));
    __m256i q2 = round_half_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 16), vid));
    __m256i q3 = round_half_away8(_mm256_mul_ps(_mm256_loadu_ps(x + 24), vid));
    _mm256_storeu_si256((__m256i *)qs, pack32_i8(q0, q1, q2, q3));
    return _mm256_add_epi32(_mm256_add_epi32(q0, q1), _mm256_add_epi32(q2, q3));
}

/* the fast path needs a finite amax whose inverse scale is finite (then |x * id| <= 127 + rounding) */
static inline int q8_block_ok(float amax, int nan)
{
    return !nan && amax < 3.0e38f && (amax == 0.0f || amax / 127.0f >= 1.2e-38f);
}

void AVX2 quantize_row_q8_0_avx2(const float *x, void *vy, int64_t n)
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

void AVX2 quantize_row_q8_1_avx2(const float *x, void *vy, int64_t n)
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
        int sum = hsum256_epi32(quant32(x, id, y[b].qs));
        y[b].d = fp16_from_fp32(d);
        y[b].s = fp16_from_fp32((float)sum * d);
    }
}

/* Q8_K: max = the element of largest magnitude (first on ties), iscale = -127 / max,
   q = min(127, nearest-even(iscale * x)), d = 1 / iscale, bsums over groups of 16. */
void AVX2 quantize_row_q8_K_avx2(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
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
        __m256 va = _mm256_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 8) {   /* the first element with |x| == amax */
            int m = _mm256_movemask_ps(_mm256_cmp_ps(abs_ps(_mm256_loadu_ps(x + j)), va, _CMP_EQ_OQ));
            if (m) {
                max = x[j + __builtin_ctz((unsigned)m)];
                break;
            }
        }
        float iscale = -127.0f / max;
        __m256 vs = _mm256_set1_ps(iscale);
        const __m256i k127 = _mm256_set1_epi32(127);
        for (int j = 0; j < QK_K; j += 32) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 v = _mm256_round_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + j + 8 * k)),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(v), k127);
            }
            __m256i p = pack32_i8(q[0], q[1], q[2], q[3]);
            _mm256_storeu_si256((__m256i *)(y[b].qs + j), p);
            /* the two groups of 16 (low and high 128 bits of p): widen to int16, pairwise to int32, sum */
            const __m256i ones = _mm256_set1_epi16(1);
            y[b].bsums[j / 16] =
                (int16_t)hsum256_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(p)), ones));
            y[b].bsums[j / 16 + 1] =
                (int16_t)hsum256_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(p, 1)), ones));
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- several weight rows per activation row (matrix-vector: the decode step): lanes = 4 rows. The weights
   stream from memory once per token: each step prefetches (into L2) the bytes of the rows ROWS_PREFETCH ahead
   that take as long to process (rows back to back, as llm/matmul.c passes them; prefetches never fault). ---- */

#define ROWS_PREFETCH 16   /* rows */

void AVX2 vec_dot_rows_q4_1_q8_1_avx2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_1 *y = vy;
    const int64_t nb = n / QK4_1;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        const block_q4_1 *x0 = (const block_q4_1 *)((const uint8_t *)vx + (size_t)r * bx);
        const block_q4_1 *x1 = (const block_q4_1 *)((const uint8_t *)x0 + bx);
        const block_q4_1 *x2 = (const block_q4_1 *)((const uint8_t *)x1 + bx);
        const block_q4_1 *x3 = (const block_q4_1 *)((const uint8_t *)x2 + bx);
        __m128 acc = _mm_setzero_ps();
        const char *pf = (const char *)x0 + ROWS_PREFETCH * bx;   /* the rows 16 ahead, 4 blocks' bytes a step */
        for (int64_t b = 0; b < nb; b++) {
            _mm_prefetch(pf + 4 * sizeof(block_q4_1) * (size_t)b, _MM_HINT_T1);
            _mm_prefetch(pf + 4 * sizeof(block_q4_1) * (size_t)b + 64, _MM_HINT_T1);
            __m128 fy = _mm_cvtph_ps(_mm_cvtsi32_si128((int)load_u32(&y[b].d)));   /* [dy sy . .] */
            __m128 dx, mx;
            pairs_x4(&x0[b].d, &x1[b].d, &x2[b].d, &x3[b].d, &dx, &mx);
            __m128i is = hsum4_epi32(q4_1_dot(&x0[b], &y[b]), q4_1_dot(&x1[b], &y[b]), q4_1_dot(&x2[b], &y[b]),
                                     q4_1_dot(&x3[b], &y[b]));
            __m128 t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(is), _mm_mul_ps(dx, _mm_shuffle_ps(fy, fy, 0x00))),
                                  _mm_mul_ps(mx, _mm_shuffle_ps(fy, fy, 0x55)));
            acc = _mm_add_ps(acc, t);
        }
        _mm_storeu_ps(s + r, acc);
    }
    for (; r < nr; r++)
        vec_dot_q4_1_q8_1_avx2(n, &s[r], (const uint8_t *)vx + (size_t)r * bx, vy);
}

void AVX2 vec_dot_rows_q8_0_q8_0_avx2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_0 *y = vy;
    const int64_t nb = n / QK8_0;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        const block_q8_0 *x0 = (const block_q8_0 *)((const uint8_t *)vx + (size_t)r * bx);
        const block_q8_0 *x1 = (const block_q8_0 *)((const uint8_t *)x0 + bx);
        const block_q8_0 *x2 = (const block_q8_0 *)((const uint8_t *)x1 + bx);
        const block_q8_0 *x3 = (const block_q8_0 *)((const uint8_t *)x2 + bx);
        __m128 acc = _mm_setzero_ps();
        const char *pf = (const char *)x0 + ROWS_PREFETCH * bx;
        for (int64_t b = 0; b < nb; b++) {
            _mm_prefetch(pf + 4 * sizeof(block_q8_0) * (size_t)b, _MM_HINT_T1);
            _mm_prefetch(pf + 4 * sizeof(block_q8_0) * (size_t)b + 64, _MM_HINT_T1);
            __m128 dd = _mm_mul_ps(halves_x4(x0[b].d, x1[b].d, x2[b].d, x3[b].d),
                                   _mm_cvtph_ps(_mm_set1_epi16((short)y[b].d)));
            __m128i is = hsum4_epi32(q8_0_dot(&x0[b], &y[b]), q8_0_dot(&x1[b], &y[b]), q8_0_dot(&x2[b], &y[b]),
                                     q8_0_dot(&x3[b], &y[b]));
            acc = _mm_add_ps(acc, _mm_mul_ps(_mm_cvtepi32_ps(is), dd));
        }
        _mm_storeu_ps(s + r, acc);
    }
    for (; r < nr; r++)
        vec_dot_q8_0_q8_0_avx2(n, &s[r], (const uint8_t *)vx + (size_t)r * bx, vy);
}

/* K-quants, 4 rows per pass: each super-block's activations meet the 4 rows while in L1, the rows 16 ahead
   prefetched a slice per super-block; the leftover 1..3 rows repeat the last one in the unused slots */
AVX2_INLINE void k_vec_dot_rows(int kk, int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const block_q8_K *y = vy;
    const int64_t nb = n / QK_K;
    const size_t bsz = k_block_size(kk);
    const size_t chunk = nb > 0 ? (4 * bx + (size_t)nb - 1) / (size_t)nb : 0;   /* prefetch bytes a step */
    for (int64_t r = 0; r < nr; r += 4) {
        const uint8_t *x[4];
        for (int k = 0; k < 4; k++)
            x[k] = (const uint8_t *)vx + (size_t)(r + k < nr ? r + k : nr - 1) * bx;
        const char *pf = r + 4 <= nr ? (const char *)x[0] + ROWS_PREFETCH * bx : NULL;
        float sum[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        for (int64_t b = 0; b < nb; b++) {
            if (pf)
                for (size_t o = 0; o < chunk; o += 64)
                    _mm_prefetch(pf + (size_t)b * chunk + o, _MM_HINT_T1);
            for (int k = 0; k < 4; k++)
                sum[k] += k_term(kk, x[k] + (size_t)b * bsz, y + b);
        }
        for (int k = 0; k < 4 && r + k < nr; k++)
            s[r + k] = sum[k];
    }
}

/* K-quant 4x4 tiles: each weight super-block decoded once (k_decode) for the 4 activation rows */
AVX2_INLINE void k_vec_dot_tile(int kk, int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                size_t by)
{
    const size_t bsz = k_block_size(kk);
    float sum[4][4] = { { 0.0f } };   /* [activation row][weight row] */
    for (int64_t b = 0; b < n / QK_K; b++) {
        for (int r = 0; r < 4; r++) {
            struct k2w w;
            k_decode(kk, (const uint8_t *)vx + (size_t)r * bx + (size_t)b * bsz, &w);
            for (int t = 0; t < 4; t++)
                sum[t][r] += k_term_decoded(kk, &w, (const block_q8_K *)((const uint8_t *)vy + (size_t)t * by) + b);
        }
    }
    for (int t = 0; t < 4; t++)
        for (int r = 0; r < 4; r++)
            s[(size_t)t * ls + (size_t)r] = sum[t][r];
}

void AVX2 vec_dot_tile_q4_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                      size_t by)
{
    k_vec_dot_tile(K_Q4, n, s, ls, x, bx, y, by);
}

void AVX2 vec_dot_tile_q5_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                      size_t by)
{
    k_vec_dot_tile(K_Q5, n, s, ls, x, bx, y, by);
}

void AVX2 vec_dot_tile_q6_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                      size_t by)
{
    k_vec_dot_tile(K_Q6, n, s, ls, x, bx, y, by);
}

void AVX2 vec_dot_rows_q4_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    k_vec_dot_rows(K_Q4, n, nr, s, vx, bx, vy);
}

void AVX2 vec_dot_rows_q5_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    k_vec_dot_rows(K_Q5, n, nr, s, vx, bx, vy);
}

void AVX2 vec_dot_rows_q6_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    k_vec_dot_rows(K_Q6, n, nr, s, vx, bx, vy);
}

/* ---- 4x4 tiles (prefill, llm/matmul.c): s[t * ls + r] = dot(row r of x, row t of y), r, t < 4. Each weight
   block is unpacked once for 4 activation rows; lanes = the 4 activation rows of one weight row. ---- */

AVX2 static inline void tile_store(float *s, size_t ls, __m128 v0, __m128 v1, __m128 v2, __m128 v3)
{
    _MM_TRANSPOSE4_PS(v0, v1, v2, v3);   /* v_k = [rows 0..3] of activation row k */
    _mm_storeu_ps(s, v0);
    _mm_storeu_ps(s + ls, v1);
    _mm_storeu_ps(s + 2 * ls, v2);
    _mm_storeu_ps(s + 3 * ls, v3);
}

void AVX2 vec_dot_tile_q4_1_q8_1_avx2(int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                     size_t by)
{
    const block_q4_1 *x[4];
    const block_q8_1 *y[4];
    for (int k = 0; k < 4; k++) {
        x[k] = (const block_q4_1 *)((const uint8_t *)vx + (size_t)k * bx);
        y[k] = (const block_q8_1 *)((const uint8_t *)vy + (size_t)k * by);
    }
    const int64_t nb = n / QK4_1;
    __m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
    for (int64_t b = 0; b < nb; b++) {
        __m128 dy, sy, dx, mx;
        pairs_x4(&y[0][b].d, &y[1][b].d, &y[2][b].d, &y[3][b].d, &dy, &sy);
        pairs_x4(&x[0][b].d, &x[1][b].d, &x[2][b].d, &x[3][b].d, &dx, &mx);
        __m256i y0 = load256(y[0][b].qs), y1 = load256(y[1][b].qs), y2 = load256(y[2][b].qs),
                y3 = load256(y[3][b].qs);
        for (int k = 0; k < 4; k++) {
            __m256i q = unpack_nibbles(x[k][b].qs);
            __m128i is = hsum4_epi32(dot_u8_i8(q, y0), dot_u8_i8(q, y1), dot_u8_i8(q, y2), dot_u8_i8(q, y3));
            __m128 dk = _mm_permutevar_ps(dx, _mm_set1_epi32(k));
            __m128 mk = _mm_permutevar_ps(mx, _mm_set1_epi32(k));
            __m128 t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(is), _mm_mul_ps(dk, dy)), _mm_mul_ps(mk, sy));
            acc[k] = _mm_add_ps(acc[k], t);
        }
    }
    tile_store(s, ls, acc[0], acc[1], acc[2], acc[3]);
}

void AVX2 vec_dot_tile_q8_0_q8_0_avx2(int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                     size_t by)
{
    const block_q8_0 *x[4];
    const block_q8_0 *y[4];
    for (int k = 0; k < 4; k++) {
        x[k] = (const block_q8_0 *)((const uint8_t *)vx + (size_t)k * bx);
        y[k] = (const block_q8_0 *)((const uint8_t *)vy + (size_t)k * by);
    }
    const int64_t nb = n / QK8_0;
    __m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
    for (int64_t b = 0; b < nb; b++) {
        __m128 dy = halves_x4(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
        __m128 dx = halves_x4(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d);
        __m256i y0 = load256(y[0][b].qs), y1 = load256(y[1][b].qs), y2 = load256(y[2][b].qs),
                y3 = load256(y[3][b].qs);
        for (int k = 0; k < 4; k++) {
            __m256i q = load256(x[k][b].qs), qa = _mm256_sign_epi8(q, q);
            __m128i is = hsum4_epi32(dot_u8_i8(qa, _mm256_sign_epi8(y0, q)), dot_u8_i8(qa, _mm256_sign_epi8(y1, q)),
                                     dot_u8_i8(qa, _mm256_sign_epi8(y2, q)), dot_u8_i8(qa, _mm256_sign_epi8(y3, q)));
            __m128 dk = _mm_permutevar_ps(dx, _mm_set1_epi32(k));
            acc[k] = _mm_add_ps(acc[k], _mm_mul_ps(_mm_cvtepi32_ps(is), _mm_mul_ps(dk, dy)));
        }
    }
    tile_store(s, ls, acc[0], acc[1], acc[2], acc[3]);
}

/* 1 when this CPU has F16C too (AVX2 and FMA are the caller's flags): every AVX2 CPU has it, but a hypervisor
   could mask it, and the kernels above convert fp16 with it. CPUID is unprivileged (CPL 3 and host). */
int quant_avx2_cpu_ok(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    (void)a, (void)b, (void)d;
    return (c >> 29) & 1;
}

/* AVX2 twins of ops.c's softmax, SwiGLU and argmax (see ops_simd.h), bit-identical to the references: the exponential
   is lib/math.c's k_expf step by step, 4 lanes of double at a time (x * 32/ln2, round to nearest by the
   1.5 * 2^52 shifter, the degree-4 polynomial as multiply-then-add without FMA, the 2^(j/32) table by gather,
   2^(n >> 5) by building the exponent bits, one rounding to float); lanes outside k_expf's range (NaN, > 89,
   < -104) take its special results. Sums stay scalar and in index order, as in the references.
   RMSNorm holds the reference's 16 double lanes of squares in 4 registers of 4 (ops.c, ops_rmsnorm_sumsq_ref);
   RoPE rotates 4 pairs per vector, multiply then add (the target has no FMA, so nothing can be fused). */
#include <immintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "lib/math.h"

#define AVX2 __attribute__((target("avx2")))

/* k_expf of 4 floats already inside [-104, 89] */
AVX2 static inline __m128 expf4_in_range(__m128 xf)
{
    const __m256d inv_ln2_32 = _mm256_set1_pd(32 * 1.44269504088896338700e+00);
    const __m256d shifter = _mm256_set1_pd(6755399441055744.0);
    const __m256d ln2_32 = _mm256_set1_pd(0.6931471805599453 / 32);
    __m256d t = _mm256_mul_pd(_mm256_cvtps_pd(xf), inv_ln2_32);
    __m256d n = _mm256_sub_pd(_mm256_add_pd(t, shifter), shifter);
    __m256d u = _mm256_mul_pd(_mm256_sub_pd(t, n), ln2_32);
    __m256d p = _mm256_set1_pd(1.0 / 24);
    p = _mm256_add_pd(_mm256_mul_pd(p, u), _mm256_set1_pd(1.0 / 6));
    p = _mm256_add_pd(_mm256_mul_pd(p, u), _mm256_set1_pd(0.5));
    p = _mm256_add_pd(_mm256_mul_pd(p, u), _mm256_set1_pd(1.0));
    p = _mm256_add_pd(_mm256_mul_pd(p, u), _mm256_set1_pd(1.0));
    __m128i ni = _mm256_cvttpd_epi32(n);                       /* n is integral: exact */
    __m256d tab = _mm256_i32gather_pd(k_exp2_32, _mm_and_si128(ni, _mm_set1_epi32(31)), 8);
    __m256i e = _mm256_cvtepi32_epi64(_mm_add_epi32(_mm_srai_epi32(ni, 5), _mm_set1_epi32(1023)));
    __m256d pw = _mm256_castsi256_pd(_mm256_slli_epi64(e, 52));
    return _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_mul_pd(p, tab), pw));
}

/* k_expf of 8 floats */
AVX2 static inline __m256 expf8(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(89.0f), lo = _mm256_set1_ps(-104.0f);
    __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), hi);       /* NaN lanes become -104: replaced below */
    __m256 y = _mm256_set_m128(expf4_in_range(_mm256_extractf128_ps(xc, 1)),
                               expf4_in_range(_mm256_castps256_ps128(xc)));
    y = _mm256_blendv_ps(y, _mm256_set1_ps(K_INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    y = _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    return _mm256_blendv_ps(y, _mm256_add_ps(x, x), _mm256_cmp_ps(x, x, _CMP_UNORD_Q));
}

AVX2 void ops_expf8_avx2(const float *x, float *y)
{
    _mm256_storeu_ps(y, expf8(_mm256_loadu_ps(x)));
}

AVX2 void ops_softmax_avx2(float *x, int n)
{
    ops_softmax_rows_avx2(x, 1, n);
}

/* exps of x - max, 8 lanes at a time (the tail by the reference) */
AVX2 static void softmax_exps(float *x, int n, float max)
{
    __m256 m = _mm256_set1_ps(max);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, expf8(_mm256_sub_ps(_mm256_loadu_ps(x + i), m)));
    for (; i < n; i++)
        x[i] = k_expf(x[i] - max);
}

AVX2 static void softmax_scale(float *x, int n, double sum)
{
    float inv = (float)(1.0 / sum);
    __m256 vinv = _mm256_set1_ps(inv);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vinv));
    for (; i < n; i++)
        x[i] *= inv;
}

AVX2 void ops_softmax_rows_avx2(float *x, int rows, int n)
{
    for (int r0 = 0; r0 < rows; r0 += 4) {
        int nr = rows - r0 < 4 ? rows - r0 : 4;
        /* four independent chains (max scan, then the double sum, each in index order as the reference);
           missing rows alias the first and their results are dropped */
        float *p0 = x + (size_t)r0 * n, *p1 = nr > 1 ? p0 + n : p0, *p2 = nr > 2 ? p0 + 2 * (size_t)n : p0;
        float *p3 = nr > 3 ? p0 + 3 * (size_t)n : p0;
        float m0 = p0[0], m1 = p1[0], m2 = p2[0], m3 = p3[0];
        for (int i = 1; i < n; i++) {
            if (p0[i] > m0)
                m0 = p0[i];
            if (p1[i] > m1)
                m1 = p1[i];
            if (p2[i] > m2)
                m2 = p2[i];
            if (p3[i] > m3)
                m3 = p3[i];
        }
        float m[4] = { m0, m1, m2, m3 };
        for (int r = 0; r < nr; r++)
            softmax_exps(p0 + (size_t)r * n, n, m[r]);
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
        for (int i = 0; i < n; i++) {
            s0 += p0[i];
            s1 += p1[i];
            s2 += p2[i];
            s3 += p3[i];
        }
        double sum[4] = { s0, s1, s2, s3 };
        for (int r = 0; r < nr; r++)
            softmax_scale(p0 + (size_t)r * n, n, sum[r]);
    }
}

AVX2 void ops_swiglu_avx2(float *gate, const float *up, int n)
{
    const __m256 one = _mm256_set1_ps(1.0f), sign = _mm256_set1_ps(-0.0f);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 e = expf8(_mm256_xor_ps(g, sign));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(one, e)), _mm256_loadu_ps(up + i)));
    }
    if (i < n)
        ops_swiglu_ref(gate + i, up + i, n - i);
}

AVX2 int ops_argmax_avx2(const float *x, int n)
{
    if (n < 16 || x[0] != x[0])
        return ops_argmax_ref(x, n);
    __m256 m = _mm256_set1_ps(x[0]);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        m = _mm256_max_ps(_mm256_loadu_ps(x + i), m);    /* a NaN in x yields the second operand, m */
    float lanes[8], max;
    _mm256_storeu_ps(lanes, m);
    max = lanes[0];
    for (int j = 1; j < 8; j++)
        if (lanes[j] > max)
            max = lanes[j];
    for (; i < n; i++)
        if (x[i] > max)
            max = x[i];
    /* the first index holding the maximum (equal compares also match -0.0 against 0.0, as the reference,
       which never replaces a value by an equal one, keeps the first of them) */
    __m256 vm = _mm256_set1_ps(max);
    for (i = 0; i + 8 <= n; i += 8) {
        int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + i), vm, _CMP_EQ_OQ));
        if (mask)
            return i + __builtin_ctz((unsigned)mask);
    }
    for (; i < n; i++)
        if (x[i] == max)
            return i;
    return 0;
}

/* acc[r] lane j += x[4r + j]^2 in double (exact): lane l of ops_rmsnorm_sumsq_ref is register l / 4, lane l % 4.
   The last block loads only its n valid floats (the rest are +0.0, which leaves their lanes as they are). */
AVX2 static inline void rms_block(__m256d acc[4], const float *x, int n)
{
    __m256 v;
    if (n >= 16) {
        v = _mm256_loadu_ps(x);
        __m256 w = _mm256_loadu_ps(x + 8);
        __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        __m256d c = _mm256_cvtps_pd(_mm256_castps256_ps128(w)), d = _mm256_cvtps_pd(_mm256_extractf128_ps(w, 1));
        acc[0] = _mm256_add_pd(acc[0], _mm256_mul_pd(a, a));
        acc[1] = _mm256_add_pd(acc[1], _mm256_mul_pd(b, b));
        acc[2] = _mm256_add_pd(acc[2], _mm256_mul_pd(c, c));
        acc[3] = _mm256_add_pd(acc[3], _mm256_mul_pd(d, d));
        return;
    }
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    for (int r = 0; r < 2; r++) {
        __m256i m = _mm256_cmpgt_epi32(_mm256_set1_epi32(n - 8 * r), idx);
        v = _mm256_maskload_ps(x + 8 * r, m);
        __m256d a = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), b = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        acc[2 * r] = _mm256_add_pd(acc[2 * r], _mm256_mul_pd(a, a));
        acc[2 * r + 1] = _mm256_add_pd(acc[2 * r + 1], _mm256_mul_pd(b, b));
    }
}

AVX2 double ops_rmsnorm_sumsq_avx2(const float *x, int n)
{
    __m256d acc[4] = { _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd() };
    for (int i = 0; i < n; i += OPS_RMS_LANES)
        rms_block(acc, x + i, n - i);
    /* the reference's tree: lanes j += j + 8 (registers), + 4 (registers), + 2 (halves), + 1 */
    __m256d t = _mm256_add_pd(_mm256_add_pd(acc[0], acc[2]), _mm256_add_pd(acc[1], acc[3]));
    __m128d u = _mm_add_pd(_mm256_castpd256_pd128(t), _mm256_extractf128_pd(t, 1));
    return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));
}

AVX2 void ops_rmsnorm_avx2(float *out, const float *x, const float *weight, int n, float eps)
{
    float scale = ops_rmsnorm_scale(ops_rmsnorm_sumsq_avx2(x, n), n, eps);
    __m256 vs = _mm256_set1_ps(scale);
    int i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i,
                         _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(weight + i)));
    for (; i < n; i++)
        out[i] = (x[i] * scale) * weight[i];
}

/* Four pairs (x0, x1) rotated by (c, s): even lanes x0 * c - x1 * s, odd lanes x0 * s + x1 * c, the reference's
   operands in its order */
AVX2 static inline __m256 rope8(__m256 x, __m256 cs)
{
    __m256 p = _mm256_mul_ps(x, _mm256_moveldup_ps(cs));                             /* x0 c, x1 c */
    __m256 q = _mm256_mul_ps(_mm256_permute_ps(x, 0xb1), _mm256_movehdup_ps(cs));   /* x1 s, x0 s */
    return _mm256_blend_ps(_mm256_sub_ps(p, q), _mm256_add_ps(q, p), 0xaa);
}

AVX2 void ops_rope_range_avx2(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1)
{
    for (int64_t h0 = e0 - e0 % head_dim; h0 < e1; h0 += head_dim) {
        float *v = x + h0;
        int64_t i = e0 > h0 ? e0 - h0 : 0, i1 = e1 - h0 < n_rot ? e1 - h0 : n_rot;
        for (; i + 8 <= i1; i += 8)
            _mm256_storeu_ps(v + i, rope8(_mm256_loadu_ps(v + i), _mm256_loadu_ps(cs + i)));
        if (i < i1)
            ops_rope_range_ref(x, head_dim, n_rot, cs, h0 + i, h0 + i1);
    }
}

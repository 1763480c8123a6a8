/* AVX-512 twins of ops.c's softmax and SwiGLU (see ops_simd.h), bit-identical to the references: k_expf 8 lanes
   of double at a time, step by step as lib/math.c computes it (llm/ops_avx2.c does the same 4 lanes at a time;
   the comments there explain each step). ops.c uses these when llm/ggml_types.c installed the AVX-512 set.
   RMSNorm holds the reference's 16 double lanes of squares in 2 registers of 8 (ops.c, ops_rmsnorm_sumsq_ref);
   RoPE rotates 8 pairs per vector, multiply then add (the build's -ffp-contract=off keeps them unfused). */
#include <immintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "lib/math.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

/* k_expf of 8 floats already inside [-104, 89] */
AVX512 static inline __m256 expf8_in_range(__m256 xf)
{
    const __m512d inv_ln2_32 = _mm512_set1_pd(32 * 1.44269504088896338700e+00);
    const __m512d shifter = _mm512_set1_pd(6755399441055744.0);
    const __m512d ln2_32 = _mm512_set1_pd(0.6931471805599453 / 32);
    __m512d t = _mm512_mul_pd(_mm512_cvtps_pd(xf), inv_ln2_32);
    __m512d n = _mm512_sub_pd(_mm512_add_pd(t, shifter), shifter);
    __m512d u = _mm512_mul_pd(_mm512_sub_pd(t, n), ln2_32);
    __m512d p = _mm512_set1_pd(1.0 / 24);
    p = _mm512_add_pd(_mm512_mul_pd(p, u), _mm512_set1_pd(1.0 / 6));
    p = _mm512_add_pd(_mm512_mul_pd(p, u), _mm512_set1_pd(0.5));
    p = _mm512_add_pd(_mm512_mul_pd(p, u), _mm512_set1_pd(1.0));
    p = _mm512_add_pd(_mm512_mul_pd(p, u), _mm512_set1_pd(1.0));
    __m256i ni = _mm512_cvttpd_epi32(n);
    __m512d tab = _mm512_i32gather_pd(_mm256_and_si256(ni, _mm256_set1_epi32(31)), k_exp2_32, 8);
    __m512i e = _mm512_cvtepi32_epi64(_mm256_add_epi32(_mm256_srai_epi32(ni, 5), _mm256_set1_epi32(1023)));
    __m512d pw = _mm512_castsi512_pd(_mm512_slli_epi64(e, 52));
    return _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(p, tab), pw));
}

/* k_expf of 16 floats */
AVX512 static inline __m512 expf16(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(89.0f), lo = _mm512_set1_ps(-104.0f);
    __m512 xc = _mm512_min_ps(_mm512_max_ps(x, lo), hi);
    __m512 y = _mm512_insertf32x8(_mm512_castps256_ps512(expf8_in_range(_mm512_castps512_ps256(xc))),
                                  expf8_in_range(_mm512_extractf32x8_ps(xc, 1)), 1);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(K_INFINITY));
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ), _mm512_setzero_ps());
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), _mm512_add_ps(x, x));
}

AVX512 void ops_expf16_avx512(const float *x, float *y)
{
    _mm512_storeu_ps(y, expf16(_mm512_loadu_ps(x)));
}

AVX512 static void softmax_exps(float *x, int n, float max)
{
    __m512 m = _mm512_set1_ps(max);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, expf16(_mm512_sub_ps(_mm512_loadu_ps(x + i), m)));
    for (; i < n; i++)
        x[i] = k_expf(x[i] - max);
}

AVX512 static void softmax_scale(float *x, int n, double sum)
{
    float inv = (float)(1.0 / sum);
    __m512 vinv = _mm512_set1_ps(inv);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), vinv));
    for (; i < n; i++)
        x[i] *= inv;
}

/* as ops_softmax_rows_avx2: four rows' scalar chains interleaved, each in index order */
AVX512 void ops_softmax_rows_avx512(float *x, int rows, int n)
{
    for (int r0 = 0; r0 < rows; r0 += 4) {
        int nr = rows - r0 < 4 ? rows - r0 : 4;
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

AVX512 void ops_softmax_avx512(float *x, int n)
{
    ops_softmax_rows_avx512(x, 1, n);
}

AVX512 void ops_swiglu_avx512(float *gate, const float *up, int n)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 g = _mm512_loadu_ps(gate + i);
        __m512 e = expf16(_mm512_xor_ps(g, _mm512_set1_ps(-0.0f)));
        _mm512_storeu_ps(gate + i, _mm512_mul_ps(_mm512_div_ps(g, _mm512_add_ps(one, e)), _mm512_loadu_ps(up + i)));
    }
    if (i < n)
        ops_swiglu_ref(gate + i, up + i, n - i);
}

AVX512 double ops_rmsnorm_sumsq_avx512(const float *x, int n)
{
    /* lane l of ops_rmsnorm_sumsq_ref is register l / 8, lane l % 8; the last block loads only its valid floats
       (the rest are +0.0, which leaves their lanes as they are) */
    __m512d acc0 = _mm512_setzero_pd(), acc1 = _mm512_setzero_pd();
    for (int i = 0; i < n; i += OPS_RMS_LANES) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        __m512d a = _mm512_cvtps_pd(_mm512_castps512_ps256(v)), b = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
        acc0 = _mm512_add_pd(acc0, _mm512_mul_pd(a, a));
        acc1 = _mm512_add_pd(acc1, _mm512_mul_pd(b, b));
    }
    /* the reference's tree: lanes j += j + 8 (registers), + 4, + 2 (halves), + 1 */
    __m512d t = _mm512_add_pd(acc0, acc1);
    __m256d u = _mm256_add_pd(_mm512_castpd512_pd256(t), _mm512_extractf64x4_pd(t, 1));
    __m128d w = _mm_add_pd(_mm256_castpd256_pd128(u), _mm256_extractf128_pd(u, 1));
    return _mm_cvtsd_f64(_mm_add_sd(w, _mm_unpackhi_pd(w, w)));
}

AVX512 void ops_rmsnorm_avx512(float *out, const float *x, const float *weight, int n, float eps)
{
    float scale = ops_rmsnorm_scale(ops_rmsnorm_sumsq_avx512(x, n), n, eps);
    __m512 vs = _mm512_set1_ps(scale);
    int i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i,
                         _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(x + i), vs), _mm512_loadu_ps(weight + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), vs);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(y, _mm512_maskz_loadu_ps(m, weight + i)));
    }
}

/* Eight pairs (x0, x1) rotated by (c, s): even lanes x0 * c - x1 * s, odd lanes x0 * s + x1 * c, the reference's
   operands in its order */
AVX512 static inline __m512 rope16(__m512 x, __m512 cs)
{
    __m512 p = _mm512_mul_ps(x, _mm512_moveldup_ps(cs));                             /* x0 c, x1 c */
    __m512 q = _mm512_mul_ps(_mm512_permute_ps(x, 0xb1), _mm512_movehdup_ps(cs));   /* x1 s, x0 s */
    return _mm512_mask_mov_ps(_mm512_sub_ps(p, q), (__mmask16)0xaaaa, _mm512_add_ps(q, p));
}

AVX512 void ops_rope_range_avx512(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1)
{
    for (int64_t h0 = e0 - e0 % head_dim; h0 < e1; h0 += head_dim) {
        float *v = x + h0;
        int64_t i = e0 > h0 ? e0 - h0 : 0, i1 = e1 - h0 < n_rot ? e1 - h0 : n_rot;
        for (; i + 16 <= i1; i += 16)
            _mm512_storeu_ps(v + i, rope16(_mm512_loadu_ps(v + i), _mm512_loadu_ps(cs + i)));
        if (i < i1)
            ops_rope_range_ref(x, head_dim, n_rot, cs, h0 + i, h0 + i1);
    }
}

/* SSE2 twins of ops.c's softmax and SwiGLU (see ops_simd.h), bit-identical to the references: k_expf 2 lanes of
   double at a time, step by step as lib/math.c computes it (the comments in llm/ops_avx2.c explain each step;
   SSE2 has no gather, so the 2^(j/32) table is read lane by lane). ops.c uses these when llm/ggml_types.c
   installed the SSE2 set (a CPU without AVX2). */
#include <emmintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "lib/math.h"

/* k_expf of 2 doubles (floats widened) already inside [-104, 89] */
static inline __m128d expd2_in_range(__m128d x)
{
    const __m128d shifter = _mm_set1_pd(6755399441055744.0);
    __m128d t = _mm_mul_pd(x, _mm_set1_pd(32 * 1.44269504088896338700e+00));
    __m128d n = _mm_sub_pd(_mm_add_pd(t, shifter), shifter);
    __m128d u = _mm_mul_pd(_mm_sub_pd(t, n), _mm_set1_pd(0.6931471805599453 / 32));
    __m128d p = _mm_set1_pd(1.0 / 24);
    p = _mm_add_pd(_mm_mul_pd(p, u), _mm_set1_pd(1.0 / 6));
    p = _mm_add_pd(_mm_mul_pd(p, u), _mm_set1_pd(0.5));
    p = _mm_add_pd(_mm_mul_pd(p, u), _mm_set1_pd(1.0));
    p = _mm_add_pd(_mm_mul_pd(p, u), _mm_set1_pd(1.0));
    __m128i ni = _mm_cvttpd_epi32(n);                          /* lanes 0, 1 */
    int n0 = _mm_cvtsi128_si32(ni), n1 = _mm_cvtsi128_si32(_mm_srli_si128(ni, 4));
    __m128d tab = _mm_set_pd(k_exp2_32[n1 & 31], k_exp2_32[n0 & 31]);
    __m128i e = _mm_add_epi32(_mm_srai_epi32(ni, 5), _mm_set1_epi32(1023));
    e = _mm_slli_epi64(_mm_unpacklo_epi32(e, _mm_setzero_si128()), 52);   /* positive: zero-extend is exact */
    return _mm_mul_pd(_mm_mul_pd(p, tab), _mm_castsi128_pd(e));
}

/* k_expf of 4 floats */
static inline __m128 expf4(__m128 x)
{
    const __m128 hi = _mm_set1_ps(89.0f), lo = _mm_set1_ps(-104.0f);
    __m128 xc = _mm_min_ps(_mm_max_ps(x, lo), hi);
    __m128 y0 = _mm_cvtpd_ps(expd2_in_range(_mm_cvtps_pd(xc)));
    __m128 y1 = _mm_cvtpd_ps(expd2_in_range(_mm_cvtps_pd(_mm_movehl_ps(xc, xc))));
    __m128 y = _mm_movelh_ps(y0, y1);
    __m128 big = _mm_cmpgt_ps(x, hi), small = _mm_cmplt_ps(x, lo), nan = _mm_cmpunord_ps(x, x);
    y = _mm_or_ps(_mm_andnot_ps(big, y), _mm_and_ps(big, _mm_set1_ps(K_INFINITY)));
    y = _mm_andnot_ps(small, y);
    return _mm_or_ps(_mm_andnot_ps(nan, y), _mm_and_ps(nan, _mm_add_ps(x, x)));
}

void ops_expf4_sse2(const float *x, float *y)
{
    _mm_storeu_ps(y, expf4(_mm_loadu_ps(x)));
}

void ops_softmax_sse2(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    __m128 m = _mm_set1_ps(max);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(x + i, expf4(_mm_sub_ps(_mm_loadu_ps(x + i), m)));
    for (; i < n; i++)
        x[i] = k_expf(x[i] - max);
    double sum = 0.0;
    for (i = 0; i < n; i++)
        sum += x[i];
    float inv = (float)(1.0 / sum);
    __m128 vinv = _mm_set1_ps(inv);
    for (i = 0; i + 4 <= n; i += 4)
        _mm_storeu_ps(x + i, _mm_mul_ps(_mm_loadu_ps(x + i), vinv));
    for (; i < n; i++)
        x[i] *= inv;
}

void ops_swiglu_sse2(float *gate, const float *up, int n)
{
    const __m128 one = _mm_set1_ps(1.0f), sign = _mm_set1_ps(-0.0f);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        __m128 g = _mm_loadu_ps(gate + i);
        __m128 e = expf4(_mm_xor_ps(g, sign));
        _mm_storeu_ps(gate + i, _mm_mul_ps(_mm_div_ps(g, _mm_add_ps(one, e)), _mm_loadu_ps(up + i)));
    }
    if (i < n)
        ops_swiglu_ref(gate + i, up + i, n - i);
}

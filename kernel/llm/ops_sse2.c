/* SSE2 twins of ops.c's softmax, SwiGLU, RMSNorm, RoPE and argmax (see ops_simd.h), bit-identical to the references:
   k_expf 2 lanes of double at a time, step by step as lib/math.c computes it (the comments in llm/ops_avx2.c
   explain each step; SSE2 has no gather, so the 2^(j/32) table is read lane by lane); RMSNorm's 16 double lanes
   of squares in 8 registers of 2; RoPE 2 pairs per vector, multiply then add (SSE2 has no FMA, and the build's
   -ffp-contract=off keeps it so everywhere). ops.c uses these when llm/ggml_types.c installed the SSE2 set
   (a CPU without AVX2); the AVX2 set is llm/ops_avx2.c and the attention is llm/attn_sse2.c. */
#include <emmintrin.h>
#include "llm/ops.h"
#include "llm/ops_simd.h"
#include "lib/math.h"
#include "lib/string.h"

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

/* acc[r] lane j += x[2r + j]^2 (in double, exact) for the 16 floats at x: lane l of ops_rmsnorm_sumsq_ref is
   register l / 2, half l % 2 */
static inline void rms_block(__m128d acc[8], const float *x)
{
    for (int r = 0; r < 4; r++) {
        __m128 v = _mm_loadu_ps(x + 4 * r);
        __m128d lo = _mm_cvtps_pd(v), hi = _mm_cvtps_pd(_mm_movehl_ps(v, v));
        acc[2 * r] = _mm_add_pd(acc[2 * r], _mm_mul_pd(lo, lo));
        acc[2 * r + 1] = _mm_add_pd(acc[2 * r + 1], _mm_mul_pd(hi, hi));
    }
}

double ops_rmsnorm_sumsq_sse2(const float *x, int n)
{
    __m128d acc[8];
    for (int r = 0; r < 8; r++)
        acc[r] = _mm_setzero_pd();
    int i = 0;
    for (; i + OPS_RMS_LANES <= n; i += OPS_RMS_LANES)
        rms_block(acc, x + i);
    if (i < n) {               /* the last block zero-padded: + 0.0 leaves the lanes past n as they are */
        float tail[OPS_RMS_LANES] = { 0.0f };
        memcpy(tail, x + i, (size_t)(n - i) * sizeof(float));
        rms_block(acc, tail);
    }
    for (int w = 4; w >= 1; w /= 2)      /* the reference's tree: lanes j += j + 8, + 4, + 2 ... */
        for (int r = 0; r < w; r++)
            acc[r] = _mm_add_pd(acc[r], acc[r + w]);
    return _mm_cvtsd_f64(_mm_add_sd(acc[0], _mm_unpackhi_pd(acc[0], acc[0])));   /* ... and + 1 */
}

void ops_rmsnorm_sse2(float *out, const float *x, const float *weight, int n, float eps)
{
    float scale = ops_rmsnorm_scale(ops_rmsnorm_sumsq_sse2(x, n), n, eps);
    __m128 vs = _mm_set1_ps(scale);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(out + i, _mm_mul_ps(_mm_mul_ps(_mm_loadu_ps(x + i), vs), _mm_loadu_ps(weight + i)));
    for (; i < n; i++)
        out[i] = (x[i] * scale) * weight[i];
}

/* Two pairs (x0, x1) rotated by (c, s): even lanes x0 * c - x1 * s, odd lanes x0 * s + x1 * c, each product
   and sum with the reference's operands in the reference's order */
static inline __m128 rope4(__m128 x, __m128 cs)
{
    const __m128 odd = _mm_castsi128_ps(_mm_set_epi32(-1, 0, -1, 0));
    __m128 c = _mm_shuffle_ps(cs, cs, 0xa0), s = _mm_shuffle_ps(cs, cs, 0xf5);   /* c c c' c', s s s' s' */
    __m128 p = _mm_mul_ps(x, c);                                   /* x0 c, x1 c */
    __m128 q = _mm_mul_ps(_mm_shuffle_ps(x, x, 0xb1), s);          /* x1 s, x0 s */
    __m128 d = _mm_sub_ps(p, q), a = _mm_add_ps(q, p);
    return _mm_or_ps(_mm_andnot_ps(odd, d), _mm_and_ps(odd, a));
}

void ops_rope_range_sse2(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1)
{
    for (int64_t h0 = e0 - e0 % head_dim; h0 < e1; h0 += head_dim) {
        float *v = x + h0;
        int64_t i = e0 > h0 ? e0 - h0 : 0, i1 = e1 - h0 < n_rot ? e1 - h0 : n_rot;
        for (; i + 4 <= i1; i += 4)
            _mm_storeu_ps(v + i, rope4(_mm_loadu_ps(v + i), _mm_loadu_ps(cs + i)));
        if (i < i1)
            ops_rope_range_ref(x, head_dim, n_rot, cs, h0 + i, h0 + i1);
    }
}

/* ops_argmax_ref's index, as ops_argmax_avx2 (llm/ops_avx2.c) 4 lanes wide: the largest value by vector max (maxps
   returns its second operand when either is NaN, so NaN elements are never taken), then its first index */
int ops_argmax_sse2(const float *x, int n)
{
    if (n < 8 || x[0] != x[0])
        return ops_argmax_ref(x, n);
    __m128 m = _mm_set1_ps(x[0]);
    int i = 0;
    for (; i + 4 <= n; i += 4)
        m = _mm_max_ps(_mm_loadu_ps(x + i), m);
    float lanes[4], max;
    _mm_storeu_ps(lanes, m);
    max = lanes[0];
    for (int j = 1; j < 4; j++)
        if (lanes[j] > max)
            max = lanes[j];
    for (; i < n; i++)
        if (x[i] > max)
            max = x[i];
    /* the first index holding the maximum (-0.0 == 0.0 matches too, as the reference keeps the first of equals) */
    __m128 vm = _mm_set1_ps(max);
    for (i = 0; i + 4 <= n; i += 4) {
        int mask = _mm_movemask_ps(_mm_cmpeq_ps(_mm_loadu_ps(x + i), vm));
        if (mask)
            return i + __builtin_ctz((unsigned)mask);
    }
    for (; i < n; i++)
        if (x[i] == max)
            return i;
    return 0;
}

/* AVX-512 VNNI twins of the scalar references in llm/quant_ref.c, for CPUs with AVX-512 F+BW+VL+VNNI (the guest
   under kvm-pvm runs them natively at CPL 3; TCG has no AVX-512): Q4_0 Q5_0 Q8_0 x Q8_0 and Q4_1 Q5_1 x Q8_1 -
   vec_dot, 8-row kernels (vec_dot_rows, the decode step) and 4x4 tiles (vec_dot_tile, prefill through
   llm/matmul.c) - Q4_K Q5_K Q6_K x Q8_K (vec_dot, 4-row kernels, 4x4 tiles) and the activation quantizers Q8_0
   Q8_1 Q8_K, all bit-identical to the references like the AVX2 twins in llm/quant_avx2.c: vpdpbusd (u8 x s8 -> s32)
   gives exact integer block sums, then the reference's float expression per block, in the reference's order.
   Layout: 4 blocks per step. One row's 4 blocks go into one zmm, block k in 128-bit lane k (4/5-bit types: low
   halves of the blocks in one register, high halves in another, against activations permuted the same way;
   q - 8 / q - 16 by starting the accumulator at -8 / -16 times the activations), so 4 rows' partial sums fold
   into one vector of 16 exact block sums (lane 4k + r: row r, block k) with 6 shuffles and 3 adds. The float
   terms are computed 16 at a time and added to the rows' sums block by block. Q8_0 weights are int8 and
   vpdpbusd wants an unsigned operand: x + 128 (x ^ 0x80) against y, the accumulator starting at -128 * y.
   Every function carries __attribute__((target(...))) so this file builds with the kernel's -msse2 flags;
   ggml_types_init_simd (llm/ggml_types.c) installs these over the AVX2 set only with GGML_CPU_AVX512 from the
   caller (who checked CPUID and that XCR0 enables the opmask/ZMM state). Tests: tests/test_llm_simd_avx512.py,
   tests/test_llm_simd_matmul.py, tests/test_llm_simd_forward.py; speed: tests/host/llm_formats/simd_bench.c. */
#include <immintrin.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/quant_simd.h"

#define AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
/* helpers are always inlined: the step functions run with a constant block count in the main loop */
#define AVX512_INLINE \
    static inline __attribute__((always_inline, target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* ---- helpers ---- */

/* 4 rows' partial sums (a_r: 4 int32 per 128-bit lane k = block k) -> exact block sums, lane 4k + r */
AVX512_INLINE __m512i fold_4x4(__m512i a0, __m512i a1, __m512i a2, __m512i a3)
{
    __m512i p01 = _mm512_add_epi32(_mm512_unpacklo_epi32(a0, a1), _mm512_unpackhi_epi32(a0, a1));
    __m512i p23 = _mm512_add_epi32(_mm512_unpacklo_epi32(a2, a3), _mm512_unpackhi_epi32(a2, a3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(p01, p23), _mm512_unpackhi_epi64(p01, p23));
}

/* the low / high fp16 of each int32 lane as floats */
AVX512_INLINE __m512 half_lo(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
AVX512_INLINE __m512 half_hi(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(v, 16))); }

/* dword mask of the first cnt_dw dwords of a 16-dword load that starts off_dw dwords into the data */
AVX512_INLINE __mmask16 first_dwords(int cnt_dw, int off_dw)
{
    int k = cnt_dw - off_dw;
    return k >= 16 ? (__mmask16)0xffff : k <= 0 ? (__mmask16)0 : (__mmask16)((1u << k) - 1);
}

/* Accumulators of 8 rows: zmm lanes 0 and 2 (128-bit) hold rows 0..3 and 4..7, lanes 1 and 3 are scratch.
   Adds the float terms t0 (rows 0..3) and t1 (rows 4..7), lane 4k + r = block k, block by block for k < cnt. */
AVX512_INLINE __m512 acc8_add(__m512 acc, __m512 t0, __m512 t1, int cnt)
{
    __m512 u01 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(1, 0, 1, 0));   /* [t0.0 t0.1 t1.0 t1.1] */
    __m512 u23 = _mm512_shuffle_f32x4(t0, t1, _MM_SHUFFLE(3, 2, 3, 2));   /* [t0.2 t0.3 t1.2 t1.3] */
    acc = _mm512_add_ps(acc, u01);
    if (cnt > 1)
        acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(u01, u01, _MM_SHUFFLE(3, 3, 1, 1)));
    if (cnt > 2)
        acc = _mm512_add_ps(acc, u23);
    if (cnt > 3)
        acc = _mm512_add_ps(acc, _mm512_shuffle_f32x4(u23, u23, _MM_SHUFFLE(3, 3, 1, 1)));
    return acc;
}

#ifndef PF_ROWS
#define PF_ROWS 16
#endif
#ifndef PF_HINT
#define PF_HINT _MM_HINT_T1   /* into L2: the L1 fill buffers stay free for the demand loads */
#endif

/* Weights stream from memory once per token. The rows kernels prefetch the rows PF_ROWS ahead of the 8 they
   work on (rows are back to back in matmul.c's calls), a slice per 4-block step, so the memory system always
   has enough lines in flight (the hardware prefetchers alone reach about half the bandwidth here). */
AVX512_INLINE size_t prefetch_chunk(size_t group_bytes, int64_t steps)
{
    return steps > 0 ? (group_bytes + (size_t)steps - 1) / (size_t)steps : 0;
}

AVX512_INLINE void prefetch_part(const char *p, size_t chunk, int64_t step)
{
    p += (size_t)step * chunk;
    for (size_t o = 0; o < chunk; o += 64)
        _mm_prefetch(p + o, PF_HINT);
}

/* ---- Q4_0 Q4_1 Q5_0 Q5_1 against Q8_0 / Q8_1 ---- */

/* The 4- and 5-bit weight types. Four blocks of a row are loaded as 16-bit words and permuted (vpermt2w): quants
   into one 128-bit lane per block, and a "meta" vector: qword 0 / 1 = the low / high 16 bits of the four
   blocks' qh (Q5), dwords 4..7 = the four blocks' scale dword (d, or d | m << 16). */
enum wkind { W_Q4_0, W_Q4_1, W_Q5_0, W_Q5_1 };

static inline int w_words(int wk)   /* block size in 16-bit words: 18, 20, 22, 24 bytes */
{
    return wk == W_Q4_0 ? 9 : wk == W_Q4_1 ? 10 : wk == W_Q5_0 ? 11 : 12;
}

static inline int w_is_q5(int wk) { return wk == W_Q5_0 || wk == W_Q5_1; }
static inline int w_has_min(int wk) { return wk == W_Q4_1 || wk == W_Q5_1; }   /* activations Q8_1 */

struct widx {
    __m512i qs, meta;
};

/* vpermt2w / vpermt2d indices. qs: 128-bit lane k = the 16 quant bytes of block k. meta: Q5_0 words 0..3 /
   4..7 = low / high qh words of blocks 0..3, words 8..15 = block k's d in dword 4 + k (Q4_0: that part only);
   Q5_1 dwords 0..3 = qh, 4..7 = (d, m). Q4_1 needs no meta permute. */
static const uint16_t q4_0_qs_idx[32] __attribute__((aligned(64))) = {
    1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17, 19, 20, 21, 22, 23, 24, 25, 26, 28, 29, 30, 31, 32, 33,
    34, 35 };
static const uint16_t q4_0_meta_idx[32] __attribute__((aligned(64))) = {
    1, 10, 19, 28, 2, 11, 20, 29, 0, 1, 9, 10, 18, 19, 27, 28, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint16_t q5_0_qs_idx[32] __attribute__((aligned(64))) = {
    3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17, 18, 19, 20, 21, 25, 26, 27, 28, 29, 30, 31, 32, 36, 37, 38, 39, 40, 41,
    42, 43 };
static const uint16_t q5_0_meta_idx[32] __attribute__((aligned(64))) = {
    1, 12, 23, 34, 2, 13, 24, 35, 0, 1, 11, 12, 22, 23, 33, 34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint32_t q4_1_qs_idx[16] __attribute__((aligned(64))) = {
    1, 2, 3, 4, 6, 7, 8, 9, 11, 12, 13, 14, 16, 17, 18, 19 };
static const uint32_t q5_1_qs_idx[16] __attribute__((aligned(64))) = {
    2, 3, 4, 5, 8, 9, 10, 11, 14, 15, 16, 17, 20, 21, 22, 23 };
static const uint32_t q5_1_meta_idx[16] __attribute__((aligned(64))) = {
    1, 7, 13, 19, 0, 6, 12, 18, 0, 0, 0, 0, 0, 0, 0, 0 };

AVX512_INLINE struct widx w_indices(int wk)
{
    struct widx x;
    const void *qs = wk == W_Q4_0 ? (const void *)q4_0_qs_idx : wk == W_Q4_1 ? (const void *)q4_1_qs_idx :
                     wk == W_Q5_0 ? (const void *)q5_0_qs_idx : (const void *)q5_1_qs_idx;
    const void *meta = wk == W_Q4_0 ? (const void *)q4_0_meta_idx : wk == W_Q5_0 ? (const void *)q5_0_meta_idx :
                       (const void *)q5_1_meta_idx;
    x.qs = _mm512_load_si512(qs);
    x.meta = _mm512_load_si512(meta);
    return x;
}

/* word mask of the first cnt_w words of a 32-word load that starts off_w words into the data */
AVX512_INLINE __mmask32 first_words(int cnt_w, int off_w)
{
    int k = cnt_w - off_w;
    return k >= 32 ? (__mmask32)0xffffffffu : k <= 0 ? (__mmask32)0 : (__mmask32)((1u << k) - 1);
}

/* a row's 4 blocks of quants: low half (elements 0..15) and high half (16..31) of block k in 128-bit lane k */
struct nib4 {
    __m512i lo, hi;
};

/* Four blocks of one row at p (the first cnt valid: never reads past them): unsigned quants and *meta. Q4_1 and
   Q5_1 blocks are whole dwords (20, 24 bytes): vpermt2d, and Q4_1's meta is the first 64 bytes as loaded (scale
   dwords 0, 5, 10, 15); Q4_0 and Q5_0 (18, 22 bytes) go by words (vpermt2w). */
AVX512_INLINE struct nib4 w_load4(int wk, const struct widx *ix, const uint8_t *p, int cnt, __m512i *meta)
{
    int nw = w_words(wk) * cnt;
    __m512i a, q;
    __m128i qh = _mm_setzero_si128();   /* Q5: qword 0 / 1 = low / high 16 bits of the 4 blocks' qh */
    if (w_has_min(wk)) {
        a = cnt == 4 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi32(first_dwords(nw / 2, 0), p);
        __m512i b;
        if (cnt < 4)
            b = _mm512_maskz_loadu_epi32(first_dwords(nw / 2, 16), p + 64);
        else if (wk == W_Q4_1)
            b = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)(p + 64)));
        else
            b = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(p + 64)));
        q = _mm512_permutex2var_epi32(a, ix->qs, b);
        if (wk == W_Q5_1) {
            *meta = _mm512_permutex2var_epi32(a, ix->meta, b);   /* dwords 0..3 qh, 4..7 (d, m) */
            __m128i h = _mm512_castsi512_si128(*meta);
            qh = _mm_unpacklo_epi64(_mm_cvtepi32_epi16(h), _mm_cvtepi32_epi16(_mm_srli_epi32(h, 16)));
        } else {
            *meta = a;
        }
    } else {
        a = cnt == 4 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi16(first_words(nw, 0), p);
        __m512i b = _mm512_maskz_loadu_epi16(first_words(nw, 32), p + 64);
        q = _mm512_permutex2var_epi16(a, ix->qs, b);
        *meta = _mm512_permutex2var_epi16(a, ix->meta, b);
        qh = _mm512_castsi512_si128(*meta);
    }
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    struct nib4 v = { _mm512_and_si512(q, m4), _mm512_and_si512(_mm512_srli_epi16(q, 4), m4) };
    if (w_is_q5(wk)) {   /* bit j of qh = bit 4 of element j: the 64 low / high qh bits as byte masks */
        const __m512i b4 = _mm512_set1_epi8(16);
        v.lo = _mm512_mask_add_epi8(v.lo, _cvtu64_mask64((uint64_t)_mm_cvtsi128_si64(qh)), v.lo, b4);
        v.hi = _mm512_mask_add_epi8(v.hi, _cvtu64_mask64((uint64_t)_mm_extract_epi64(qh, 1)), v.hi, b4);
    }
    return v;
}

/* scale dwords of 4 rows x 4 blocks from their meta vectors: lane 4k + r = row r, block k */
AVX512_INLINE __m512i w_scales4(int wk, __m512i m0, __m512i m1, __m512i m2, __m512i m3)
{
    const __m512i idx = wk == W_Q4_1 ? _mm512_setr_epi32(0, 16, 0, 16, 5, 21, 5, 21, 10, 26, 10, 26, 15, 31, 15, 31)
                                     : _mm512_setr_epi32(4, 20, 4, 20, 5, 21, 5, 21, 6, 22, 6, 22, 7, 23, 7, 23);
    return _mm512_mask_blend_epi32(0xcccc, _mm512_permutex2var_epi32(m0, idx, m1),
                                   _mm512_permutex2var_epi32(m2, idx, m3));
}

/* Four activation blocks, permuted like the weights: lo = elements 0..15 of block k in 128-bit lane k, hi =
   elements 16..31; c = the accumulators' start (-offset * the activations of each lane, for the weights'
   q - 8 / q - 16, so the sums stay exact); dy, sy = d and s (Q8_1) of block k in lanes 4k..4k+3. */
struct act4 {
    __m512i lo, hi, c;
    __m512 dy, sy;
};

AVX512_INLINE struct act4 q8_1_load4(const block_q8_1 *p, int cnt)
{
    const __m512i idx = _mm512_setr_epi32(1, 2, 3, 4, 10, 11, 12, 13, 19, 20, 21, 22, 28, 29, 30, 31);
    const __m512i ds_idx = _mm512_setr_epi32(0, 0, 0, 0, 9, 9, 9, 9, 18, 18, 18, 18, 27, 27, 27, 27);
    const int32_t *d = (const int32_t *)p;
    __m512i l0, l1, m0, m1;
    if (cnt == 4) {
        l0 = _mm512_loadu_si512(d), l1 = _mm512_loadu_si512(d + 16);
        m0 = _mm512_loadu_si512(d + 4), m1 = _mm512_loadu_si512(d + 20);
    } else {
        int n = 9 * cnt;
        l0 = _mm512_maskz_loadu_epi32(first_dwords(n, 0), d);
        l1 = _mm512_maskz_loadu_epi32(first_dwords(n, 16), d + 16);
        m0 = _mm512_maskz_loadu_epi32(first_dwords(n, 4), d + 4);
        m1 = _mm512_maskz_loadu_epi32(first_dwords(n, 20), d + 20);
    }
    struct act4 a;
    a.lo = _mm512_permutex2var_epi32(l0, idx, l1);
    a.hi = _mm512_permutex2var_epi32(m0, idx, m1);
    a.c = _mm512_setzero_si512();
    __m512i ds = _mm512_permutex2var_epi32(l0, ds_idx, l1);
    a.dy = half_lo(ds);
    a.sy = half_hi(ds);
    return a;
}

/* Q8_0 blocks are 17 words: lo = words 17k+1.., hi = words 17k+9.. (the same indices 8 words further on) */
AVX512_INLINE struct act4 q8_0_load4_nib(const block_q8_0 *p, int cnt, int offset)
{
    const uint16_t *w = (const uint16_t *)p;
    uint16_t qi[32], di[32];
    for (int j = 0; j < 32; j++) {
        qi[j] = (uint16_t)(17 * (j >> 3) + 1 + (j & 7));   /* 128-bit lane k: words 17k+1 .. 17k+8 */
        di[j] = (uint16_t)(17 * (j >> 3));                 /* dword lane 4k + r: d of block k */
    }
    __m512i idx = _mm512_loadu_si512(qi), d_idx = _mm512_loadu_si512(di);
    int nw = 17 * cnt;
    __m512i l0 = cnt == 4 ? _mm512_loadu_si512(w) : _mm512_maskz_loadu_epi16(first_words(nw, 0), w);
    __m512i l1 = cnt == 4 ? _mm512_loadu_si512(w + 32) : _mm512_maskz_loadu_epi16(first_words(nw, 32), w + 32);
    __m512i m0 = cnt == 4 ? _mm512_loadu_si512(w + 8) : _mm512_maskz_loadu_epi16(first_words(nw, 8), w + 8);
    __m512i m1 = _mm512_maskz_loadu_epi16(first_words(nw, 40), w + 40);
    struct act4 a;
    a.lo = _mm512_permutex2var_epi16(l0, idx, l1);
    a.hi = _mm512_permutex2var_epi16(m0, idx, m1);
    const __m512i off = _mm512_set1_epi8((char)offset);
    a.c = _mm512_sub_epi32(_mm512_setzero_si512(),
                           _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), off, a.lo), off, a.hi));
    a.dy = half_lo(_mm512_permutex2var_epi16(l0, d_idx, l1));
    a.sy = _mm512_setzero_ps();
    return a;
}

AVX512_INLINE struct act4 act_load4(int wk, const void *y, int64_t b, int cnt)
{
    if (w_has_min(wk))
        return q8_1_load4((const block_q8_1 *)y + b, cnt);
    return q8_0_load4_nib((const block_q8_0 *)y + b, cnt, wk == W_Q4_0 ? 8 : 16);
}

/* one row's partial sums against the activations: 4 int32 per 128-bit lane k */
AVX512_INLINE __m512i w_partial(struct nib4 q, const struct act4 *y)
{
    return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(y->c, q.lo, y->lo), q.hi, y->hi);
}

/* the reference's term per block, 16 at a time (no FMA): (float)isum * (dx * dy), + mx * sy for Q4_1/Q5_1 */
AVX512_INLINE __m512 w_terms(int wk, __m512i isum, __m512i sc, const struct act4 *y)
{
    __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(half_lo(sc), y->dy));
    return w_has_min(wk) ? _mm512_add_ps(t, _mm512_mul_ps(half_hi(sc), y->sy)) : t;
}

/* terms of 4 rows (row pointers x[0..3]) for blocks b..b+3 against y */
AVX512_INLINE __m512 w_step4(int wk, const struct widx *ix, const uint8_t *const *x, int64_t b, int cnt,
                             const struct act4 *y)
{
    size_t o = (size_t)b * (size_t)(2 * w_words(wk));
    __m512i m0, m1, m2, m3;
    __m512i p0 = w_partial(w_load4(wk, ix, x[0] + o, cnt, &m0), y);
    __m512i p1 = w_partial(w_load4(wk, ix, x[1] + o, cnt, &m1), y);
    __m512i p2 = w_partial(w_load4(wk, ix, x[2] + o, cnt, &m2), y);
    __m512i p3 = w_partial(w_load4(wk, ix, x[3] + o, cnt, &m3), y);
    return w_terms(wk, fold_4x4(p0, p1, p2, p3), w_scales4(wk, m0, m1, m2, m3), y);
}

/* 8 rows (x[0..7]) against one activation row: s[0..7]; prefetches pf bytes ahead of x[0] */
AVX512_INLINE void w_rows8(int wk, int64_t nb, float *s, const uint8_t *const *x, const void *y, size_t pf)
{
    struct widx ix = w_indices(wk);
    size_t pf_chunk = pf ? prefetch_chunk(8 * (size_t)nb * (size_t)(2 * w_words(wk)), nb / 4) : 0;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        prefetch_part((const char *)x[0] + pf, pf_chunk, b / 4);
        struct act4 a = act_load4(wk, y, b, 4);
        acc = acc8_add(acc, w_step4(wk, &ix, x, b, 4, &a), w_step4(wk, &ix, x + 4, b, 4, &a), 4);
    }
    if (b < nb) {   /* 1..3 blocks left */
        int cnt = (int)(nb - b);
        struct act4 a = act_load4(wk, y, b, cnt);
        acc = acc8_add(acc, w_step4(wk, &ix, x, b, cnt, &a), w_step4(wk, &ix, x + 4, b, cnt, &a), cnt);
    }
    _mm_storeu_ps(s, _mm512_castps512_ps128(acc));
    _mm_storeu_ps(s + 4, _mm512_extractf32x4_ps(acc, 2));
}

/* one row's 4 partial int32 per 128-bit lane summed within the lane: every lane of lane k = block k's sum */
AVX512_INLINE __m512i fold_1(__m512i p)
{
    p = _mm512_add_epi32(p, _mm512_shuffle_epi32(p, _MM_PERM_BADC));
    return _mm512_add_epi32(p, _mm512_shuffle_epi32(p, _MM_PERM_CDAB));
}

/* one row: the terms of blocks b..b+3 in every lane 4k + r of block k */
AVX512_INLINE __m512 w_step1(int wk, const struct widx *ix, const uint8_t *x, int64_t b, int cnt, const struct act4 *y)
{
    __m512i m;
    __m512i p = w_partial(w_load4(wk, ix, x + (size_t)b * (size_t)(2 * w_words(wk)), cnt, &m), y);
    return w_terms(wk, fold_1(p), w_scales4(wk, m, m, m, m), y);
}

AVX512_INLINE void w_vec_dot(int wk, int64_t n, float *s, const void *vx, const void *vy)
{
    struct widx ix = w_indices(wk);
    const int64_t nb = n / 32;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        struct act4 a = act_load4(wk, vy, b, 4);
        __m512 t = w_step1(wk, &ix, vx, b, 4, &a);
        acc = acc8_add(acc, t, t, 4);   /* lane 0 = the row's sum, block by block */
    }
    if (b < nb) {
        int cnt = (int)(nb - b);
        struct act4 a = act_load4(wk, vy, b, cnt);
        __m512 t = w_step1(wk, &ix, vx, b, cnt, &a);
        acc = acc8_add(acc, t, t, cnt);
    }
    *s = _mm512_cvtss_f32(acc);
}

AVX512_INLINE void w_vec_dot_rows(int wk, int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const uint8_t *base = vx;
    int64_t r = 0;
    for (; r + 8 <= nr; r += 8) {
        const uint8_t *x[8];
        for (int k = 0; k < 8; k++)
            x[k] = base + (size_t)(r + k) * bx;
        w_rows8(wk, n / 32, s + r, x, vy, PF_ROWS * bx);
    }
    if (r < nr) {   /* 1..7 rows left: the last one repeated in the unused lanes */
        const uint8_t *x[8];
        float out[8];
        for (int k = 0; k < 8; k++)
            x[k] = base + (size_t)(r + k < nr ? r + k : nr - 1) * bx;
        w_rows8(wk, n / 32, out, x, vy, 0);
        for (int k = 0; r + k < nr; k++)
            s[r + k] = out[k];
    }
}

/* one 4-block step of a 4x4 tile: acc01 / acc23 as acc8_add's (activation rows 0, 1 / 2, 3) */
AVX512_INLINE void w_tile_step(int wk, const struct widx *ix, const uint8_t *const *x, const uint8_t *const *y,
                               int64_t b, int cnt, __m512 *acc01, __m512 *acc23)
{
    size_t o = (size_t)b * (size_t)(2 * w_words(wk));
    __m512i m0, m1, m2, m3;
    struct nib4 q0 = w_load4(wk, ix, x[0] + o, cnt, &m0), q1 = w_load4(wk, ix, x[1] + o, cnt, &m1);
    struct nib4 q2 = w_load4(wk, ix, x[2] + o, cnt, &m2), q3 = w_load4(wk, ix, x[3] + o, cnt, &m3);
    __m512i sc = w_scales4(wk, m0, m1, m2, m3);
    __m512 t[4];
    for (int k = 0; k < 4; k++) {
        struct act4 a = act_load4(wk, y[k], b, cnt);
        __m512i is = fold_4x4(w_partial(q0, &a), w_partial(q1, &a), w_partial(q2, &a), w_partial(q3, &a));
        t[k] = w_terms(wk, is, sc, &a);
    }
    *acc01 = acc8_add(*acc01, t[0], t[1], cnt);
    *acc23 = acc8_add(*acc23, t[2], t[3], cnt);
}

AVX512_INLINE void tile_store(float *s, size_t ls, __m512 acc01, __m512 acc23)
{
    _mm_storeu_ps(s, _mm512_castps512_ps128(acc01));
    _mm_storeu_ps(s + ls, _mm512_extractf32x4_ps(acc01, 2));
    _mm_storeu_ps(s + 2 * ls, _mm512_castps512_ps128(acc23));
    _mm_storeu_ps(s + 3 * ls, _mm512_extractf32x4_ps(acc23, 2));
}

/* 4 rows x 4 activation rows: s[t * ls + r] */
AVX512_INLINE void w_vec_dot_tile(int wk, int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                  size_t by)
{
    const uint8_t *x[4], *y[4];
    for (int k = 0; k < 4; k++) {
        x[k] = (const uint8_t *)vx + (size_t)k * bx;
        y[k] = (const uint8_t *)vy + (size_t)k * by;
    }
    struct widx ix = w_indices(wk);
    const int64_t nb = n / 32;
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4)
        w_tile_step(wk, &ix, x, y, b, 4, &acc01, &acc23);
    if (b < nb)
        w_tile_step(wk, &ix, x, y, b, (int)(nb - b), &acc01, &acc23);
    tile_store(s, ls, acc01, acc23);
}

/* the exported twins: one set per weight type */
void AVX512 vec_dot_q4_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y)
{
    w_vec_dot(W_Q4_0, n, s, x, y);
}
void AVX512 vec_dot_q4_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y)
{
    w_vec_dot(W_Q4_1, n, s, x, y);
}
void AVX512 vec_dot_q5_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y)
{
    w_vec_dot(W_Q5_0, n, s, x, y);
}
void AVX512 vec_dot_q5_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y)
{
    w_vec_dot(W_Q5_1, n, s, x, y);
}
void AVX512 vec_dot_rows_q4_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    w_vec_dot_rows(W_Q4_0, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_rows_q4_1_q8_1_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    w_vec_dot_rows(W_Q4_1, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_rows_q5_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    w_vec_dot_rows(W_Q5_0, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_rows_q5_1_q8_1_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    w_vec_dot_rows(W_Q5_1, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_tile_q4_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    w_vec_dot_tile(W_Q4_0, n, s, ls, x, bx, y, by);
}
void AVX512 vec_dot_tile_q4_1_q8_1_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    w_vec_dot_tile(W_Q4_1, n, s, ls, x, bx, y, by);
}
void AVX512 vec_dot_tile_q5_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    w_vec_dot_tile(W_Q5_0, n, s, ls, x, bx, y, by);
}
void AVX512 vec_dot_tile_q5_1_q8_1_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    w_vec_dot_tile(W_Q5_1, n, s, ls, x, bx, y, by);
}

/* ---- Q8_0 x Q8_0 ---- */

/* Four Q8_0 weight blocks (the first cnt valid) + 128 as unsigned bytes: blocks 0, 1 in *z0, blocks 2, 3 in *z1 */
AVX512_INLINE void q8_0_load4(const block_q8_0 *p, int cnt, __m512i *z0, __m512i *z1)
{
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    const __m256i *q0 = (const __m256i *)p[0].qs;
    __m256i lo = _mm256_loadu_si256(q0), hi = _mm256_setzero_si256();
    if (cnt > 1)
        hi = _mm256_loadu_si256((const __m256i *)p[1].qs);
    *z0 = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), bias);
    lo = hi = _mm256_setzero_si256();
    if (cnt > 2)
        lo = _mm256_loadu_si256((const __m256i *)p[2].qs);
    if (cnt > 3)
        hi = _mm256_loadu_si256((const __m256i *)p[3].qs);
    *z1 = _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), bias);
}

/* Four Q8_0 activation blocks: y0 = blocks 0, 1, y1 = blocks 2, 3 (as the weights); c0, c1 = -128 * (sum of
   each lane's 4 activations), the accumulators' start; dy = d of block k in lanes 4k..4k+3. */
struct act4_q8_0 {
    __m512i y0, y1, c0, c1;
    __m512 dy;
};

AVX512_INLINE struct act4_q8_0 q8_0_act4(const block_q8_0 *p, int cnt)
{
    struct act4_q8_0 a;
    __m256i z = _mm256_setzero_si256();
    __m256i b0 = _mm256_loadu_si256((const __m256i *)p[0].qs);
    __m256i b1 = cnt > 1 ? _mm256_loadu_si256((const __m256i *)p[1].qs) : z;
    __m256i b2 = cnt > 2 ? _mm256_loadu_si256((const __m256i *)p[2].qs) : z;
    __m256i b3 = cnt > 3 ? _mm256_loadu_si256((const __m256i *)p[3].qs) : z;
    a.y0 = _mm512_inserti64x4(_mm512_castsi256_si512(b0), b1, 1);
    a.y1 = _mm512_inserti64x4(_mm512_castsi256_si512(b2), b3, 1);
    const __m512i bias = _mm512_set1_epi8((char)0x80);
    a.c0 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a.y0));
    a.c1 = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, a.y1));
    __m128i h = _mm_setr_epi16((short)p[0].d, (short)(cnt > 1 ? p[1].d : 0), (short)(cnt > 2 ? p[2].d : 0),
                               (short)(cnt > 3 ? p[3].d : 0), 0, 0, 0, 0);
    const __m512i spread = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    a.dy = _mm512_permutexvar_ps(spread, _mm512_castps128_ps512(_mm_cvtph_ps(h)));
    return a;
}

/* one row's exact partial sums: 4 int32 per 128-bit lane k = block k */
AVX512_INLINE __m512i q8_0_partial(__m512i z0, __m512i z1, const struct act4_q8_0 *a)
{
    __m512i s0 = _mm512_dpbusd_epi32(a->c0, z0, a->y0);   /* 256-bit halves: blocks 0, 1 */
    __m512i s1 = _mm512_dpbusd_epi32(a->c1, z1, a->y1);   /* blocks 2, 3 */
    return _mm512_add_epi32(_mm512_shuffle_i64x2(s0, s1, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i64x2(s0, s1, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* d of 4 rows x 4 blocks (rows bx bytes apart from x0, at block b): lane 4k + r; one gather of the first
   dword of each block (d and two quant bytes: never past the block) */
AVX512_INLINE __m512 q8_0_dx4(const block_q8_0 *x0, int cnt, __m512i idx)
{
    __mmask16 m = (__mmask16)((1u << (4 * cnt)) - 1);
    __m512i g = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), m, idx, x0, 1);
    return half_lo(g);
}

/* gather offsets of (row r, block k) = r * bx + k * 34 at lane 4k + r; 0 when they do not fit an int32 */
AVX512_INLINE int q8_0_gather_idx(size_t bx, __m512i *idx)
{
    if (bx > ((size_t)1 << 28))
        return 0;
    __m512i r = _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    __m512i k = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    *idx = _mm512_add_epi32(_mm512_mullo_epi32(r, _mm512_set1_epi32((int)bx)),
                            _mm512_mullo_epi32(k, _mm512_set1_epi32((int)sizeof(block_q8_0))));
    return 1;
}

/* terms of 4 rows (x0 + r * bx) x 4 blocks */
AVX512_INLINE __m512 q8_0_step4(const block_q8_0 *const *x, int64_t b, int cnt, __m512i idx,
                                       const struct act4_q8_0 *a)
{
    __m512i z0, z1, p[4];
    for (int r = 0; r < 4; r++) {
        q8_0_load4(x[r] + b, cnt, &z0, &z1);
        p[r] = q8_0_partial(z0, z1, a);
    }
    __m512i is = fold_4x4(p[0], p[1], p[2], p[3]);
    return _mm512_mul_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(q8_0_dx4(x[0] + b, cnt, idx), a->dy));
}

/* 8 rows, bx bytes apart from x[0] (x[4] = x[0] + 4 bx, the gather offsets' base), against one activation row */
AVX512_INLINE void q8_0_rows8(int64_t nb, float *s, const block_q8_0 *const *x, __m512i idx,
                              const block_q8_0 *y, size_t pf)
{
    size_t pf_chunk = pf ? prefetch_chunk(8 * nb * sizeof(block_q8_0), nb / 4) : 0;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        prefetch_part((const char *)x[0] + pf, pf_chunk, b / 4);
        struct act4_q8_0 a = q8_0_act4(y + b, 4);
        acc = acc8_add(acc, q8_0_step4(x, b, 4, idx, &a), q8_0_step4(x + 4, b, 4, idx, &a), 4);
    }
    if (b < nb) {   /* 1..3 blocks left */
        int cnt = (int)(nb - b);
        struct act4_q8_0 a = q8_0_act4(y + b, cnt);
        acc = acc8_add(acc, q8_0_step4(x, b, cnt, idx, &a), q8_0_step4(x + 4, b, cnt, idx, &a), cnt);
    }
    _mm_storeu_ps(s, _mm512_castps512_ps128(acc));
    _mm_storeu_ps(s + 4, _mm512_extractf32x4_ps(acc, 2));
}

/* one row: the terms of blocks b..b+3 in every lane 4k + r of block k */
AVX512_INLINE __m512 q8_0_step1(const block_q8_0 *x, int64_t b, int cnt, __m512i idx, const struct act4_q8_0 *a)
{
    __m512i z0, z1;
    q8_0_load4(x + b, cnt, &z0, &z1);
    __m512i is = fold_1(q8_0_partial(z0, z1, a));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(q8_0_dx4(x + b, cnt, idx), a->dy));
}

void AVX512 vec_dot_q8_0_q8_0_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q8_0 *x = vx, *y = vy;
    __m512i idx;
    q8_0_gather_idx(0, &idx);   /* bx 0: every lane 4k + r gathers block k of this row */
    const int64_t nb = n / QK8_0;
    __m512 acc = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4) {
        struct act4_q8_0 a = q8_0_act4(y + b, 4);
        __m512 t = q8_0_step1(x, b, 4, idx, &a);
        acc = acc8_add(acc, t, t, 4);
    }
    if (b < nb) {
        int cnt = (int)(nb - b);
        struct act4_q8_0 a = q8_0_act4(y + b, cnt);
        __m512 t = q8_0_step1(x, b, cnt, idx, &a);
        acc = acc8_add(acc, t, t, cnt);
    }
    *s = _mm512_cvtss_f32(acc);
}

void AVX512 vec_dot_rows_q8_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const uint8_t *base = vx;
    __m512i idx;
    if (!q8_0_gather_idx(bx, &idx)) {
        vec_dot_rows_q8_0_q8_0_avx2(n, nr, s, vx, bx, vy);
        return;
    }
    int64_t r = 0;
    for (; r + 8 <= nr; r += 8) {
        const block_q8_0 *x[8];
        for (int k = 0; k < 8; k++)
            x[k] = (const block_q8_0 *)(base + (size_t)(r + k) * bx);
        q8_0_rows8(n / QK8_0, s + r, x, idx, vy, PF_ROWS * bx);
    }
    for (; r < nr; r++)   /* 1..7 rows left */
        vec_dot_q8_0_q8_0_avx512(n, &s[r], base + (size_t)r * bx, vy);
}

AVX512_INLINE void q8_0_tile_step(const block_q8_0 *const *x, const block_q8_0 *const *y, int64_t b, int cnt,
                                  __m512i idx, __m512 *acc01, __m512 *acc23)
{
    __m512i z[4][2];
    for (int r = 0; r < 4; r++)
        q8_0_load4(x[r] + b, cnt, &z[r][0], &z[r][1]);
    __m512 dx = q8_0_dx4(x[0] + b, cnt, idx);
    __m512 t[4];
    for (int k = 0; k < 4; k++) {
        struct act4_q8_0 a = q8_0_act4(y[k] + b, cnt);
        __m512i is = fold_4x4(q8_0_partial(z[0][0], z[0][1], &a), q8_0_partial(z[1][0], z[1][1], &a),
                              q8_0_partial(z[2][0], z[2][1], &a), q8_0_partial(z[3][0], z[3][1], &a));
        t[k] = _mm512_mul_ps(_mm512_cvtepi32_ps(is), _mm512_mul_ps(dx, a.dy));
    }
    *acc01 = acc8_add(*acc01, t[0], t[1], cnt);
    *acc23 = acc8_add(*acc23, t[2], t[3], cnt);
}

void AVX512 vec_dot_tile_q8_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                         size_t by)
{
    __m512i idx;
    if (!q8_0_gather_idx(bx, &idx)) {
        vec_dot_tile_q8_0_q8_0_avx2(n, s, ls, vx, bx, vy, by);
        return;
    }
    const block_q8_0 *x[4];
    const block_q8_0 *y[4];
    for (int k = 0; k < 4; k++) {
        x[k] = (const block_q8_0 *)((const uint8_t *)vx + (size_t)k * bx);
        y[k] = (const block_q8_0 *)((const uint8_t *)vy + (size_t)k * by);
    }
    const int64_t nb = n / QK8_0;
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
    int64_t b = 0;
    for (; b + 4 <= nb; b += 4)
        q8_0_tile_step(x, y, b, 4, idx, &acc01, &acc23);
    if (b < nb)
        q8_0_tile_step(x, y, b, (int)(nb - b), idx, &acc01, &acc23);
    tile_store(s, ls, acc01, acc23);
}

/* ---- activation quantizers (bit-identical to the references; blocks with inf/NaN or a scale whose inverse
   overflows go through the reference, as in llm/quant_avx2.c) ---- */

AVX512_INLINE __m512 abs16(__m512 v) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v),
                                                                                    _mm512_set1_epi32(0x7fffffff))); }

/* max |x| over 16 * k floats ignoring NaN (as the reference's `>`); *nan set when any element is NaN */
AVX512_INLINE float amax16k(const float *x, int k, int *nan)
{
    __m512 m = _mm512_setzero_ps();
    __mmask16 un = 0;
    for (int j = 0; j < k; j++) {
        __m512 v = _mm512_loadu_ps(x + 16 * j);
        m = _mm512_max_ps(abs16(v), m);   /* NaN in the first operand yields the second */
        un |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    }
    *nan = un != 0;
    return _mm512_reduce_max_ps(m);
}

/* round half away from zero of 16 floats with |v| < 2^31 (quant_ref.c's round_half_away), as int32 */
AVX512_INLINE __m512i round_half_away16(__m512 v)
{
    __m512 a = abs16(v);
    __m512i t = _mm512_cvttps_epi32(a);
    __m512 frac = _mm512_sub_ps(a, _mm512_cvtepi32_ps(t));                       /* exact */
    t = _mm512_mask_add_epi32(t, _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ), t,
                              _mm512_set1_epi32(1));
    return _mm512_mask_sub_epi32(t, _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ), _mm512_setzero_si512(),
                                 t);
}

/* q of one block of 32 into qs (values already in -127..127); returns the two vectors' lane sums */
AVX512_INLINE __m512i quant32_avx512(const float *x, float id, int8_t *qs)
{
    __m512 vid = _mm512_set1_ps(id);
    __m512i q0 = round_half_away16(_mm512_mul_ps(_mm512_loadu_ps(x), vid));
    __m512i q1 = round_half_away16(_mm512_mul_ps(_mm512_loadu_ps(x + 16), vid));
    _mm_storeu_si128((__m128i *)qs, _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(qs + 16), _mm512_cvtepi32_epi8(q1));
    return _mm512_add_epi32(q0, q1);
}

/* the fast path needs a finite amax whose inverse scale is finite (then |x * id| <= 127 + rounding) */
static inline int q8_block_ok_avx512(float amax, int nan)
{
    return !nan && amax < 3.0e38f && (amax == 0.0f || amax / 127.0f >= 1.2e-38f);
}

void AVX512 quantize_row_q8_0_avx512(const float *x, void *vy, int64_t n)
{
    block_q8_0 *y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        int nan;
        float amax = amax16k(x, 2, &nan);
        if (!q8_block_ok_avx512(amax, nan)) {
            quantize_row_q8_0_ref(x, &y[b], QK8_0);
            continue;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp16_from_fp32(d);
        quant32_avx512(x, id, y[b].qs);
    }
}

void AVX512 quantize_row_q8_1_avx512(const float *x, void *vy, int64_t n)
{
    block_q8_1 *y = vy;
    for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
        int nan;
        float amax = amax16k(x, 2, &nan);
        if (!q8_block_ok_avx512(amax, nan)) {
            quantize_row_q8_1_ref(x, &y[b], QK8_1);
            continue;
        }
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = _mm512_reduce_add_epi32(quant32_avx512(x, id, y[b].qs));
        y[b].d = fp16_from_fp32(d);
        y[b].s = fp16_from_fp32((float)sum * d);
    }
}

/* Q8_K: max = the element of largest magnitude (first on ties), iscale = -127 / max,
   q = min(127, nearest-even(iscale * x)), d = 1 / iscale, bsums over groups of 16 (one vector each). */
void AVX512 quantize_row_q8_K_avx512(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        int nan;
        float amax = amax16k(x, QK_K / 16, &nan);
        if (nan || !(amax > 0.0f) || !(amax < 3.0e38f) || amax < 1e-36f) {
            quantize_row_q8_K_ref(x, &y[b], QK_K);
            continue;
        }
        float max = 0.0f;
        __m512 va = _mm512_set1_ps(amax);
        for (int j = 0; j < QK_K; j += 16) {   /* the first element with |x| == amax */
            __mmask16 m = _mm512_cmp_ps_mask(abs16(_mm512_loadu_ps(x + j)), va, _CMP_EQ_OQ);
            if (m) {
                max = x[j + __builtin_ctz((unsigned)m)];
                break;
            }
        }
        float iscale = -127.0f / max;
        __m512 vs = _mm512_set1_ps(iscale);
        for (int j = 0; j < QK_K; j += 16) {
            __m512i q = _mm512_cvt_roundps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(x + j)),
                                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q = _mm512_min_epi32(q, _mm512_set1_epi32(127));
            _mm_storeu_si128((__m128i *)(y[b].qs + j), _mm512_cvtepi32_epi8(q));
            y[b].bsums[j / 16] = (int16_t)_mm512_reduce_add_epi32(q);
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- Q4_K Q5_K Q6_K x Q8_K (bit-identical: exact int32 sums, then the reference's float expression).
   Q4_K/Q5_K: a super-block's 128 quant bytes are two zmm: low nibbles of bytes 0..63 = sub-blocks 0 | 2, high = 1 | 3,
   of bytes 64..127 = 4 | 6 and 5 | 7, against the activations' 32-byte sub-blocks paired the same way. The 4
   vectors of partial sums fold to 16 lanes (two per sub-block), times each lane's 6-bit scale, summed. Q6_K
   (k_load_q6): the 4 vectors are 64 elements each in order, folding to one lane per sub-block of 16. The rows
   and tile kernels decode each weight super-block once (struct kw) for all the activation rows they serve. ---- */

/* the 8 scales and 8 mins of a Q4_K/Q5_K super-block (quant_ref.c's k_scale_min) as 8 bytes each, with word
   operations (no byte stores read back as a word: that stalls store forwarding) */
static inline void k_unpack_scales_avx512(const uint8_t *sc6, uint64_t *sc, uint64_t *mn)
{
    uint32_t a, b, c;
    __builtin_memcpy(&a, sc6, 4);
    __builtin_memcpy(&b, sc6 + 4, 4);
    __builtin_memcpy(&c, sc6 + 8, 4);
    uint32_t sc_hi = (c & 0x0f0f0f0fu) | ((a >> 2) & 0x30303030u);          /* low 4 bits | top 2 bits of a */
    uint32_t mn_hi = ((c >> 4) & 0x0f0f0f0fu) | ((b >> 2) & 0x30303030u);
    *sc = (a & 0x3f3f3f3fu) | ((uint64_t)sc_hi << 32);
    *mn = (b & 0x3f3f3f3fu) | ((uint64_t)mn_hi << 32);
}

/* One super-block of one weight row, decoded once and used against every activation row of a rows group or a
   tile. v: Q4_K/Q5_K the unsigned quants of sub-blocks (0|2, 1|3, 4|6, 5|7) (one per 256-bit half), paired like
   k_act_pairs pairs the activations; Q6_K the 6-bit quants (q + 32, unsigned) of elements 64i .. 64i+63 in
   element order. */
struct kw {
    __m512i v[4];
    __m512i scv;       /* the scale of each lane of k_term's fold_4x4 (Q4_K/Q5_K 6-bit, Q6_K int8) */
    __m256i s16;       /* Q6_K: the 16 scales as int16 (for the - 32 * sum scale_k * bsums[k]) */
    uint64_t sc, mn;   /* Q4_K/Q5_K: the 8 scales and 8 mins as bytes */
    float d, dmin;     /* the super-block's fp16 d (and dmin) as floats */
};

/* one activation super-block (Q8_K): Q4_K/Q5_K the sub-block pairs of k_act_pairs, Q6_K the 4 vectors as is */
struct ka {
    __m512i v[4];
    __m256i bsums;
    float d;
};

enum kkind { K_Q4, K_Q5, K_Q6 };

static inline size_t k_block_size(int kk)
{
    return kk == K_Q4 ? sizeof(block_q4_K) : kk == K_Q5 ? sizeof(block_q5_K) : sizeof(block_q6_K);
}

AVX512_INLINE void k_load_q45(int q5, const uint8_t *xb, struct kw *w)
{
    const block_q4_K *x4 = (const block_q4_K *)xb;
    const block_q5_K *x5 = (const block_q5_K *)xb;
    const uint8_t *qs = q5 ? x5->qs : x4->qs;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    k_unpack_scales_avx512(q5 ? x5->scales : x4->scales, &w->sc, &w->mn);
    /* fold_4x4's lane 4k + r = 128-bit lane k of input r: lanes k = 0, 1 hold the first sub-block of input r */
    const __m512i sub = _mm512_setr_epi32(0, 1, 4, 5, 0, 1, 4, 5, 2, 3, 6, 7, 2, 3, 6, 7);
    w->scv = _mm512_permutexvar_epi32(sub, _mm512_cvtepu8_epi32(_mm_cvtsi64_si128((long long)w->sc)));
    __m512i q01 = _mm512_loadu_si512(qs), q23 = _mm512_loadu_si512(qs + 64);
    __m512i l01 = _mm512_and_si512(q01, m4), h01 = _mm512_and_si512(_mm512_srli_epi16(q01, 4), m4);
    __m512i l23 = _mm512_and_si512(q23, m4), h23 = _mm512_and_si512(_mm512_srli_epi16(q23, 4), m4);
    if (q5) {   /* bit j of qh[l]: bit 4 of element l of sub-block j */
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x5->qh));
        const __m512i b4 = _mm512_set1_epi8(16);
        /* per 256-bit half: the sub-blocks (0 | 2), (1 | 3), (4 | 6), (5 | 7) */
        __m512i bit02 = _mm512_inserti64x4(_mm512_set1_epi8(1 << 0), _mm256_set1_epi8(1 << 2), 1);
        __m512i bit13 = _mm512_inserti64x4(_mm512_set1_epi8(1 << 1), _mm256_set1_epi8(1 << 3), 1);
        __m512i bit46 = _mm512_inserti64x4(_mm512_set1_epi8(1 << 4), _mm256_set1_epi8(1 << 6), 1);
        __m512i bit57 = _mm512_inserti64x4(_mm512_set1_epi8(1 << 5), _mm256_set1_epi8((char)(1 << 7)), 1);
        l01 = _mm512_mask_add_epi8(l01, _mm512_test_epi8_mask(qh, bit02), l01, b4);
        h01 = _mm512_mask_add_epi8(h01, _mm512_test_epi8_mask(qh, bit13), h01, b4);
        l23 = _mm512_mask_add_epi8(l23, _mm512_test_epi8_mask(qh, bit46), l23, b4);
        h23 = _mm512_mask_add_epi8(h23, _mm512_test_epi8_mask(qh, bit57), h23, b4);
    }
    w->v[0] = l01, w->v[1] = h01, w->v[2] = l23, w->v[3] = h23;
    w->d = fp16_to_fp32(x4->d);
    w->dmin = fp16_to_fp32(x4->dmin);
}

/* Q6_K: per half h, the 64 bytes of ql hold elements 128h + 0..63 (low nibbles) and + 64..127 (high nibbles) in
   element order, so they meet the activations unpermuted; the 2 high bits come from qh[32h + r % 32] at bit
   2 * (r / 32) (per-word shifts by 256-bit half). */
AVX512_INLINE void k_load_q6(const block_q6_K *x, struct kw *w)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), m3 = _mm512_set1_epi8(0x03);
    const __m512i sh_lo = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);   /* r 0..63 */
    const __m512i sh_hi = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);   /* r 64..127 */
    for (int h = 0; h < 2; h++) {
        __m512i ql = _mm512_loadu_si512(x->ql + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(x->qh + 32 * h)));
        __m512i hl = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_lo), m3);
        __m512i hh = _mm512_and_si512(_mm512_srlv_epi16(qh, sh_hi), m3);
        w->v[2 * h] = _mm512_or_si512(_mm512_and_si512(ql, m4), _mm512_slli_epi16(hl, 4));
        w->v[2 * h + 1] = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4), _mm512_slli_epi16(hh, 4));
    }
    const __m512i fold_idx = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    w->scv = _mm512_permutexvar_epi32(fold_idx, _mm512_cvtepi8_epi32(sc));
    w->s16 = _mm256_cvtepi8_epi16(sc);
    w->d = fp16_to_fp32(x->d);
}

AVX512_INLINE void k_load_w(int kk, const uint8_t *xb, struct kw *w)
{
    if (kk == K_Q6)
        k_load_q6((const block_q6_K *)xb, w);
    else
        k_load_q45(kk == K_Q5, xb, w);
}

/* the activations of sub-blocks (0|2, 1|3) from bytes 0..127 and (4|6, 5|7) from 128..255 */
AVX512_INLINE void k_act_pairs(const int8_t *qs, __m512i *y02, __m512i *y13)
{
    __m512i a = _mm512_loadu_si512(qs), b = _mm512_loadu_si512(qs + 64);
    *y02 = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(1, 0, 1, 0));
    *y13 = _mm512_shuffle_i64x2(a, b, _MM_SHUFFLE(3, 2, 3, 2));
}

AVX512_INLINE void k_load_act(int kk, const block_q8_K *y, struct ka *a)
{
    if (kk == K_Q6) {
        for (int i = 0; i < 4; i++)
            a->v[i] = _mm512_loadu_si512(y->qs + 64 * i);
    } else {
        k_act_pairs(y->qs, &a->v[0], &a->v[1]);
        k_act_pairs(y->qs + 128, &a->v[2], &a->v[3]);
    }
    a->bsums = _mm256_loadu_si256((const __m256i *)y->bsums);
    a->d = y->d;
}

/* the 8 int32 lanes of v summed */
AVX512_INLINE int k_hsum256(__m256i v)
{
    __m128i h = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
    h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
    return _mm_cvtsi128_si32(h);
}

/* The exact integer sums of one super-block (row w, activations a), before the last reduction: 16 int32 lanes
   whose total is Q4_K/Q5_K isum = sum_j sc_j * (q . y over sub-block j); Q6_K isum = sum_k scale_k * ((q + 32)
   . y over sub-block k) - 32 * sum_k scale_k * bsums[k]. */
AVX512_INLINE __m512i k_isum_lanes(int kk, const struct kw *w, const struct ka *a)
{
    const __m512i z = _mm512_setzero_si512();
    __m512i p0 = _mm512_dpbusd_epi32(z, w->v[0], a->v[0]), p1 = _mm512_dpbusd_epi32(z, w->v[1], a->v[1]);
    __m512i p2 = _mm512_dpbusd_epi32(z, w->v[2], a->v[2]), p3 = _mm512_dpbusd_epi32(z, w->v[3], a->v[3]);
    __m512i v = _mm512_mullo_epi32(fold_4x4(p0, p1, p2, p3), w->scv);   /* lane 4k + r = 128-bit lane k of p_r */
    if (kk == K_Q6) {
        __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(w->s16, a->bsums), 5);   /* 32 * scale_k * bsums */
        v = _mm512_sub_epi32(v, _mm512_zextsi256_si512(corr));
    }
    return v;
}

/* The reference's term of one super-block of one row (its float expression in its order, no FMA):
   Q4_K/Q5_K with msum = sum_j m_j * (bsums 2j + 2j+1): dall * isum - dmin * msum; Q6_K (y.d * d) * isum. */
AVX512_INLINE float k_term(int kk, const struct kw *w, const struct ka *a)
{
    int isum = _mm512_reduce_add_epi32(k_isum_lanes(kk, w, a));
    if (kk == K_Q6)
        return (a->d * w->d) * (float)isum;
    __m128i m = _mm_cvtepu8_epi16(_mm_cvtsi64_si128((long long)w->mn));                 /* m0..m7 */
    __m256i mm = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_unpacklo_epi16(m, m)), _mm_unpackhi_epi16(m, m),
                                         1);
    int msum = k_hsum256(_mm256_madd_epi16(a->bsums, mm));   /* m_j * (b_2j + b_2j+1) */
    float dall = a->d * w->d, dmin = a->d * w->dmin;
    return dall * (float)isum - dmin * (float)msum;
}

/* Four rows' super-blocks (the same block index), decoded: the rows, their mins as int16 (row r's m0..m7 in
   128-bit lane r: Q4_K/Q5_K) and their d, dmin in lane r */
struct kw4 {
    struct kw r[4];
    __m512i mins;
    __m128 d, dmin;
};

AVX512_INLINE void k_load_w4(int kk, const uint8_t *const *x, size_t off, struct kw4 *w)
{
    for (int r = 0; r < 4; r++)
        k_load_w(kk, x[r] + off, &w->r[r]);
    w->d = _mm_setr_ps(w->r[0].d, w->r[1].d, w->r[2].d, w->r[3].d);
    if (kk != K_Q6) {
        w->dmin = _mm_setr_ps(w->r[0].dmin, w->r[1].dmin, w->r[2].dmin, w->r[3].dmin);
        w->mins = _mm512_cvtepu8_epi16(_mm256_setr_epi64x((long long)w->r[0].mn, (long long)w->r[1].mn,
                                                          (long long)w->r[2].mn, (long long)w->r[3].mn));
    }
}

/* 4 rows' terms against one activation super-block, lane r = row r (k_term's expression lane by lane) */
AVX512_INLINE __m128 k_terms4(int kk, const struct kw4 *w, const struct ka *a)
{
    __m512i g = fold_4x4(k_isum_lanes(kk, &w->r[0], a), k_isum_lanes(kk, &w->r[1], a),
                         k_isum_lanes(kk, &w->r[2], a), k_isum_lanes(kk, &w->r[3], a));   /* lane 4k + r */
    __m256i g2 = _mm256_add_epi32(_mm512_castsi512_si256(g), _mm512_extracti64x4_epi64(g, 1));
    __m128i isum = _mm_add_epi32(_mm256_castsi256_si128(g2), _mm256_extracti128_si256(g2, 1));   /* lane r */
    __m128 yd = _mm_set1_ps(a->d);
    if (kk == K_Q6)
        return _mm_mul_ps(_mm_mul_ps(yd, w->d), _mm_cvtepi32_ps(isum));
    /* msum: m_j * (b_2j + b_2j+1), the pair sums as int16 (|.| <= 2 * 16 * 128) in every 128-bit lane */
    __m256i bp32 = _mm256_madd_epi16(a->bsums, _mm256_set1_epi16(1));
    __m512i bp = _mm512_broadcast_i32x4(_mm256_cvtepi32_epi16(bp32));
    __m512i m = _mm512_madd_epi16(w->mins, bp);   /* 128-bit lane r: row r */
    m = _mm512_add_epi32(m, _mm512_shuffle_epi32(m, _MM_PERM_BADC));
    m = _mm512_add_epi32(m, _mm512_shuffle_epi32(m, _MM_PERM_CDAB));
    __m128i msum = _mm512_castsi512_si128(_mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 0, 0, 0, 0, 0,
                                                                                     0, 0, 0, 0, 0, 0, 0), m));
    __m128 dall = _mm_mul_ps(yd, w->d), dmin = _mm_mul_ps(yd, w->dmin);
    return _mm_sub_ps(_mm_mul_ps(dall, _mm_cvtepi32_ps(isum)), _mm_mul_ps(dmin, _mm_cvtepi32_ps(msum)));
}

/* ---- K-quants x Q8_K: vec_dot, rows (the decode step), 4x4 tiles (prefill) ---- */

AVX512_INLINE void k_vec_dot(int kk, int64_t n, float *s, const void *vx, const void *vy)
{
    const uint8_t *xb = vx;
    const block_q8_K *y = vy;
    const size_t bsz = k_block_size(kk);
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        struct kw w;
        struct ka a;
        k_load_w(kk, xb + (size_t)b * bsz, &w);
        k_load_act(kk, y + b, &a);
        sum += k_term(kk, &w, &a);
    }
    *s = sum;
}

/* 4 rows (x[0..3]) against one activation row: s[0..cnt-1]; each activation super-block loaded once for the 4;
   prefetches pf bytes ahead of x[0] (pf 0: none), a slice of the next rows per super-block */
AVX512_INLINE void k_rows4(int kk, int64_t nb, int cnt, float *s, const uint8_t *const *x, size_t bx,
                           const block_q8_K *y, size_t pf)
{
    const size_t bsz = k_block_size(kk);
    size_t pf_chunk = pf ? prefetch_chunk(4 * bx, nb) : 0;
    __m128 acc = _mm_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        if (pf)
            prefetch_part((const char *)x[0] + pf, pf_chunk, b);
        struct ka a;
        struct kw4 w;
        k_load_act(kk, y + b, &a);
        k_load_w4(kk, x, (size_t)b * bsz, &w);
        acc = _mm_add_ps(acc, k_terms4(kk, &w, &a));
    }
    if (cnt == 4) {
        _mm_storeu_ps(s, acc);
    } else {
        float out[4];
        _mm_storeu_ps(out, acc);
        for (int r = 0; r < cnt; r++)
            s[r] = out[r];
    }
}

AVX512_INLINE void k_vec_dot_rows(int kk, int64_t n, int64_t nr, float *s, const void *vx, size_t bx, const void *vy)
{
    const uint8_t *base = vx;
    const uint8_t *x[4];
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
        for (int k = 0; k < 4; k++)
            x[k] = base + (size_t)(r + k) * bx;
        k_rows4(kk, n / QK_K, 4, s + r, x, bx, vy, PF_ROWS * bx);
    }
    if (r < nr) {   /* 1..3 rows left: the last one repeated in the unused lanes */
        for (int k = 0; k < 4; k++)
            x[k] = base + (size_t)(r + k < nr ? r + k : nr - 1) * bx;
        k_rows4(kk, n / QK_K, (int)(nr - r), s + r, x, bx, vy, 0);
    }
}

/* 4 rows x 4 activation rows, s[t * ls + r]: per super-block the 4 rows are decoded once (16 zmm), then each
   activation row is loaded once and meets all 4 */
AVX512_INLINE void k_vec_dot_tile(int kk, int64_t n, float *s, size_t ls, const void *vx, size_t bx, const void *vy,
                                  size_t by)
{
    const size_t bsz = k_block_size(kk);
    const uint8_t *x[4];
    for (int r = 0; r < 4; r++)
        x[r] = (const uint8_t *)vx + (size_t)r * bx;
    __m128 acc[4] = { _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps(), _mm_setzero_ps() };
    for (int64_t b = 0; b < n / QK_K; b++) {
        struct kw4 w;
        k_load_w4(kk, x, (size_t)b * bsz, &w);
        for (int t = 0; t < 4; t++) {
            struct ka a;
            k_load_act(kk, (const block_q8_K *)((const uint8_t *)vy + (size_t)t * by) + b, &a);
            acc[t] = _mm_add_ps(acc[t], k_terms4(kk, &w, &a));
        }
    }
    for (int t = 0; t < 4; t++)
        _mm_storeu_ps(s + (size_t)t * ls, acc[t]);
}

void AVX512 vec_dot_q4_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q4, n, s, vx, vy);
}
void AVX512 vec_dot_q5_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q5, n, s, vx, vy);
}
void AVX512 vec_dot_q6_K_q8_K_avx512(int64_t n, float *s, const void *vx, const void *vy)
{
    k_vec_dot(K_Q6, n, s, vx, vy);
}
void AVX512 vec_dot_rows_q4_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q4, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_rows_q5_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q5, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_rows_q6_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y)
{
    k_vec_dot_rows(K_Q6, n, nr, s, x, bx, y);
}
void AVX512 vec_dot_tile_q4_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    k_vec_dot_tile(K_Q4, n, s, ls, x, bx, y, by);
}
void AVX512 vec_dot_tile_q5_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    k_vec_dot_tile(K_Q5, n, s, ls, x, bx, y, by);
}
void AVX512 vec_dot_tile_q6_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                         size_t by)
{
    k_vec_dot_tile(K_Q6, n, s, ls, x, bx, y, by);
}

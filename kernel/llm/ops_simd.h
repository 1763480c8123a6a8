/* The SIMD twins of the float kernels of llm/ops.c: RMSNorm (the reference's 16 double partial sums held as
   8 x 2, 4 x 4 or 2 x 8 lanes), RoPE, softmax, SwiGLU, argmax and the attention over the KV cache. Same signatures
   as the scalar references in ops.c, bit-identical to them; ops.c dispatches to the best one for the installed
   quant kernel set (llm/ggml_types.c: sse2, avx2 or avx512). Tests: tests/test_llm_ops_simd.py (random data,
   odd sizes, special values). */
#ifndef LLM_OPS_SIMD_H
#define LLM_OPS_SIMD_H
#include <stddef.h>
#include <stdint.h>

/* SSE2 (llm/ops_sse2.c): k_expf 2 lanes of double at a time */
void ops_softmax_sse2(float *x, int n);
void ops_swiglu_sse2(float *gate, const float *up, int n);
void ops_expf4_sse2(const float *x, float *y);   /* 4 values of k_expf, bit for bit */
void ops_rmsnorm_sse2(float *out, const float *x, const float *weight, int n, float eps);
double ops_rmsnorm_sumsq_sse2(const float *x, int n);   /* ops_rmsnorm_sumsq_ref, bit for bit */
void ops_rope_range_sse2(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1);
int ops_argmax_sse2(const float *x, int n);

/* AVX2 (llm/ops_avx2.c): k_expf evaluated 4 lanes at a time in double, the reference's operations in its order */
void ops_softmax_avx2(float *x, int n);
/* ops_softmax_ref of `rows` rows of n floats back to back; the rows' scalar chains (max scan, double sum)
   interleaved four at a time, each still in index order (attention's heads of one KV group) */
void ops_softmax_rows_avx2(float *x, int rows, int n);
void ops_swiglu_avx2(float *gate, const float *up, int n);
/* ops_argmax_ref's index: the largest value by vector max (NaN lanes never taken), then its first index */
int ops_argmax_avx2(const float *x, int n);
/* 8 values of k_expf (lib/math.h), bit for bit */
void ops_expf8_avx2(const float *x, float *y);
void ops_rmsnorm_avx2(float *out, const float *x, const float *weight, int n, float eps);
double ops_rmsnorm_sumsq_avx2(const float *x, int n);   /* ops_rmsnorm_sumsq_ref, bit for bit */
void ops_rope_range_avx2(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1);

/* AVX-512 F/BW/VL/DQ (llm/ops_avx512.c): the same, 8 lanes of double at a time */
void ops_softmax_avx512(float *x, int n);
void ops_softmax_rows_avx512(float *x, int rows, int n);
void ops_swiglu_avx512(float *gate, const float *up, int n);
void ops_expf16_avx512(const float *x, float *y);
void ops_rmsnorm_avx512(float *out, const float *x, const float *weight, int n, float eps);
double ops_rmsnorm_sumsq_avx512(const float *x, int n);   /* ops_rmsnorm_sumsq_ref, bit for bit */
void ops_rope_range_avx512(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1);

/* AVX-512 value pass of the attention (llm/attn_avx512.c): out = sum_t p[t] * v_t, head_dim a multiple of 16;
   llm/attn_avx2.c uses it when ops_simd_avx512() */
void attention_values_avx512(float *out, const float *p, const void *v, size_t stride, int kv_f16, int n_pos,
                             int head_dim);
int ops_simd_avx512(void);   /* llm/ggml_types.c installed the AVX-512 set (llm/ops.c) */

/* SSE2 (llm/attn_sse2.c): ops_attention_heads, 4 positions (scores) or 4 dimensions (values) per vector; fp16
   caches converted with integer operations (no F16C); head_dim a multiple of 4 */
void attention_heads_sse2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                          int kv_f16, int n_pos, int head_dim, float scale, float *scores);
/* Prefill form (llm/attn_sse2.c): attention_kv_prepare_avx2's layout and contract below, each 8-position row of a
   block read as two vectors of 4; head_dim a multiple of 4 */
void attention_kv_prepare_sse2(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                               int head_dim, int n_pos, int b0, int b1);
void attention_heads_kt_sse2(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                             int n_pos, int head_dim, float scale, float *scores);

/* AVX2 + F16C (llm/attn_avx2.c): ops_attention_heads / ops_attention_head; head_dim a multiple of 8 */
void attention_heads_avx2(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                          int kv_f16, int n_pos, int head_dim, float scale, float *scores);

/* Prefill form (llm/attn_avx2.c): attention_kv_prepare_avx2 writes blocks b0..b1-1 of 8 positions of one KV
   head: kt block b is (head_dim, 8) f32 (kt[(b * head_dim + i) * 8 + j] = key of position 8b + j, dim i; zero
   for positions >= n_pos) and, when v32 is not NULL, the values of positions < n_pos as f32 rows `stride` apart
   (the cache's layout). attention_heads_kt_avx2 is ops_attention_heads on that copy, bit for bit. */
void attention_kv_prepare_avx2(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                               int head_dim, int n_pos, int b0, int b1);
void attention_heads_kt_avx2(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                             int n_pos, int head_dim, float scale, float *scores);

#endif

/* The float building blocks of the forward pass (llm/llama.c): RMSNorm, RoPE, softmax, SwiGLU, attention over
   the KV cache for one head, and matrix products through the ggml type table (llm/ggml_types.h), where the
   activations are first quantized per row to the weight type's vec_dot_type as ggml does. Scalar references
   here; their SIMD twins (llm/ops_sse2.c, ops_avx2.c, ops_avx512.c, attn_sse2.c, attn_avx2.c, attn_avx512.c) have
   the same signatures, are chosen at run time by the installed quant kernel set, and are tested against them
   (tests/test_llm_ops_simd.py). */
#ifndef LLM_OPS_H
#define LLM_OPS_H
#include <stddef.h>
#include <stdint.h>
#include "llm/ggml_types.h"

/* A read-only 2-D weight pointing into the baked GGUF: n_rows rows of n_cols elements of type `type`. */
struct ops_weight {
    const void *data;
    enum ggml_type type;
    int64_t n_cols;        /* ne[0], the row (dot product) length */
    int64_t n_rows;        /* ne[1] */
    size_t row_size;       /* bytes per row */
};

/* Bytes ops_matmul needs in qbuf to quantize n_batch activation rows of length n for weight type t. */
size_t ops_act_size(enum ggml_type t, int64_t n, int n_batch);

/* out[b * w->n_rows + r] = dot(row r of w, x[b * w->n_cols ...]) for b < n_batch, r < n_rows.
   x rows are quantized into qbuf (ops_act_size bytes) before any output is written, so out may alias x;
   each weight row is read once per batch. */
void ops_matmul(float *out, const struct ops_weight *w, const float *x, int n_batch, void *qbuf);

/* The two halves of ops_matmul, for splitting a product across workers (issue 6): quantize the n_batch rows of
   x once, then any worker computes output rows [r0, r1) from qbuf. */
void ops_quantize_act(void *qbuf, const struct ops_weight *w, const float *x, int n_batch);
void ops_matmul_rows(float *out, const struct ops_weight *w, const void *qbuf, int n_batch, int64_t r0, int64_t r1);
/* Elements [e0, e1) of one activation row (w->n_cols long), quantized into that row's blocks of qrow (the row
   ops_quantize_act would write): e0 and e1 multiples of ops_act_block(w) or e1 = n_cols. Blocks are quantized
   independently, so pieces give the same bytes as the whole row: a worker quantizes what it just computed. */
void ops_quantize_act_part(void *qrow, const struct ops_weight *w, const float *xrow, int64_t e0, int64_t e1);
int64_t ops_act_block(const struct ops_weight *w);   /* elements per block of w's activation type */
size_t ops_act_row_size(const struct ops_weight *w); /* bytes of one quantized activation row */
/* ops_matmul after ops_quantize_act: all rows, split across the CPUs */
void ops_matmul_quantized(float *out, const struct ops_weight *w, const void *qbuf, int n_batch);

/* Dequantize row `row` of w into out (w->n_cols floats): embedding lookup. */
void ops_get_row(float *out, const struct ops_weight *w, int64_t row);

/* out = x / sqrt(mean(x^2) + eps) * weight, out[i] = (x[i] * scale) * weight[i]. out may equal x.
   The sum of squares is in double (as ggml), over OPS_RMS_LANES partial sums (element i into lane
   i % OPS_RMS_LANES, each in index order) added by a fixed halving tree (ops_rmsnorm_sumsq_ref): an order every
   SIMD twin (llm/ops_sse2.c, ops_avx2.c, ops_avx512.c) reproduces, so they are bit-identical to ops_rmsnorm_ref;
   ops_rmsnorm picks the fastest. */
#define OPS_RMS_LANES 16
void ops_rmsnorm(float *out, const float *x, const float *weight, int n, float eps);
void ops_rmsnorm_ref(float *out, const float *x, const float *weight, int n, float eps);
double ops_rmsnorm_sumsq_ref(const float *x, int n);
float ops_rmsnorm_scale(double sumsq, int n, float eps);   /* 1 / k_sqrtf((float)(sumsq / n) + eps) */

/* Rotate the first n_rot dims of each of n_heads heads (head_dim apart) in llama's "normal" mode:
   adjacent pairs (x[2i], x[2i+1]) by the angle whose cos/sin are cs[2i], cs[2i+1] (ops_rope_cos_sin). */
void ops_rope(float *x, int n_heads, int head_dim, int n_rot, const float *cs);
/* The same for elements [e0, e1) of the heads only (e0, e1, head_dim and n_rot even, as llm/llama.c checks):
   a worker rotates the rows it computed. Every element gets the same arithmetic as in ops_rope, and the SIMD
   twins (no FMA) the same as ops_rope_range_ref, bit for bit; ops_rope_range picks the fastest. */
void ops_rope_range(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1);
void ops_rope_range_ref(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1);

/* cs[2i], cs[2i+1] = cos, sin of pos * inv_freq[i] for i < n_rot / 2 (angle in double, reduced to [-pi, pi]). */
void ops_rope_cos_sin(float *cs, int n_rot, double pos, const double *inv_freq);

/* x = softmax(x), in place, max-subtracted; the exponentials are lib/math.h's k_expf, their sum is in double,
   in index order. ops_softmax picks the fastest twin (llm/ops_avx2.c), all bit-identical to ops_softmax_ref. */
void ops_softmax(float *x, int n);
void ops_softmax_ref(float *x, int n);
/* ops_softmax of `rows` rows of n floats back to back */
void ops_softmax_rows(float *x, int rows, int n);

/* gate[i] = silu(gate[i]) * up[i] = gate[i] / (1 + k_expf(-gate[i])) * up[i]; twins bit-identical to the ref. */
void ops_swiglu(float *gate, const float *up, int n);
void ops_swiglu_ref(float *gate, const float *up, int n);

/* The first index of the largest of x[0..n) (NaNs never win; 0 when x[0] is NaN): greedy sampling. */
int ops_argmax(const float *x, int n);
int ops_argmax_ref(const float *x, int n);

/* One attention head over n_pos cached positions: out = softmax(q . k_t * scale) . v_t, t < n_pos.
   k/v: the first position's head slice; stride: elements between positions; kv_f16: fp16 (else f32) cache.
   scores: n_pos floats of scratch. Scalar reference. */
void ops_attention_head(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                        int n_pos, int head_dim, float scale, float *scores);

/* nq heads that share one KV head (grouped-query attention): q and out hold nq heads of head_dim back to back;
   scores: nq * n_pos floats. Each head's result is ops_attention_head's, bit for bit (the AVX2 twin,
   llm/attn_avx2.c, and the SSE2 one, llm/attn_sse2.c, load and convert each cached key once for all nq heads). */
void ops_attention_heads(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                         int kv_f16, int n_pos, int head_dim, float scale, float *scores);

/* Prefill form of ops_attention_heads, when ops_attention_kt_ok(head_dim) (the AVX2 set with head_dim a multiple
   of 8, or the SSE2 set with a multiple of 4): once per layer, ops_attention_kv_prepare converts a KV head's keys
   of positions [8 * b0, 8 * b1) (n_pos written) into f32 blocks of 8 positions transposed ((head_dim, 8) each, kt)
   and, unless v32 is NULL, its values into f32 rows `stride` apart; then ops_attention_heads_kt computes what
   ops_attention_heads computes, bit for bit, from them (v: the f32 values, v32 or an f32 cache).
   llm/attn_avx2.c, llm/attn_sse2.c (the same layout). */
int ops_attention_kt_ok(int head_dim);
void ops_attention_kv_prepare(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                              int head_dim, int n_pos, int b0, int b1);
void ops_attention_heads_kt(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                            int n_pos, int head_dim, float scale, float *scores);

#endif

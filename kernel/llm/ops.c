/* Scalar float kernels of the forward pass (see ops.h) and the dispatch to their SIMD twins (llm/ops_sse2.c,
   llm/ops_avx2.c, llm/ops_avx512.c, llm/attn_sse2.c, llm/attn_avx2.c). The quantized dot products themselves
   live in the type table (llm/ggml_types.h, llm/quant_ref.c); this file only feeds them. Uses lib/math.h, never
   libm. */
#include "llm/ops.h"
#include "llm/fp16.h"
#include "llm/matmul.h"
#include "llm/ops_simd.h"
#include "llm/quant_simd.h"
#include "llm/workers.h"
#include "lib/math.h"

size_t ops_act_size(enum ggml_type t, int64_t n, int n_batch)
{
    const struct ggml_type_traits *tt = ggml_get_type_traits(t);
    if (!tt)
        return 0;
    return ggml_row_size(tt->vec_dot_type, n) * (size_t)n_batch;
}

void ops_quantize_act(void *qbuf, const struct ops_weight *w, const float *x, int n_batch)
{
    const struct ggml_type_traits *tt = ggml_get_type_traits(w->type);
    const struct ggml_type_traits *vt = ggml_get_type_traits(tt->vec_dot_type);
    size_t qrow = ggml_row_size(tt->vec_dot_type, w->n_cols);
    for (int b = 0; b < n_batch; b++)
        vt->from_float(x + (size_t)b * w->n_cols, (uint8_t *)qbuf + (size_t)b * qrow, w->n_cols);
}

int64_t ops_act_block(const struct ops_weight *w)
{
    return ggml_get_type_traits(ggml_get_type_traits(w->type)->vec_dot_type)->blck_size;
}

size_t ops_act_row_size(const struct ops_weight *w)
{
    return ggml_row_size(ggml_get_type_traits(w->type)->vec_dot_type, w->n_cols);
}

void ops_quantize_act_part(void *qrow, const struct ops_weight *w, const float *xrow, int64_t e0, int64_t e1)
{
    const struct ggml_type_traits *vt = ggml_get_type_traits(ggml_get_type_traits(w->type)->vec_dot_type);
    vt->from_float(xrow + e0, (uint8_t *)qrow + (size_t)(e0 / vt->blck_size) * vt->type_size, e1 - e0);
}

void ops_matmul_rows(float *out, const struct ops_weight *w, const void *qbuf, int n_batch, int64_t r0, int64_t r1)
{
    /* llm/matmul.c: 4x4 tiles (each weight block loaded once per 4 tokens) or 4-row kernels per token */
    matmul_q_ld(ggml_get_type_traits(w->type), (const uint8_t *)w->data + (size_t)r0 * w->row_size, w->row_size,
                r1 - r0, w->n_cols, qbuf, n_batch, out + r0, (size_t)w->n_rows);
}

struct matmul_job { float *out; const struct ops_weight *w; const void *qbuf; int n_batch; };

static void matmul_chunk(void *ctx, int64_t r0, int64_t r1, int cpu)
{
    (void)cpu;
    const struct matmul_job *j = ctx;
    ops_matmul_rows(j->out, j->w, j->qbuf, j->n_batch, r0, r1);
}

void ops_matmul_quantized(float *out, const struct ops_weight *w, const void *qbuf, int n_batch)
{
    struct matmul_job j = {out, w, qbuf, n_batch};
    workers_run(matmul_chunk, &j, w->n_rows, 16);   /* rows split across the CPUs (llm/workers.h) */
}

void ops_matmul(float *out, const struct ops_weight *w, const float *x, int n_batch, void *qbuf)
{
    ops_quantize_act(qbuf, w, x, n_batch);
    ops_matmul_quantized(out, w, qbuf, n_batch);
}

void ops_get_row(float *out, const struct ops_weight *w, int64_t row)
{
    ggml_get_type_traits(w->type)->to_float((const uint8_t *)w->data + (size_t)row * w->row_size, out, w->n_cols);
}

/* The sum of squares: element i goes to lane i % OPS_RMS_LANES (squares of floats are exact in double, so only
   the order of the additions matters), each lane in index order; then lanes j and j + 8, j + 4, j + 2, j + 1 are
   added (a halving tree). A vector of 2, 4 or 8 doubles per register holds the same 16 lanes (8, 4 or 2
   registers), and a zero-padded last block adds +0.0 to the lanes past n, which changes nothing: every ISA's twin
   gets these bits. */
double ops_rmsnorm_sumsq_ref(const float *x, int n)
{
    double lane[OPS_RMS_LANES] = { 0.0 };
    for (int i = 0; i < n; i++)
        lane[i % OPS_RMS_LANES] += (double)x[i] * (double)x[i];
    for (int w = OPS_RMS_LANES / 2; w >= 1; w /= 2)
        for (int j = 0; j < w; j++)
            lane[j] += lane[j + w];
    return lane[0];
}

/* The factor 1 / sqrt(mean + eps) of a sum of squares (shared by the twins) */
float ops_rmsnorm_scale(double sumsq, int n, float eps)
{
    return 1.0f / k_sqrtf((float)(sumsq / n) + eps);
}

void ops_rmsnorm_ref(float *out, const float *x, const float *weight, int n, float eps)
{
    float scale = ops_rmsnorm_scale(ops_rmsnorm_sumsq_ref(x, n), n, eps);
    for (int i = 0; i < n; i++)
        out[i] = (x[i] * scale) * weight[i];
}

void ops_rope_cos_sin(float *cs, int n_rot, double pos, const double *inv_freq)
{
    const double two_pi = 6.283185307179586476925286766559;
    for (int i = 0; i < n_rot / 2; i++) {
        double a = pos * inv_freq[i];
        a -= two_pi * k_floor(a / two_pi + 0.5);     /* [-pi, pi]: float sin/cos stay accurate */
        cs[2 * i] = k_cosf((float)a);
        cs[2 * i + 1] = k_sinf((float)a);
    }
}

void ops_rope_range_ref(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1)
{
    for (int64_t h0 = e0 - e0 % head_dim; h0 < e1; h0 += head_dim) {
        float *v = x + h0;
        int64_t i0 = e0 > h0 ? e0 - h0 : 0, i1 = e1 - h0 < n_rot ? e1 - h0 : n_rot;
        for (int64_t i = i0; i < i1; i += 2) {
            float c = cs[i], s = cs[i + 1];
            float x0 = v[i], x1 = v[i + 1];
            v[i] = x0 * c - x1 * s;
            v[i + 1] = x0 * s + x1 * c;
        }
    }
}

void ops_rope(float *x, int n_heads, int head_dim, int n_rot, const float *cs)
{
    ops_rope_range(x, head_dim, n_rot, cs, 0, (int64_t)n_heads * head_dim);
}

void ops_softmax_ref(float *x, int n)
{
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max)
            max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = k_expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++)
        x[i] *= inv;
}

/* The AVX-512 set is installed (llm/ggml_types.c names it "avx512"; it includes the AVX2 one) */
int ops_simd_avx512(void)
{
    const char *name = ggml_types_simd_name();
    return name[0] == 'a' && name[1] == 'v' && name[2] == 'x' && name[3] == '5';
}

/* Only the SSE2 set is installed (a CPU without AVX2) */
static int ops_simd_sse2(void)
{
    const char *name = ggml_types_simd_name();
    return name[0] == 's' && name[1] == 's' && name[2] == 'e';
}

void ops_rmsnorm(float *out, const float *x, const float *weight, int n, float eps)
{
    if (ops_simd_avx512())
        ops_rmsnorm_avx512(out, x, weight, n, eps);
    else if (ggml_types_simd_avx2())
        ops_rmsnorm_avx2(out, x, weight, n, eps);
    else if (ops_simd_sse2())
        ops_rmsnorm_sse2(out, x, weight, n, eps);
    else
        ops_rmsnorm_ref(out, x, weight, n, eps);
}

void ops_rope_range(float *x, int head_dim, int n_rot, const float *cs, int64_t e0, int64_t e1)
{
    if (ops_simd_avx512())
        ops_rope_range_avx512(x, head_dim, n_rot, cs, e0, e1);
    else if (ggml_types_simd_avx2())
        ops_rope_range_avx2(x, head_dim, n_rot, cs, e0, e1);
    else if (ops_simd_sse2())
        ops_rope_range_sse2(x, head_dim, n_rot, cs, e0, e1);
    else
        ops_rope_range_ref(x, head_dim, n_rot, cs, e0, e1);
}

void ops_softmax(float *x, int n)
{
    ops_softmax_rows(x, 1, n);
}

void ops_softmax_rows(float *x, int rows, int n)
{
    if (ops_simd_avx512())
        ops_softmax_rows_avx512(x, rows, n);
    else if (ggml_types_simd_avx2())
        ops_softmax_rows_avx2(x, rows, n);
    else
        for (int r = 0; r < rows; r++)
            (ops_simd_sse2() ? ops_softmax_sse2 : ops_softmax_ref)(x + (size_t)r * n, n);
}

void ops_swiglu_ref(float *gate, const float *up, int n)
{
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        gate[i] = g / (1.0f + k_expf(-g)) * up[i];
    }
}

void ops_swiglu(float *gate, const float *up, int n)
{
    if (ops_simd_avx512())
        ops_swiglu_avx512(gate, up, n);
    else if (ggml_types_simd_avx2())
        ops_swiglu_avx2(gate, up, n);
    else if (ops_simd_sse2())
        ops_swiglu_sse2(gate, up, n);
    else
        ops_swiglu_ref(gate, up, n);
}

int ops_argmax_ref(const float *x, int n)
{
    int best = 0;
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) {
            max = x[i];
            best = i;
        }
    return best;
}

int ops_argmax(const float *x, int n)
{
    if (ggml_types_simd_avx2())
        return ops_argmax_avx2(x, n);
    return ops_simd_sse2() ? ops_argmax_sse2(x, n) : ops_argmax_ref(x, n);
}

void ops_attention_head(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                        int n_pos, int head_dim, float scale, float *scores)
{
    for (int t = 0; t < n_pos; t++) {
        float s = 0.0f;
        if (kv_f16) {
            const uint16_t *kt = (const uint16_t *)k + (size_t)t * stride;
            for (int i = 0; i < head_dim; i++)
                s += q[i] * fp16_to_fp32(kt[i]);
        } else {
            const float *kt = (const float *)k + (size_t)t * stride;
            for (int i = 0; i < head_dim; i++)
                s += q[i] * kt[i];
        }
        scores[t] = s * scale;
    }
    ops_softmax_ref(scores, n_pos);
    for (int i = 0; i < head_dim; i++)
        out[i] = 0.0f;
    for (int t = 0; t < n_pos; t++) {
        float p = scores[t];
        if (kv_f16) {
            const uint16_t *vt = (const uint16_t *)v + (size_t)t * stride;
            for (int i = 0; i < head_dim; i++)
                out[i] += p * fp16_to_fp32(vt[i]);
        } else {
            const float *vt = (const float *)v + (size_t)t * stride;
            for (int i = 0; i < head_dim; i++)
                out[i] += p * vt[i];
        }
    }
}

void ops_attention_heads(float *out, const float *q, int nq, const void *k, const void *v, size_t stride,
                         int kv_f16, int n_pos, int head_dim, float scale, float *scores)
{
    if (head_dim % 8 == 0 && ggml_types_simd_avx2()) {   /* llm/attn_avx2.c: the same bits, vectorised */
        attention_heads_avx2(out, q, nq, k, v, stride, kv_f16, n_pos, head_dim, scale, scores);
        return;
    }
    if (head_dim % 4 == 0 && ops_simd_sse2()) {          /* llm/attn_sse2.c: the same bits, 4 lanes */
        attention_heads_sse2(out, q, nq, k, v, stride, kv_f16, n_pos, head_dim, scale, scores);
        return;
    }
    for (int h = 0; h < nq; h++)
        ops_attention_head(out + (size_t)h * head_dim, q + (size_t)h * head_dim, k, v, stride, kv_f16, n_pos,
                           head_dim, scale, scores + (size_t)h * n_pos);
}

/* The prefill kernels ops_attention_heads would pick: AVX2 (llm/attn_avx2.c) for head_dim a multiple of 8,
   SSE2 (llm/attn_sse2.c) for a multiple of 4; the same blocks of 8 positions either way */
static int ops_attention_kt_avx2(int head_dim) { return head_dim % 8 == 0 && ggml_types_simd_avx2(); }

int ops_attention_kt_ok(int head_dim)
{
    return ops_attention_kt_avx2(head_dim) || (head_dim % 4 == 0 && ops_simd_sse2());
}

void ops_attention_kv_prepare(float *kt, float *v32, const void *k, const void *v, size_t stride, int kv_f16,
                              int head_dim, int n_pos, int b0, int b1)
{
    (ops_attention_kt_avx2(head_dim) ? attention_kv_prepare_avx2 : attention_kv_prepare_sse2)(
        kt, v32, k, v, stride, kv_f16, head_dim, n_pos, b0, b1);
}

void ops_attention_heads_kt(float *out, const float *q, int nq, const float *kt, const float *v, size_t stride,
                            int n_pos, int head_dim, float scale, float *scores)
{
    (ops_attention_kt_avx2(head_dim) ? attention_heads_kt_avx2 : attention_heads_kt_sse2)(
        out, q, nq, kt, v, stride, n_pos, head_dim, scale, scores);
}

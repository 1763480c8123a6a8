/* llama forward pass (see llama.h): model setup from GGUF metadata and tensors, then per layer
   RMSNorm -> Q/K/V -> RoPE -> GQA attention over the KV cache -> output projection -> residual ->
   RMSNorm -> SwiGLU feed-forward -> residual; final RMSNorm and the output head. Kernels in llm/ops.c; the
   steps are grouped into five parallel jobs per layer for the worker pool (llm/workers.h, "forward" below). */
#include "llm/llama.h"
#include "llm/prof.h"
#include "llm/workers.h"
#include "core/heap.h"
#include "lib/fmt.h"
#include "lib/math.h"
#include "lib/string.h"

/* ---- metadata ---- */

static int llama_key(const struct gguf_file *f, const char *arch, const char *name, int64_t *idx)
{
    char key[128];
    fmt_snprintf(key, sizeof key, "%s.%s", arch, name);
    *idx = gguf_find_key(f, key);
    return *idx >= 0;
}

/* An integer hyper-parameter in [lo, hi]; def < 0 means required. 0 or -1 (err written). */
static int llama_get_int(const struct gguf_file *f, const char *arch, const char *name, int64_t def,
                         int64_t lo, int64_t hi, int *out, char *err, size_t errlen)
{
    int64_t idx, v = def;
    if (llama_key(f, arch, name, &idx)) {
        if (gguf_get_int(f, idx, &v) != 0) {
            fmt_snprintf(err, errlen, "%s.%s: not an integer", arch, name);
            return -1;
        }
    } else if (def < 0) {
        fmt_snprintf(err, errlen, "%s.%s: missing", arch, name);
        return -1;
    }
    if (v < lo || v > hi) {
        fmt_snprintf(err, errlen, "%s.%s = %lld: outside %lld..%lld", arch, name, (long long)v, (long long)lo,
                     (long long)hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int llama_get_float(const struct gguf_file *f, const char *arch, const char *name, float def,
                           float *out, char *err, size_t errlen)
{
    int64_t idx;
    *out = def;
    if (!llama_key(f, arch, name, &idx))
        return 0;
    double d;
    float v;
    if (gguf_get_f32(f, idx, &v) == 0)
        d = v;
    else if (gguf_get_f64(f, idx, &d) != 0) {
        fmt_snprintf(err, errlen, "%s.%s: not a float", arch, name);
        return -1;
    }
    if (!(d > 0.0) || k_isinf(d)) {
        fmt_snprintf(err, errlen, "%s.%s: must be a positive number", arch, name);
        return -1;
    }
    *out = (float)d;
    return 0;
}

/* ---- tensors ---- */

static int llama_weight(const struct gguf_file *f, const char *name, int64_t cols, int64_t rows,
                        struct ops_weight *w, char *err, size_t errlen)
{
    const struct gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        fmt_snprintf(err, errlen, "tensor %s: missing", name);
        return -1;
    }
    if (t->n_dims > 2 || t->ne[0] != cols || t->ne[1] != rows) {
        fmt_snprintf(err, errlen, "tensor %s: shape [%lld, %lld], expected [%lld, %lld]", name,
                     (long long)t->ne[0], (long long)t->ne[1], (long long)cols, (long long)rows);
        return -1;
    }
    const struct ggml_type_traits *tt = ggml_get_type_traits(t->type);
    const struct ggml_type_traits *vt = tt ? ggml_get_type_traits(tt->vec_dot_type) : NULL;
    if (!tt || !tt->to_float || !tt->vec_dot || !vt || !vt->from_float || cols % vt->blck_size) {
        fmt_snprintf(err, errlen, "tensor %s: type %s cannot be used for a matrix product", name,
                     ggml_type_name(t->type));
        return -1;
    }
    w->data = t->data;
    w->type = t->type;
    w->n_cols = cols;
    w->n_rows = rows;
    w->row_size = ggml_row_size(t->type, cols);
    return 0;
}

static int llama_norm(const struct gguf_file *f, const char *name, int64_t n, const float **out, char *err,
                      size_t errlen)
{
    const struct gguf_tensor *t = gguf_find_tensor(f, name);
    if (!t) {
        fmt_snprintf(err, errlen, "tensor %s: missing", name);
        return -1;
    }
    if (t->type != GGML_TYPE_F32 || t->n_elements != n || t->ne[0] != n) {
        fmt_snprintf(err, errlen, "tensor %s: expected %lld F32 values", name, (long long)n);
        return -1;
    }
    if ((uintptr_t)t->data % 4) {
        fmt_snprintf(err, errlen, "tensor %s: data not 4-byte aligned", name);
        return -1;
    }
    *out = t->data;
    return 0;
}

int llama_model_load(struct llama_model *m, const struct gguf_file *f, char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    const char *s;
    uint64_t len;
    int64_t idx = gguf_find_key(f, "general.architecture");
    if (idx < 0 || gguf_get_str(f, idx, &s, &len) != 0 || len == 0 || len >= sizeof m->arch) {
        fmt_snprintf(err, errlen, "general.architecture: missing or not a string");
        return -1;
    }
    memcpy(m->arch, s, len);
    m->arch[len] = 0;
    if (strcmp(m->arch, "llama") != 0) {
        fmt_snprintf(err, errlen, "general.architecture = %s: only llama is supported", m->arch);
        return -1;
    }
    const char *a = m->arch;
    struct llama_hparams *hp = &m->hp;
    const int64_t big = 1 << 20;
    if (llama_get_int(f, a, "embedding_length", -1, 1, big, &hp->n_embd, err, errlen) ||
        llama_get_int(f, a, "block_count", -1, 1, 4096, &hp->n_layer, err, errlen) ||
        llama_get_int(f, a, "feed_forward_length", -1, 1, big, &hp->n_ff, err, errlen) ||
        llama_get_int(f, a, "attention.head_count", -1, 1, 4096, &hp->n_head, err, errlen) ||
        llama_get_int(f, a, "attention.head_count_kv", hp->n_head, 1, hp->n_head, &hp->n_head_kv, err, errlen) ||
        llama_get_int(f, a, "context_length", 2048, 1, 1 << 24, &hp->n_ctx_train, err, errlen))
        return -1;
    if (hp->n_embd % hp->n_head || hp->n_head % hp->n_head_kv) {
        fmt_snprintf(err, errlen, "heads: n_embd %d, n_head %d, n_head_kv %d do not divide", hp->n_embd,
                     hp->n_head, hp->n_head_kv);
        return -1;
    }
    int v_len;
    if (llama_get_int(f, a, "attention.key_length", hp->n_embd / hp->n_head, 2, 4096, &hp->head_dim, err, errlen) ||
        llama_get_int(f, a, "attention.value_length", hp->head_dim, 2, 4096, &v_len, err, errlen) ||
        llama_get_int(f, a, "rope.dimension_count", hp->head_dim, 0, hp->head_dim, &hp->n_rot, err, errlen))
        return -1;
    if (v_len != hp->head_dim || hp->head_dim % 2 || hp->n_rot % 2) {
        fmt_snprintf(err, errlen, "attention: key_length %d, value_length %d, rope dims %d unsupported",
                     hp->head_dim, v_len, hp->n_rot);
        return -1;
    }
    if (llama_get_float(f, a, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->rms_eps, err, errlen) ||
        llama_get_float(f, a, "rope.freq_base", 10000.0f, &hp->rope_base, err, errlen))
        return -1;
    hp->rope_freq_scale = 1.0f;
    if (llama_key(f, a, "rope.scaling.type", &idx) && gguf_get_str(f, idx, &s, &len) == 0) {
        float factor;
        if (len == 6 && memcmp(s, "linear", 6) == 0) {
            if (llama_get_float(f, a, "rope.scaling.factor", 1.0f, &factor, err, errlen))
                return -1;
            hp->rope_freq_scale = 1.0f / factor;
        } else if (!(len == 4 && memcmp(s, "none", 4) == 0)) {
            fmt_snprintf(err, errlen, "%s.rope.scaling.type = %.*s: unsupported", a, (int)len, s);
            return -1;
        }
    }

    const struct gguf_tensor *te = gguf_find_tensor(f, "token_embd.weight");
    if (!te || te->n_dims != 2 || te->ne[1] < 1 || te->ne[1] > (1 << 24)) {
        fmt_snprintf(err, errlen, "tensor token_embd.weight: missing or not 2-D");
        return -1;
    }
    hp->n_vocab = (int)te->ne[1];
    int64_t n_q = (int64_t)hp->n_head * hp->head_dim, n_kv = (int64_t)hp->n_head_kv * hp->head_dim;
    if (llama_weight(f, "token_embd.weight", hp->n_embd, hp->n_vocab, &m->tok_embd, err, errlen) ||
        llama_norm(f, "output_norm.weight", hp->n_embd, &m->output_norm, err, errlen))
        return -1;
    if (gguf_find_tensor(f, "output.weight")) {
        if (llama_weight(f, "output.weight", hp->n_embd, hp->n_vocab, &m->output, err, errlen))
            return -1;
    } else {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }

    m->layers = kcalloc((size_t)hp->n_layer, sizeof *m->layers);
    m->rope_inv_freq = kcalloc((size_t)hp->n_rot / 2 + 1, sizeof(double));
    if (!m->layers || !m->rope_inv_freq) {
        fmt_snprintf(err, errlen, "out of memory");
        llama_model_free(m);
        return -1;
    }
    const struct gguf_tensor *rf = gguf_find_tensor(f, "rope_freqs.weight");
    if (rf && (rf->type != GGML_TYPE_F32 || rf->n_elements != hp->n_rot / 2)) {
        fmt_snprintf(err, errlen, "tensor rope_freqs.weight: expected %d F32 values", hp->n_rot / 2);
        llama_model_free(m);
        return -1;
    }
    for (int i = 0; i < hp->n_rot / 2; i++) {
        double inv = k_pow((double)hp->rope_base, -2.0 * i / hp->n_rot) * hp->rope_freq_scale;
        if (rf) {
            float ff;
            memcpy(&ff, (const uint8_t *)rf->data + 4 * i, 4);
            inv /= ff;
        }
        m->rope_inv_freq[i] = inv;
    }

    for (int il = 0; il < hp->n_layer; il++) {
        struct llama_layer *L = &m->layers[il];
        char n[9][64];
        static const char *const names[9] = { "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_norm", "ffn_gate", "ffn_up", "ffn_down" };
        for (int i = 0; i < 9; i++)
            fmt_snprintf(n[i], sizeof n[i], "blk.%d.%s.weight", il, names[i]);
        if (llama_norm(f, n[0], hp->n_embd, &L->attn_norm, err, errlen) ||
            llama_weight(f, n[1], hp->n_embd, n_q, &L->wq, err, errlen) ||
            llama_weight(f, n[2], hp->n_embd, n_kv, &L->wk, err, errlen) ||
            llama_weight(f, n[3], hp->n_embd, n_kv, &L->wv, err, errlen) ||
            llama_weight(f, n[4], n_q, hp->n_embd, &L->wo, err, errlen) ||
            llama_norm(f, n[5], hp->n_embd, &L->ffn_norm, err, errlen) ||
            llama_weight(f, n[6], hp->n_embd, hp->n_ff, &L->w_gate, err, errlen) ||
            llama_weight(f, n[7], hp->n_embd, hp->n_ff, &L->w_up, err, errlen) ||
            llama_weight(f, n[8], hp->n_ff, hp->n_embd, &L->w_down, err, errlen)) {
            llama_model_free(m);
            return -1;
        }
    }
    return 0;
}

void llama_model_free(struct llama_model *m)
{
    kfree(m->layers);
    kfree(m->rope_inv_freq);
    m->layers = NULL;
    m->rope_inv_freq = NULL;
}

/* ---- scratch ---- */

static size_t llama_max_act(const struct llama_model *m, int n_batch)
{
    size_t best = ops_act_size(m->output.type, m->output.n_cols, n_batch);
    for (int il = 0; il < m->hp.n_layer; il++) {
        const struct llama_layer *L = &m->layers[il];
        const struct ops_weight *ws[7] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
        for (int i = 0; i < 7; i++) {
            size_t a = ops_act_size(ws[i]->type, ws[i]->n_cols, n_batch);
            if (a > best)
                best = a;
        }
    }
    return best;
}

static size_t llama_align(size_t n) { return (n + 63) & ~(size_t)63; }

/* Attention scores per CPU: every head of a KV group over n_ctx positions. */
static size_t llama_scores_per_cpu(const struct llama_model *m, int n_ctx)
{
    return llama_align((size_t)(m->hp.n_head / m->hp.n_head_kv) * (size_t)n_ctx * 4) / 4;
}

#define LLAMA_KT_MIN_BATCH 4   /* tokens from which a batch's attention reads keys/values prepared as f32 */

/* The scratch buffers as offsets in one allocation; returns the total. */
static size_t llama_scratch_layout(const struct llama_model *m, int n_batch, int n_ctx, int n_cpu, size_t off[12])
{
    const struct llama_hparams *hp = &m->hp;
    size_t nb = (size_t)n_batch, n_q = (size_t)hp->n_head * hp->head_dim;
    size_t n_kv = (size_t)hp->n_head_kv * hp->head_dim;
    size_t wide = n_q > (size_t)hp->n_embd ? n_q : (size_t)hp->n_embd;
    size_t kt_elems = n_batch >= LLAMA_KT_MIN_BATCH ? (size_t)(n_ctx + 7) / 8 * 8 * n_kv : 0;
    size_t sizes[12] = {
        nb * hp->n_embd * 4, nb * wide * 4, nb * n_q * 4, nb * n_kv * 4, nb * n_kv * 4,
        nb * hp->n_ff * 4, nb * hp->n_ff * 4, (size_t)n_cpu * llama_scores_per_cpu(m, n_ctx) * 4,
        nb * (hp->n_rot + 2) * 4, LLAMA_QBUF_AREAS * llama_align(llama_max_act(m, n_batch)),
        kt_elems * 4, kt_elems * 4,
    };
    size_t total = 0;
    for (int i = 0; i < 12; i++) {
        off[i] = total;
        total += llama_align(sizes[i]);
    }
    return total;
}

size_t llama_scratch_bytes(const struct llama_model *m, int n_batch, int n_ctx)
{
    size_t off[12];
    return llama_scratch_layout(m, n_batch, n_ctx, workers_max(), off);
}

int llama_scratch_init(struct llama_scratch *s, const struct llama_model *m, int n_batch, int n_ctx)
{
    memset(s, 0, sizeof *s);
    if (n_batch < 1 || n_ctx < 1)
        return -1;
    size_t off[12];
    int n_cpu = workers_max();           /* the APs may come up after this (smp_poll) */
    size_t total = llama_scratch_layout(m, n_batch, n_ctx, n_cpu, off);
    uint8_t *base = kmalloc_aligned(total, 64);
    if (!base)
        return -1;
    s->n_batch = n_batch;
    s->n_ctx = n_ctx;
    s->n_cpu = n_cpu;
    s->x = (float *)(base + off[0]);
    s->xb = (float *)(base + off[1]);
    s->q = (float *)(base + off[2]);
    s->k = (float *)(base + off[3]);
    s->v = (float *)(base + off[4]);
    s->hb = (float *)(base + off[5]);
    s->hb2 = (float *)(base + off[6]);
    s->scores = (float *)(base + off[7]);
    s->scores_per_cpu = llama_scores_per_cpu(m, n_ctx);
    s->rope_cs = (float *)(base + off[8]);
    s->qbuf = base + off[9];
    s->qbuf_area = llama_align(llama_max_act(m, n_batch));
    if (n_batch >= LLAMA_KT_MIN_BATCH) {
        s->kt = (float *)(base + off[10]);
        s->v32 = (float *)(base + off[11]);
        s->kt_blocks = (n_ctx + 7) / 8;
    }
    s->base = base;
    return 0;
}

void llama_scratch_free(struct llama_scratch *s)
{
    kfree(s->base);
    memset(s, 0, sizeof *s);
}

/* ---- forward ----
   Per layer, five parallel jobs (llm/workers.h), each a range of rows (or attention units) that any CPU may take
   a chunk of; between them, only what needs a whole vector runs on the caller (RMSNorm, activation
   quantization):
     qkv:    Q, K and V rows as one row space; the worker applies RoPE to the Q/K rows it computed and stores its
             K/V rows in the cache;
     attn:   one unit per (token, KV head) computing that group's query heads, which share each cached key's
             load and conversion (llm/attn_avx2.c), then quantizing them for the output projection; for a batch,
             a job first converts the layer's keys (transposed) and values to f32 once for all its tokens;
     o:      output projection rows, plus the residual add of those rows;
     ffn_up: gate and up rows, then SwiGLU of those rows, quantized for the down projection;
     down:   down projection rows, plus the residual add.
   Every element is computed by the same arithmetic whatever the split (product rows are split at multiples of
   LLAMA_ROW_ALIGN from each weight's first row), so any CPU count gives the same bits. */

#define LLAMA_ROW_ALIGN 16   /* rows per chunk multiple: matmul's 4-row groups and RoPE pairs stay whole */

struct llama_pass {
    const struct llama_model *m;
    struct llama_scratch *s;
    const struct kv_cache *kv;
    const struct llama_layer *L;
    int slot, il, n, pos0;
    int64_t k_start, v_start; /* the K and V rows' offsets in the qkv row space */
    const void *qa[3];        /* quantized activations for each weight of the current job */
    void *q_next;             /* where a job quantizes its output for the next product (NULL: not fused) */
    int kt_ready;             /* this layer's keys/values are prepared in s->kt, s->v32 (llama_kv_prepare_chunk) */
};

static int64_t llama_round_rows(int64_t r) { return (r + LLAMA_ROW_ALIGN - 1) / LLAMA_ROW_ALIGN * LLAMA_ROW_ALIGN; }

/* Rows [r0, r1) of a job, intersected with a segment of len rows at start: [a, b) of the segment, or 0. */
static int llama_segment(int64_t r0, int64_t r1, int64_t start, int64_t len, int64_t *a, int64_t *b)
{
    *a = r0 > start ? r0 - start : 0;
    *b = r1 - start < len ? r1 - start : len;
    return *a < *b;
}

/* Quantize x (n rows) once for each distinct activation type of ws[0..nw) (same row length); qa[i] for ws[i]. */
static void llama_quantize(const struct llama_scratch *s, const struct ops_weight *const *ws, int nw, const float *x,
                           int n, const void **qa)
{
    int areas = 0;
    for (int i = 0; i < nw; i++) {
        enum ggml_type t = ggml_get_type_traits(ws[i]->type)->vec_dot_type;
        qa[i] = NULL;
        for (int j = 0; j < i; j++)
            if (ggml_get_type_traits(ws[j]->type)->vec_dot_type == t)
                qa[i] = qa[j];
        if (!qa[i]) {
            void *q = (uint8_t *)s->qbuf + (size_t)areas++ * s->qbuf_area;
            ops_quantize_act(q, ws[i], x, n);
            qa[i] = q;
        }
    }
}

static void llama_qkv_chunk(void *ctx, int64_t r0, int64_t r1, int cpu)
{
    (void)cpu;
    const struct llama_pass *p = ctx;
    const struct llama_hparams *hp = &p->m->hp;
    struct llama_scratch *s = p->s;
    int64_t n_q = (int64_t)hp->n_head * hp->head_dim, n_kv = (int64_t)hp->n_head_kv * hp->head_dim, a, b;
    if (llama_segment(r0, r1, 0, n_q, &a, &b)) {
        ops_matmul_rows(s->q, &p->L->wq, p->qa[0], p->n, a, b);
        for (int t = 0; t < p->n; t++)
            ops_rope_range(s->q + t * n_q, hp->head_dim, hp->n_rot, s->rope_cs + (size_t)t * hp->n_rot, a, b);
    }
    if (llama_segment(r0, r1, p->k_start, n_kv, &a, &b)) {
        ops_matmul_rows(s->k, &p->L->wk, p->qa[1], p->n, a, b);
        for (int t = 0; t < p->n; t++) {
            float *k = s->k + t * n_kv;
            ops_rope_range(k, hp->head_dim, hp->n_rot, s->rope_cs + (size_t)t * hp->n_rot, a, b);
            kv_cache_store_range(p->kv, p->slot, p->il, p->pos0 + t, KV_CACHE_K, k, (int)a, (int)b);
        }
    }
    if (llama_segment(r0, r1, p->v_start, n_kv, &a, &b)) {
        ops_matmul_rows(s->v, &p->L->wv, p->qa[2], p->n, a, b);
        for (int t = 0; t < p->n; t++)
            kv_cache_store_range(p->kv, p->slot, p->il, p->pos0 + t, KV_CACHE_V, s->v + t * n_kv, (int)a, (int)b);
    }
}

static void llama_attn_chunk(void *ctx, int64_t u0, int64_t u1, int cpu)
{
    const struct llama_pass *p = ctx;
    const struct llama_hparams *hp = &p->m->hp;
    struct llama_scratch *s = p->s;
    const struct kv_cache *kv = p->kv;
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    size_t n_q = (size_t)hp->n_head * hd;
    float scale = 1.0f / k_sqrtf((float)hd);
    const uint8_t *k0 = kv_cache_k(kv, p->slot, p->il, 0), *v0 = kv_cache_v(kv, p->slot, p->il, 0);
    float *scores = s->scores + (size_t)cpu * s->scores_per_cpu;
    for (int64_t u = u0; u < u1; u++) {
        /* tokens taken from both ends alternately (0, n-1, 1, n-2, ...): a later token attends to more positions,
           so any range of units costs about its share (the workers' solo fallback times ranges of jobs) */
        int k = (int)(u / hp->n_head_kv), g = (int)(u % hp->n_head_kv);
        int b = k % 2 == 0 ? k / 2 : p->n - 1 - k / 2;
        size_t head_off = (size_t)g * hd * kv->elem_size, qo = b * n_q + (size_t)g * group * hd;
        if (p->kt_ready)
            ops_attention_heads_kt(s->xb + qo, s->q + qo, group, s->kt + (size_t)g * s->kt_blocks * hd * 8,
                                   kv->f16 ? s->v32 + (size_t)g * hd : (const float *)(v0 + head_off),
                                   (size_t)kv->kv_dim, p->pos0 + b + 1, hd, scale, scores);
        else
            ops_attention_heads(s->xb + qo, s->q + qo, group, k0 + head_off, v0 + head_off, (size_t)kv->kv_dim,
                                kv->f16, p->pos0 + b + 1, hd, scale, scores);
        if (p->q_next)      /* the output projection's input, these heads' blocks */
            ops_quantize_act_part((uint8_t *)p->q_next + b * ops_act_row_size(&p->L->wo), &p->L->wo, s->xb + b * n_q,
                                  (int64_t)(qo - b * n_q), (int64_t)(qo - b * n_q) + (int64_t)group * hd);
    }
}

/* Units: (KV head, block of 8 positions) over the positions the batch attends to */
static void llama_kv_prepare_chunk(void *ctx, int64_t u0, int64_t u1, int cpu)
{
    (void)cpu;
    const struct llama_pass *p = ctx;
    const struct llama_hparams *hp = &p->m->hp;
    struct llama_scratch *s = p->s;
    const struct kv_cache *kv = p->kv;
    int hd = hp->head_dim, n_pos = p->pos0 + p->n, n_blk = (n_pos + 7) / 8;
    const uint8_t *k0 = kv_cache_k(kv, p->slot, p->il, 0), *v0 = kv_cache_v(kv, p->slot, p->il, 0);
    for (int64_t u = u0; u < u1; u++) {
        int g = (int)(u / n_blk), blk = (int)(u % n_blk);
        size_t head_off = (size_t)g * hd * kv->elem_size;
        ops_attention_kv_prepare(s->kt + (size_t)g * s->kt_blocks * hd * 8, kv->f16 ? s->v32 + (size_t)g * hd : NULL,
                                 k0 + head_off, v0 + head_off, (size_t)kv->kv_dim, kv->f16, hd, n_pos, blk, blk + 1);
    }
}

/* out rows [r0, r1) of every token, added into the residual stream x */
static void llama_residual_rows(float *x, const float *out, int n, int d, int64_t r0, int64_t r1)
{
    for (int t = 0; t < n; t++)
        for (int64_t r = r0; r < r1; r++)
            x[(size_t)t * d + r] += out[(size_t)t * d + r];
}

static void llama_o_chunk(void *ctx, int64_t r0, int64_t r1, int cpu)
{
    (void)cpu;
    const struct llama_pass *p = ctx;
    struct llama_scratch *s = p->s;
    /* in place over xb: its input (the attention output) was quantized before the job started */
    ops_matmul_rows(s->xb, &p->L->wo, p->qa[0], p->n, r0, r1);
    llama_residual_rows(s->x, s->xb, p->n, p->m->hp.n_embd, r0, r1);
}

static void llama_ffn_up_chunk(void *ctx, int64_t r0, int64_t r1, int cpu)
{
    (void)cpu;
    const struct llama_pass *p = ctx;
    struct llama_scratch *s = p->s;
    int64_t n_ff = p->m->hp.n_ff;
    ops_matmul_rows(s->hb, &p->L->w_gate, p->qa[0], p->n, r0, r1);
    ops_matmul_rows(s->hb2, &p->L->w_up, p->qa[1], p->n, r0, r1);
    for (int t = 0; t < p->n; t++) {
        ops_swiglu(s->hb + t * n_ff + r0, s->hb2 + t * n_ff + r0, (int)(r1 - r0));
        if (p->q_next)      /* the down projection's input, these rows' blocks */
            ops_quantize_act_part((uint8_t *)p->q_next + t * ops_act_row_size(&p->L->w_down), &p->L->w_down,
                                  s->hb + t * n_ff, r0, r1);
    }
}

static void llama_down_chunk(void *ctx, int64_t r0, int64_t r1, int cpu)
{
    (void)cpu;
    const struct llama_pass *p = ctx;
    struct llama_scratch *s = p->s;
    ops_matmul_rows(s->xb, &p->L->w_down, p->qa[0], p->n, r0, r1);
    llama_residual_rows(s->x, s->xb, p->n, p->m->hp.n_embd, r0, r1);
}

/* RMSNorm of the n rows of x into xb, then quantize for ws */
static void llama_norm_quantize(struct llama_pass *p, const float *weight, const struct ops_weight *const *ws, int nw,
                                struct prof_mark *pm)
{
    const struct llama_hparams *hp = &p->m->hp;
    struct llama_scratch *s = p->s;
    for (int b = 0; b < p->n; b++)
        ops_rmsnorm(s->xb + (size_t)b * hp->n_embd, s->x + (size_t)b * hp->n_embd, weight, hp->n_embd, hp->rms_eps);
    prof_lap(pm, PROF_NORM);
    llama_quantize(s, ws, nw, s->xb, p->n, p->qa);
    prof_lap(pm, PROF_QUANT);
}

int llama_forward(const struct llama_model *m, struct llama_scratch *s, const struct kv_cache *kv, int slot,
                  const int32_t *tokens, int n, int pos0, float *logits, int all_logits)
{
    const struct llama_hparams *hp = &m->hp;
    if (n < 1 || n > s->n_batch || pos0 < 0 || pos0 + n > kv->n_ctx || pos0 + n > s->n_ctx || slot < 0 ||
        slot >= kv->n_slots)
        return -1;
    for (int b = 0; b < n; b++)
        if (tokens[b] < 0 || tokens[b] >= hp->n_vocab)
            return -1;
    int d = hp->n_embd;
    int64_t n_q = (int64_t)hp->n_head * hp->head_dim, n_kv = (int64_t)hp->n_head_kv * hp->head_dim;
    struct prof_mark pm;
    prof_start(&pm);
    prof.forwards++;
    prof.tokens += (uint64_t)n;

    for (int b = 0; b < n; b++) {
        ops_get_row(s->x + (size_t)b * d, &m->tok_embd, tokens[b]);
        ops_rope_cos_sin(s->rope_cs + (size_t)b * hp->n_rot, hp->n_rot, (double)(pos0 + b), m->rope_inv_freq);
    }
    prof_lap(&pm, PROF_EMBED);

    struct llama_pass p = { .m = m, .s = s, .kv = kv, .slot = slot, .n = n, .pos0 = pos0 };
    p.k_start = llama_round_rows(n_q);
    p.v_start = llama_round_rows(p.k_start + n_kv);
    int64_t attn_units = (int64_t)n * hp->n_head_kv;
    int group = hp->n_head / hp->n_head_kv;
    int use_kt = s->kt && n >= LLAMA_KT_MIN_BATCH && ops_attention_kt_ok(hp->head_dim);
    for (int il = 0; il < hp->n_layer; il++) {
        const struct llama_layer *L = &m->layers[il];
        p.L = L;
        p.il = il;
        const struct ops_weight *qkv[3] = { &L->wq, &L->wk, &L->wv };
        llama_norm_quantize(&p, L->attn_norm, qkv, 3, &pm);
        workers_run(llama_qkv_chunk, &p, p.v_start + n_kv, LLAMA_ROW_ALIGN);
        prof_lap(&pm, PROF_PRODUCT);
        /* attention quantizes its heads for the output projection when a group's heads are whole blocks */
        const struct ops_weight *wo = &L->wo;
        p.q_next = ((int64_t)group * hp->head_dim) % ops_act_block(wo) == 0 ? s->qbuf : NULL;
        if (use_kt) {
            workers_run(llama_kv_prepare_chunk, &p, (int64_t)hp->n_head_kv * ((pos0 + n + 7) / 8), 1);
            p.kt_ready = 1;
        }
        workers_run(llama_attn_chunk, &p, attn_units, 1);
        p.kt_ready = 0;
        prof_lap(&pm, PROF_ATTN);
        if (p.q_next)
            p.qa[0] = p.q_next;
        else
            llama_quantize(s, &wo, 1, s->xb, n, p.qa);
        p.q_next = NULL;
        prof_lap(&pm, PROF_QUANT);
        workers_run(llama_o_chunk, &p, d, LLAMA_ROW_ALIGN);
        prof_lap(&pm, PROF_PRODUCT);

        const struct ops_weight *up[2] = { &L->w_gate, &L->w_up };
        llama_norm_quantize(&p, L->ffn_norm, up, 2, &pm);
        /* gate/up quantize their SwiGLU rows for the down projection (chunks of whole blocks) into the third
           area (gate and up read at most the first two) */
        const struct ops_weight *down = &L->w_down;
        int64_t blk = ops_act_block(down), up_align = blk % LLAMA_ROW_ALIGN == 0 ? blk : LLAMA_ROW_ALIGN;
        p.q_next = up_align % blk == 0 ? (uint8_t *)s->qbuf + 2 * s->qbuf_area : NULL;
        workers_run(llama_ffn_up_chunk, &p, hp->n_ff, up_align);
        prof_lap(&pm, PROF_PRODUCT);
        if (p.q_next)
            p.qa[0] = p.q_next;
        else
            llama_quantize(s, &down, 1, s->hb, n, p.qa);
        p.q_next = NULL;
        prof_lap(&pm, PROF_QUANT);
        workers_run(llama_down_chunk, &p, d, LLAMA_ROW_ALIGN);
        prof_lap(&pm, PROF_PRODUCT);
    }

    if (!logits)
        return 0;
    int first = all_logits ? 0 : n - 1;
    for (int b = first; b < n; b++)
        ops_rmsnorm(s->xb + (size_t)(b - first) * d, s->x + (size_t)b * d, m->output_norm, d, hp->rms_eps);
    prof_lap(&pm, PROF_NORM);
    ops_quantize_act(s->qbuf, &m->output, s->xb, n - first);
    prof_lap(&pm, PROF_QUANT);
    ops_matmul_quantized(logits, &m->output, s->qbuf, n - first);
    prof_lap(&pm, PROF_PRODUCT);
    return 0;
}

/* llama forward pass (see llama.h): model setup from GGUF metadata and tensors, then per layer
   RMSNorm -> Q/K/V -> RoPE -> GQA attention over the KV cache -> output projection -> residual ->
   RMSNorm -> SwiGLU feed-forward -> residual; final RMSNorm and the output head. Kernels in llm/ops.c. */
#include "llm/llama.h"
#include "llm/prof.h"
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

/* The scratch buffers as offsets in one allocation; returns the total. */
static size_t llama_scratch_layout(const struct llama_model *m, int n_batch, int n_ctx, size_t off[10])
{
    const struct llama_hparams *hp = &m->hp;
    size_t nb = (size_t)n_batch, n_q = (size_t)hp->n_head * hp->head_dim;
    size_t n_kv = (size_t)hp->n_head_kv * hp->head_dim;
    size_t wide = n_q > (size_t)hp->n_embd ? n_q : (size_t)hp->n_embd;
    size_t sizes[10] = {
        nb * hp->n_embd * 4, nb * wide * 4, nb * n_q * 4, nb * n_kv * 4, nb * n_kv * 4,
        nb * hp->n_ff * 4, nb * hp->n_ff * 4, (size_t)n_ctx * 4, nb * (hp->n_rot + 2) * 4,
        llama_max_act(m, n_batch),
    };
    size_t total = 0;
    for (int i = 0; i < 10; i++) {
        off[i] = total;
        total += llama_align(sizes[i]);
    }
    return total;
}

size_t llama_scratch_bytes(const struct llama_model *m, int n_batch, int n_ctx)
{
    size_t off[10];
    return llama_scratch_layout(m, n_batch, n_ctx, off);
}

int llama_scratch_init(struct llama_scratch *s, const struct llama_model *m, int n_batch, int n_ctx)
{
    memset(s, 0, sizeof *s);
    if (n_batch < 1 || n_ctx < 1)
        return -1;
    size_t off[10];
    size_t total = llama_scratch_layout(m, n_batch, n_ctx, off);
    uint8_t *base = kmalloc_aligned(total, 64);
    if (!base)
        return -1;
    s->n_batch = n_batch;
    s->n_ctx = n_ctx;
    s->x = (float *)(base + off[0]);
    s->xb = (float *)(base + off[1]);
    s->q = (float *)(base + off[2]);
    s->k = (float *)(base + off[3]);
    s->v = (float *)(base + off[4]);
    s->hb = (float *)(base + off[5]);
    s->hb2 = (float *)(base + off[6]);
    s->scores = (float *)(base + off[7]);
    s->rope_cs = (float *)(base + off[8]);
    s->qbuf = base + off[9];
    s->base = base;
    return 0;
}

void llama_scratch_free(struct llama_scratch *s)
{
    kfree(s->base);
    memset(s, 0, sizeof *s);
}

/* ---- forward ---- */

static void llama_attention(const struct llama_model *m, struct llama_scratch *s, const struct kv_cache *kv,
                            int slot, int il, int n, int pos0)
{
    const struct llama_hparams *hp = &m->hp;
    int hd = hp->head_dim, group = hp->n_head / hp->n_head_kv;
    size_t n_q = (size_t)hp->n_head * hd;
    float scale = 1.0f / k_sqrtf((float)hd);
    const uint8_t *k0 = kv_cache_k(kv, slot, il, 0), *v0 = kv_cache_v(kv, slot, il, 0);
    for (int b = 0; b < n; b++) {
        for (int h = 0; h < hp->n_head; h++) {
            size_t head_off = (size_t)(h / group) * hd * kv->elem_size;
            ops_attention_head(s->xb + b * n_q + (size_t)h * hd, s->q + b * n_q + (size_t)h * hd,
                               k0 + head_off, v0 + head_off, (size_t)kv->kv_dim, kv->f16, pos0 + b + 1, hd,
                               scale, s->scores);
        }
    }
}

/* ops_matmul in its two halves, each lapped on its own counter */
static void llama_matmul(float *out, const struct ops_weight *w, const float *x, int n, void *qbuf,
                         struct prof_mark *pm)
{
    prof_lap(pm, PROF_NORM);
    ops_quantize_act(qbuf, w, x, n);
    prof_lap(pm, PROF_QUANT);
    ops_matmul_quantized(out, w, qbuf, n);
    prof_lap(pm, PROF_PRODUCT);
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
    int d = hp->n_embd, n_kv = hp->n_head_kv * hp->head_dim;
    size_t n_q = (size_t)hp->n_head * hp->head_dim;
    struct prof_mark pm;
    prof_start(&pm);
    prof.forwards++;
    prof.tokens += (uint64_t)n;

    for (int b = 0; b < n; b++) {
        ops_get_row(s->x + (size_t)b * d, &m->tok_embd, tokens[b]);
        ops_rope_cos_sin(s->rope_cs + (size_t)b * hp->n_rot, hp->n_rot, (double)(pos0 + b), m->rope_inv_freq);
    }
    prof_lap(&pm, PROF_EMBED);

    for (int il = 0; il < hp->n_layer; il++) {
        const struct llama_layer *L = &m->layers[il];
        for (int b = 0; b < n; b++)
            ops_rmsnorm(s->xb + (size_t)b * d, s->x + (size_t)b * d, L->attn_norm, d, hp->rms_eps);
        llama_matmul(s->q, &L->wq, s->xb, n, s->qbuf, &pm);
        llama_matmul(s->k, &L->wk, s->xb, n, s->qbuf, &pm);
        llama_matmul(s->v, &L->wv, s->xb, n, s->qbuf, &pm);
        for (int b = 0; b < n; b++) {
            const float *cs = s->rope_cs + (size_t)b * hp->n_rot;
            ops_rope(s->q + b * n_q, hp->n_head, hp->head_dim, hp->n_rot, cs);
            ops_rope(s->k + (size_t)b * n_kv, hp->n_head_kv, hp->head_dim, hp->n_rot, cs);
            kv_cache_store(kv, slot, il, pos0 + b, s->k + (size_t)b * n_kv, s->v + (size_t)b * n_kv);
        }
        prof_lap(&pm, PROF_ROPE_KV);
        llama_attention(m, s, kv, slot, il, n, pos0);
        prof_lap(&pm, PROF_ATTN);
        llama_matmul(s->xb, &L->wo, s->xb, n, s->qbuf, &pm);   /* in place: x is quantized before out is written */
        for (size_t i = 0; i < (size_t)n * d; i++)
            s->x[i] += s->xb[i];

        for (int b = 0; b < n; b++)
            ops_rmsnorm(s->xb + (size_t)b * d, s->x + (size_t)b * d, L->ffn_norm, d, hp->rms_eps);
        llama_matmul(s->hb, &L->w_gate, s->xb, n, s->qbuf, &pm);
        llama_matmul(s->hb2, &L->w_up, s->xb, n, s->qbuf, &pm);
        ops_swiglu(s->hb, s->hb2, n * hp->n_ff);
        prof_lap(&pm, PROF_FFN_ACT);
        llama_matmul(s->xb, &L->w_down, s->hb, n, s->qbuf, &pm);
        for (size_t i = 0; i < (size_t)n * d; i++)
            s->x[i] += s->xb[i];
    }

    if (!logits) {
        prof_lap(&pm, PROF_NORM);
        return 0;
    }
    int first = all_logits ? 0 : n - 1;
    for (int b = first; b < n; b++)
        ops_rmsnorm(s->xb + (size_t)(b - first) * d, s->x + (size_t)b * d, m->output_norm, d, hp->rms_eps);
    llama_matmul(logits, &m->output, s->xb, n - first, s->qbuf, &pm);
    return 0;
}

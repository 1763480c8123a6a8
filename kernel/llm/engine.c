/* Engine glue (see engine.h): GGUF -> model + tokenizer -> KV cache + scratch, sequences on slots, the generate
   loop. */
#include "llm/engine.h"
#include "llm/prof.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"
#include "lib/math.h"
#include "lib/string.h"

void engine_options_default(struct engine_options *o)
{
    o->n_ctx = CLLM_N_CTX;
    o->n_slots = CLLM_N_SLOTS;
    o->n_batch = CLLM_N_BATCH;
    o->kv_f16 = CLLM_KV_F16;
}

/* ---- tokenizer from the metadata (texts stay in the GGUF bytes) ---- */

/* The tokenizer's callbacks get the two string arrays' key indices, looked up once (not ~100k times). */
struct engine_vocab_keys {
    const struct gguf_file *f;
    int64_t tokens, merges;
};

static int engine_arr_text(const struct gguf_file *f, int64_t key, uint32_t i, struct tokenizer_str *out)
{
    const char *p;
    uint64_t len;
    if (gguf_get_arr_str(f, key, i, &p, &len) != 0)
        return -1;
    out->ptr = p;
    out->len = (size_t)len;
    return 0;
}

static int engine_token_text(void *ctx, uint32_t i, struct tokenizer_str *out)
{
    const struct engine_vocab_keys *k = ctx;
    return engine_arr_text(k->f, k->tokens, i, out);
}

static int engine_merge_text(void *ctx, uint32_t i, struct tokenizer_str *out)
{
    const struct engine_vocab_keys *k = ctx;
    return engine_arr_text(k->f, k->merges, i, out);
}

static struct tokenizer_str engine_meta_str(const struct gguf_file *f, const char *key)
{
    struct tokenizer_str s = { "", 0 };
    const char *p;
    uint64_t len;
    if (gguf_get_str(f, gguf_find_key(f, key), &p, &len) == 0) {
        s.ptr = p;
        s.len = (size_t)len;
    }
    return s;
}

static int64_t engine_meta_id(const struct gguf_file *f, const char *key)
{
    int64_t v;
    return gguf_get_int(f, gguf_find_key(f, key), &v) == 0 && v >= 0 ? v : -1;
}

static int8_t engine_meta_bool(const struct gguf_file *f, const char *key)
{
    int v;
    return gguf_get_bool(f, gguf_find_key(f, key), &v) == 0 ? (int8_t)(v != 0) : -1;
}

/* A numeric array of exactly n elements of type t, or NULL. */
static const void *engine_meta_arr(const struct gguf_file *f, const char *key, uint32_t t, uint64_t n)
{
    uint32_t et;
    uint64_t count;
    const void *data;
    if (gguf_get_arr(f, gguf_find_key(f, key), &et, &count, &data) != 0 || et != t || count != n)
        return NULL;
    return data;
}

static int engine_tokenizer_init(struct engine *e, char *err, size_t errlen)
{
    const struct gguf_file *f = &e->gguf;
    struct tokenizer_vocab v;
    tokenizer_vocab_defaults(&v);
    uint32_t et;
    uint64_t n;
    const void *data;
    if (gguf_get_arr(f, gguf_find_key(f, "tokenizer.ggml.tokens"), &et, &n, &data) != 0 || et != GGUF_TYPE_STRING ||
        n == 0 || n > (uint64_t)e->model.hp.n_vocab) {
        fmt_snprintf(err, errlen, "tokenizer.ggml.tokens: missing, not strings, or more than the %d embedding rows",
                     e->model.hp.n_vocab);
        return -1;
    }
    struct engine_vocab_keys keys = {f, gguf_find_key(f, "tokenizer.ggml.tokens"),
                                     gguf_find_key(f, "tokenizer.ggml.merges")};
    v.n_tokens = (uint32_t)n;
    v.token_text = engine_token_text;
    v.ctx = &keys;
    if (gguf_get_arr(f, gguf_find_key(f, "tokenizer.ggml.merges"), &et, &n, &data) == 0 && et == GGUF_TYPE_STRING &&
        n < 0x7fffffffu) {
        v.n_merges = (uint32_t)n;
        v.merge_text = engine_merge_text;
    }
    v.scores = engine_meta_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v.n_tokens);
    v.token_types = engine_meta_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v.n_tokens);
    v.model = engine_meta_str(f, "tokenizer.ggml.model");
    v.pre = engine_meta_str(f, "tokenizer.ggml.pre");
    v.name = engine_meta_str(f, "general.name");
    v.bos_id = engine_meta_id(f, "tokenizer.ggml.bos_token_id");
    v.eos_id = engine_meta_id(f, "tokenizer.ggml.eos_token_id");
    v.eot_id = engine_meta_id(f, "tokenizer.ggml.eot_token_id");
    v.eom_id = engine_meta_id(f, "tokenizer.ggml.eom_token_id");
    v.unk_id = engine_meta_id(f, "tokenizer.ggml.unknown_token_id");
    v.pad_id = engine_meta_id(f, "tokenizer.ggml.padding_token_id");
    v.add_bos = engine_meta_bool(f, "tokenizer.ggml.add_bos_token");
    v.add_eos = engine_meta_bool(f, "tokenizer.ggml.add_eos_token");
    v.add_space_prefix = engine_meta_bool(f, "tokenizer.ggml.add_space_prefix");
    int rc = tokenizer_init(&e->tok, &v);
    if (rc != 0) {
        fmt_snprintf(err, errlen, "tokenizer (%.*s, pre %.*s): %s", (int)v.model.len, v.model.ptr, (int)v.pre.len,
                     v.pre.ptr, tokenizer_strerror(rc));
        return -1;
    }
    e->have_tok = 1;
    return 0;
}

int engine_token_is_eog(const struct engine *e, int32_t token)
{
    return e->have_tok && tokenizer_is_eog(&e->tok, token);
}

int engine_tokenize(const struct engine *e, const char *text, size_t len, int add_special, int parse_special,
                    int32_t *out, int max_out)
{
    return tokenizer_encode(&e->tok, text, len, add_special != 0, parse_special != 0, out, max_out);
}

int engine_open(struct engine *e, const uint8_t *bytes, uint64_t size, const struct engine_options *opt,
                char *err, size_t errlen)
{
    memset(e, 0, sizeof *e);
    if (opt)
        e->opt = *opt;
    else
        engine_options_default(&e->opt);
    if (e->opt.n_ctx < 1 || e->opt.n_slots < 1 || e->opt.n_batch < 1) {
        fmt_snprintf(err, errlen, "engine options: n_ctx, n_slots and n_batch must be positive");
        return -1;
    }
    char gerr[160];
    int rc = gguf_open(&e->gguf, bytes, size, gerr, sizeof gerr);
    if (rc != 0) {
        fmt_snprintf(err, errlen, "gguf: %s", gerr);
        return -1;
    }
    if (llama_model_load(&e->model, &e->gguf, err, errlen) != 0) {
        gguf_free(&e->gguf);
        return -1;
    }
    const struct llama_hparams *hp = &e->model.hp;
    if (e->opt.n_ctx > hp->n_ctx_train)
        e->opt.n_ctx = hp->n_ctx_train;
    if (e->opt.n_batch > e->opt.n_ctx)
        e->opt.n_batch = e->opt.n_ctx;
    if (engine_tokenizer_init(e, err, errlen) != 0) {
        llama_model_free(&e->model);
        gguf_free(&e->gguf);
        return -1;
    }
    e->bos = e->tok.bos_id;
    e->eos = e->tok.eos_id;
    e->eot = e->tok.eot_id;

    e->slot_used = kcalloc((size_t)e->opt.n_slots, 1);
    if (!e->slot_used ||
        kv_cache_init(&e->kv, hp->n_layer, e->opt.n_ctx, e->opt.n_slots, hp->n_head_kv * hp->head_dim,
                      e->opt.kv_f16) != 0 ||
        llama_scratch_init(&e->scratch, &e->model, e->opt.n_batch, e->opt.n_ctx) != 0) {
        fmt_snprintf(err, errlen, "out of memory for KV cache (%llu bytes) and scratch (%llu bytes)",
                     (unsigned long long)kv_cache_bytes(hp->n_layer, e->opt.n_ctx, e->opt.n_slots,
                                                        hp->n_head_kv * hp->head_dim, e->opt.kv_f16),
                     (unsigned long long)llama_scratch_bytes(&e->model, e->opt.n_batch, e->opt.n_ctx));
        engine_close(e);
        return -1;
    }
    return 0;
}

void engine_close(struct engine *e)
{
    llama_scratch_free(&e->scratch);
    kv_cache_free(&e->kv);
    kfree(e->slot_used);
    e->slot_used = NULL;
    if (e->have_tok)
        tokenizer_free(&e->tok);
    e->have_tok = 0;
    llama_model_free(&e->model);
    gguf_free(&e->gguf);
}

int engine_seq_open(struct engine *e, struct engine_seq *seq, const struct sampler_params *sp)
{
    memset(seq, 0, sizeof *seq);
    seq->slot = -1;
    for (int i = 0; i < e->opt.n_slots; i++)
        if (!e->slot_used[i]) {
            seq->slot = i;
            break;
        }
    if (seq->slot < 0)
        return -1;
    struct sampler_params p = *sp;
    if (p.repeat_last_n < 0 || p.repeat_last_n > e->opt.n_ctx)
        p.repeat_last_n = e->opt.n_ctx;        /* llama.cpp: -1 means the whole context */
    seq->tokens = kmalloc((size_t)e->opt.n_ctx * sizeof *seq->tokens);
    seq->logits = kmalloc((size_t)e->model.hp.n_vocab * sizeof *seq->logits);
    if (!seq->tokens || !seq->logits || sampler_init(&seq->smp, &p, e->model.hp.n_vocab) != 0) {
        kfree(seq->tokens);
        kfree(seq->logits);
        seq->slot = -1;
        return -1;
    }
    e->slot_used[seq->slot] = 1;
    return 0;
}

void engine_seq_close(struct engine *e, struct engine_seq *seq)
{
    if (seq->slot >= 0 && seq->slot < e->opt.n_slots)
        e->slot_used[seq->slot] = 0;
    sampler_free(&seq->smp);
    kfree(seq->tokens);
    kfree(seq->logits);
    memset(seq, 0, sizeof *seq);
    seq->slot = -1;
}

int engine_seq_keep_prefix(struct engine_seq *seq, const int32_t *tokens, int n)
{
    int k = 0;
    while (k < seq->n_past && k < n - 1 && seq->tokens[k] == tokens[k])
        k++;
    seq->n_past = k;
    seq->have_logits = 0;
    return k;
}

int engine_seq_eval(struct engine *e, struct engine_seq *seq, const int32_t *tokens, int n)
{
    if (n < 0 || seq->n_past + n > e->opt.n_ctx)
        return -1;
    for (int i = 0; i < n; i += e->opt.n_batch) {
        int chunk = n - i < e->opt.n_batch ? n - i : e->opt.n_batch;
        if (llama_forward(&e->model, &e->scratch, &e->kv, seq->slot, tokens + i, chunk, seq->n_past,
                          seq->logits, 0) != 0)
            return -1;
        for (int j = 0; j < chunk; j++) {
            seq->tokens[seq->n_past + j] = tokens[i + j];
            sampler_accept(&seq->smp, tokens[i + j]);
        }
        seq->n_past += chunk;
        seq->have_logits = 1;
    }
    return 0;
}

int32_t engine_seq_sample(struct engine *e, struct engine_seq *seq)
{
    if (!seq->have_logits)
        return -1;
    if (seq->ignore_eos && e->have_tok)
        for (uint32_t i = 0; i < e->tok.n_eog; i++)
            if (e->tok.eog_ids[i] >= 0 && e->tok.eog_ids[i] < e->model.hp.n_vocab)
                seq->logits[e->tok.eog_ids[i]] = -K_INFINITY;
    struct prof_mark pm;
    prof_start(&pm);
    int32_t t = sampler_sample(&seq->smp, seq->logits);
    prof_lap(&pm, PROF_SAMPLE);
    return t;
}

int engine_generate(struct engine *e, struct engine_seq *seq, const int32_t *prompt, int n_prompt, int n_predict,
                    int ignore_eos, engine_token_fn fn, void *user, int *n_out)
{
    *n_out = 0;
    if (n_prompt < 1 || n_prompt > e->opt.n_ctx)
        return ENGINE_STOP_ERROR;
    seq->ignore_eos = ignore_eos != 0;
    sampler_reset(&seq->smp, seq->smp.p.seed);
    int kept = engine_seq_keep_prefix(seq, prompt, n_prompt);
    for (int i = 0; i < kept; i++)
        sampler_accept(&seq->smp, prompt[i]);
    if (engine_seq_eval(e, seq, prompt + kept, n_prompt - kept) != 0)
        return ENGINE_STOP_ERROR;
    for (;;) {
        if (n_predict >= 0 && *n_out >= n_predict)
            return ENGINE_STOP_LIMIT;
        int32_t t = engine_seq_sample(e, seq);
        if (t < 0)
            return ENGINE_STOP_ERROR;
        if (!ignore_eos && engine_token_is_eog(e, t))
            return ENGINE_STOP_EOS;
        (*n_out)++;
        if (fn && fn(user, t))
            return ENGINE_STOP_CALLER;
        if (seq->n_past >= e->opt.n_ctx)
            return ENGINE_STOP_CONTEXT;
        if (engine_seq_eval(e, seq, &t, 1) != 0)
            return ENGINE_STOP_ERROR;
    }
}

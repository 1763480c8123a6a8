/* Engine glue (see engine.h): GGUF -> model -> KV cache + scratch, sequences on slots, the generate loop. */
#include "llm/engine.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"
#include "lib/string.h"

void engine_options_default(struct engine_options *o)
{
    o->n_ctx = CLLM_N_CTX;
    o->n_slots = CLLM_N_SLOTS;
    o->n_batch = CLLM_N_BATCH;
    o->kv_f16 = CLLM_KV_F16;
}

static int32_t engine_meta_token(const struct gguf_file *f, const char *key, int n_vocab)
{
    int64_t idx = gguf_find_key(f, key), v;
    if (idx < 0 || gguf_get_int(f, idx, &v) != 0 || v < 0 || v >= n_vocab)
        return -1;
    return (int32_t)v;
}

/* Tokens that end a turn by their text (as llama.cpp also recognises them), besides the metadata ids. */
static const char *const engine_eog_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>", "<EOT>",
};
static void engine_find_eog(struct engine *e)
{
    int64_t idx = gguf_find_key(&e->gguf, "tokenizer.ggml.tokens");
    uint32_t et;
    uint64_t count;
    const void *data;
    e->n_eog = 0;
    if (idx < 0 || gguf_get_arr(&e->gguf, idx, &et, &count, &data) != 0 || et != GGUF_TYPE_STRING)
        return;
    for (uint64_t i = 0; i < count && i < (uint64_t)e->model.hp.n_vocab; i++) {
        const char *s;
        uint64_t len;
        if (gguf_get_arr_str(&e->gguf, idx, i, &s, &len) != 0 || len < 3 || len > 16 || s[0] != '<')
            continue;
        for (size_t j = 0; j < sizeof engine_eog_texts / sizeof engine_eog_texts[0]; j++)
            if (strlen(engine_eog_texts[j]) == len && memcmp(s, engine_eog_texts[j], len) == 0 &&
                e->n_eog < ENGINE_MAX_EOG)
                e->eog[e->n_eog++] = (int32_t)i;
    }
}

int engine_token_is_eog(const struct engine *e, int32_t token)
{
    if (token < 0)
        return 0;
    if (token == e->eos || token == e->eot)
        return 1;
    for (int i = 0; i < e->n_eog; i++)
        if (e->eog[i] == token)
            return 1;
    return 0;
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
    e->bos = engine_meta_token(&e->gguf, "tokenizer.ggml.bos_token_id", hp->n_vocab);
    e->eos = engine_meta_token(&e->gguf, "tokenizer.ggml.eos_token_id", hp->n_vocab);
    e->eot = engine_meta_token(&e->gguf, "tokenizer.ggml.eot_token_id", hp->n_vocab);
    engine_find_eog(e);

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
    (void)e;
    if (!seq->have_logits)
        return -1;
    int32_t t = sampler_sample(&seq->smp, seq->logits);
    return t;
}

int engine_generate(struct engine *e, struct engine_seq *seq, const int32_t *prompt, int n_prompt, int n_predict,
                    int ignore_eos, engine_token_fn fn, void *user, int *n_out)
{
    *n_out = 0;
    if (n_prompt < 1 || n_prompt > e->opt.n_ctx)
        return ENGINE_STOP_ERROR;
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

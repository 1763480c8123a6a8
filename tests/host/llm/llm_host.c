/* Host harness for the inference engine: flat functions over kernel/llm/engine.h and sampler.h for pytest's
   ctypes (tests/llm_host.py builds this file with the engine sources into a shared library). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm/engine.h"
#include "llm/sampler.h"

struct h_engine {
    uint8_t *bytes;
    struct engine e;
};

static uint8_t *h_read_file(const char *path, uint64_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    void *buf = NULL;
    if (n < 0 || posix_memalign(&buf, 4096, n ? (size_t)n : 1) != 0) {
        fclose(fp);
        return NULL;
    }
    if (fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    *size = (uint64_t)n;
    return buf;
}

void *h_engine_open(const char *path, int n_ctx, int n_batch, int n_slots, int kv_f16, char *err, int errlen)
{
    struct h_engine *h = calloc(1, sizeof *h);
    uint64_t size = 0;
    h->bytes = h_read_file(path, &size);
    if (!h->bytes) {
        snprintf(err, (size_t)errlen, "cannot read %s", path);
        free(h);
        return NULL;
    }
    struct engine_options o;
    engine_options_default(&o);
    if (n_ctx > 0)
        o.n_ctx = n_ctx;
    if (n_batch > 0)
        o.n_batch = n_batch;
    if (n_slots > 0)
        o.n_slots = n_slots;
    if (kv_f16 >= 0)
        o.kv_f16 = kv_f16;
    if (engine_open(&h->e, h->bytes, size, &o, err, (size_t)errlen) != 0) {
        free(h->bytes);
        free(h);
        return NULL;
    }
    return h;
}

void h_engine_close(struct h_engine *h)
{
    engine_close(&h->e);
    free(h->bytes);
    free(h);
}

/* hp[]: n_vocab n_ctx_train n_embd n_layer n_head n_head_kv head_dim n_rot n_ff n_ctx n_batch tied bos eos eot */
void h_engine_info(struct h_engine *h, int *hp)
{
    const struct llama_hparams *p = &h->e.model.hp;
    int v[] = { p->n_vocab, p->n_ctx_train, p->n_embd, p->n_layer, p->n_head, p->n_head_kv, p->head_dim, p->n_rot,
                p->n_ff, h->e.opt.n_ctx, h->e.opt.n_batch, h->e.model.tied_output, h->e.bos, h->e.eos, h->e.eot };
    memcpy(hp, v, sizeof v);
}

int h_forward(struct h_engine *h, int slot, const int32_t *tokens, int n, int pos0, float *logits, int all)
{
    return llama_forward(&h->e.model, &h->e.scratch, &h->e.kv, slot, tokens, n, pos0, logits, all);
}

int h_token_is_eog(struct h_engine *h, int t) { return engine_token_is_eog(&h->e, t); }

static void h_params(struct sampler_params *p, float temp, int top_k, float top_p, float min_p, float rep,
                     float pres, float freq, int last_n, uint64_t seed, int n_probs)
{
    p->temperature = temp;
    p->top_k = top_k;
    p->top_p = top_p;
    p->min_p = min_p;
    p->repeat_penalty = rep;
    p->presence_penalty = pres;
    p->frequency_penalty = freq;
    p->repeat_last_n = last_n;
    p->seed = seed;
    p->n_probs = n_probs;
}

struct h_gen_ctx {
    int32_t *out;
    int cap, n;
};

static int h_collect(void *user, int32_t t)
{
    struct h_gen_ctx *c = user;
    if (c->n < c->cap)
        c->out[c->n++] = t;
    return 0;
}

/* Generate on a fresh sequence; returns the engine_stop code, *n_out tokens in out. */
int h_generate(struct h_engine *h, const int32_t *prompt, int n_prompt, int n_predict, int ignore_eos, float temp,
               int top_k, float top_p, float min_p, float rep, float pres, float freq, int last_n, uint64_t seed,
               int32_t *out, int *n_out)
{
    struct sampler_params p;
    h_params(&p, temp, top_k, top_p, min_p, rep, pres, freq, last_n, seed, 0);
    struct engine_seq seq;
    if (engine_seq_open(&h->e, &seq, &p) != 0)
        return -1;
    struct h_gen_ctx c = { out, n_predict > 0 ? n_predict : h->e.opt.n_ctx, 0 };
    int n;
    int rc = engine_generate(&h->e, &seq, prompt, n_prompt, n_predict, ignore_eos, h_collect, &c, &n);
    *n_out = c.n;
    engine_seq_close(&h->e, &seq);
    return rc;
}

void *h_sampler_new(int n_vocab, float temp, int top_k, float top_p, float min_p, float rep, float pres,
                    float freq, int last_n, uint64_t seed, int n_probs)
{
    struct sampler_params p;
    h_params(&p, temp, top_k, top_p, min_p, rep, pres, freq, last_n, seed, n_probs);
    struct sampler *s = calloc(1, sizeof *s);
    if (sampler_init(s, &p, n_vocab) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

void h_sampler_free(struct sampler *s)
{
    sampler_free(s);
    free(s);
}

void h_sampler_accept(struct sampler *s, int32_t t) { sampler_accept(s, t); }
int32_t h_sampler_sample(struct sampler *s, const float *logits) { return sampler_sample(s, logits); }
int h_sampler_top_probs(struct sampler *s, int n, int32_t *ids, float *probs)
{
    return sampler_top_probs(s, n, ids, probs);
}

/* n draws from the same logits (history unchanged): counts[id]++ per draw. */
void h_sampler_histogram(struct sampler *s, const float *logits, int n, int32_t *counts)
{
    for (int i = 0; i < n; i++)
        counts[sampler_sample(s, logits)]++;
}

int h_tokenize(struct h_engine *h, const char *text, int len, int add_special, int parse_special, int32_t *out,
               int max_out)
{
    return engine_tokenize(&h->e, text, (size_t)len, add_special, parse_special, out, max_out);
}

/* Streaming detokenization of tokens[0..n) into out; returns the byte count or -1 when out is too small. */
int h_detokenize(struct h_engine *h, const int32_t *tokens, int n, int render_special, char *out, int out_len)
{
    struct detok_stream ds;
    detok_stream_init(&ds, &h->e.tok, render_special != 0);
    int pos = 0;
    for (int i = 0; i < n; i++) {
        int k = detok_stream_push(&ds, tokens[i], out + pos, out_len - pos);
        if (k < 0)
            return -1;
        pos += k;
    }
    int k = detok_stream_flush(&ds, out + pos, out_len - pos);
    return k < 0 ? -1 : pos + k;
}

/* For benchmarks only (global table; tests keep the scalar references): install the SIMD kernels. */
void h_init_simd(unsigned features) { ggml_types_init_simd(features); }

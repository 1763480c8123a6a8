/* Host-side ctypes wrapper around kernel/llm/tokenizer.h for the pytest suites (tests/test_tokenizer_*.py):
   flat arrays in (token texts as one blob + offsets, the way numpy builds them), plain ints out.
   Built by tests/host/tokenizer/tok_ctypes.py into tests/.build/. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "llm/tokenizer.h"
#include "llm/unicode.h"

struct th {
    struct tokenizer t;
    char *blob, *merge_blob;
    struct tokenizer_str *tokens, *merges;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static char *copy_blob(const char *p, size_t n)
{
    char *b = malloc(n ? n : 1);
    if (b && n)
        memcpy(b, p, n);
    return b;
}

/* texts: n_tokens strings back to back, offs: n_tokens + 1 offsets into it; the same for merges. */
void *th_new(uint32_t n_tokens, const char *texts, const uint64_t *offs, const float *scores, const int32_t *types,
             uint32_t n_merges, const char *mtexts, const uint64_t *moffs, const char *model, const char *pre,
             const char *name, const int64_t *ids /* bos eos eot eom unk pad */, const int8_t *flags /* bos eos sp */,
             int *err, double *init_ms)
{
    struct th *h = calloc(1, sizeof *h);
    struct tokenizer_vocab v;
    tokenizer_vocab_defaults(&v);
    h->blob = copy_blob(texts, offs[n_tokens]);
    h->tokens = calloc(n_tokens ? n_tokens : 1, sizeof *h->tokens);
    for (uint32_t i = 0; i < n_tokens; i++) {
        h->tokens[i].ptr = h->blob + offs[i];
        h->tokens[i].len = offs[i + 1] - offs[i];
    }
    if (n_merges) {
        h->merge_blob = copy_blob(mtexts, moffs[n_merges]);
        h->merges = calloc(n_merges, sizeof *h->merges);
        for (uint32_t i = 0; i < n_merges; i++) {
            h->merges[i].ptr = h->merge_blob + moffs[i];
            h->merges[i].len = moffs[i + 1] - moffs[i];
        }
    }
    v.n_tokens = n_tokens;
    v.tokens = h->tokens;
    v.scores = scores;
    v.token_types = types;
    v.n_merges = n_merges;
    v.merges = h->merges;
    v.model.ptr = model;
    v.model.len = strlen(model);
    v.pre.ptr = pre;
    v.pre.len = pre ? strlen(pre) : 0;
    v.name.ptr = name;
    v.name.len = name ? strlen(name) : 0;
    v.bos_id = ids[0];
    v.eos_id = ids[1];
    v.eot_id = ids[2];
    v.eom_id = ids[3];
    v.unk_id = ids[4];
    v.pad_id = ids[5];
    v.add_bos = flags[0];
    v.add_eos = flags[1];
    v.add_space_prefix = flags[2];
    double t0 = now_ms();
    *err = tokenizer_init(&h->t, &v);
    *init_ms = now_ms() - t0;
    if (*err) {
        free(h->blob);
        free(h->merge_blob);
        free(h->tokens);
        free(h->merges);
        free(h);
        return NULL;
    }
    return h;
}

void th_free(struct th *h)
{
    if (!h)
        return;
    tokenizer_free(&h->t);
    free(h->blob);
    free(h->merge_blob);
    free(h->tokens);
    free(h->merges);
    free(h);
}

int th_encode(struct th *h, const char *text, size_t len, int add_special, int parse_special, int32_t *out, int max)
{
    return tokenizer_encode(&h->t, text, len, add_special, parse_special, out, max);
}

int th_piece(struct th *h, int32_t id, char *buf, int len, int special)
{
    return tokenizer_token_to_piece(&h->t, id, buf, len, special);
}

/* Special ids and flags: bos eos eot eom unk pad nl add_bos add_eos add_space_prefix max_token_len n_eog */
void th_info(struct th *h, int64_t *out)
{
    const struct tokenizer *t = &h->t;
    int64_t v[] = {t->bos_id, t->eos_id, t->eot_id, t->eom_id, t->unk_id, t->pad_id, t->nl_id,
                   t->add_bos, t->add_eos, t->add_space_prefix, t->max_token_len, t->n_eog};
    memcpy(out, v, sizeof v);
}

int th_is_eog(struct th *h, int32_t id) { return tokenizer_is_eog(&h->t, id); }

/* Detokenize ids through a detok_stream; chunk_ends[i] = bytes emitted after token i (cumulative), the
   flush included in the total. Returns the total, or a negative error. */
int th_stream(struct th *h, const int32_t *ids, int n, int special, char *out, int cap, int *chunk_ends)
{
    struct detok_stream s;
    detok_stream_init(&s, &h->t, special);
    int total = 0;
    for (int i = 0; i < n; i++) {
        int r = detok_stream_push(&s, ids[i], out + total, cap - total);
        if (r < 0)
            return -1;
        total += r;
        chunk_ends[i] = total;
    }
    int r = detok_stream_flush(&s, out + total, cap - total);
    if (r < 0)
        return -1;
    return total + r;
}

/* Encode the same text reps times; returns the milliseconds taken (throughput measurement). */
double th_bench(struct th *h, const char *text, size_t len, int reps, int32_t *out, int max, int *n_out)
{
    double t0 = now_ms();
    for (int i = 0; i < reps; i++)
        *n_out = tokenizer_encode(&h->t, text, len, 0, 1, out, max);
    return now_ms() - t0;
}

/* Class bytes (unicode.h) of n code points. */
void th_unicode_flags(const uint32_t *cps, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++)
        out[i] = unicode_flags(cps[i]);
}

/* Pre-tokenize text with the pre-tokenizer named pre; word lengths in code points go to out (max entries).
   Returns the word count, -1 for an unknown name, -2 when max is too small. */
int th_pretok(const char *pre, const char *text, size_t len, uint32_t *out, int max)
{
    struct pretok_config cfg;
    if (pretok_config_from_name(pre, strlen(pre), &cfg) != 0)
        return -1;
    if (len == 0)
        return 0;
    uint32_t *cps = malloc(len * sizeof *cps), *a = malloc(len * sizeof *a), *b = malloc(len * sizeof *b);
    size_t n = 0;
    for (size_t pos = 0; pos < len;)
        cps[n++] = unicode_utf8_decode((const uint8_t *)text, len, &pos);
    const uint32_t *words;
    size_t nw = pretok_split(cfg.type, cps, n, a, b, &words);
    int rc = (int)nw;
    if ((int)nw > max)
        rc = -2;
    else
        memcpy(out, words, nw * sizeof *out);
    free(cps);
    free(a);
    free(b);
    return rc;
}

/* Request parameter parsing (see params.h). */
#include "api/params.h"
#include "api/model.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"
#include "lib/string.h"

/* A member, with JSON null treated as absent (clients send null for "not given"). */
static const struct json_value *member(const struct json_value *obj, const char *key)
{
    const struct json_value *v = json_object_get(obj, key);
    return v && v->type == JSON_NULL ? NULL : v;
}

static bool get_num(const struct json_value *body, const char *key, double lo, double hi, float *out, char *err,
                    size_t errlen)
{
    const struct json_value *v = member(body, key);
    double d;
    if (!v)
        return true;
    if (!json_get_double(v, &d)) {
        fmt_snprintf(err, errlen, "'%s' must be a number, got %s", key, json_type_name(v));
        return false;
    }
    if (!(d >= lo && d <= hi)) {
        fmt_snprintf(err, errlen, "'%s' must be between %g and %g", key, lo, hi);
        return false;
    }
    *out = (float)d;
    return true;
}

static bool get_int(const struct json_value *body, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err,
                    size_t errlen)
{
    const struct json_value *v = member(body, key);
    int64_t i;
    if (!v)
        return true;
    if (!json_get_i64(v, &i)) {
        fmt_snprintf(err, errlen, "'%s' must be an integer, got %s", key, json_type_name(v));
        return false;
    }
    if (i < lo || i > hi) {
        fmt_snprintf(err, errlen, "'%s' must be between %lld and %lld", key, (long long)lo, (long long)hi);
        return false;
    }
    *out = i;
    return true;
}

static bool get_bool(const struct json_value *body, const char *key, bool *out, char *err, size_t errlen)
{
    const struct json_value *v = member(body, key);
    if (!v)
        return true;
    if (!json_get_bool(v, out)) {
        fmt_snprintf(err, errlen, "'%s' must be a boolean, got %s", key, json_type_name(v));
        return false;
    }
    return true;
}

static bool add_stop(struct task_params *p, const struct json_value *s, char *err, size_t errlen)
{
    const char *str;
    size_t len;
    if (!json_get_string(s, &str, &len)) {
        fmt_snprintf(err, errlen, "'stop' must be a string or an array of strings, got %s in it",
                     json_type_name(s));
        return false;
    }
    if (len == 0)
        return true;
    if (len > TASK_MAX_STOP_LEN || p->n_stop >= TASK_MAX_STOP) {
        fmt_snprintf(err, errlen, "'stop': at most %d strings of at most %d bytes", TASK_MAX_STOP,
                     TASK_MAX_STOP_LEN);
        return false;
    }
    memcpy(p->stop[p->n_stop], str, len);
    p->stop[p->n_stop][len] = 0;
    p->stop_len[p->n_stop++] = len;
    return true;
}

bool params_parse(const struct json_value *body, struct task *t, char *err, size_t errlen)
{
    struct task_params *p = &t->par;
    struct sampler_params *sp = &p->sp;
    int64_t i;
    bool oai = t->api == TASK_API_OAI_COMPLETION || t->api == TASK_API_OAI_CHAT;

    if (!get_num(body, "temperature", 0.0, 100.0, &sp->temperature, err, errlen) ||
        !get_num(body, "top_p", 0.0, 1.0, &sp->top_p, err, errlen) ||
        !get_num(body, "min_p", 0.0, 1.0, &sp->min_p, err, errlen) ||
        !get_num(body, "repeat_penalty", 0.0, 100.0, &sp->repeat_penalty, err, errlen) ||
        !get_num(body, "presence_penalty", -2.0, 2.0, &sp->presence_penalty, err, errlen) ||
        !get_num(body, "frequency_penalty", -2.0, 2.0, &sp->frequency_penalty, err, errlen))
        return false;
    i = sp->top_k;
    if (!get_int(body, "top_k", -1, 1 << 30, &i, err, errlen))
        return false;
    sp->top_k = i < 0 ? 0 : (int)i;
    i = sp->repeat_last_n;
    if (!get_int(body, "repeat_last_n", -1, 1 << 30, &i, err, errlen))
        return false;
    sp->repeat_last_n = (int)i;
    i = sp->n_probs;
    if (!get_int(body, "n_probs", 0, TASK_MAX_PROBS, &i, err, errlen))
        return false;
    sp->n_probs = (int)i;
    i = p->seed_given;
    if (!get_int(body, "seed", -1, INT64_MAX, &i, err, errlen))
        return false;
    p->seed_given = i;
    sp->seed = i < 0 ? params_random() : (uint64_t)i;

    i = p->n_predict;
    if (!get_int(body, "n_predict", -1, 1 << 30, &i, err, errlen))
        return false;
    if (oai && !get_int(body, "max_tokens", -1, 1 << 30, &i, err, errlen))
        return false;
    if (t->api == TASK_API_OAI_CHAT && !get_int(body, "max_completion_tokens", -1, 1 << 30, &i, err, errlen))
        return false;
    p->n_predict = (int)i;
    if (p->n_predict < 0 || p->n_predict > CLLM_MAX_N_PREDICT)
        p->n_predict = CLLM_MAX_N_PREDICT;          /* -1 (until EOS) is bounded by the build's limit too */

    if (!get_bool(body, "stream", &p->stream, err, errlen) ||
        !get_bool(body, "ignore_eos", &p->ignore_eos, err, errlen) ||
        !get_bool(body, "cache_prompt", &p->cache_prompt, err, errlen) ||
        !get_bool(body, "return_tokens", &p->return_tokens, err, errlen))
        return false;

    const struct json_value *so = member(body, "stream_options");
    if (so) {
        if (so->type != JSON_OBJECT) {
            fmt_snprintf(err, errlen, "'stream_options' must be an object, got %s", json_type_name(so));
            return false;
        }
        if (!get_bool(so, "include_usage", &p->include_usage, err, errlen))
            return false;
    }
    if (oai) {
        i = 1;
        if (!get_int(body, "n", INT64_MIN, INT64_MAX, &i, err, errlen))
            return false;
        if (i != 1) {
            fmt_snprintf(err, errlen, "'n': only n = 1 is supported (got %lld)", (long long)i);
            return false;
        }
    }

    /* OpenAI logprobs: chat has logprobs (bool) + top_logprobs (0..20), completions logprobs (0..5) */
    if (t->api == TASK_API_OAI_CHAT) {
        bool want = false;
        i = 0;
        if (!get_bool(body, "logprobs", &want, err, errlen) ||
            !get_int(body, "top_logprobs", 0, TASK_MAX_PROBS, &i, err, errlen))
            return false;
        if (want)
            p->oai_logprobs = (int)i;
    } else if (t->api == TASK_API_OAI_COMPLETION) {
        i = -1;
        if (!get_int(body, "logprobs", 0, 5, &i, err, errlen))
            return false;
        p->oai_logprobs = (int)i;
    }
    if (p->oai_logprobs >= 0)
        sp->n_probs = p->oai_logprobs > 0 ? p->oai_logprobs : 1;

    const struct json_value *stop = member(body, "stop");
    p->n_stop = 0;
    if (stop) {
        if (stop->type == JSON_ARRAY) {
            for (const struct json_value *s = stop->u.list.first; s; s = s->next)
                if (!add_stop(p, s, err, errlen))
                    return false;
        } else if (!add_stop(p, stop, err, errlen)) {
            return false;
        }
    }
    return true;
}

bool params_check_context(int n_prompt, char *err, size_t errlen)
{
    int n_ctx = api_model_engine()->opt.n_ctx;
    if (n_prompt < n_ctx)
        return true;
    fmt_snprintf(err, errlen,
                 "the request exceeds the available context size: the prompt has %d tokens, the context %d tokens",
                 n_prompt, n_ctx);
    return false;
}

bool params_prompt_tokens(const struct json_value *prompt, const char *field, bool add_special, int32_t **out, int *n, char *err,
                          size_t errlen)
{
    struct engine *e = api_model_engine();
    *out = NULL;
    *n = 0;
    if (!prompt || prompt->type == JSON_NULL) {
        fmt_snprintf(err, errlen, "'%s' is required", field);
        return false;
    }
    /* an array holding exactly one string or one token array is that prompt (OpenAI's list form) */
    if (prompt->type == JSON_ARRAY && prompt->u.list.count == 1 &&
        (prompt->u.list.first->type == JSON_STRING || prompt->u.list.first->type == JSON_ARRAY))
        prompt = prompt->u.list.first;
    size_t cap = 1;
    if (prompt->type == JSON_STRING) {
        cap += 3 * prompt->u.str.len + 8;
    } else if (prompt->type == JSON_ARRAY) {
        for (const struct json_value *v = prompt->u.list.first; v; v = v->next) {
            if (v->type == JSON_STRING)
                cap += 3 * v->u.str.len + 8;
            else if (v->type == JSON_INT)
                cap += 1;
            else {
                fmt_snprintf(err, errlen, "'%s' must be a string or an array of token ids and strings "
                             "(multiple prompts are not supported), got %s in the array", field, json_type_name(v));
                return false;
            }
        }
    } else {
        fmt_snprintf(err, errlen, "'%s' must be a string or an array of token ids, got %s", field,
                     json_type_name(prompt));
        return false;
    }
    int32_t *toks = kmalloc(cap * sizeof *toks);
    if (!toks) {
        fmt_snprintf(err, errlen, "out of memory for the prompt");
        return false;
    }
    int k = 0;
    bool any_text = false;
    const struct json_value *first = prompt->type == JSON_STRING ? prompt : prompt->u.list.first;
    for (const struct json_value *v = first; v; v = prompt->type == JSON_STRING ? NULL : v->next) {
        if (v->type == JSON_STRING) {
            bool bos = add_special && v == first;
            if (v->u.str.len)
                any_text = true;
            int r = engine_tokenize(e, v->u.str.s, v->u.str.len, bos, 1, toks + k, (int)(cap - (size_t)k));
            if (r < 0) {
                kfree(toks);
                fmt_snprintf(err, errlen, "cannot tokenize the prompt: %s", tokenizer_strerror(r));
                return false;
            }
            k += r;
        } else {
            if (v->u.i < 0 || v->u.i >= e->model.hp.n_vocab) {
                kfree(toks);
                fmt_snprintf(err, errlen, "invalid token id %lld in '%s' (the vocabulary has %d tokens)",
                             (long long)v->u.i, field, e->model.hp.n_vocab);
                return false;
            }
            toks[k++] = (int32_t)v->u.i;
        }
    }
    if (k == 0 || (!any_text && prompt->type == JSON_STRING)) {
        kfree(toks);
        fmt_snprintf(err, errlen, "'%s' is empty", field);
        return false;
    }
    if (!params_check_context(k, err, errlen)) {
        kfree(toks);
        return false;
    }
    *out = toks;
    *n = k;
    return true;
}

uint64_t params_random(void)
{
    static uint64_t counter;
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t z = (((uint64_t)hi << 32) | lo) + 0x9e3779b97f4a7c15ull * ++counter;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

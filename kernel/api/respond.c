/* Reply formats (see respond.h). Field names and shapes follow llama.cpp's server README and OpenAI's API
   reference. */
#include "api/respond.h"
#include "api/model.h"
#include "arch/x86/io.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "http/json.h"
#include "lib/string.h"
#include "lib/math.h"

#define RESPOND_MAX_JSON (4 * 1024 * 1024)

static uint64_t boot_unix;

/* ---- time: the CMOS real-time clock, read once ---- */

static uint8_t cmos_read(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static int bcd(uint8_t v, bool binary) { return binary ? v : (v & 15) + (v >> 4) * 10; }

void respond_time_init(void)
{
    for (int tries = 0; tries < 1000 && (cmos_read(0x0a) & 0x80); tries++)
        ;                                           /* update in progress */
    uint8_t sec = cmos_read(0x00), min = cmos_read(0x02), hour = cmos_read(0x04);
    uint8_t day = cmos_read(0x07), mon = cmos_read(0x08), year = cmos_read(0x09), regb = cmos_read(0x0b);
    bool bin = (regb & 4) != 0;
    int y = 2000 + bcd(year, bin), m = bcd(mon, bin), d = bcd(day, bin);
    int h = bcd(hour & 0x7f, bin);
    if (!(regb & 2) && (hour & 0x80))
        h = (h % 12) + 12;                          /* 12-hour mode, PM */
    if (m < 1 || m > 12 || d < 1 || d > 31)
        return;
    /* days from 1970-01-01 (civil-from-days inverse, proleptic Gregorian) */
    int yy = m <= 2 ? y - 1 : y;
    int era = yy / 400;
    int yoe = yy - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + doe - 719468;
    int64_t t = days * 86400 + h * 3600 + bcd(min, bin) * 60 + bcd(sec, bin);
    if (t > 0)
        boot_unix = (uint64_t)t - clock_ns() / 1000000000u;
}

uint64_t respond_unix_time(void) { return boot_unix + clock_ns() / 1000000000u; }

const char *respond_stop_type(const struct task *t)
{
    switch (t->stop) {
    case TASK_STOP_EOS: return "eos";
    case TASK_STOP_LIMIT: return "limit";
    case TASK_STOP_WORD: return "word";
    default: return "none";
    }
}

const char *respond_finish_reason(const struct task *t) { return t->stop == TASK_STOP_LIMIT ? "length" : "stop"; }

/* ---- pieces ---- */

static bool is_oai(const struct task *t) { return t->api == TASK_API_OAI_COMPLETION || t->api == TASK_API_OAI_CHAT; }

static void write_piece(struct json_writer *w, int32_t id, bool with_bytes)
{
    const struct engine *e = api_model_engine();
    char buf[512];
    int n = tokenizer_token_to_piece(&e->tok, id, buf, sizeof buf, false);
    if (n < 0)
        n = 0;
    json_write_key(w, "token");
    json_write_string_n(w, buf, (size_t)n);
    if (with_bytes) {
        json_write_key(w, "bytes");
        json_write_array_begin(w);
        for (int i = 0; i < n; i++)
            json_write_i64(w, (uint8_t)buf[i]);
        json_write_array_end(w);
    }
}

static double logprob(float p) { return p > 0 ? (double)k_logf(p) : -1e30; }

/* llama.cpp's completion_probabilities entries for generated tokens [from, to). */
static void write_probs(struct json_writer *w, const struct task *t, int from, int to)
{
    json_write_array_begin(w);
    for (int i = from; i < to; i++) {
        const struct task_prob *pr = &t->probs[i];
        json_write_object_begin(w);
        json_write_member_i64(w, "id", pr->id);
        write_piece(w, pr->id, true);
        json_write_member_double(w, "logprob", logprob(pr->p));
        json_write_key(w, "top_logprobs");
        json_write_array_begin(w);
        for (int k = 0; k < pr->n; k++) {
            json_write_object_begin(w);
            json_write_member_i64(w, "id", pr->top_id[k]);
            write_piece(w, pr->top_id[k], true);
            json_write_member_double(w, "logprob", logprob(pr->top_p[k]));
            json_write_object_end(w);
        }
        json_write_array_end(w);
        json_write_object_end(w);
    }
    json_write_array_end(w);
}

/* OpenAI logprobs for generated tokens [from, to): chat {"content":[{token,logprob,bytes,top_logprobs}]},
   completions {"tokens","token_logprobs","top_logprobs":[{token: logprob}],"text_offset"}. null when off. */
static void write_oai_logprobs(struct json_writer *w, const struct task *t, int from, int to, size_t text_off)
{
    json_write_key(w, "logprobs");
    if (t->par.oai_logprobs < 0 || !t->probs) {
        json_write_null(w);
        return;
    }
    const struct engine *e = api_model_engine();
    int top = t->par.oai_logprobs;
    json_write_object_begin(w);
    if (t->api == TASK_API_OAI_CHAT) {
        json_write_key(w, "content");
        json_write_array_begin(w);
        for (int i = from; i < to; i++) {
            const struct task_prob *pr = &t->probs[i];
            json_write_object_begin(w);
            write_piece(w, pr->id, true);
            json_write_member_double(w, "logprob", logprob(pr->p));
            json_write_key(w, "top_logprobs");
            json_write_array_begin(w);
            for (int k = 0; k < pr->n && k < top; k++) {
                json_write_object_begin(w);
                write_piece(w, pr->top_id[k], true);
                json_write_member_double(w, "logprob", logprob(pr->top_p[k]));
                json_write_object_end(w);
            }
            json_write_array_end(w);
            json_write_object_end(w);
        }
        json_write_array_end(w);
    } else {
        char buf[512];
        json_write_key(w, "tokens");
        json_write_array_begin(w);
        for (int i = from; i < to; i++) {
            int n = tokenizer_token_to_piece(&e->tok, t->probs[i].id, buf, sizeof buf, false);
            json_write_string_n(w, buf, n > 0 ? (size_t)n : 0);
        }
        json_write_array_end(w);
        json_write_key(w, "token_logprobs");
        json_write_array_begin(w);
        for (int i = from; i < to; i++)
            json_write_double(w, logprob(t->probs[i].p));
        json_write_array_end(w);
        json_write_key(w, "top_logprobs");
        json_write_array_begin(w);
        for (int i = from; i < to; i++) {
            const struct task_prob *pr = &t->probs[i];
            json_write_object_begin(w);
            for (int k = 0; k < pr->n && k < top; k++) {
                int n = tokenizer_token_to_piece(&e->tok, pr->top_id[k], buf, sizeof buf, false);
                json_write_key_n(w, buf, n > 0 ? (size_t)n : 0);
                json_write_double(w, logprob(pr->top_p[k]));
            }
            json_write_object_end(w);
        }
        json_write_array_end(w);
        json_write_key(w, "text_offset");
        json_write_array_begin(w);
        size_t off = text_off;
        for (int i = from; i < to; i++) {
            json_write_u64(w, off);
            int n = tokenizer_token_to_piece(&e->tok, t->probs[i].id, buf, sizeof buf, false);
            off += n > 0 ? (size_t)n : 0;
        }
        json_write_array_end(w);
    }
    json_write_object_end(w);
}

static void write_settings(struct json_writer *w, const struct task *t)
{
    const struct engine *e = api_model_engine();
    const struct sampler_params *sp = &t->par.sp;
    json_write_object_begin(w);
    json_write_member_i64(w, "n_ctx", e->opt.n_ctx);
    json_write_member_i64(w, "n_predict", t->par.n_predict);
    json_write_member_string(w, "model", CLLM_MODEL_ALIAS);
    json_write_member_i64(w, "seed", t->par.seed_given < 0 ? 4294967295ll : t->par.seed_given);
    json_write_member_double(w, "temperature", sp->temperature);
    json_write_member_double(w, "dynatemp_range", 0.0);
    json_write_member_double(w, "dynatemp_exponent", 1.0);
    json_write_member_i64(w, "top_k", sp->top_k);
    json_write_member_double(w, "top_p", sp->top_p);
    json_write_member_double(w, "min_p", sp->min_p);
    json_write_member_double(w, "typical_p", 1.0);
    json_write_member_i64(w, "repeat_last_n", sp->repeat_last_n);
    json_write_member_double(w, "repeat_penalty", sp->repeat_penalty);
    json_write_member_double(w, "presence_penalty", sp->presence_penalty);
    json_write_member_double(w, "frequency_penalty", sp->frequency_penalty);
    json_write_member_i64(w, "mirostat", 0);
    json_write_key(w, "stop");
    json_write_array_begin(w);
    for (int i = 0; i < t->par.n_stop; i++)
        json_write_string_n(w, t->par.stop[i], t->par.stop_len[i]);
    json_write_array_end(w);
    json_write_member_i64(w, "max_tokens", t->par.n_predict);
    json_write_member_i64(w, "n_keep", 0);
    json_write_member_bool(w, "ignore_eos", t->par.ignore_eos);
    json_write_member_bool(w, "stream", t->par.stream);
    json_write_member_i64(w, "n_probs", sp->n_probs);
    json_write_member_bool(w, "cache_prompt", t->par.cache_prompt);
    json_write_key(w, "samplers");
    json_write_array_begin(w);
    json_write_string(w, "penalties");
    json_write_string(w, "top_k");
    json_write_string(w, "top_p");
    json_write_string(w, "min_p");
    json_write_string(w, "temperature");
    json_write_array_end(w);
    json_write_object_end(w);
}

static double ms(uint64_t ns) { return (double)ns / 1e6; }

static void write_timings(struct json_writer *w, const struct task *t)
{
    int prompt_n = t->n_prompt - t->n_cached;
    double pms = ms(t->t_prompt1 - t->t_prompt0), gms = ms(t->t_gen1 - t->t_prompt1);
    json_write_object_begin(w);
    json_write_member_i64(w, "cache_n", t->n_cached);
    json_write_member_i64(w, "prompt_n", prompt_n);
    json_write_member_double(w, "prompt_ms", pms);
    json_write_member_double(w, "prompt_per_token_ms", prompt_n ? pms / prompt_n : 0.0);
    json_write_member_double(w, "prompt_per_second", pms > 0 ? 1e3 * prompt_n / pms : 0.0);
    json_write_member_i64(w, "predicted_n", t->n_out);
    json_write_member_double(w, "predicted_ms", gms);
    json_write_member_double(w, "predicted_per_token_ms", t->n_out ? gms / t->n_out : 0.0);
    json_write_member_double(w, "predicted_per_second", gms > 0 ? 1e3 * t->n_out / gms : 0.0);
    json_write_object_end(w);
}

static void write_usage(struct json_writer *w, const struct task *t)
{
    json_write_key(w, "usage");
    json_write_object_begin(w);
    json_write_member_i64(w, "completion_tokens", t->n_out);
    json_write_member_i64(w, "prompt_tokens", t->n_prompt);
    json_write_member_i64(w, "total_tokens", t->n_prompt + t->n_out);
    json_write_object_end(w);
}

static void write_oai_head(struct json_writer *w, const struct task *t, bool chunk)
{
    json_write_member_string(w, "id", t->id);
    json_write_member_string(w, "object", t->api == TASK_API_OAI_CHAT
                                              ? (chunk ? "chat.completion.chunk" : "chat.completion")
                                              : "text_completion");
    json_write_member_i64(w, "created", (int64_t)t->created);
    json_write_member_string(w, "model", CLLM_MODEL_ALIAS);
    json_write_member_string(w, "system_fingerprint", "cllm-" CLLM_MODEL_ALIAS);
}

/* The native object: the whole answer (final), or the stream's last event (content "", tokens []). */
static void write_native(struct json_writer *w, const struct task *t, bool stream_end)
{
    const struct engine *e = api_model_engine();
    json_write_object_begin(w);
    json_write_member_i64(w, "index", 0);
    json_write_key(w, "content");
    if (stream_end)
        json_write_string(w, "");
    else
        json_write_string_n(w, t->text.p ? t->text.p : "", t->text.len);
    json_write_key(w, "tokens");
    json_write_array_begin(w);
    if (!stream_end && t->par.return_tokens)
        for (int i = 0; i < t->n_out; i++)
            json_write_i64(w, t->out[i]);
    json_write_array_end(w);
    json_write_member_i64(w, "id_slot", t->slot);
    json_write_member_bool(w, "stop", true);
    json_write_member_string(w, "model", CLLM_MODEL_ALIAS);
    json_write_member_i64(w, "tokens_predicted", t->n_out);
    json_write_member_i64(w, "tokens_evaluated", t->n_prompt);
    json_write_key(w, "generation_settings");
    write_settings(w, t);
    /* the prompt as text (special tokens rendered) */
    json_write_key(w, "prompt");
    struct sbuf pb;
    sbuf_init(&pb, RESPOND_MAX_JSON);
    char piece[512];
    for (int i = 0; i < t->n_prompt; i++) {
        int n = tokenizer_token_to_piece(&e->tok, t->prompt[i], piece, sizeof piece, true);
        if (n > 0)
            sbuf_add(&pb, piece, (size_t)n);
    }
    json_write_string_n(w, pb.p ? pb.p : "", pb.failed ? 0 : pb.len);
    sbuf_free(&pb);
    json_write_member_bool(w, "has_new_line", t->text.p && memchr(t->text.p, '\n', t->text.len) != NULL);
    json_write_member_bool(w, "truncated", false);
    json_write_member_string(w, "stop_type", respond_stop_type(t));
    json_write_member_string(w, "stopping_word", t->stop == TASK_STOP_WORD ? t->par.stop[t->stop_word] : "");
    json_write_member_i64(w, "tokens_cached", t->n_cached + t->n_out);
    json_write_key(w, "timings");
    write_timings(w, t);
    if (t->par.sp.n_probs > 0 && !stream_end) {
        json_write_key(w, "completion_probabilities");
        write_probs(w, t, 0, t->n_out);
    }
    json_write_object_end(w);
}

static void write_oai_final(struct json_writer *w, const struct task *t)
{
    json_write_object_begin(w);
    write_oai_head(w, t, false);
    json_write_key(w, "choices");
    json_write_array_begin(w);
    json_write_object_begin(w);
    json_write_member_i64(w, "index", 0);
    if (t->api == TASK_API_OAI_CHAT) {
        json_write_key(w, "message");
        json_write_object_begin(w);
        json_write_member_string(w, "role", "assistant");
        json_write_key(w, "content");
        json_write_string_n(w, t->text.p ? t->text.p : "", t->text.len);
        json_write_object_end(w);
    } else {
        json_write_key(w, "text");
        json_write_string_n(w, t->text.p ? t->text.p : "", t->text.len);
    }
    write_oai_logprobs(w, t, 0, t->n_out, 0);
    json_write_member_string(w, "finish_reason", respond_finish_reason(t));
    json_write_object_end(w);
    json_write_array_end(w);
    write_usage(w, t);
    json_write_key(w, "timings");
    write_timings(w, t);
    json_write_object_end(w);
}

/* An OpenAI chunk: text (may be NULL for none), finish_reason (NULL while generating). */
static void write_oai_chunk(struct json_writer *w, const struct task *t, const char *text, size_t n,
                            const char *finish, bool role, int tok0, int tok1)
{
    json_write_object_begin(w);
    write_oai_head(w, t, true);
    json_write_key(w, "choices");
    json_write_array_begin(w);
    json_write_object_begin(w);
    json_write_member_i64(w, "index", 0);
    if (t->api == TASK_API_OAI_CHAT) {
        json_write_key(w, "delta");
        json_write_object_begin(w);
        if (role) {
            json_write_member_string(w, "role", "assistant");
            json_write_member_string(w, "content", "");
        } else if (text) {
            json_write_key(w, "content");
            json_write_string_n(w, text, n);
        }
        json_write_object_end(w);
    } else {
        json_write_key(w, "text");
        json_write_string_n(w, text ? text : "", text ? n : 0);
    }
    if (tok1 > tok0)
        write_oai_logprobs(w, t, tok0, tok1, text ? (size_t)(text - (t->text.p ? t->text.p : text)) : 0);
    else
        json_write_member_null(w, "logprobs");
    if (finish)
        json_write_member_string(w, "finish_reason", finish);
    else
        json_write_member_null(w, "finish_reason");
    json_write_object_end(w);
    json_write_array_end(w);
    json_write_object_end(w);
}

/* Send one SSE event from w if the stream has room. */
static bool send_event(struct task *t, struct json_writer *w)
{
    size_t len;
    const char *s = json_writer_result(w, &len);
    bool ok = s && http_reply_stream_space(t->reply) >= len + 32 && http_reply_sse(t->reply, s, len);
    json_writer_free(w);
    return ok;
}

bool respond_stream_open(struct task *t)
{
    if (!http_reply_stream_begin(t->reply, 200, "text/event-stream"))
        return false;
    t->stream_started = true;
    if (t->api == TASK_API_OAI_CHAT) {
        struct json_writer w;
        json_writer_init(&w, RESPOND_MAX_JSON);
        write_oai_chunk(&w, t, NULL, 0, NULL, true, 0, 0);
        return send_event(t, &w);
    }
    return true;
}

bool respond_stream_delta(struct task *t, const char *text, size_t n, int tok0, int tok1)
{
    struct json_writer w;
    json_writer_init(&w, RESPOND_MAX_JSON);
    if (is_oai(t)) {
        write_oai_chunk(&w, t, text, n, NULL, false, tok0, tok1);
    } else {
        json_write_object_begin(&w);
        json_write_member_i64(&w, "index", 0);
        json_write_key(&w, "content");
        json_write_string_n(&w, text, n);
        json_write_key(&w, "tokens");
        json_write_array_begin(&w);
        for (int i = tok0; i < tok1; i++)
            json_write_i64(&w, t->out[i]);
        json_write_array_end(&w);
        json_write_member_bool(&w, "stop", false);
        json_write_member_i64(&w, "id_slot", t->slot);
        json_write_member_i64(&w, "tokens_predicted", tok1);
        json_write_member_i64(&w, "tokens_evaluated", t->n_prompt);
        if (t->par.sp.n_probs > 0) {
            json_write_key(&w, "completion_probabilities");
            write_probs(&w, t, tok0, tok1);
        }
        json_write_object_end(&w);
    }
    return send_event(t, &w);
}

bool respond_finish(struct task *t)
{
    struct json_writer w;
    json_writer_init(&w, RESPOND_MAX_JSON);
    if (!t->par.stream) {
        if (is_oai(t))
            write_oai_final(&w, t);
        else
            write_native(&w, t, false);
        size_t len;
        const char *s = json_writer_result(&w, &len);
        if (s)
            http_reply_json(t->reply, 200, s, len);
        else
            http_reply_error(t->reply, 500, "the response could not be formatted");
        json_writer_free(&w);
        return true;
    }
    /* stream: the last events, each sent once (fin_stage remembers how far we got) */
    while (t->fin_stage < 3) {
        json_writer_init(&w, RESPOND_MAX_JSON);
        if (t->fin_stage == 0) {
            if (is_oai(t))
                write_oai_chunk(&w, t, t->api == TASK_API_OAI_CHAT ? NULL : "", 0, respond_finish_reason(t),
                                false, 0, 0);
            else
                write_native(&w, t, true);
        } else if (t->fin_stage == 1) {
            if (!is_oai(t) || !t->par.include_usage) {
                t->fin_stage++;
                json_writer_free(&w);
                continue;
            }
            json_write_object_begin(&w);
            write_oai_head(&w, t, true);
            json_write_key(&w, "choices");
            json_write_array_begin(&w);
            json_write_array_end(&w);
            write_usage(&w, t);
            json_write_object_end(&w);
        } else {
            json_writer_free(&w);
            if (is_oai(t)) {
                if (http_reply_stream_space(t->reply) < 64 || !http_reply_sse(t->reply, "[DONE]", 6))
                    return !http_reply_alive(t->reply);
            }
            t->fin_stage++;
            break;
        }
        if (!send_event(t, &w))
            return !http_reply_alive(t->reply);
        t->fin_stage++;
    }
    http_reply_stream_end(t->reply);
    return true;
}

/* OpenAI's base64 embedding: the float32 array's little-endian bytes in standard base64 (RFC 4648). */
static void write_base64_floats(struct json_writer *w, const float *v, int n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const uint8_t *b = (const uint8_t *)v;   /* x86-64 is little-endian */
    size_t len = (size_t)n * 4, olen = (len + 2) / 3 * 4;
    char *out = kmalloc(olen + 1);
    if (!out) {
        json_write_null(w);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t x = (uint32_t)b[i] << 16 | (i + 1 < len ? (uint32_t)b[i + 1] << 8 : 0) |
                     (i + 2 < len ? b[i + 2] : 0);
        out[o++] = tab[x >> 18];
        out[o++] = tab[(x >> 12) & 63];
        out[o++] = i + 1 < len ? tab[(x >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? tab[x & 63] : '=';
    }
    json_write_string_n(w, out, o);
    kfree(out);
}

void respond_embedding(struct task *t, const float *v, int n)
{
    struct json_writer w;
    json_writer_init(&w, RESPOND_MAX_JSON);
    if (t->api == TASK_API_EMBED_OAI) {
        json_write_object_begin(&w);
        json_write_member_string(&w, "model", CLLM_MODEL_ALIAS);
        json_write_member_string(&w, "object", "list");
        json_write_key(&w, "usage");
        json_write_object_begin(&w);
        json_write_member_i64(&w, "prompt_tokens", t->n_prompt);
        json_write_member_i64(&w, "total_tokens", t->n_prompt);
        json_write_object_end(&w);
        json_write_key(&w, "data");
        json_write_array_begin(&w);
        json_write_object_begin(&w);
        json_write_member_string(&w, "object", "embedding");
        json_write_member_i64(&w, "index", 0);
        json_write_key(&w, "embedding");
        if (t->embd_base64) {
            write_base64_floats(&w, v, n);
        } else {
            json_write_array_begin(&w);
            for (int i = 0; i < n; i++)
                json_write_double(&w, v[i]);
            json_write_array_end(&w);
        }
        json_write_object_end(&w);
        json_write_array_end(&w);
        json_write_object_end(&w);
    } else {
        /* llama.cpp: [{"index":0,"embedding":[[...pooled...]]}] */
        json_write_array_begin(&w);
        json_write_object_begin(&w);
        json_write_member_i64(&w, "index", 0);
        json_write_key(&w, "embedding");
        json_write_array_begin(&w);
        json_write_array_begin(&w);
        for (int i = 0; i < n; i++)
            json_write_double(&w, v[i]);
        json_write_array_end(&w);
        json_write_array_end(&w);
        json_write_object_end(&w);
        json_write_array_end(&w);
    }
    size_t len;
    const char *s = json_writer_result(&w, &len);
    if (s)
        http_reply_json(t->reply, 200, s, len);
    else
        http_reply_error(t->reply, 500, "the response could not be formatted");
    json_writer_free(&w);
}

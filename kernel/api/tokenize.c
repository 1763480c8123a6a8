/* POST /tokenize (content, add_special, parse_special, with_pieces), POST /detokenize (tokens) and
   POST /apply-template (messages -> prompt): answered at once, without a slot, so they stay fast while a request
   generates. Shapes are llama.cpp's. */
#include "api/api.h"
#include "api/model.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"

#define TOKENIZE_MAX_JSON (16 * 1024 * 1024)

static bool opt_bool(const struct json_value *body, const char *key, bool def, bool *out, http_reply reply)
{
    const struct json_value *v = json_object_get(body, key);
    *out = def;
    if (!v || v->type == JSON_NULL)
        return true;
    if (json_get_bool(v, out))
        return true;
    char msg[120];
    fmt_snprintf(msg, sizeof msg, "'%s' must be a boolean, got %s", key, json_type_name(v));
    http_reply_error(reply, 400, msg);
    return false;
}

static void reply_writer(http_reply reply, struct json_writer *w)
{
    size_t len;
    const char *s = json_writer_result(w, &len);
    if (s)
        http_reply_json(reply, 200, s, len);
    else
        http_reply_error(reply, 500, "the response is too large");
    json_writer_free(w);
}

/* Whether s[0..n) is valid UTF-8 (a piece that is, is a string; else llama.cpp gives its bytes). */
static bool utf8_valid(const char *s, int n)
{
    for (int i = 0; i < n;) {
        uint32_t cp;
        size_t k = json_utf8_decode((const uint8_t *)s + i, (size_t)(n - i), &cp);
        if (!k)
            return false;
        i += (int)k;
    }
    return true;
}

static void tokenize_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    struct json_doc doc;
    const struct json_value *body = api_parse_body(req, reply, &doc);
    if (!body)
        return;
    const struct engine *e = api_model_engine();
    const char *text;
    size_t len;
    bool add_special, parse_special, with_pieces;
    const struct json_value *c = json_object_get(body, "content");
    if (!json_get_string(c, &text, &len)) {
        char msg[120];
        fmt_snprintf(msg, sizeof msg, "'content' must be a string, got %s", json_type_name(c));
        http_reply_error(reply, 400, msg);
        goto out;
    }
    if (!opt_bool(body, "add_special", false, &add_special, reply) ||
        !opt_bool(body, "parse_special", true, &parse_special, reply) ||
        !opt_bool(body, "with_pieces", false, &with_pieces, reply))
        goto out;
    int cap = (int)(3 * len + 8);
    int32_t *toks = kmalloc((size_t)cap * sizeof *toks);
    int n = toks ? engine_tokenize(e, text, len, add_special, parse_special, toks, cap) : -1;
    if (n < 0) {
        kfree(toks);
        http_reply_error(reply, 500, "tokenization failed");
        goto out;
    }
    struct json_writer w;
    json_writer_init(&w, TOKENIZE_MAX_JSON);
    json_write_object_begin(&w);
    json_write_key(&w, "tokens");
    json_write_array_begin(&w);
    char piece[512];
    for (int i = 0; i < n; i++) {
        if (!with_pieces) {
            json_write_i64(&w, toks[i]);
            continue;
        }
        int pn = tokenizer_token_to_piece(&e->tok, toks[i], piece, sizeof piece, true);
        if (pn < 0)
            pn = 0;
        json_write_object_begin(&w);
        json_write_member_i64(&w, "id", toks[i]);
        json_write_key(&w, "piece");
        if (utf8_valid(piece, pn)) {
            json_write_string_n(&w, piece, (size_t)pn);
        } else {
            json_write_array_begin(&w);
            for (int k = 0; k < pn; k++)
                json_write_i64(&w, (uint8_t)piece[k]);
            json_write_array_end(&w);
        }
        json_write_object_end(&w);
    }
    json_write_array_end(&w);
    json_write_object_end(&w);
    kfree(toks);
    reply_writer(reply, &w);
out:
    json_doc_free(&doc);
}

static void detokenize_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    struct json_doc doc;
    const struct json_value *body = api_parse_body(req, reply, &doc);
    if (!body)
        return;
    const struct engine *e = api_model_engine();
    const struct json_value *tv = json_object_get(body, "tokens");
    struct sbuf text;
    sbuf_init(&text, TOKENIZE_MAX_JSON);
    if (!tv || tv->type != JSON_ARRAY) {
        char msg[120];
        fmt_snprintf(msg, sizeof msg, "'tokens' must be an array of token ids, got %s", json_type_name(tv));
        http_reply_error(reply, 400, msg);
        goto out;
    }
    char piece[512];
    for (const struct json_value *v = tv->u.list.first; v; v = v->next) {
        int64_t id;
        if (!json_get_i64(v, &id) || id < 0 || id >= e->model.hp.n_vocab) {
            char msg[120];
            fmt_snprintf(msg, sizeof msg, "'tokens' holds an invalid token id (the vocabulary has %d tokens)",
                         e->model.hp.n_vocab);
            http_reply_error(reply, 400, msg);
            goto out;
        }
        int pn = tokenizer_token_to_piece(&e->tok, (int32_t)id, piece, sizeof piece, false);
        if (pn > 0)
            sbuf_add(&text, piece, (size_t)pn);
    }
    struct json_writer w;
    json_writer_init(&w, TOKENIZE_MAX_JSON);
    json_write_object_begin(&w);
    json_write_key(&w, "content");
    json_write_string_n(&w, text.p ? text.p : "", text.len);
    json_write_object_end(&w);
    reply_writer(reply, &w);
out:
    sbuf_free(&text);
    json_doc_free(&doc);
}

static void apply_template_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    struct json_doc doc;
    const struct json_value *body = api_parse_body(req, reply, &doc);
    if (!body)
        return;
    struct sbuf text;
    sbuf_init(&text, CLLM_HTTP_MAX_BODY * 2u + 4096);
    char err[200];
    if (!api_render_chat(json_object_get(body, "messages"), true, &text, err, sizeof err)) {
        http_reply_error(reply, 400, err);
    } else {
        struct json_writer w;
        json_writer_init(&w, TOKENIZE_MAX_JSON);
        json_write_object_begin(&w);
        json_write_key(&w, "prompt");
        json_write_string_n(&w, text.p ? text.p : "", text.len);
        json_write_object_end(&w);
        reply_writer(reply, &w);
    }
    sbuf_free(&text);
    json_doc_free(&doc);
}

void tokenize_init(void)
{
    uint32_t post = HTTP_METHOD_BIT(HTTP_METHOD_POST);
    router_add(post, "/tokenize", tokenize_handle, 0);
    router_add(post, "/detokenize", detokenize_handle, 0);
    router_add(post, "/apply-template", apply_template_handle, 0);
}

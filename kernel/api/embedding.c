/* Embedding endpoints: llama.cpp's POST /embedding ("content") and OpenAI's POST /v1/embeddings ("input"): the
   text is tokenized here and queued on the scheduler (api/sched.c), which runs the forward pass chunk by chunk
   (llm/embed.c) and answers with the mean-pooled, L2-normalized final hidden state (api/respond.c). */
#include "api/api.h"
#include "api/model.h"
#include "api/params.h"
#include "api/sched.h"
#include "lib/fmt.h"

static void embed(const struct http_request *req, http_reply reply, enum task_api api)
{
    struct json_doc doc;
    const struct json_value *body = api_parse_body(req, reply, &doc);
    if (!body)
        return;
    char err[PARAMS_ERR_LEN];
    struct task *t = task_new(api);
    if (!t) {
        json_doc_free(&doc);
        http_reply_error(reply, 500, "out of memory");
        return;
    }
    t->reply = reply;
    const char *key = api == TASK_API_EMBED_OAI ? "input" : "content";
    const struct json_value *in = json_object_get(body, key);
    if (api == TASK_API_EMBED_NATIVE && !in)
        in = json_object_get(body, "input");     /* llama.cpp accepts both names */
    const struct json_value *fmt = json_object_get(body, "encoding_format");
    if (fmt && fmt->type != JSON_NULL) {
        if (json_string_equals(fmt, "base64")) {
            t->embd_base64 = true;
        } else if (!json_string_equals(fmt, "float")) {
            fmt_snprintf(err, sizeof err, "'encoding_format' must be \"float\" or \"base64\"");
            goto bad;
        }
    }
    if (!in) {
        fmt_snprintf(err, sizeof err, "'%s' is required", key);
        goto bad;
    }
    if (in->type == JSON_ARRAY && in->u.list.count > 1 && in->u.list.first->type == JSON_STRING) {
        fmt_snprintf(err, sizeof err, "'%s': one input per request is supported", key);
        goto bad;
    }
    if (!params_prompt_tokens(in, key, true, &t->prompt, &t->n_prompt, err, sizeof err))
        goto bad;
    json_doc_free(&doc);
    if (!sched_submit(t)) {
        task_free(t);
        http_reply_error(reply, 503, "too many requests are waiting for a slot");
    }
    return;
bad:
    json_doc_free(&doc);
    task_free(t);
    http_reply_error(reply, 400, err);
}

static void embedding_native(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    embed(req, reply, TASK_API_EMBED_NATIVE);
}

static void embedding_oai(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    embed(req, reply, TASK_API_EMBED_OAI);
}

void embedding_init(void)
{
    uint32_t post = HTTP_METHOD_BIT(HTTP_METHOD_POST);
    router_add(post, "/embedding", embedding_native, 0);
    router_add(post, "/embeddings", embedding_native, 0);
    router_add(post, "/v1/embeddings", embedding_oai, 0);
}

/* Generation endpoints: llama.cpp's POST /completion (and /completions) and OpenAI's POST /v1/completions and
   /v1/chat/completions. Each handler validates the body (api/params.c), tokenizes the prompt (chat: renders the
   messages with api/chat_template.c first), and queues a task on the scheduler (api/sched.c), which answers
   later in the API's format (api/respond.c). */
#include "api/api.h"
#include "api/model.h"
#include "api/params.h"
#include "api/respond.h"
#include "api/sched.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/fmt.h"

static void make_id(struct task *t)
{
    const char *pre = t->api == TASK_API_OAI_CHAT ? "chatcmpl-" : "cmpl-";
    uint64_t r = params_random();
    fmt_snprintf(t->id, sizeof t->id, "%s%016llx", pre, (unsigned long long)r);
}

static void generate(const struct http_request *req, http_reply reply, enum task_api api)
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
    if (!params_parse(body, t, err, sizeof err))
        goto bad;
    if (api == TASK_API_OAI_CHAT) {
        struct sbuf text;
        sbuf_init(&text, CLLM_HTTP_MAX_BODY * 2u + 4096);
        if (!api_render_chat(json_object_get(body, "messages"), true, &text, err, sizeof err)) {
            sbuf_free(&text);
            goto bad;
        }
        struct json_value v = { .type = JSON_STRING };
        v.u.str.s = text.p ? text.p : "";
        v.u.str.len = text.len;
        bool ok = params_prompt_tokens(&v, "messages", api_chat_add_special(), &t->prompt, &t->n_prompt, err, sizeof err);
        sbuf_free(&text);
        if (!ok)
            goto bad;
    } else if (!params_prompt_tokens(json_object_get(body, "prompt"), "prompt", true, &t->prompt, &t->n_prompt, err,
                                     sizeof err)) {
        goto bad;
    }
    json_doc_free(&doc);
    make_id(t);
    t->created = respond_unix_time();
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

static void completion_native(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    generate(req, reply, TASK_API_NATIVE);
}

static void completion_oai(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    generate(req, reply, TASK_API_OAI_COMPLETION);
}

static void completion_chat(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)ctx;
    generate(req, reply, TASK_API_OAI_CHAT);
}

void completion_init(void)
{
    uint32_t post = HTTP_METHOD_BIT(HTTP_METHOD_POST);
    router_add(post, "/completion", completion_native, 0);
    router_add(post, "/completions", completion_native, 0);
    router_add(post, "/v1/completions", completion_oai, 0);
    router_add(post, "/v1/chat/completions", completion_chat, 0);
    router_add(post, "/chat/completions", completion_chat, 0);
}

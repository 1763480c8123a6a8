/* API set-up and the helpers the endpoint files share (see api.h). */
#include "api/api.h"
#include "api/chat_template.h"
#include "api/health.h"
#include "api/model.h"
#include "api/respond.h"
#include "api/sched.h"
#include "lib/fmt.h"

void api_init(void)
{
    health_set_ready(false);          /* 503 until sched_step has opened the model */
    respond_time_init();
    sched_init();
    completion_init();
    embedding_init();
    tokenize_init();
    info_init();
    metrics_init();
}

const struct json_value *api_parse_body(const struct http_request *req, http_reply reply, struct json_doc *doc)
{
    if (!api_model_ready()) {
        const char *why = api_model_error();
        if (why[0]) {
            char msg[260];
            fmt_snprintf(msg, sizeof msg, "the model failed to load: %s", why);
            http_reply_error(reply, 500, msg);
        } else {
            http_reply_error(reply, 503, "Loading model");
        }
        return NULL;
    }
    struct json_error err;
    if (!json_parse(req->body ? req->body : "", req->body_len, doc, &err)) {
        char msg[200];
        fmt_snprintf(msg, sizeof msg, "invalid JSON in the request body at byte %zu: %s", err.offset, err.message);
        http_reply_error(reply, 400, msg);
        return NULL;
    }
    if (doc->root->type != JSON_OBJECT) {
        json_doc_free(doc);
        http_reply_error(reply, 400, "the request body must be a JSON object");
        return NULL;
    }
    return doc->root;
}

static char bos_text[128];

static void chat_template_get(struct chat_template *t)
{
    chat_template_default(t);
    const struct engine *e = api_model_engine();
    if (!bos_text[0] && e && e->bos >= 0) {
        const struct tokenizer_token *tk = &e->tok.tokens[e->bos];
        size_t n = tk->len < sizeof bos_text - 1 ? tk->len : sizeof bos_text - 1;
        memcpy(bos_text, tk->text, n);
        bos_text[n] = 0;
    }
    t->bos_text = bos_text;
}

bool api_chat_add_special(void)
{
    struct chat_template t;
    chat_template_default(&t);
    return !t.add_bos;
}

#define API_MAX_MESSAGES 256

bool api_render_chat(const struct json_value *messages, bool add_generation_prompt, struct sbuf *out, char *err,
                     size_t errlen)
{
    if (!messages || messages->type != JSON_ARRAY) {
        fmt_snprintf(err, errlen, "'messages' must be an array, got %s", json_type_name(messages));
        return false;
    }
    if (messages->u.list.count == 0 || messages->u.list.count > API_MAX_MESSAGES) {
        fmt_snprintf(err, errlen, "'messages' must hold 1 to %d messages", API_MAX_MESSAGES);
        return false;
    }
    struct chat_message msgs[API_MAX_MESSAGES];
    struct sbuf parts;                /* contents given as arrays of text parts, joined */
    sbuf_init(&parts, 1u << 30);
    size_t part_off[API_MAX_MESSAGES];
    bool from_parts[API_MAX_MESSAGES];
    int n = 0;
    bool ok = false;
    for (const struct json_value *m = messages->u.list.first; m; m = m->next, n++) {
        const char *role;
        size_t rlen;
        if (m->type != JSON_OBJECT) {
            fmt_snprintf(err, errlen, "messages[%d] must be an object, got %s", n, json_type_name(m));
            goto out;
        }
        if (!json_get_string(json_object_get(m, "role"), &role, &rlen)) {
            fmt_snprintf(err, errlen, "messages[%d].role must be a string", n);
            goto out;
        }
        int r = chat_role_parse(role, rlen);
        if (r < 0 && rlen == 9 && memcmp(role, "developer", 9) == 0)
            r = CHAT_ROLE_SYSTEM;         /* OpenAI's newer name for system instructions */
        if (r < 0) {
            fmt_snprintf(err, errlen, "messages[%d].role: unsupported role '%.*s' (system, user, assistant)", n,
                         (int)(rlen > 40 ? 40 : rlen), role);
            goto out;
        }
        msgs[n].role = (enum chat_role)r;
        from_parts[n] = false;
        const struct json_value *c = json_object_get(m, "content");
        if (c && c->type == JSON_STRING) {
            msgs[n].content = c->u.str.s;
            msgs[n].len = c->u.str.len;
        } else if (c && c->type == JSON_ARRAY) {
            part_off[n] = parts.len;
            for (const struct json_value *p = c->u.list.first; p; p = p->next) {
                const char *txt;
                size_t tlen;
                if (!json_string_equals(json_object_get(p, "type"), "text") ||
                    !json_get_string(json_object_get(p, "text"), &txt, &tlen)) {
                    fmt_snprintf(err, errlen, "messages[%d].content: only text parts are supported", n);
                    goto out;
                }
                sbuf_add(&parts, txt, tlen);
            }
            from_parts[n] = true;
            msgs[n].len = parts.len - part_off[n];
        } else if (!c || c->type == JSON_NULL) {
            msgs[n].content = "";
            msgs[n].len = 0;
        } else {
            fmt_snprintf(err, errlen, "messages[%d].content must be a string or an array of text parts, got %s", n,
                         json_type_name(c));
            goto out;
        }
    }
    if (parts.failed) {
        fmt_snprintf(err, errlen, "out of memory for the messages");
        goto out;
    }
    for (int i = 0; i < n; i++)
        if (from_parts[i])
            msgs[i].content = parts.p ? parts.p + part_off[i] : "";
    struct chat_template tpl;
    chat_template_get(&tpl);
    const char *why;
    if (chat_template_render(&tpl, msgs, n, add_generation_prompt, out, &why) != 0) {
        fmt_snprintf(err, errlen, "'messages': %s", why);
        goto out;
    }
    if (out->failed) {
        fmt_snprintf(err, errlen, "the rendered conversation is too long");
        goto out;
    }
    ok = true;
out:
    sbuf_free(&parts);
    return ok;
}

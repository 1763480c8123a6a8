/* GET /props (generation defaults, n_ctx, model path and alias, chat template, build info) and GET /models,
   GET /v1/models (the one baked model, id = CLLM_MODEL_ALIAS). Shapes follow llama.cpp's server. */
#include "api/api.h"
#include "api/chat_template.h"
#include "api/model.h"
#include "api/respond.h"
#include "api/sched.h"
#include "api/task.h"
#include "core/limits.h"

#define INFO_MAX_JSON (1024 * 1024)

static void reply_writer(http_reply reply, struct json_writer *w)
{
    size_t len;
    const char *s = json_writer_result(w, &len);
    if (s)
        http_reply_json(reply, 200, s, len);
    else
        http_reply_error(reply, 500, "the response could not be formatted");
    json_writer_free(w);
}

static void props_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)req;
    (void)ctx;
    const struct engine *e = api_model_engine();
    if (!e) {
        http_reply_error(reply, 503, "Loading model");
        return;
    }
    struct task *t = task_new(TASK_API_NATIVE);    /* the defaults a request starts from */
    if (!t) {
        http_reply_error(reply, 500, "out of memory");
        return;
    }
    const struct sampler_params *sp = &t->par.sp;
    struct json_writer w;
    json_writer_init(&w, INFO_MAX_JSON);
    json_write_object_begin(&w);
    json_write_key(&w, "default_generation_settings");
    json_write_object_begin(&w);
    json_write_member_i64(&w, "id", 0);
    json_write_member_i64(&w, "id_task", -1);
    json_write_member_i64(&w, "n_ctx", e->opt.n_ctx);
    json_write_member_bool(&w, "speculative", false);
    json_write_member_bool(&w, "is_processing", false);
    json_write_key(&w, "params");
    json_write_object_begin(&w);
    json_write_member_i64(&w, "n_predict", t->par.n_predict);
    json_write_member_i64(&w, "seed", t->par.seed_given < 0 ? 4294967295ll : t->par.seed_given);
    json_write_member_double(&w, "temperature", sp->temperature);
    json_write_member_double(&w, "dynatemp_range", 0.0);
    json_write_member_double(&w, "dynatemp_exponent", 1.0);
    json_write_member_i64(&w, "top_k", sp->top_k);
    json_write_member_double(&w, "top_p", sp->top_p);
    json_write_member_double(&w, "min_p", sp->min_p);
    json_write_member_double(&w, "typical_p", 1.0);
    json_write_member_i64(&w, "repeat_last_n", sp->repeat_last_n);
    json_write_member_double(&w, "repeat_penalty", sp->repeat_penalty);
    json_write_member_double(&w, "presence_penalty", sp->presence_penalty);
    json_write_member_double(&w, "frequency_penalty", sp->frequency_penalty);
    json_write_member_i64(&w, "mirostat", 0);
    json_write_key(&w, "stop");
    json_write_array_begin(&w);
    json_write_array_end(&w);
    json_write_member_i64(&w, "max_tokens", t->par.n_predict);
    json_write_member_i64(&w, "n_keep", 0);
    json_write_member_bool(&w, "ignore_eos", false);
    json_write_member_bool(&w, "stream", false);
    json_write_member_i64(&w, "n_probs", 0);
    json_write_key(&w, "samplers");
    json_write_array_begin(&w);
    json_write_string(&w, "penalties");
    json_write_string(&w, "top_k");
    json_write_string(&w, "top_p");
    json_write_string(&w, "min_p");
    json_write_string(&w, "temperature");
    json_write_array_end(&w);
    json_write_object_end(&w);
    json_write_member_string(&w, "prompt", "");
    json_write_object_end(&w);
    json_write_member_i64(&w, "total_slots", e->opt.n_slots);
    json_write_member_string(&w, "model_path", CLLM_MODEL_FILE);
    json_write_member_string(&w, "model_alias", CLLM_MODEL_ALIAS);
#ifdef CLLM_CHAT_TEMPLATE
    json_write_member_string(&w, "chat_template", CLLM_CHAT_TEMPLATE);   /* the one the build verified */
#else
    json_write_member_string(&w, "chat_template", api_model_chat_template());
#endif
    json_write_key(&w, "chat_template_caps");
    json_write_object_begin(&w);
    json_write_object_end(&w);
    json_write_key(&w, "modalities");
    json_write_object_begin(&w);
    json_write_member_bool(&w, "vision", false);
    json_write_member_bool(&w, "audio", false);
    json_write_object_end(&w);
    json_write_member_string(&w, "build_info", "cllm (bare-metal unikernel)");
    json_write_member_bool(&w, "is_sleeping", false);
    json_write_object_end(&w);
    task_free(t);
    reply_writer(reply, &w);
}

static void models_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)req;
    (void)ctx;
    const struct engine *e = api_model_engine();
    struct json_writer w;
    json_writer_init(&w, INFO_MAX_JSON);
    json_write_object_begin(&w);
    json_write_member_string(&w, "object", "list");
    json_write_key(&w, "data");
    json_write_array_begin(&w);
    json_write_object_begin(&w);
    json_write_member_string(&w, "id", CLLM_MODEL_ALIAS);
    json_write_member_string(&w, "object", "model");
    json_write_member_i64(&w, "created", (int64_t)respond_unix_time());
    json_write_member_string(&w, "owned_by", "cllm");
    json_write_key(&w, "meta");
    if (e) {
        json_write_object_begin(&w);
        json_write_member_i64(&w, "vocab_type", e->tok.kind == TOKENIZER_SPM ? 1 : 2);
        json_write_member_i64(&w, "n_vocab", e->model.hp.n_vocab);
        json_write_member_i64(&w, "n_ctx_train", e->model.hp.n_ctx_train);
        json_write_member_i64(&w, "n_embd", e->model.hp.n_embd);
        json_write_member_i64(&w, "n_params", (int64_t)api_model_n_params());
        json_write_member_i64(&w, "size", (int64_t)api_model_size());
        json_write_object_end(&w);
    } else {
        json_write_null(&w);
    }
    json_write_object_end(&w);
    json_write_array_end(&w);
    json_write_object_end(&w);
    reply_writer(reply, &w);
}

/* GET /slots: llama.cpp's per-slot state (a subset: what this scheduler has). */
static void slots_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)req;
    (void)ctx;
    const struct engine *e = api_model_engine();
    if (!e) {
        http_reply_error(reply, 503, "Loading model");
        return;
    }
    struct json_writer w;
    json_writer_init(&w, INFO_MAX_JSON);
    json_write_array_begin(&w);
    struct sched_slot_info si;
    for (int i = 0; sched_slot_info(i, &si); i++) {
        json_write_object_begin(&w);
        json_write_member_i64(&w, "id", i);
        json_write_member_i64(&w, "n_ctx", e->opt.n_ctx);
        json_write_member_bool(&w, "speculative", false);
        json_write_member_bool(&w, "is_processing", si.is_processing);
        json_write_member_i64(&w, "n_past", si.n_past);
        json_write_member_i64(&w, "n_prompt_tokens", si.n_prompt);
        json_write_key(&w, "next_token");
        json_write_object_begin(&w);
        json_write_member_bool(&w, "has_next_token", si.is_processing);
        json_write_member_i64(&w, "n_remain", si.n_remain);
        json_write_member_i64(&w, "n_decoded", si.n_decoded);
        json_write_object_end(&w);
        json_write_object_end(&w);
    }
    json_write_array_end(&w);
    reply_writer(reply, &w);
}

void info_init(void)
{
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_GET), "/slots", slots_handle, 0);
    uint32_t get = HTTP_METHOD_BIT(HTTP_METHOD_GET);
    router_add(get, "/props", props_handle, 0);
    router_add(get, "/models", models_handle, 0);
    router_add(get, "/v1/models", models_handle, 0);
}

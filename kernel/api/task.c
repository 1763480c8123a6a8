/* Task allocation with the build's default parameters (see task.h). */
#include "api/task.h"
#include "api/params.h"
#include "core/heap.h"
#include "core/limits.h"

struct task *task_new(enum task_api api)
{
    struct task *t = kcalloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->api = api;
    t->state = TASK_QUEUED;
    t->slot = -1;
    struct sampler_params *sp = &t->par.sp;
    sampler_params_default(sp);
    sp->temperature = CLLM_DEFAULT_TEMPERATURE;
    sp->top_k = CLLM_DEFAULT_TOP_K;
    sp->top_p = CLLM_DEFAULT_TOP_P;
    sp->min_p = CLLM_DEFAULT_MIN_P;
    sp->repeat_penalty = CLLM_DEFAULT_REPEAT_PENALTY;
    sp->repeat_last_n = CLLM_DEFAULT_REPEAT_LAST_N;
    sp->presence_penalty = 0.0f;
    sp->frequency_penalty = 0.0f;
    sp->n_probs = 0;
    t->par.seed_given = CLLM_DEFAULT_SEED;
    sp->seed = CLLM_DEFAULT_SEED < 0 ? params_random() : (uint64_t)CLLM_DEFAULT_SEED;
    t->par.n_predict = CLLM_DEFAULT_N_PREDICT;
    t->par.cache_prompt = true;
    t->par.oai_logprobs = -1;
    sbuf_init(&t->text, CLLM_HTTP_MAX_RESPONSE / 2);
    return t;
}

void task_free(struct task *t)
{
    if (!t)
        return;
    kfree(t->prompt);
    kfree(t->out);
    kfree(t->probs);
    kfree(t->embd);
    sbuf_free(&t->text);
    kfree(t);
}

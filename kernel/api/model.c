/* Model bring-up for the API (see model.h): engine_open over the linker's .model section. */
#include "api/model.h"
#include "api/health.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/log.h"
#include "lib/fmt.h"
#include "lib/string.h"

extern const uint8_t __model_start[], __model_end[];

static struct engine *model_engine;
static int model_state;            /* 0 not tried, 1 open, -1 failed */
static char model_err[200];
static uint64_t model_params;
static char *model_template;

int api_model_open(void)
{
    if (model_state != 0)
        return model_state > 0 ? 0 : -1;
    uint64_t t0 = clock_ns();
    struct engine *e = kcalloc(1, sizeof *e);
    if (!e) {
        fmt_snprintf(model_err, sizeof model_err, "out of memory for the engine");
        goto fail;
    }
    if (engine_open(e, __model_start, (uint64_t)(__model_end - __model_start), NULL, model_err,
                    sizeof model_err) != 0) {
        kfree(e);
        goto fail;
    }
    for (int64_t i = 0; i < e->gguf.n_tensors; i++)
        model_params += (uint64_t)e->gguf.tensors[i].n_elements;
    const char *tpl;
    uint64_t tpl_len;
    if (gguf_get_str(&e->gguf, gguf_find_key(&e->gguf, "tokenizer.chat_template"), &tpl, &tpl_len) == 0 &&
        (model_template = kmalloc(tpl_len + 1)) != NULL) {
        memcpy(model_template, tpl, tpl_len);
        model_template[tpl_len] = 0;
    }
    model_engine = e;
    model_state = 1;
    health_set_ready(true);
    log_info("api: model ready in %llu ms: %d layers, n_embd %d, vocab %d, n_ctx %d, %d slot(s), n_batch %d",
             (unsigned long long)((clock_ns() - t0) / 1000000u), e->model.hp.n_layer, e->model.hp.n_embd,
             e->model.hp.n_vocab, e->opt.n_ctx, e->opt.n_slots, e->opt.n_batch);
    return 0;
fail:
    model_state = -1;
    log_error("api: cannot open the baked model: %s", model_err);
    return -1;
}

struct engine *api_model_engine(void) { return model_state > 0 ? model_engine : NULL; }
bool api_model_ready(void) { return model_state > 0; }
const char *api_model_error(void) { return model_state < 0 ? model_err : ""; }
uint64_t api_model_size(void) { return (uint64_t)(__model_end - __model_start); }
uint64_t api_model_n_params(void) { return model_params; }
const char *api_model_chat_template(void) { return model_template ? model_template : ""; }

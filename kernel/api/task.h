/* One generation or embedding request from parse to reply: its parameters (parsed by api/params.c from the
   request body), its prompt tokens, and its run state while api/sched.c steps it on a slot. The reply formats
   of every API (llama.cpp native, OpenAI completions/chat, embeddings) are in api/respond.c. */
#ifndef API_TASK_H
#define API_TASK_H
#include <stdbool.h>
#include <stdint.h>
#include "api/sbuf.h"
#include "http/http_conn.h"
#include "llm/engine.h"

#define TASK_MAX_STOP 8            /* stop strings per request */
#define TASK_MAX_STOP_LEN 256      /* bytes per stop string */
#define TASK_MAX_PROBS 20          /* n_probs upper bound */

enum task_api {
    TASK_API_NATIVE,               /* POST /completion(s) */
    TASK_API_OAI_COMPLETION,       /* POST /v1/completions */
    TASK_API_OAI_CHAT,             /* POST /v1/chat/completions */
    TASK_API_EMBED_NATIVE,         /* POST /embedding */
    TASK_API_EMBED_OAI,            /* POST /v1/embeddings */
};

enum task_state {
    TASK_QUEUED,                   /* waiting for a free slot */
    TASK_PREFILL,                  /* evaluating the prompt chunk by chunk */
    TASK_DECODE,                   /* sampling one token per step */
    TASK_DONE,
};

enum task_stop {
    TASK_STOP_NONE,
    TASK_STOP_EOS,                 /* end-of-generation token */
    TASK_STOP_LIMIT,               /* n_predict reached or the context is full */
    TASK_STOP_WORD,                /* a stop string matched */
};

struct task_params {
    struct sampler_params sp;
    int64_t seed_given;            /* as requested (-1: random), reported back */
    int n_predict;                 /* -1: until EOS or a full context (capped at CLLM_MAX_N_PREDICT) */
    bool stream;
    bool include_usage;            /* OpenAI stream_options.include_usage */
    bool ignore_eos;
    bool cache_prompt;
    bool return_tokens;
    int oai_logprobs;              /* OpenAI logprobs: -1 off, else how many top alternatives per token */
    int n_stop;
    char stop[TASK_MAX_STOP][TASK_MAX_STOP_LEN + 1];
    size_t stop_len[TASK_MAX_STOP];
};

struct task_prob {                 /* one generated token's top candidates (n_probs > 0) */
    int32_t id;
    float p;                       /* the chosen token's probability */
    int n;
    int32_t top_id[TASK_MAX_PROBS];
    float top_p[TASK_MAX_PROBS];
};

struct task {
    enum task_api api;
    enum task_state state;
    http_reply reply;
    struct task_params par;
    int32_t *prompt;               /* (n_prompt) */
    int n_prompt;
    char id[40];                   /* "cmpl-..." / "chatcmpl-..." */
    uint64_t created;              /* seconds (clock-based: the guest has no wall clock) */
    int slot;                      /* -1 while queued */
    int n_cached;                  /* prompt tokens reused from the slot's cache */
    /* generation */
    int32_t *out;                  /* generated token ids */
    int n_out, cap_out;
    struct task_prob *probs;       /* (cap_out) when n_probs > 0 */
    struct sbuf text;              /* generated text so far (stop strings cut off) */
    size_t sent;                   /* bytes of text already streamed */
    struct detok_stream ds;
    enum task_stop stop;
    int stop_word;                 /* index into par.stop when TASK_STOP_WORD */
    bool stream_started;
    int tok_sent;                  /* generated tokens already reported in stream events */
    int fin_stage;                 /* respond_finish progress through the stream's last events */
    bool cancelled;                /* the client left: the scheduler frees the task at its next step */
    /* embedding */
    float *embd;                   /* (n_embd) running sum of normalized hidden states */
    bool embd_base64;              /* OpenAI encoding_format "base64": little-endian float32, base64 */
    /* timing (clock_ns) */
    uint64_t t_queued, t_prompt0, t_prompt1, t_gen1;
    struct task *next;             /* queue link */
};

/* Allocate a task for api with default parameters (the build's sampling defaults). NULL when out of memory. */
struct task *task_new(enum task_api api);
void task_free(struct task *t);

#endif

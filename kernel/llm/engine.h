/* The inference engine: one opened model (GGUF checked in place, llama weights, tokenizer, KV cache with one slot per
   concurrent sequence, shared scratch) and per-sequence state that a scheduler can step a chunk or a token at a
   time. Below it: llm/gguf.h, llm/llama.h, llm/kv_cache.h, llm/sampler.h, llm/tokenizer.h. Above it: the boot self-test
   (llm/engine_boot.c) and, later, the API's slot scheduler. */
#ifndef LLM_ENGINE_H
#define LLM_ENGINE_H
#include <stddef.h>
#include <stdint.h>
#include "llm/gguf.h"
#include "llm/kv_cache.h"
#include "llm/llama.h"
#include "llm/sampler.h"
#include "llm/tokenizer.h"

struct engine_options {
    int n_ctx;        /* positions per sequence (CLLM_N_CTX), capped by the model's training context */
    int n_slots;      /* concurrent sequences (CLLM_N_SLOTS) */
    int n_batch;      /* prompt tokens per forward pass (CLLM_N_BATCH) */
    int kv_f16;       /* CLLM_KV_F16 */
};
void engine_options_default(struct engine_options *o);

struct engine {
    struct gguf_file gguf;
    struct llama_model model;
    struct kv_cache kv;
    struct llama_scratch scratch;
    struct engine_options opt;
    struct tokenizer tok;           /* from the tokenizer.ggml.* metadata; texts point into the GGUF */
    int have_tok;
    int32_t bos, eos, eot;          /* -1 when the metadata has none */
    uint8_t *slot_used;             /* (n_slots) */
};

/* Open the GGUF at bytes[0..size) (used in place, never copied; must outlive the engine), load the model and
   allocate the KV cache and scratch. opt NULL: engine_options_default. 0, or -1 with a message in err. */
int engine_open(struct engine *e, const uint8_t *bytes, uint64_t size, const struct engine_options *opt,
                char *err, size_t errlen);
void engine_close(struct engine *e);

/* 1 when token ends generation (EOS, EOT, <|im_end|>, ... as the tokenizer finds them, like llama.cpp). */
int engine_token_is_eog(const struct engine *e, int32_t token);

/* Text -> tokens with the model's tokenizer (tokenizer_encode): the count, or a negative tokenizer_error. */
int engine_tokenize(const struct engine *e, const char *text, size_t len, int add_special, int parse_special,
                    int32_t *out, int max_out);

enum engine_stop {
    ENGINE_STOP_NONE = 0,     /* still generating */
    ENGINE_STOP_EOS,          /* end-of-generation token sampled */
    ENGINE_STOP_LIMIT,        /* n_predict tokens generated */
    ENGINE_STOP_CONTEXT,      /* the context is full */
    ENGINE_STOP_CALLER,       /* the callback asked to stop */
    ENGINE_STOP_ERROR,
};

/* One sequence: the tokens in its slot of the KV cache, its logits and its sampler. */
struct engine_seq {
    int slot;
    int32_t *tokens;          /* (n_ctx) tokens whose K/V are in the slot, in order */
    int n_past;               /* how many of them */
    float *logits;            /* (n_vocab) after the last evaluated token */
    int have_logits;
    int ignore_eos;           /* 1: end-of-generation tokens are never sampled (llama.cpp: their logit is -inf) */
    struct sampler smp;
};

/* Take a free slot (-1 when none) and set up the sampler. 0 or -1. */
int engine_seq_open(struct engine *e, struct engine_seq *seq, const struct sampler_params *sp);
void engine_seq_close(struct engine *e, struct engine_seq *seq);

/* Keep the cached prefix shared with tokens[0..n) (prompt caching): n_past becomes the common length, at most
   n - 1 so the last prompt token is evaluated again and logits exist. Returns the kept length. */
int engine_seq_keep_prefix(struct engine_seq *seq, const int32_t *tokens, int n);

/* Evaluate tokens[0..n) after n_past (prefill in chunks of n_batch; a scheduler may call it chunk by chunk),
   accepting them into the sampler's penalty window. 0, or -1 (context full / bad token). */
int engine_seq_eval(struct engine *e, struct engine_seq *seq, const int32_t *tokens, int n);

/* Sample the next token from the current logits (EOG tokens masked when seq->ignore_eos). It enters the penalty
   window when engine_seq_eval evaluates it. -1 when there are no logits. */
int32_t engine_seq_sample(struct engine *e, struct engine_seq *seq);

/* Called for each generated token; return non-zero to stop. */
typedef int (*engine_token_fn)(void *user, int32_t token);

/* Reset the sequence to prompt[0..n_prompt) (reusing a cached prefix), then generate up to n_predict tokens
   (< 0: until the context is full). Stops at EOS/EOT (not passed to the callback); with ignore_eos they are
   never sampled instead (sets seq->ignore_eos), as llama.cpp. Returns an enum engine_stop; *n_out gets the number of generated tokens. */
int engine_generate(struct engine *e, struct engine_seq *seq, const int32_t *prompt, int n_prompt, int n_predict,
                    int ignore_eos, engine_token_fn fn, void *user, int *n_out);

#endif

/* The slot scheduler: generation and embedding requests (api/task.h) wait in a FIFO for one of the engine's
   CLLM_N_SLOTS sequences, and sched_step() — called from kmain's event loop between network polls — does one
   bounded unit of work for every busy slot: a prefill chunk (at most n_batch tokens, fewer when a chunk would
   exceed CLLM_SCHED_STEP_US) or one decoded token (sample, stop checks, stream it, evaluate it). A slot keeps its
   KV cache between requests for prompt caching. Stepping every slot per call is where continuous batching
   (one forward pass over all slots' tokens) will plug in. Reply formats are api/respond.c. */
#ifndef API_SCHED_H
#define API_SCHED_H
#include <stdbool.h>
#include <stdint.h>
#include "api/task.h"

void sched_init(void);
/* Queue a task (the scheduler owns it from here and frees it). Defers its reply with a cancel hook: a client
   that leaves frees the task and its slot at the next step. false when the queue is full (the caller still owns
   t and answers 503). */
bool sched_submit(struct task *t);
/* Open the model on the first call, then step every busy slot once. Returns whether it did any work. */
bool sched_step(uint64_t now_ns);

struct sched_stats {
    uint64_t prompt_tokens, prompt_ns;        /* prefilled prompt tokens and the time they took */
    uint64_t predicted_tokens, predicted_ns;  /* generated tokens and decode time */
    uint64_t decode_calls, busy_slot_sum;     /* forward passes, and busy slots summed over them */
    uint64_t requests, requests_cancelled, requests_failed;
    uint64_t n_tokens_max;                    /* largest sequence length seen */
    int processing, deferred;                 /* requests on slots / in the queue now */
    int kv_tokens, kv_capacity;               /* KV cells in use by all slots, and their total */
    int n_slots, prefill_chunk;               /* slots, current prefill chunk size */
};
void sched_get_stats(struct sched_stats *st);

/* One slot's state for GET /slots: false when i is out of range. */
struct sched_slot_info {
    bool is_processing;
    int n_past;                               /* tokens in its KV cache (the prompt cache when idle) */
    int n_prompt, n_decoded, n_remain;        /* of the request on it (n_remain -1: until EOS) */
    bool stream;
};
bool sched_slot_info(int i, struct sched_slot_info *info);

#endif

/* Reply formats of the generation and embedding APIs, written for a task (api/task.h) by the scheduler
   (api/sched.c): llama.cpp's native /completion object and SSE events, OpenAI's text_completion and
   chat.completion objects and their chunks (ending in data: [DONE]), and both embedding shapes. */
#ifndef API_RESPOND_H
#define API_RESPOND_H
#include <stdbool.h>
#include "api/task.h"

/* Start the SSE stream (and, for chat, the first chunk with the assistant role). false when the client is gone. */
bool respond_stream_open(struct task *t);
/* One event carrying text[0..n) and generated tokens out[tok0..tok1) (with their probabilities when n_probs > 0).
   false when the connection cannot take it now (nothing was sent: retry later) or is gone. */
bool respond_stream_delta(struct task *t, const char *text, size_t n, int tok0, int tok1);
/* Complete the reply: the whole object, or the stream's last events. true when done (false: retry next step,
   the connection's buffer is full). */
bool respond_finish(struct task *t);
/* The embedding reply for v (n floats) over n_tokens prompt tokens. */
void respond_embedding(struct task *t, const float *v, int n);

/* "eos"/"limit"/"word"/"none" and OpenAI's finish_reason. */
const char *respond_stop_type(const struct task *t);
const char *respond_finish_reason(const struct task *t);
/* Unix time in seconds (from the CMOS clock read at boot; 0-based when there is none). */
uint64_t respond_unix_time(void);
void respond_time_init(void);

#endif

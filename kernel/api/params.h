/* Request-body parsing shared by the generation endpoints: sampling and stop parameters (llama.cpp's names and
   OpenAI's), prompts as text or token ids, with llama.cpp's 400 messages for wrong types and ranges. Unknown
   fields are ignored. The endpoints are api/completion.c and api/openai.c; the task they fill is api/task.h. */
#ifndef API_PARAMS_H
#define API_PARAMS_H
#include <stdbool.h>
#include <stddef.h>
#include "api/task.h"
#include "http/json.h"

#define PARAMS_ERR_LEN 200

/* Fill t->par from body (an object). false with a message in err (answer 400). */
bool params_parse(const struct json_value *body, struct task *t, char *err, size_t errlen);

/* Tokenize a prompt value: a string, an array of token ids, or a mix of ids and strings (llama.cpp's shapes);
   BOS is added when the prompt starts with text and add_special; field names it in messages. On success *out is a kmalloc'd array of *n
   tokens. false with a message (wrong type, empty, bad token id, too long for the context: both lengths). */
bool params_prompt_tokens(const struct json_value *prompt, const char *field, bool add_special, int32_t **out, int *n, char *err,
                          size_t errlen);

/* Check the prompt fits the context (n < n_ctx): false with "... (N tokens) ... context (M tokens)". */
bool params_check_context(int n_prompt, char *err, size_t errlen);

/* A random 64-bit value from the TSC and a counter (seeds, response ids). */
uint64_t params_random(void);

#endif

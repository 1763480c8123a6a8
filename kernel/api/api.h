/* The API layer: api_init() registers every endpoint with http/router.c (after http_server_init, which adds
   GET /health from api/health.c) and marks the server not ready until the scheduler (api/sched.c) has opened the
   model. Endpoints: api/completion.c (/completion, /completions, /v1/completions, /v1/chat/completions),
   api/embedding.c, api/tokenize.c (/tokenize, /detokenize, /apply-template), api/info.c (/props, /models,
   /v1/models), api/metrics.c (/metrics). */
#ifndef API_API_H
#define API_API_H
#include <stdbool.h>
#include <stddef.h>
#include "api/sbuf.h"
#include "http/json.h"
#include "http/router.h"

void api_init(void);

/* --- shared by the endpoint files --- */
void completion_init(void);
void embedding_init(void);
void tokenize_init(void);
void info_init(void);
void metrics_init(void);

/* Parse the request body as a JSON object: NULL after answering 400 (invalid JSON, not an object) or 503
   (the model is not ready yet). Free with json_doc_free. */
const struct json_value *api_parse_body(const struct http_request *req, http_reply reply, struct json_doc *doc);
/* Render a chat "messages" array with the build's template (api/chat_template.h). false with a message. */
bool api_render_chat(const struct json_value *messages, bool add_generation_prompt, struct sbuf *out, char *err,
                     size_t errlen);
/* Whether a rendered chat prompt is tokenized with add_special (false when the template writes BOS itself). */
bool api_chat_add_special(void);

#endif

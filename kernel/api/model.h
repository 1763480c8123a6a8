/* The baked model at run time: opens the GGUF that the linker placed between __model_start and __model_end with
   llm/engine.h once, from the scheduler's first step (so the HTTP server already listens and /health says 503
   while it loads), and hands the engine to the endpoints. */
#ifndef API_MODEL_H
#define API_MODEL_H
#include <stdbool.h>
#include <stdint.h>
#include "llm/engine.h"

/* Open the model (once; later calls return the first result). 0 or -1 (logged; the API stays unavailable). */
int api_model_open(void);
/* The engine once the model is open, else NULL. */
struct engine *api_model_engine(void);
bool api_model_ready(void);
const char *api_model_error(void); /* why opening failed, "" otherwise */
uint64_t api_model_size(void);     /* bytes of the baked GGUF */
uint64_t api_model_n_params(void); /* weights in the model's tensors */
const char *api_model_chat_template(void); /* tokenizer.chat_template from the GGUF, "" when none */

#endif

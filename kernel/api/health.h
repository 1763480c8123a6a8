/* GET /health: 200 {"status":"ok"} once the model is ready, 503 unavailable_error before (llama.cpp's answer).
   Registered by http/http_server.c at init; the inference side calls health_set_ready(). */
#ifndef API_HEALTH_H
#define API_HEALTH_H
#include <stdbool.h>

void health_init(void);            /* adds the route */
void health_set_ready(bool ready); /* default: ready (a kernel without a model loading phase is always ready) */

#endif

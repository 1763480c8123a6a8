/* The router: a table of (methods, exact path) -> handler, filled by the api/ modules at boot. It answers 404,
   405 with Allow, OPTIONS (CORS preflight, with Access-Control-Allow-*), and runs GET handlers for HEAD (the
   connection drops the body). Connections call router_dispatch() through http/http_server.c. */
#ifndef HTTP_ROUTER_H
#define HTTP_ROUTER_H
#include <stdint.h>
#include <stdbool.h>
#include "http/http_conn.h"

/* A handler answers through the reply API of http/http_conn.h, before returning or later (http_reply_defer,
   http_reply_stream_begin). ctx is the pointer given to router_add. */
typedef void (*http_handler_fn)(const struct http_request *req, http_reply reply, void *ctx);

/* methods: HTTP_METHOD_BIT(HTTP_METHOD_GET) | ... ; path: exact, e.g. "/v1/chat/completions" (kept, not copied).
   False when the table is full (CLLM_HTTP_MAX_ROUTES) or the arguments are bad. */
bool router_add(uint32_t methods, const char *path, http_handler_fn fn, void *ctx);
void router_dispatch(const struct http_request *req, http_reply reply);
void router_clear(void); /* for tests */

#endif

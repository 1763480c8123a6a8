/* The HTTP server: listens on a TCP port, hands accepted connections to http/http_conn.c and routes their
   requests through http/router.c. kmain calls http_server_init() once and http_server_poll() in its event loop. */
#ifndef HTTP_HTTP_SERVER_H
#define HTTP_HTTP_SERVER_H
#include <stdint.h>
#include <stdbool.h>
#include "http/http_conn.h"

/* Listen on port (0: CLLM_HTTP_PORT) and register the built-in routes (GET /health). False if TCP refused. */
bool http_server_init(uint16_t port);
/* Accept new connections and advance every connection. Returns whether it did any work (the loop may halt when no
   part of it did). */
bool http_server_poll(uint64_t now_ns);
void http_server_get_stats(struct http_stats *st); /* counters for /metrics */

#endif

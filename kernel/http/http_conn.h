/* HTTP connections: the per-connection state machine (read head, read body, reply, close) over net/tcp.h, and the
   reply API request handlers answer through, at once or later (deferred replies and chunked/SSE streams).
   Parsing is http/http_parse.c; routing is http/router.c; accepting and the poll loop are http/http_server.c.

   A handler that answers at once:       http_reply_json(reply, 200, text, len);  (or http_reply_error(reply, 400, "..."))
   A handler whose answer comes later (a generation slot keeps `reply`; the request stays valid until it completes):
       http_reply_defer(reply, slot_cancel, slot);          slot_cancel(slot) runs if the client leaves
       ... later, from the scheduler: http_reply_json(reply, 200, text, len);
   A streamed answer (SSE):
       http_reply_defer(reply, slot_cancel, slot);  http_reply_stream_begin(reply, 200, "text/event-stream");
       per token:  if (!http_reply_sse(reply, json, len)) { wait: http_reply_stream_space() is too small }
       at the end: http_reply_sse(reply, "[DONE]", 6); http_reply_stream_end(reply);
   Every call on a stale handle (client gone, reply complete) is a harmless false. */
#ifndef HTTP_HTTP_CONN_H
#define HTTP_HTTP_CONN_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "http/http_parse.h"
#include "net/tcp.h"

/* What a handler sees. Valid from the dispatch until the reply is complete or cancelled. */
struct http_request {
    const struct http_head *head; /* method, path, query, headers (http_head_find) */
    const char *body;             /* NUL-terminated for convenience; body_len excludes the NUL */
    size_t body_len;
};

/* A reply handle names one request's reply. It goes stale (every call on it returns false and does nothing) once the
   reply is complete or the connection is gone, so a generation slot may keep it as long as it likes. 0 is never
   valid. */
typedef uint32_t http_reply;

/* --- Complete replies (Content-Length framing; HEAD requests get the head only) --- */
/* An extra response header for the reply not yet started. Name and value must not contain CR or LF. */
bool http_reply_header(http_reply r, const char *name, const char *value);
bool http_reply_send(http_reply r, int status, const char *content_type, const void *body, size_t len);
bool http_reply_json(http_reply r, int status, const char *json, size_t len);
/* {"error":{"code":status,"message":message,"type":...}}: the type follows llama.cpp's pairs (400
   invalid_request_error, 401 authentication_error, 404 not_found_error, 500 server_error, 501 not_supported_error,
   503 unavailable_error; other 4xx invalid_request_error, other 5xx server_error). */
bool http_reply_error(http_reply r, int status, const char *message);
const char *http_error_type(int status);

/* --- Replies that outlive the handler --- */
/* A handler that returns without completing its reply must call this (or start a stream); otherwise the request is
   answered 500. on_cancel (may be NULL) runs exactly once if the client goes away, times out or resets before the
   reply completes; the handle is already stale when it runs. It runs inside http_server_poll(). */
bool http_reply_defer(http_reply r, void (*on_cancel)(void *ctx), void *ctx);
/* True while the reply can still be completed (client connected, handle current). */
bool http_reply_alive(http_reply r);

/* --- Streams: chunked transfer coding (HTTP/1.1) or raw bytes until close (HTTP/1.0) --- */
/* Send the head (status, content type, Cache-Control: no-cache). Implies http_reply_defer(r, NULL, NULL) unless
   a cancel callback was already set. */
bool http_reply_stream_begin(http_reply r, int status, const char *content_type);
/* Bytes one stream_write of data can take now (bounded by CLLM_HTTP_STREAM_BUF of unsent data), 0 if none. */
size_t http_reply_stream_space(http_reply r);
/* One chunk, sent as soon as TCP takes it. False (nothing queued) when the handle is stale or len exceeds
   http_reply_stream_space: the caller may retry after the next poll. len 0 is a no-op that returns true. */
bool http_reply_stream_write(http_reply r, const void *data, size_t len);
/* One Server-Sent Event: "data: <data>\n\n" as one chunk (same rules as stream_write). */
bool http_reply_sse(http_reply r, const char *data, size_t len);
/* The last chunk; the connection then serves its next request. */
bool http_reply_stream_end(http_reply r);
/* Give up on a reply that cannot be completed (a stream that broke mid-way): the connection is aborted. */
void http_reply_abort(http_reply r);

/* --- For http_server.c --- */
typedef void (*http_dispatch_fn)(const struct http_request *req, http_reply reply);

struct http_stats {
    uint64_t conns_accepted, conns_refused, conns_active, conns_closed;
    uint64_t requests, timeouts, bad_requests, client_aborts;
    uint64_t bytes_in, bytes_out;
    uint64_t responses_by_class[6]; /* index status / 100 (1xx..5xx) */
    uint32_t responses_by_status[600];
};

void http_conn_init(http_dispatch_fn dispatch);
/* Take over an accepted TCP connection; false when every slot is busy (the caller refuses it). */
bool http_conn_open(tcp_handle tcp, uint64_t now_ns);
/* Advance every connection: read, parse, dispatch, flush, time out. Returns whether anything happened. */
bool http_conn_poll_all(uint64_t now_ns);
void http_conn_get_stats(struct http_stats *st);
size_t http_conn_count_active(void);
size_t http_conn_memory(void); /* bytes of buffers held by all connections now */

#endif

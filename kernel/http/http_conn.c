/* HTTP connection state machine and the reply API (interface: http/http_conn.h).
   Each slot owns a TCP handle, an input buffer (head + body bytes, pipelined requests wait there), a body buffer and
   an output queue drained into TCP as tcp_send_space allows. One request is handled at a time per connection, so
   pipelined responses leave in order. Memory per connection: CONN_IN_CAP + the body (<= CLLM_HTTP_MAX_BODY) + the
   queued output (<= CLLM_HTTP_MAX_RESPONSE, streams <= CLLM_HTTP_STREAM_BUF); all connections together stay
   within CLLM_HTTP_MEMORY_BUDGET (a request that would go over is answered 503, a connection refused). */
#include "http/http_conn.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/json.h"
#include "lib/fmt.h"
#include "lib/string.h"

#define CONN_IN_CAP (CLLM_HTTP_MAX_HEADER + 4096) /* head plus one read window */
#define CONN_EXTRA_CAP 1024                       /* handler-added response header bytes */
#define MS (1000000ull)

_Static_assert(CLLM_MAX_CONN < 4096, "reply handles keep the slot in 12 bits");

enum conn_state {
    CONN_FREE = 0,
    CONN_READ_HEAD,
    CONN_READ_BODY,
    CONN_REPLY,   /* dispatched; the reply is not complete yet */
    CONN_CLOSING, /* flush the output, then close */
};

enum reply_state {
    REPLY_NONE = 0,
    REPLY_HANDLER,   /* the handler is running and has not answered */
    REPLY_DEFERRED,  /* answered later */
    REPLY_STREAMING, /* head sent, chunks follow */
    REPLY_DONE,      /* complete; the connection moves on at its next poll */
};

struct http_conn {
    enum conn_state state;
    enum reply_state reply;
    tcp_handle tcp;
    uint32_t gen; /* reply generation: bumped whenever a reply handle must go stale */

    char *in; /* CONN_IN_CAP bytes */
    size_t in_len;
    struct http_head_scan scan;
    size_t head_end;  /* in[scan.start .. head_end) is the current head */
    size_t body_rd;   /* in READ_BODY: bytes of in[] consumed (head_end <= body_rd <= in_len) */
    struct http_head head;
    struct http_chunked chunked;
    uint64_t body_left; /* Content-Length bytes still to read */
    char *body;
    size_t body_len, body_cap;

    char *out;
    size_t out_off, out_len, out_cap;

    bool keep_alive;     /* after this request */
    bool head_only;      /* HEAD request */
    bool raw_stream;     /* HTTP/1.0 stream: no chunking, close at the end */
    bool has_origin;     /* add Access-Control-Allow-Origin */
    bool peer_gone;      /* FIN seen */
    char extra[CONN_EXTRA_CAP];
    size_t extra_len;
    void (*on_cancel)(void *ctx);
    void *cancel_ctx;

    uint64_t t_activity;   /* last byte in or out */
    uint64_t t_head_start; /* first byte of the current head */
    uint64_t t_send;       /* last send progress, or when output became pending */
};

static struct http_conn conns[CLLM_MAX_CONN];
static http_dispatch_fn conn_dispatch;
static struct http_stats stats;
static uint64_t now_ns; /* of the current or last poll; reply calls from outside the poll use it */
static size_t mem_used; /* bytes of connection buffers, against CLLM_HTTP_MEMORY_BUDGET */

/* Account for a buffer growing from old_cap to new_cap bytes (or shrinking); false when over the budget. */
static bool budget_resize(size_t old_cap, size_t new_cap)
{
    if (new_cap > old_cap && mem_used + (new_cap - old_cap) > CLLM_HTTP_MEMORY_BUDGET)
        return false;
    mem_used = mem_used + new_cap - old_cap;
    return true;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Handles */

static http_reply conn_handle(struct http_conn *c)
{
    return ((c->gen & 0xfffffu) << 12) | (uint32_t)((c - conns) + 1);
}

static struct http_conn *conn_from_handle(http_reply r)
{
    uint32_t slot = r & 0xfffu;
    if (slot == 0 || slot > CLLM_MAX_CONN)
        return NULL;
    struct http_conn *c = &conns[slot - 1];
    if (c->state != CONN_REPLY || (c->gen & 0xfffffu) != (r >> 12))
        return NULL;
    if (c->reply == REPLY_NONE || c->reply == REPLY_DONE)
        return NULL;
    return c;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Output queue */

static size_t out_pending(const struct http_conn *c) { return c->out_len - c->out_off; }

static bool out_reserve(struct http_conn *c, size_t n)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + n <= c->out_cap)
        return true;
    if (c->out_off) { /* slide the unsent bytes to the front */
        memmove(c->out, c->out + c->out_off, out_pending(c));
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + n <= c->out_cap)
            return true;
    }
    size_t need = c->out_len + n;
    if (need > CLLM_HTTP_MAX_RESPONSE + CONN_EXTRA_CAP + 512)
        return false;
    size_t cap = c->out_cap ? c->out_cap * 2 : 4096; /* grow geometrically, or to exactly what one big reply needs */
    if (cap < need)
        cap = need;
    if (!budget_resize(c->out_cap, cap))
        return false;
    char *nb = krealloc(c->out, cap);
    if (!nb) {
        budget_resize(cap, c->out_cap);
        return false;
    }
    c->out = nb;
    c->out_cap = cap;
    return true;
}

static bool out_put(struct http_conn *c, const void *data, size_t n)
{
    if (!out_reserve(c, n))
        return false;
    if (out_pending(c) == 0)
        c->t_send = now_ns;
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
    return true;
}

/* Hand queued bytes to TCP. Returns whether any went. */
static bool out_flush(struct http_conn *c)
{
    bool any = false;
    while (out_pending(c) && tcp_send_space(c->tcp)) {
        size_t n = tcp_send(c->tcp, c->out + c->out_off, out_pending(c));
        if (n == 0)
            break;
        c->out_off += n;
        stats.bytes_out += n;
        c->t_send = c->t_activity = now_ns;
        any = true;
    }
    if (out_pending(c) == 0) {
        c->out_off = c->out_len = 0;
        if (c->out_cap > 65536) { /* do not keep a big response's buffer around */
            budget_resize(c->out_cap, 0);
            kfree(c->out);
            c->out = NULL;
            c->out_cap = 0;
        }
    }
    return any;
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Response heads */

static const char *reason_phrase(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return status < 300 ? "OK" : status < 500 ? "Client Error" : "Server Error";
    }
}

const char *http_error_type(int status)
{
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 501: return "not_supported_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

static void count_status(int status)
{
    if (status >= 100 && status < 600) {
        stats.responses_by_class[status / 100]++;
        stats.responses_by_status[status]++;
    }
}

/* body_len < 0: chunked (or raw for HTTP/1.0). */
static bool queue_head(struct http_conn *c, int status, const char *content_type, long long body_len)
{
    char h[512];
    int n = fmt_snprintf(h, sizeof h, "HTTP/1.1 %d %s\r\nServer: cllm\r\n", status, reason_phrase(status));
    bool no_body = status == 204 || status == 304 || status < 200;
    if (!no_body && content_type)
        n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Content-Type: %s\r\n", content_type);
    if (!no_body) {
        if (body_len >= 0)
            n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Content-Length: %lld\r\n", body_len);
        else if (!c->raw_stream)
            n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Transfer-Encoding: chunked\r\n");
    }
    if (!c->keep_alive)
        n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Connection: close\r\n");
    else if (c->head.version_minor == 0)
        n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Connection: keep-alive\r\n");
    if (c->has_origin)
        n += fmt_snprintf(h + n, sizeof h - (size_t)n, "Access-Control-Allow-Origin: *\r\n");
    if (n <= 0 || (size_t)n >= sizeof h)
        return false;
    if (!out_reserve(c, (size_t)n + c->extra_len + 2))
        return false;
    out_put(c, h, (size_t)n);
    out_put(c, c->extra, c->extra_len);
    out_put(c, "\r\n", 2);
    c->extra_len = 0;
    count_status(status);
    return true;
}

static bool queue_response(struct http_conn *c, int status, const char *content_type, const void *body, size_t len)
{
    size_t mark = c->out_len;
    if (len > CLLM_HTTP_MAX_RESPONSE || !queue_head(c, status, content_type, (long long)len))
        return false;
    if (!c->head_only && len && !out_put(c, body, len)) {
        c->out_len = mark; /* drop the head again: the caller answers 500 instead */
        return false;
    }
    return true;
}

static void error_body(char *buf, size_t cap, int status, const char *message, size_t *len)
{
    struct json_writer w;
    json_writer_init_buf(&w, buf, cap);
    json_write_object_begin(&w);
    json_write_key(&w, "error");
    json_write_object_begin(&w);
    json_write_member_i64(&w, "code", status);
    json_write_member_string(&w, "message", message ? message : reason_phrase(status));
    json_write_member_string(&w, "type", http_error_type(status));
    json_write_object_end(&w);
    json_write_object_end(&w);
    if (!json_writer_result(&w, len)) { /* message too long for the buffer: the reason phrase fits */
        json_writer_init_buf(&w, buf, cap);
        json_write_object_begin(&w);
        json_write_key(&w, "error");
        json_write_object_begin(&w);
        json_write_member_i64(&w, "code", status);
        json_write_member_string(&w, "message", reason_phrase(status));
        json_write_member_string(&w, "type", http_error_type(status));
        json_write_object_end(&w);
        json_write_object_end(&w);
        json_writer_result(&w, len);
    }
}

/* ------------------------------------------------------------------------------------------------------------ */
/* Connection life */

static void conn_free_buffers(struct http_conn *c)
{
    budget_resize(CONN_IN_CAP + c->body_cap + c->out_cap, 0);
    kfree(c->in);
    kfree(c->body);
    kfree(c->out);
    c->in = c->body = c->out = NULL;
    c->in_len = c->body_len = c->body_cap = 0;
    c->out_off = c->out_len = c->out_cap = 0;
}

/* The reply cannot complete any more: make the handle stale and tell its owner. */
static void conn_cancel_reply(struct http_conn *c)
{
    if (c->state != CONN_REPLY || (c->reply != REPLY_DEFERRED && c->reply != REPLY_STREAMING))
        return;
    void (*cb)(void *) = c->on_cancel;
    void *ctx = c->cancel_ctx;
    c->reply = REPLY_NONE;
    c->on_cancel = NULL;
    c->gen++;
    stats.client_aborts++;
    if (cb)
        cb(ctx);
}

static void conn_release(struct http_conn *c, bool abort)
{
    conn_cancel_reply(c);
    if (abort)
        tcp_abort(c->tcp);
    else
        tcp_close(c->tcp);
    conn_free_buffers(c);
    c->gen++;
    c->state = CONN_FREE;
    c->reply = REPLY_NONE;
    stats.conns_closed++;
    stats.conns_active--;
}

/* A protocol-level error: answer it and close once it is sent. */
static void conn_fail(struct http_conn *c, int status, const char *message)
{
    char body[256];
    size_t len = 0;
    stats.bad_requests++;
    c->keep_alive = false;
    c->head_only = false;
    c->extra_len = 0;
    error_body(body, sizeof body, status, message, &len);
    queue_response(c, status, "application/json; charset=utf-8", body, len);
    c->state = CONN_CLOSING;
}

static void conn_start_head(struct http_conn *c)
{
    c->state = CONN_READ_HEAD;
    c->reply = REPLY_NONE;
    http_head_scan_init(&c->scan);
    c->head_end = 0;
    c->has_origin = false;
    c->head_only = false;
    c->t_head_start = now_ns;
}

bool http_conn_open(tcp_handle tcp, uint64_t now)
{
    now_ns = now;
    for (size_t i = 0; i < CLLM_MAX_CONN; i++) {
        struct http_conn *c = &conns[i];
        if (c->state != CONN_FREE)
            continue;
        if (!budget_resize(0, CONN_IN_CAP))
            return false;
        uint32_t gen = c->gen + 1;
        memset(c, 0, sizeof *c);
        c->gen = gen;
        c->in = kmalloc(CONN_IN_CAP);
        if (!c->in) {
            budget_resize(CONN_IN_CAP, 0);
            return false;
        }
        c->tcp = tcp;
        c->t_activity = now;
        conn_start_head(c);
        stats.conns_accepted++;
        stats.conns_active++;
        return true;
    }
    return false;
}

/* Drop the finished request's bytes from the input and get ready for the next one. */
static void conn_finish_request(struct http_conn *c)
{
    size_t used = c->body_rd;
    if (used > c->in_len)
        used = c->in_len;
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
    c->body_rd = 0;
    if (c->body_cap > 65536) {
        budget_resize(c->body_cap, 0);
        kfree(c->body);
        c->body = NULL;
        c->body_cap = 0;
    }
    c->body_len = 0;
    c->extra_len = 0;
    c->on_cancel = NULL;
    c->gen++;
    if (c->keep_alive && !c->raw_stream) {
        conn_start_head(c);
    } else {
        c->state = CONN_CLOSING;
        c->reply = REPLY_NONE;
    }
}

static size_t conn_read(struct http_conn *c)
{
    if (c->in_len >= CONN_IN_CAP)
        return 0;
    size_t n = tcp_recv(c->tcp, c->in + c->in_len, CONN_IN_CAP - c->in_len);
    if (n) {
        c->in_len += n;
        stats.bytes_in += n;
        c->t_activity = now_ns;
    }
    return n;
}

static bool body_reserve(struct http_conn *c, size_t n)
{
    if (c->body_len + n + 1 <= c->body_cap)
        return true;
    size_t cap = c->body_cap ? c->body_cap : 1024;
    while (cap < c->body_len + n + 1)
        cap *= 2;
    if (cap > CLLM_HTTP_MAX_BODY + 1)
        cap = CLLM_HTTP_MAX_BODY + 1;
    if (cap < c->body_len + n + 1 || !budget_resize(c->body_cap, cap))
        return false;
    char *nb = krealloc(c->body, cap);
    if (!nb) {
        budget_resize(cap, c->body_cap);
        return false;
    }
    c->body = nb;
    c->body_cap = cap;
    return true;
}

static void conn_dispatch_request(struct http_conn *c)
{
    if (!body_reserve(c, 0)) {
        conn_fail(c, 503, "server busy: request memory exhausted, retry later");
        return;
    }
    c->body[c->body_len] = 0;
    c->state = CONN_REPLY;
    c->reply = REPLY_HANDLER;
    c->gen++;
    stats.requests++;
    struct http_request req = { .head = &c->head, .body = c->body, .body_len = c->body_len };
    http_reply r = conn_handle(c);
    if (conn_dispatch)
        conn_dispatch(&req, r);
    else
        http_reply_error(r, 500, "no dispatcher");
    if (c->state == CONN_REPLY && c->reply == REPLY_HANDLER)
        http_reply_error(r, 500, "handler returned without a reply");
}

/* The head is complete: parse it and decide how the body is framed. */
static void conn_on_head(struct http_conn *c)
{
    int st = http_parse_head(c->in + c->scan.start, c->head_end - c->scan.start, CLLM_HTTP_MAX_BODY, &c->head);
    c->keep_alive = st == 0 && c->head.keep_alive;
    if (st) {
        conn_fail(c, st, c->head.error);
        return;
    }
    c->head_only = c->head.method == HTTP_METHOD_HEAD;
    c->raw_stream = false;
    c->has_origin = http_head_find(&c->head, "origin") != NULL;
    c->extra_len = 0;
    c->body_len = 0;
    c->body_rd = c->head_end;
    c->t_activity = now_ns;
    if (c->head.body_kind == HTTP_BODY_NONE) {
        conn_dispatch_request(c);
        return;
    }
    c->body_left = c->head.content_length;
    http_chunked_init(&c->chunked, CLLM_HTTP_MAX_BODY);
    if (c->head.expect_continue && c->body_rd == c->in_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        out_put(c, cont, sizeof cont - 1);
    }
    c->state = CONN_READ_BODY;
}

/* Move body bytes from in[] to body[]. Returns 1 when the body is complete, 0 for more, or an error status. */
static int conn_take_body(struct http_conn *c)
{
    size_t avail = c->in_len - c->body_rd;
    const uint8_t *src = (const uint8_t *)c->in + c->body_rd;
    int result = 0;
    if (c->head.body_kind == HTTP_BODY_LENGTH) {
        size_t n = avail < c->body_left ? avail : (size_t)c->body_left;
        if (n) {
            if (!body_reserve(c, n))
                return 503;
            memcpy(c->body + c->body_len, src, n);
            c->body_len += n;
            c->body_left -= n;
            c->body_rd += n;
        }
        result = c->body_left == 0;
    } else {
        while (c->body_rd < c->in_len) {
            size_t room = c->body_cap > c->body_len + 1 ? c->body_cap - c->body_len - 1 : 0;
            if (room < 1024 && c->body_len < CLLM_HTTP_MAX_BODY) {
                if (!body_reserve(c, 4096 < CLLM_HTTP_MAX_BODY - c->body_len ? 4096 : CLLM_HTTP_MAX_BODY - c->body_len))
                    return 503;
                room = c->body_cap - c->body_len - 1;
            }
            size_t used = 0, made = 0;
            int r = http_chunked_decode(&c->chunked, (const uint8_t *)c->in + c->body_rd, c->in_len - c->body_rd,
                                        &used, (uint8_t *)c->body + c->body_len, room, &made);
            c->body_rd += used;
            c->body_len += made;
            if (r != HTTP_CHUNKED_MORE) {
                result = r;
                break;
            }
            if (used == 0 && made == 0)
                break;
        }
    }
    /* Keep the head where it is; slide the unread bytes down behind it. */
    if (c->body_rd > c->head_end) {
        memmove(c->in + c->head_end, c->in + c->body_rd, c->in_len - c->body_rd);
        c->in_len -= c->body_rd - c->head_end;
        c->body_rd = c->head_end;
    }
    return result;
}

/* One step of the state machine; returns whether it progressed (the caller repeats while it does). */
static bool conn_step(struct http_conn *c)
{
    switch (c->state) {
    case CONN_READ_HEAD: {
        if (out_pending(c) > CLLM_HTTP_STREAM_BUF)
            return false; /* the client is not reading its answers: stop taking requests */
        if (c->scan.start) { /* drop skipped empty lines */
            memmove(c->in, c->in + c->scan.start, c->in_len - c->scan.start);
            c->in_len -= c->scan.start;
            c->scan.pos -= c->scan.start;
            c->scan.start = 0;
        }
        bool was_empty = c->in_len == 0;
        size_t got = conn_read(c);
        if (was_empty && got)
            c->t_head_start = now_ns;
        if (c->scan.pos == c->in_len) {
            if (tcp_peer_closed(c->tcp)) {
                c->peer_gone = true;
                if (out_pending(c) == 0) {
                    conn_release(c, false);
                    return true;
                }
            }
            return got != 0;
        }
        size_t head_end = 0;
        int r = http_head_scan(&c->scan, c->in, c->in_len, CLLM_HTTP_MAX_HEADER, &head_end);
        if (r == HTTP_SCAN_MORE)
            return true;
        if (r != HTTP_SCAN_DONE) {
            conn_fail(c, r, r == 431 ? "request header fields too large"
                            : r == 414 ? "request line too long" : "malformed request head");
            return true;
        }
        c->head_end = head_end;
        conn_on_head(c);
        return true;
    }
    case CONN_READ_BODY: {
        size_t got = conn_read(c);
        int r = conn_take_body(c);
        if (r == 1) {
            conn_dispatch_request(c);
            return true;
        }
        if (r >= 400) {
            conn_fail(c, r, r == 413 ? "request body too large"
                            : r == 503 ? "server busy: request memory exhausted, retry later" : "malformed chunked body");
            return true;
        }
        if (!got && tcp_peer_closed(c->tcp)) { /* the body will never be complete */
            conn_release(c, false);
            return true;
        }
        return got != 0;
    }
    case CONN_REPLY:
        if (c->reply == REPLY_DONE) {
            conn_finish_request(c);
            return true;
        }
        /* Watch for the client leaving: read what it pipelines meanwhile, and take a FIN as "gone". */
        conn_read(c);
        if (c->in_len < CONN_IN_CAP && tcp_peer_closed(c->tcp)) {
            c->peer_gone = true;
            conn_release(c, true);
            return true;
        }
        return false;
    case CONN_CLOSING: {
        /* Read and drop what the client still sends, so that closing with unread data does not reset the
           connection before it has our answer. */
        char scratch[512];
        for (int i = 0; i < 16 && tcp_recv(c->tcp, scratch, sizeof scratch); i++)
            ;
        if (out_pending(c) == 0) {
            conn_release(c, false);
            return true;
        }
        return false;
    }
    case CONN_FREE:
        return false;
    }
    return false;
}

static bool conn_poll(struct http_conn *c, bool busy)
{
    if (!tcp_is_alive(c->tcp)) { /* reset or timed out below us: close is a no-op on the dead handle */
        conn_release(c, false);
        return true;
    }
    bool worked = out_flush(c);
    for (int i = 0; i < 64 && c->state != CONN_FREE; i++) {
        if (!conn_step(c))
            break;
        worked = true;
        if (c->state != CONN_FREE)
            worked |= out_flush(c);
    }
    if (c->state == CONN_FREE)
        return worked;

    /* Timeouts */
    if (out_pending(c) && now_ns - c->t_send > CLLM_HTTP_SEND_TIMEOUT_MS * MS) {
        stats.timeouts++;
        conn_release(c, true);
        return true;
    }
    /* When nearly every slot is taken, idle and slow connections make room for new clients sooner (TCP has no
       more slots than we do, so a client we never accept is refused below us). */
    uint64_t idle_ms = busy ? CLLM_HTTP_BUSY_IDLE_MS : CLLM_HTTP_IDLE_TIMEOUT_MS;
    uint64_t head_ms = busy ? 2 * CLLM_HTTP_BUSY_IDLE_MS : CLLM_HTTP_HEADER_TIMEOUT_MS;
    if (c->state == CONN_READ_HEAD && out_pending(c) == 0) {
        if (c->in_len == 0 && now_ns - c->t_activity > idle_ms * MS) {
            conn_release(c, false);
            return true;
        }
        if (c->in_len > 0 && now_ns - c->t_head_start > head_ms * MS) {
            stats.timeouts++;
            conn_fail(c, 408, "request head not received in time");
            out_flush(c);
            return true;
        }
    }
    if (c->state == CONN_READ_BODY && now_ns - c->t_activity > CLLM_HTTP_BODY_TIMEOUT_MS * MS) {
        stats.timeouts++;
        conn_fail(c, 408, "request body not received in time");
        out_flush(c);
        return true;
    }
    return worked;
}

void http_conn_init(http_dispatch_fn dispatch)
{
    conn_dispatch = dispatch;
}

bool http_conn_poll_all(uint64_t now)
{
    now_ns = now;
    bool worked = false;
    bool busy = http_conn_count_active() * 8 >= (size_t)CLLM_MAX_CONN * 7;
    for (size_t i = 0; i < CLLM_MAX_CONN; i++)
        if (conns[i].state != CONN_FREE)
            worked |= conn_poll(&conns[i], busy);
    return worked;
}

void http_conn_get_stats(struct http_stats *st) { *st = stats; }

size_t http_conn_count_active(void)
{
    size_t n = 0;
    for (size_t i = 0; i < CLLM_MAX_CONN; i++)
        n += conns[i].state != CONN_FREE;
    return n;
}

size_t http_conn_memory(void) { return mem_used; }

/* ------------------------------------------------------------------------------------------------------------ */
/* The reply API */

static bool valid_header_text(const char *s, bool name)
{
    if (!*s)
        return !name;
    for (; *s; s++) {
        uint8_t ch = (uint8_t)*s;
        if (ch == '\r' || ch == '\n' || ch == 0x7f || (ch < 0x20 && ch != '\t') || (name && (ch == ':' || ch <= ' ')))
            return false;
    }
    return true;
}

bool http_reply_header(http_reply r, const char *name, const char *value)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply == REPLY_STREAMING || !valid_header_text(name, true) || !valid_header_text(value, false))
        return false;
    size_t nl = strlen(name), vl = strlen(value);
    if (c->extra_len + nl + vl + 4 > CONN_EXTRA_CAP)
        return false;
    memcpy(c->extra + c->extra_len, name, nl);
    c->extra_len += nl;
    memcpy(c->extra + c->extra_len, ": ", 2);
    c->extra_len += 2;
    memcpy(c->extra + c->extra_len, value, vl);
    c->extra_len += vl;
    memcpy(c->extra + c->extra_len, "\r\n", 2);
    c->extra_len += 2;
    return true;
}

static void reply_complete(struct http_conn *c)
{
    c->reply = REPLY_DONE;
    c->on_cancel = NULL;
    c->gen++; /* the handle is stale from here on */
    out_flush(c);
}

bool http_reply_send(http_reply r, int status, const char *content_type, const void *body, size_t len)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply == REPLY_STREAMING)
        return false;
    if (status < 200 || status > 599)
        status = 500;
    if (!queue_response(c, status, content_type, body, len)) {
        char eb[160];
        size_t el = 0;
        int st = len > CLLM_HTTP_MAX_RESPONSE ? 500 : 503;
        c->extra_len = 0;
        c->keep_alive = false;
        error_body(eb, sizeof eb, st, st == 500 ? "response too large" : "server busy: no memory for the response",
                   &el);
        queue_response(c, st, "application/json; charset=utf-8", eb, el);
        reply_complete(c);
        return false;
    }
    reply_complete(c);
    return true;
}

bool http_reply_json(http_reply r, int status, const char *json, size_t len)
{
    return http_reply_send(r, status, "application/json; charset=utf-8", json, len);
}

bool http_reply_error(http_reply r, int status, const char *message)
{
    char body[1024];
    size_t len = 0;
    error_body(body, sizeof body, status, message, &len);
    return http_reply_json(r, status, body, len);
}

bool http_reply_defer(http_reply r, void (*on_cancel)(void *ctx), void *ctx)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c)
        return false;
    if (c->reply == REPLY_HANDLER)
        c->reply = REPLY_DEFERRED;
    c->on_cancel = on_cancel;
    c->cancel_ctx = ctx;
    return true;
}

bool http_reply_alive(http_reply r)
{
    struct http_conn *c = conn_from_handle(r);
    return c && !c->peer_gone && tcp_is_alive(c->tcp);
}

bool http_reply_stream_begin(http_reply r, int status, const char *content_type)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply == REPLY_STREAMING)
        return false;
    if (c->head.version_minor == 0) {
        c->raw_stream = true; /* no chunked coding in HTTP/1.0: the close ends the body */
        c->keep_alive = false;
    }
    http_reply_header(r, "Cache-Control", "no-cache");
    if (!queue_head(c, status, content_type, -1))
        return false;
    c->reply = REPLY_STREAMING;
    out_flush(c);
    return true;
}

size_t http_reply_stream_space(http_reply r)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply != REPLY_STREAMING || c->peer_gone)
        return 0;
    size_t overhead = 20; /* chunk size line and CRLF */
    size_t pending = out_pending(c) + overhead;
    return pending < CLLM_HTTP_STREAM_BUF ? CLLM_HTTP_STREAM_BUF - pending : 0;
}

static bool stream_put(struct http_conn *c, const char *prefix, size_t plen, const void *data, size_t len,
                       const char *suffix, size_t slen)
{
    size_t total = plen + len + slen;
    if (total == 0)
        return true;
    if (total > http_reply_stream_space(conn_handle(c)))
        return false;
    if (c->head_only)
        return true;
    char line[24];
    int n = 0;
    if (!c->raw_stream)
        n = fmt_snprintf(line, sizeof line, "%zx\r\n", total);
    if (!out_reserve(c, (size_t)n + total + 2))
        return false;
    out_put(c, line, (size_t)n);
    out_put(c, prefix, plen);
    out_put(c, data, len);
    out_put(c, suffix, slen);
    if (!c->raw_stream)
        out_put(c, "\r\n", 2);
    out_flush(c);
    return true;
}

bool http_reply_stream_write(http_reply r, const void *data, size_t len)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply != REPLY_STREAMING)
        return false;
    return stream_put(c, "", 0, data, len, "", 0);
}

bool http_reply_sse(http_reply r, const char *data, size_t len)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply != REPLY_STREAMING)
        return false;
    return stream_put(c, "data: ", 6, data, len, "\n\n", 2);
}

bool http_reply_stream_end(http_reply r)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c || c->reply != REPLY_STREAMING)
        return false;
    if (!c->raw_stream && !c->head_only && !out_put(c, "0\r\n\r\n", 5))
        return false;
    reply_complete(c);
    return true;
}

void http_reply_abort(http_reply r)
{
    struct http_conn *c = conn_from_handle(r);
    if (!c)
        return;
    c->on_cancel = NULL; /* the owner knows */
    c->reply = REPLY_NONE;
    conn_release(c, true);
}

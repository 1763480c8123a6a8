/* Host test harness for the HTTP server: the real http_server/http_conn/router/json and api/health.c over
   fake_tcp.c, plus a few test routes (echo, JSON re-emit, a deferred reply and an SSE stream the test feeds),
   an allocation counter (kmalloc/kfree are wrapped at link time) and JSON entry points for the JSON tests.
   Loaded by tests/host/http/httphost.py with ctypes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/heap.h"
#include "http/http_server.h"
#include "http/json.h"
#include "http/router.h"
#include "api/health.h"

void host_clock_set_ns(uint64_t ns);
extern int host_log_quiet;

/* --- allocation counting (-Wl,--wrap=kmalloc,...) --- */
void *__real_kmalloc(size_t n);
void *__real_kcalloc(size_t a, size_t b);
void *__real_krealloc(void *p, size_t n);
void __real_kfree(void *p);
long h_allocs;
void *__wrap_kmalloc(size_t n) { void *p = __real_kmalloc(n); h_allocs += p != NULL; return p; }
void *__wrap_kcalloc(size_t a, size_t b) { void *p = __real_kcalloc(a, b); h_allocs += p != NULL; return p; }
void *__wrap_krealloc(void *p, size_t n)
{
    void *q = __real_krealloc(p, n);
    if (!p && q)
        h_allocs++;
    return q;
}
void __wrap_kfree(void *p) { h_allocs -= p != NULL; __real_kfree(p); }

/* --- test routes --- */
static void echo_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)ctx;
    char n[32];
    snprintf(n, sizeof n, "%zu", req->body_len);
    http_reply_header(r, "X-Body-Length", n);
    if (req->head->query) {
        char qs[256];
        snprintf(qs, sizeof qs, "%.*s", (int)req->head->query_len, req->head->query);
        http_reply_header(r, "X-Query", qs);
    }
    http_reply_send(r, 200, "application/octet-stream", req->body, req->body_len);
}

static void json_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)ctx;
    struct json_doc doc;
    struct json_error err;
    if (!json_parse(req->body, req->body_len, &doc, &err)) {
        char msg[200];
        snprintf(msg, sizeof msg, "invalid JSON at byte %zu: %s", err.offset, err.message);
        http_reply_error(r, 400, msg);
        return;
    }
    struct json_writer w;
    json_writer_init(&w, 1 << 24);
    json_write_value(&w, doc.root);
    size_t len;
    const char *out = json_writer_result(&w, &len);
    if (out)
        http_reply_json(r, 200, out, len);
    else
        http_reply_error(r, 500, "writer failed");
    json_writer_free(&w);
    json_doc_free(&doc);
}

http_reply h_pending;   /* the last deferred or streaming reply */
int h_cancels;          /* on_cancel calls */
int h_cancel_arg_ok;

static void on_cancel(void *ctx)
{
    h_cancels++;
    h_cancel_arg_ok = ctx == (void *)&h_pending;
}

static void defer_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)req; (void)ctx;
    h_pending = r;
    http_reply_defer(r, on_cancel, &h_pending);
}

static void stream_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)req; (void)ctx;
    h_pending = r;
    http_reply_defer(r, on_cancel, &h_pending);
    http_reply_stream_begin(r, 200, "text/event-stream");
}

static void forget_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)req; (void)r; (void)ctx; /* returns without answering: the server must answer 500 */
}

static void big_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)ctx;
    size_t n = 0;
    if (req->head->query)
        n = strtoul(req->head->query, NULL, 10);
    if (n > 9u << 20)
        n = 9u << 20;
    char *b = malloc(n ? n : 1);
    if (!b) {
        http_reply_error(r, 500, "test route out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + i % 26);
    http_reply_send(r, 200, "text/plain", b, n);
    free(b);
}

static void post_only(const struct http_request *req, http_reply r, void *ctx)
{
    (void)req; (void)ctx;
    http_reply_json(r, 200, "{}", 2);
}

int h_init(uint16_t port)
{
    host_log_quiet = 1;
    host_clock_set_ns(1);
    if (!http_server_init(port))
        return -1;
    uint32_t post = HTTP_METHOD_BIT(HTTP_METHOD_POST), get = HTTP_METHOD_BIT(HTTP_METHOD_GET);
    router_add(post | HTTP_METHOD_BIT(HTTP_METHOD_PUT), "/echo", echo_handle, NULL);
    router_add(post, "/json", json_handle, NULL);
    router_add(get | post, "/defer", defer_handle, NULL);
    router_add(get | post, "/stream", stream_handle, NULL);
    router_add(get, "/forget", forget_handle, NULL);
    router_add(get, "/big", big_handle, NULL);
    router_add(post, "/post-only", post_only, NULL);
    return 0;
}

int h_poll(uint64_t now_ns)
{
    host_clock_set_ns(now_ns);
    int n = 0;
    while (http_server_poll(now_ns) && n < 1000)
        n++;
    return n;
}

void h_stats(struct http_stats *st) { http_server_get_stats(st); }
size_t h_stats_size(void) { return sizeof(struct http_stats); }

/* --- JSON entry points --- */
/* Parse and re-emit. Returns 1 and the output, or 0 and "offset: message" in out. */
int j_roundtrip(const char *in, size_t len, char *out, size_t cap, size_t *out_len)
{
    struct json_doc doc;
    struct json_error err;
    if (!json_parse(in, len, &doc, &err)) {
        *out_len = (size_t)snprintf(out, cap, "%zu: %s", err.offset, err.message);
        return 0;
    }
    struct json_writer w;
    json_writer_init(&w, 1 << 26);
    json_write_value(&w, doc.root);
    size_t n;
    const char *s = json_writer_result(&w, &n);
    int ok = s && n < cap;
    if (ok) {
        memcpy(out, s, n);
        *out_len = n;
    } else {
        *out_len = (size_t)snprintf(out, cap, "writer failed");
        ok = -1;
    }
    json_writer_free(&w);
    json_doc_free(&doc);
    return ok;
}

int j_parse_limits(const char *in, size_t len, size_t depth, size_t memory)
{
    struct json_limits lim = { depth, memory };
    struct json_doc doc;
    if (!json_parse_limits(in, len, &lim, &doc, NULL))
        return 0;
    json_doc_free(&doc);
    return 1;
}

/* The number at the root: 1 int, 2 double, 0 other/failed. */
int j_number(const char *in, size_t len, int64_t *i, double *d)
{
    struct json_doc doc;
    if (!json_parse(in, len, &doc, NULL))
        return 0;
    int kind = doc.root->type == JSON_INT ? 1 : doc.root->type == JSON_DOUBLE ? 2 : 0;
    if (kind == 1)
        *i = doc.root->u.i;
    if (kind == 2)
        *d = doc.root->u.d;
    json_doc_free(&doc);
    return kind;
}

/* Write one string value (bytes may be invalid UTF-8) or one double. */
size_t j_write_string(const char *s, size_t n, char *out, size_t cap)
{
    struct json_writer w;
    json_writer_init_buf(&w, out, cap);
    json_write_string_n(&w, s, n);
    size_t len = 0;
    return json_writer_result(&w, &len) ? len : (size_t)-1;
}

size_t j_write_double(double v, char *out, size_t cap)
{
    struct json_writer w;
    json_writer_init_buf(&w, out, cap);
    json_write_double(&w, v);
    size_t len = 0;
    return json_writer_result(&w, &len) ? len : (size_t)-1;
}

/* Writer misuse cases: each must fail (return 0), never produce text. */
int j_writer_misuse(int which)
{
    char buf[256];
    struct json_writer w;
    json_writer_init_buf(&w, buf, sizeof buf);
    switch (which) {
    case 0: json_write_object_begin(&w); json_write_i64(&w, 1); json_write_object_end(&w); break; /* no key */
    case 1: json_write_array_begin(&w); json_write_key(&w, "k"); json_write_array_end(&w); break; /* key in array */
    case 2: json_write_object_begin(&w); break;                                                   /* unclosed */
    case 3: json_write_array_begin(&w); json_write_object_end(&w); break;                         /* mismatched */
    case 4: json_write_i64(&w, 1); json_write_i64(&w, 2); break;                                  /* two roots */
    case 5: json_write_object_begin(&w); json_write_key(&w, "a"); json_write_object_end(&w); break; /* key, no value */
    case 6: for (int i = 0; i < 300; i++) json_write_array_begin(&w); break;                      /* too deep */
    case 7: json_write_array_begin(&w); for (int i = 0; i < 200; i++) json_write_string(&w, "xx"); json_write_array_end(&w); break; /* too long */
    case 8: break;                                                                                /* nothing */
    default: return -1;
    }
    size_t len;
    return json_writer_result(&w, &len) != NULL;
}

/* Lookups on a parsed document: the value at key path "a" (object member) then index i (array item, -1: none),
   described as "<type>:<int or double or string>" in out. Returns 0 when the document does not parse. */
int j_lookup(const char *in, size_t len, const char *key, long index, char *out, size_t cap)
{
    struct json_doc doc;
    if (!json_parse(in, len, &doc, NULL))
        return 0;
    const struct json_value *v = key ? json_object_get(doc.root, key) : doc.root;
    if (index >= 0)
        v = json_array_at(v, (size_t)index);
    int64_t i;
    double d;
    bool b;
    const char *s;
    size_t n;
    if (json_get_i64(v, &i))
        snprintf(out, cap, "%s:%lld", json_type_name(v), (long long)i);
    else if (json_get_double(v, &d))
        snprintf(out, cap, "%s:%.17g", json_type_name(v), d);
    else if (json_get_bool(v, &b))
        snprintf(out, cap, "%s:%d", json_type_name(v), b);
    else if (json_get_string(v, &s, &n))
        snprintf(out, cap, "%s:%.*s", json_type_name(v), (int)n, s);
    else
        snprintf(out, cap, "%s:", json_type_name(v));
    json_doc_free(&doc);
    return 1;
}

size_t j_write_ints(int64_t i, uint64_t u, char *out, size_t cap)
{
    struct json_writer w;
    json_writer_init_buf(&w, out, cap);
    json_write_array_begin(&w);
    json_write_i64(&w, i);
    json_write_u64(&w, u);
    json_write_array_end(&w);
    size_t len = 0;
    return json_writer_result(&w, &len) ? len : (size_t)-1;
}

/* Router: exact-path table, 404/405/OPTIONS/HEAD handling (interface: http/router.h).
   Error bodies use llama.cpp's shape through http_reply_error (http/http_conn.c). */
#include "http/router.h"
#include "core/limits.h"
#include "lib/fmt.h"
#include "lib/string.h"

struct route {
    uint32_t methods;
    const char *path;
    size_t path_len;
    http_handler_fn fn;
    void *ctx;
};

static struct route routes[CLLM_HTTP_MAX_ROUTES];
static size_t n_routes;

bool router_add(uint32_t methods, const char *path, http_handler_fn fn, void *ctx)
{
    if (n_routes >= CLLM_HTTP_MAX_ROUTES || !path || path[0] != '/' || !fn || !methods)
        return false;
    routes[n_routes++] = (struct route){ methods, path, strlen(path), fn, ctx };
    return true;
}

void router_clear(void) { n_routes = 0; }

/* "GET, HEAD, POST, OPTIONS" for a method mask. */
static void allow_list(uint32_t methods, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (int m = 1; m < HTTP_METHOD_COUNT; m++) {
        if (!(methods & HTTP_METHOD_BIT(m)))
            continue;
        int k = fmt_snprintf(buf + n, cap - n, "%s%s", n ? ", " : "", http_method_name((enum http_method)m));
        if (k < 0 || (size_t)k >= cap - n)
            break;
        n += (size_t)k;
    }
}

void router_dispatch(const struct http_request *req, http_reply reply)
{
    const struct http_head *h = req->head;
    enum http_method method = h->method;
    uint32_t allowed = 0;
    const struct route *hit = NULL;
    bool server_wide = h->path_len == 1 && h->path[0] == '*';

    for (size_t i = 0; i < n_routes; i++) {
        const struct route *r = &routes[i];
        if (server_wide || r->path_len != h->path_len || memcmp(r->path, h->path, h->path_len) != 0)
            continue;
        allowed |= r->methods;
        if (!hit && ((r->methods & HTTP_METHOD_BIT(method)) ||
                     (method == HTTP_METHOD_HEAD && (r->methods & HTTP_METHOD_BIT(HTTP_METHOD_GET)))))
            hit = r;
    }
    if (server_wide) {
        for (int m = 1; m < HTTP_METHOD_COUNT; m++)
            allowed |= HTTP_METHOD_BIT(m);
    }
    if (allowed & HTTP_METHOD_BIT(HTTP_METHOD_GET))
        allowed |= HTTP_METHOD_BIT(HTTP_METHOD_HEAD);
    if (allowed)
        allowed |= HTTP_METHOD_BIT(HTTP_METHOD_OPTIONS);

    if (!allowed) {
        http_reply_error(reply, 404, "File Not Found");
        return;
    }
    char allow[96];
    allow_list(allowed, allow, sizeof allow);
    if (method == HTTP_METHOD_OPTIONS && !(hit && hit->methods & HTTP_METHOD_BIT(HTTP_METHOD_OPTIONS))) {
        http_reply_header(reply, "Allow", allow);
        if (http_head_find(h, "access-control-request-method")) { /* CORS preflight */
            const struct http_header *rh = http_head_find(h, "access-control-request-headers");
            char hdrs[512];
            size_t n = 0;
            if (rh) {
                n = rh->value_len < sizeof hdrs - 1 ? rh->value_len : 0; /* too long: allow none */
                memcpy(hdrs, rh->value, n);
            }
            hdrs[n] = 0;
            http_reply_header(reply, "Access-Control-Allow-Origin", "*");
            http_reply_header(reply, "Access-Control-Allow-Methods", allow);
            if (n)
                http_reply_header(reply, "Access-Control-Allow-Headers", hdrs);
            http_reply_header(reply, "Access-Control-Max-Age", "86400");
        }
        http_reply_send(reply, 204, NULL, NULL, 0);
        return;
    }
    if (!hit) {
        char msg[160];
        http_reply_header(reply, "Allow", allow);
        fmt_snprintf(msg, sizeof msg, "method %s not allowed for this path (allowed: %s)", http_method_name(method),
                     allow);
        http_reply_error(reply, 405, msg);
        return;
    }
    hit->fn(req, reply, hit->ctx);
}

/* GET /health and /v1/health (interface: api/health.h). The reply shapes are llama.cpp server's. */
#include "api/health.h"
#include "http/router.h"

static bool model_ready = true;

void health_set_ready(bool ready) { model_ready = ready; }

static void health_handle(const struct http_request *req, http_reply reply, void *ctx)
{
    (void)req;
    (void)ctx;
    static const char ok[] = "{\"status\":\"ok\"}";
    if (model_ready)
        http_reply_json(reply, 200, ok, sizeof ok - 1);
    else
        http_reply_error(reply, 503, "Loading model");
}

void health_init(void)
{
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_GET), "/health", health_handle, 0);
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_GET), "/v1/health", health_handle, 0); /* llama.cpp answers both */
}

/* HTTP server: listen, accept, refuse when full, poll the connections (interface: http/http_server.h).
   The connection state machine is http/http_conn.c; routes live in http/router.c; /health is api/health.c. */
#include "http/http_server.h"
#include "api/health.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/router.h"
#include "net/tcp.h"

static uint16_t server_port;
static uint64_t refused;

bool http_server_init(uint16_t port)
{
    server_port = port ? port : CLLM_HTTP_PORT;
    http_conn_init(router_dispatch);
    health_init();
    if (tcp_listen(server_port) < 0) {
        log_error("http: cannot listen on port %u", (unsigned)server_port);
        return false;
    }
    log_info("http: listening on port %u (%u connections)", (unsigned)server_port, (unsigned)CLLM_MAX_CONN);
    return true;
}

bool http_server_poll(uint64_t now_ns)
{
    bool worked = false;
    tcp_handle h;
    while ((h = tcp_accept(server_port)) != 0) {
        worked = true;
        if (!http_conn_open(h, now_ns)) { /* every slot busy: say so and close */
            static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                                       "Content-Length: 73\r\nConnection: close\r\n\r\n"
                                       "{\"error\":{\"code\":503,\"message\":\"server busy\","
                                       "\"type\":\"unavailable_error\"}}";
            tcp_send(h, busy, sizeof busy - 1);
            tcp_close(h);
            refused++;
        }
    }
    worked |= http_conn_poll_all(now_ns);
    return worked;
}

void http_server_get_stats(struct http_stats *st)
{
    http_conn_get_stats(st);
    st->conns_refused = refused;
}

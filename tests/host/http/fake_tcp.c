/* A fake of net/tcp.h over in-memory byte queues, so that host tests drive the HTTP server (kernel/http/) through
   whole exchanges. The test plays the client with the fake_client_* calls (from Python via ctypes, see
   tests/host/http/httphost.py); "send space" is how much of what the server sent the client has not read yet,
   subtracted from a per-connection capacity, which is how tests exercise backpressure. Handles carry a generation;
   any call on a handle after tcp_close/tcp_abort is counted in fake_tcp_misuse. */
#include <stdlib.h>
#include <string.h>
#include "net/tcp.h"

#define FAKE_MAX 512

struct fconn {
    bool used;         /* slot taken (from connect until fake_client_release) */
    bool accepted;
    bool server_done;  /* tcp_close or tcp_abort called */
    bool aborted;      /* tcp_abort (RST) */
    bool client_fin, client_rst;
    uint16_t port;
    uint32_t gen;
    unsigned char *c2s; size_t c2s_len, c2s_off, c2s_cap;
    unsigned char *s2c; size_t s2c_len, s2c_off, s2c_cap;
    size_t send_cap;
};

static struct fconn fc[FAKE_MAX];
static uint16_t listening[16];
static int n_listening;
int fake_tcp_misuse;
static size_t default_send_cap = 32768;

static tcp_handle fake_handle(int i) { return (fc[i].gen << 10) | (uint32_t)(i + 1); }

static struct fconn *lookup(tcp_handle h, bool count_misuse)
{
    uint32_t i = (h & 1023u);
    if (i == 0 || i > FAKE_MAX)
        goto bad;
    struct fconn *c = &fc[i - 1];
    if (!c->used || !c->accepted || c->gen != (h >> 10) || c->server_done)
        goto bad;
    return c;
bad:
    if (count_misuse)
        fake_tcp_misuse++;
    return NULL;
}

static void put(unsigned char **buf, size_t *len, size_t *cap, const void *data, size_t n)
{
    if (n == 0)
        return;
    if (*len + n > *cap) {
        size_t nc = *cap ? *cap : 4096;
        while (nc < *len + n)
            nc *= 2;
        *buf = realloc(*buf, nc);
        *cap = nc;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
}

/* --- net/tcp.h --- */
void tcp_init(void) {}
void tcp_input(uint32_t s, uint32_t d, const uint8_t *seg, size_t len) { (void)s; (void)d; (void)seg; (void)len; }
void tcp_poll(uint64_t now_ns) { (void)now_ns; }

int tcp_listen(uint16_t port)
{
    if (n_listening >= 16)
        return -1;
    listening[n_listening++] = port;
    return 0;
}

tcp_handle tcp_accept(uint16_t port)
{
    for (int i = 0; i < FAKE_MAX; i++) {
        struct fconn *c = &fc[i];
        if (c->used && !c->accepted && c->port == port && !c->client_rst) {
            c->accepted = true;
            return fake_handle(i);
        }
    }
    return 0;
}

size_t tcp_recv(tcp_handle h, void *buf, size_t n)
{
    struct fconn *c = lookup(h, true);
    if (!c || c->client_rst)
        return 0;
    size_t k = c->c2s_len - c->c2s_off;
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    memcpy(buf, c->c2s + c->c2s_off, k);
    c->c2s_off += k;
    return k;
}

size_t tcp_recv_available(tcp_handle h)
{
    struct fconn *c = lookup(h, true);
    return c && !c->client_rst ? c->c2s_len - c->c2s_off : 0;
}

size_t tcp_send_space(tcp_handle h)
{
    struct fconn *c = lookup(h, true);
    if (!c || c->client_rst)
        return 0;
    size_t unread = c->s2c_len - c->s2c_off;
    return unread < c->send_cap ? c->send_cap - unread : 0;
}

size_t tcp_send(tcp_handle h, const void *buf, size_t n)
{
    size_t space = tcp_send_space(h);
    struct fconn *c = lookup(h, false);
    if (!c || c->client_rst)
        return 0;
    if (n > space)
        n = space;
    put(&c->s2c, &c->s2c_len, &c->s2c_cap, buf, n);
    return n;
}

bool tcp_peer_closed(tcp_handle h)
{
    struct fconn *c = lookup(h, true);
    return c && c->client_fin && c->c2s_off == c->c2s_len;
}

bool tcp_is_alive(tcp_handle h)
{
    struct fconn *c = lookup(h, false);
    return c && !c->client_rst;
}

void tcp_close(tcp_handle h)
{
    struct fconn *c = lookup(h, false);
    if (c)
        c->server_done = true;
}

void tcp_abort(tcp_handle h)
{
    struct fconn *c = lookup(h, true);
    if (c) {
        c->server_done = true;
        c->aborted = true;
    }
}

void tcp_get_stats(struct tcp_stats *st) { memset(st, 0, sizeof *st); }

/* --- the client side, for the tests --- */
int fake_client_connect(uint16_t port)
{
    for (int i = 0; i < FAKE_MAX; i++) {
        struct fconn *c = &fc[i];
        if (c->used)
            continue;
        uint32_t gen = (c->gen + 1) & 0x3fffff;
        free(c->c2s);
        free(c->s2c);
        memset(c, 0, sizeof *c);
        c->used = true;
        c->gen = gen ? gen : 1;
        c->port = port;
        c->send_cap = default_send_cap;
        return i;
    }
    return -1;
}

void fake_client_send(int i, const void *data, size_t n) { put(&fc[i].c2s, &fc[i].c2s_len, &fc[i].c2s_cap, data, n); }

size_t fake_client_recv(int i, void *buf, size_t n)
{
    struct fconn *c = &fc[i];
    size_t k = c->s2c_len - c->s2c_off;
    if (k > n)
        k = n;
    if (k == 0)
        return 0;
    memcpy(buf, c->s2c + c->s2c_off, k);
    c->s2c_off += k;
    return k;
}

void fake_client_fin(int i) { fc[i].client_fin = true; }
void fake_client_reset(int i) { fc[i].client_rst = true; }
void fake_client_set_send_cap(int i, size_t cap) { fc[i].send_cap = cap; }
void fake_set_default_send_cap(size_t cap) { default_send_cap = cap; }

/* bit 0 accepted, bit 1 server closed (FIN or RST), bit 2 aborted (RST), bit 3 bytes unread by the server */
int fake_client_state(int i)
{
    struct fconn *c = &fc[i];
    return (c->accepted ? 1 : 0) | (c->server_done ? 2 : 0) | (c->aborted ? 4 : 0) |
           (c->c2s_off < c->c2s_len ? 8 : 0);
}

void fake_client_release(int i) { fc[i].used = false; }

/* Connections the server accepted and has not closed or aborted (a client reset does not count as released). */
int fake_tcp_server_open(void)
{
    int n = 0;
    for (int i = 0; i < FAKE_MAX; i++)
        n += fc[i].used && fc[i].accepted && !fc[i].server_done && !fc[i].client_rst;
    return n;
}

/* libFuzzer harness for the HTTP request path: the head scanner and parser (kernel/http/http_parse.c) on the input
   cut at input-chosen points, the chunked decoder, and the whole server (http_conn/router/json over
   tests/host/http/fake_tcp.c) fed the input in pieces. After each input every connection must be gone, with no TCP
   handle or heap block left: abort() otherwise, which libFuzzer reports.
   Build and run: see tests/test_http_fuzz.py (short run in the suite; the docstring there has the long run). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/limits.h"
#include "http/http_conn.h"
#include "http/http_parse.h"

int h_init(uint16_t port);
int h_poll(uint64_t now_ns);
extern long h_allocs;
int fake_client_connect(uint16_t port);
void fake_client_send(int i, const void *data, size_t n);
size_t fake_client_recv(int i, void *buf, size_t n);
void fake_client_fin(int i);
void fake_client_release(int i);
int fake_tcp_server_open(void);
extern int fake_tcp_misuse;

static uint64_t now = 1;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

static void fuzz_parser(const uint8_t *data, size_t size)
{
    struct http_head_scan scan;
    http_head_scan_init(&scan);
    size_t head_end = 0, fed = 0;
    int r = HTTP_SCAN_MORE;
    uint8_t step = size ? data[0] : 1;
    while (r == HTTP_SCAN_MORE && fed < size) {
        fed += 1 + (step % 97);
        if (fed > size)
            fed = size;
        step = (uint8_t)(step * 31 + 7);
        r = http_head_scan(&scan, (const char *)data, fed, CLLM_HTTP_MAX_HEADER, &head_end);
    }
    check(r == HTTP_SCAN_MORE || r == HTTP_SCAN_DONE || (r >= 400 && r < 600), "scan result");
    if (r == HTTP_SCAN_DONE) {
        check(head_end <= size && scan.start < head_end, "head bounds");
        static struct http_head head;
        const char *b = (const char *)data + scan.start;
        size_t n = head_end - scan.start;
        int st = http_parse_head(b, n, CLLM_HTTP_MAX_BODY, &head);
        check(st == 0 || (st >= 400 && st < 600 && head.error), "parse status");
        if (st == 0) {
            check(head.method > HTTP_METHOD_UNKNOWN && head.method < HTTP_METHOD_COUNT, "method");
            check(head.target >= b && head.target + head.target_len <= b + n, "target bounds");
            check((head.path >= b && head.path + head.path_len <= b + n) || head.path_len == 1, "path bounds");
            for (size_t i = 0; i < head.n_headers; i++)
                check(head.headers[i].name >= b && head.headers[i].value + head.headers[i].value_len <= b + n,
                      "header bounds");
            check(head.body_kind != HTTP_BODY_LENGTH || head.content_length <= CLLM_HTTP_MAX_BODY, "length");
        }
    }
    /* The same bytes as a chunked body, decoded in pieces into a small buffer. */
    struct http_chunked ch;
    http_chunked_init(&ch, 4096);
    static uint8_t out[512];
    size_t pos = 0, total = 0;
    int cr = HTTP_CHUNKED_MORE;
    while (pos < size && cr == HTTP_CHUNKED_MORE) {
        size_t piece = 1 + (size - pos) % 13, used = 0, made = 0;
        if (piece > size - pos)
            piece = size - pos;
        cr = http_chunked_decode(&ch, data + pos, piece, &used, out, sizeof out, &made);
        check(used <= piece && made <= sizeof out, "chunked progress");
        pos += used;
        total += made;
        if (used == 0 && made == 0 && cr == HTTP_CHUNKED_MORE)
            break;
    }
    check(total <= 4096, "chunked limit");
}

static void fuzz_server(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        check(h_init(8080) == 0, "init");
        ready = 1;
    }
    int c = fake_client_connect(8080);
    check(c >= 0, "connect");
    static uint8_t sink[1 << 16];
    size_t pos = 0;
    uint8_t step = size ? data[size - 1] : 3;
    while (pos < size) {
        size_t piece = 1 + (step % 251);
        step = (uint8_t)(step * 17 + 11);
        if (piece > size - pos)
            piece = size - pos;
        fake_client_send(c, data + pos, piece);
        pos += piece;
        now += 1000000ull * (step % 3);
        h_poll(now);
        while (fake_client_recv(c, sink, sizeof sink))
            ;
    }
    fake_client_fin(c);
    for (int i = 0; i < 4; i++) {
        now += 40000ull * 1000000ull; /* past every timeout */
        h_poll(now);
        while (fake_client_recv(c, sink, sizeof sink))
            ;
    }
    fake_client_release(c);
    check(http_conn_count_active() == 0, "connection slot left");
    check(fake_tcp_server_open() == 0, "TCP handle left open");
    check(h_allocs == 0, "heap block leaked");
    check(fake_tcp_misuse == 0, "TCP handle used after close");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_parser(data, size);
    fuzz_server(data, size);
    return 0;
}

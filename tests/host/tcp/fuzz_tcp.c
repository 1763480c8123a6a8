/* libFuzzer harness for kernel/net/tcp.c (with tcp_wire.c and the fake IPv4 layer fake_ip.c): the input is
   a script of peer segments (plausible ones that track the stack's sequence numbers, and raw garbage),
   clock jumps and application calls. After every step the stack's bookkeeping must be consistent; at the
   end every handle is closed, time runs on, and every slot must be free again (no leak, however it ended).
   Build and run for hours:
     clang -g -O1 -fsanitize=fuzzer,address,undefined -DCLLM_HOST -Ikernel -Itests/host/include \
       tests/host/shim.c kernel/lib/{fmt,parse,math}.c kernel/net/{checksum,tcp_wire,tcp}.c \
       tests/host/tcp/{fake_ip,fuzz_tcp}.c -o /tmp/fuzz_tcp && /tmp/fuzz_tcp -len_control=0 -max_total_time=36000 CORPUS_DIR
   tests/test_tcp_storm.py builds it and runs it briefly. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "net/checksum.h"
#include "net/tcp.h"

void host_clock_set_ns(uint64_t ns);
extern int host_log_quiet;
void fake_ip_clear(void);
int fake_ip_pop(uint8_t *buf, size_t cap, uint32_t *dst, uint8_t *proto);

#define LOCAL_IP 0x0a000002u
#define N_PEERS 6
#define N_HANDLES 80

struct cursor { const uint8_t *p; size_t n; };

static uint32_t take(struct cursor *c, int bytes)
{
    uint32_t v = 0;
    for (int i = 0; i < bytes; i++) {
        v = v << 8;
        if (c->n) {
            v |= *c->p++;
            c->n--;
        }
    }
    return v;
}

struct peer { uint32_t ip; uint16_t port; uint32_t seq, ack; uint32_t stack_seq, stack_ack; int seen; };
static struct peer peers[N_PEERS];
static tcp_handle handles[N_HANDLES];
static uint64_t now;

static void check(void)
{
    int r = tcp_check_invariants();
    if (r) {
        fprintf(stderr, "tcp invariant %d broken\n", r);
        abort();
    }
}

/* Drain the stack's output, learning each peer's view of the stack's sequence numbers. */
static void drain(void)
{
    uint8_t buf[2048];
    uint32_t dst;
    uint8_t proto;
    int n;
    while ((n = fake_ip_pop(buf, sizeof buf, &dst, &proto)) >= 0) {
        if (n < 20)
            abort(); /* the stack never emits a short segment */
        if (checksum_finish(checksum_add(checksum_pseudo_ipv4(LOCAL_IP, dst, 6, (uint16_t)n), buf, (size_t)n)))
            abort(); /* nor a bad checksum */
        uint16_t dport = (uint16_t)(buf[2] << 8 | buf[3]);
        for (int i = 0; i < N_PEERS; i++) {
            if (peers[i].ip == dst && peers[i].port == dport) {
                uint32_t seq = (uint32_t)buf[4] << 24 | buf[5] << 16 | buf[6] << 8 | buf[7];
                uint32_t ack = (uint32_t)buf[8] << 24 | buf[9] << 16 | buf[10] << 8 | buf[11];
                size_t hl = (size_t)(buf[12] >> 4) * 4;
                uint32_t len = (uint32_t)n - (uint32_t)hl + ((buf[13] & 3) ? 1u : 0u);
                peers[i].stack_seq = seq + len;
                peers[i].stack_ack = ack;
                peers[i].seen = 1;
            }
        }
    }
}

static void send_seg(struct peer *pe, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t wnd, const uint8_t *opt,
                     size_t optlen, const uint8_t *data, size_t len, int corrupt)
{
    uint8_t seg[20 + 40 + 2048];
    optlen = optlen > 40 ? 40 : optlen & ~(size_t)3;
    len = len > 2048 ? 2048 : len;
    size_t hl = 20 + optlen;
    memset(seg, 0, 20);
    seg[0] = (uint8_t)(pe->port >> 8); seg[1] = (uint8_t)pe->port;
    seg[2] = 0x1f; seg[3] = 0x90; /* 8080 */
    for (int i = 0; i < 4; i++) {
        seg[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        seg[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    seg[12] = (uint8_t)((hl / 4) << 4);
    seg[13] = flags;
    seg[14] = (uint8_t)(wnd >> 8); seg[15] = (uint8_t)wnd;
    if (optlen)
        memcpy(seg + 20, opt, optlen);
    if (len)
        memcpy(seg + hl, data, len);
    uint16_t c = checksum_finish(checksum_add(checksum_pseudo_ipv4(pe->ip, LOCAL_IP, 6, (uint16_t)(hl + len)), seg,
                                              hl + len));
    if (corrupt)
        c ^= 1;
    seg[16] = (uint8_t)(c >> 8); seg[17] = (uint8_t)c;
    tcp_input(pe->ip, LOCAL_IP, seg, hl + len);
}

static const int32_t deltas[8] = {0, 0, 0, 1, -1, 1460, 16384, -70000};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cursor c = {data, size};
    static uint8_t zeros_and_junk[2048];
    host_log_quiet = 1;
    now = 1000000000ull;
    host_clock_set_ns(now);
    fake_ip_clear();
    tcp_init();
    tcp_listen(8080);
    memset(handles, 0, sizeof handles);
    for (int i = 0; i < N_PEERS; i++)
        peers[i] = (struct peer){0x0a000010u + (uint32_t)(i & 1), (uint16_t)(40000 + i), 0, 0, 0, 0, 0};
    while (c.n) {
        uint32_t op = take(&c, 1) % 8;
        struct peer *pe = &peers[take(&c, 1) % N_PEERS];
        switch (op) {
        case 0: { /* SYN, with a few option bytes */
            uint8_t opt[12];
            uint32_t optlen = take(&c, 1) % 13;
            for (uint32_t i = 0; i < optlen; i++)
                opt[i] = (uint8_t)take(&c, 1);
            pe->seq = take(&c, 4);
            send_seg(pe, pe->seq, 0, 0x02, (uint16_t)take(&c, 2), opt, optlen, NULL, 0, 0);
            pe->seq++;
            break;
        }
        case 1:
        case 2: { /* a plausible segment: sequence numbers near what the stack expects */
            uint8_t flags = (uint8_t)take(&c, 1);
            uint32_t d = take(&c, 1);
            uint32_t seq = pe->stack_ack + (uint32_t)deltas[d & 7];
            uint32_t ack = pe->stack_seq + (uint32_t)deltas[(d >> 3) & 7];
            uint16_t wnd = (uint16_t)take(&c, 2);
            size_t len = take(&c, 1) * 8u;
            if (len > c.n)
                len = c.n;
            send_seg(pe, seq, ack, op == 1 ? (uint8_t)(flags & 0x19) | 0x10 : flags, wnd, NULL, 0, c.p, len,
                     (d >> 6) == 3);
            c.p += len;
            c.n -= len;
            break;
        }
        case 3: { /* raw bytes as a segment */
            size_t len = take(&c, 1);
            if (len > c.n)
                len = c.n;
            memcpy(zeros_and_junk, c.p, len);
            tcp_input(pe->ip, LOCAL_IP, zeros_and_junk, len);
            c.p += len;
            c.n -= len;
            break;
        }
        case 4: /* time passes */
            now += (uint64_t)take(&c, 2) * 1000000ull;
            host_clock_set_ns(now);
            tcp_poll(now);
            break;
        case 5: { /* the application */
            uint32_t which = take(&c, 1);
            tcp_handle *h = &handles[which % N_HANDLES];
            uint8_t buf[4096];
            switch ((which >> 5) & 7) {
            case 0: case 1:
                if (!*h)
                    *h = tcp_accept(8080);
                break;
            case 2:
                tcp_recv(*h, buf, take(&c, 1) * 16u + 1u);
                break;
            case 3:
                memset(buf, 'x', sizeof buf);
                tcp_send(*h, buf, take(&c, 1) * 16u);
                break;
            case 4:
                tcp_close(*h);
                *h = 0;
                break;
            case 5:
                tcp_abort(*h);
                *h = 0;
                break;
            default:
                (void)tcp_peer_closed(*h);
                (void)tcp_is_alive(*h);
                (void)tcp_send_space(*h);
                (void)tcp_recv_available(*h);
                break;
            }
            break;
        }
        default:
            break;
        }
        drain();
        check();
    }
    /* everything ends: the app closes what it holds, time runs on, and no slot may stay taken */
    for (int i = 0; i < N_HANDLES; i++)
        tcp_close(handles[i]);
    for (int i = 0; i < 400 && tcp_conns_in_use(); i++) {
        now += 500000000ull;
        host_clock_set_ns(now);
        tcp_poll(now);
        tcp_handle h;
        while ((h = tcp_accept(8080)))
            tcp_close(h); /* late arrivals in the accept queue are closed too */
        drain();
        check();
    }
    if (tcp_conns_in_use() != 0) {
        fprintf(stderr, "leak: %zu connection slots still in use\n", tcp_conns_in_use());
        abort();
    }
    return 0;
}

#ifdef FUZZ_STANDALONE
/* Without libFuzzer: run N pseudo-random inputs (for gcc builds and quick checks). */
int main(int argc, char **argv)
{
    unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    uint64_t s = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    static uint8_t buf[8192];
    for (unsigned long k = 0; k < n; k++) {
        size_t len = 0;
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        len = (size_t)(s >> 33) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            buf[i] = (uint8_t)(s >> 56);
        }
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("ok %lu inputs\n", n);
    return 0;
}
#endif

/* Host harness that puts kernel/net/tcp.c on a Linux TUN device, so Linux's own TCP stack is the peer
   (tests/test_tcp_linux.py runs it inside a network namespace and connects with Python sockets).
   It supplies a minimal IPv4 layer (net/ipv4.h) of its own, can drop, duplicate and reorder packets in both
   directions, and runs three servers: echo (port 7), a source that sends a requested number of
   pattern bytes and closes (port 19), and a sink that answers with the byte count and CRC-32 (port 9), and a lazy sink that reads 2 KiB every 20 ms so its
   receive window closes (port 13).
   Usage: tun_peer TUN_NAME LOCAL_IP [loss_pct dup_pct reorder_pct seed]. Prints "ready" once the device
   exists; on stdin EOF it waits for connections to drain and prints one JSON line of statistics. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include "core/limits.h"
#include "net/checksum.h"
#include "net/ipv4.h"
#include "net/tcp.h"

void host_clock_set_ns(uint64_t ns);
extern int host_log_quiet;

static int tun_fd = -1;
static uint32_t local_ip;
static double loss_pct, dup_pct, reorder_pct;
static unsigned long pkts_dropped, pkts_duped, pkts_reordered, pkts_in, pkts_out;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static double rnd01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / (double)(1ull << 53);
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One packet held back to reorder it behind the next one (per direction). */
struct held { int have; size_t len; uint8_t buf[2048]; uint64_t since; };
static struct held held_out, held_in;

static void tun_write(const uint8_t *pkt, size_t len)
{
    if (write(tun_fd, pkt, len) < 0 && errno != EAGAIN)
        perror("tun write");
}

static void deliver_in(const uint8_t *pkt, size_t len);

/* Lossy link in one direction: drop, duplicate, or hold back to reorder. */
static void link_send(struct held *h, const uint8_t *pkt, size_t len, void (*out)(const uint8_t *, size_t))
{
    if (rnd01() * 100.0 < loss_pct) {
        pkts_dropped++;
        return;
    }
    int dup = rnd01() * 100.0 < dup_pct;
    if (!h->have && rnd01() * 100.0 < reorder_pct && len <= sizeof h->buf) {
        memcpy(h->buf, pkt, len);
        h->len = len;
        h->have = 1;
        h->since = now_ns();
        pkts_reordered++;
        return;
    }
    out(pkt, len);
    if (dup) {
        pkts_duped++;
        out(pkt, len);
    }
    if (h->have) {
        h->have = 0;
        out(h->buf, h->len);
    }
}

static void link_flush(struct held *h, void (*out)(const uint8_t *, size_t))
{
    if (h->have && now_ns() - h->since > 20000000ull) { /* never hold a packet longer than 20 ms */
        h->have = 0;
        out(h->buf, h->len);
    }
}

static uint16_t ip_id;

int ipv4_output(uint32_t dst_ip, uint8_t proto, const void *payload, size_t len)
{
    uint8_t pkt[2048];
    if (len + 20 > 1500)
        return -1;
    pkt[0] = 0x45;
    pkt[1] = 0;
    pkt[2] = (uint8_t)((len + 20) >> 8);
    pkt[3] = (uint8_t)(len + 20);
    pkt[4] = (uint8_t)(ip_id >> 8);
    pkt[5] = (uint8_t)ip_id;
    ip_id++;
    pkt[6] = 0x40; /* DF */
    pkt[7] = 0;
    pkt[8] = 64;
    pkt[9] = proto;
    pkt[10] = pkt[11] = 0;
    for (int i = 0; i < 4; i++) {
        pkt[12 + i] = (uint8_t)(local_ip >> (24 - 8 * i));
        pkt[16 + i] = (uint8_t)(dst_ip >> (24 - 8 * i));
    }
    uint16_t c = checksum_finish(checksum_add(0, pkt, 20));
    pkt[10] = (uint8_t)(c >> 8);
    pkt[11] = (uint8_t)c;
    memcpy(pkt + 20, payload, len);
    pkts_out++;
    link_send(&held_out, pkt, len + 20, tun_write);
    return 0;
}

uint32_t net_local_ip(void) { return local_ip; }
size_t net_mtu(void) { return 1500; }

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

static void deliver_in(const uint8_t *pkt, size_t len)
{
    if (len < 20 || (pkt[0] >> 4) != 4)
        return;
    size_t ihl = (size_t)(pkt[0] & 15) * 4;
    size_t tot = (size_t)pkt[2] << 8 | pkt[3];
    if (ihl < 20 || tot < ihl || tot > len || pkt[9] != 6 || ((pkt[6] & 0x3f) | pkt[7]))
        return;
    if (checksum_finish(checksum_add(0, pkt, ihl)) != 0)
        return;
    uint32_t src = get32(pkt + 12), dst = get32(pkt + 16);
    if (dst != local_ip)
        return;
    tcp_input(src, dst, pkt + ihl, tot - ihl);
}

/* --- the servers --------------------------------------------------------------------------------- */

enum app_kind { APP_ECHO, APP_SOURCE, APP_SINK, APP_LAZY_SINK };
struct app {
    tcp_handle h;
    enum app_kind kind;
    uint8_t pend[65536];
    size_t pend_len;
    uint64_t want, sent, got, sum;   /* source: bytes asked/sent; sink: bytes/checksum seen */
    uint64_t next_read_ns;           /* lazy sink: reads 2 KiB every 20 ms, so its window closes */
    uint8_t req[8];
    size_t req_len;
};
#define MAX_APPS (CLLM_MAX_CONN * 2)
static struct app *apps[MAX_APPS];

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), the same as Python's zlib.crc32. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    if (!table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
    crc = ~crc;
    while (n--)
        crc = table[(crc ^ *p++) & 0xffu] ^ (crc >> 8);
    return ~crc;
}

static uint8_t pattern_byte(uint64_t i) { return (uint8_t)((i * 2654435761u) >> 13); }

static void app_start(tcp_handle h, enum app_kind kind)
{
    for (int i = 0; i < MAX_APPS; i++) {
        if (!apps[i]) {
            apps[i] = calloc(1, sizeof(struct app));
            apps[i]->h = h;
            apps[i]->kind = kind;
            return;
        }
    }
    tcp_abort(h);
}

static void app_flush(struct app *a)
{
    size_t n = tcp_send(a->h, a->pend, a->pend_len);
    memmove(a->pend, a->pend + n, a->pend_len - n);
    a->pend_len -= n;
}

/* Returns 0 when the app is done with its handle. */
static int app_step(struct app *a)
{
    if (!tcp_is_alive(a->h))
        return 0;
    uint8_t buf[16384];
    switch (a->kind) {
    case APP_ECHO:
        app_flush(a);
        while (a->pend_len < sizeof a->pend) {
            size_t room = sizeof a->pend - a->pend_len;
            size_t n = tcp_recv(a->h, a->pend + a->pend_len, room);
            if (!n)
                break;
            a->pend_len += n;
            app_flush(a);
        }
        if (tcp_peer_closed(a->h) && a->pend_len == 0) {
            tcp_close(a->h);
            return 0;
        }
        return 1;
    case APP_SOURCE:
        while (a->req_len < 8) {
            size_t n = tcp_recv(a->h, a->req + a->req_len, 8 - a->req_len);
            if (!n)
                break;
            a->req_len += n;
            if (a->req_len == 8)
                for (int i = 0; i < 8; i++)
                    a->want = a->want << 8 | a->req[i];
        }
        if (a->req_len < 8)
            return tcp_peer_closed(a->h) ? (tcp_close(a->h), 0) : 1;
        while (a->sent < a->want) {
            size_t n = a->want - a->sent < sizeof buf ? a->want - a->sent : sizeof buf;
            size_t space = tcp_send_space(a->h);
            if (n > space)
                n = space;
            if (!n)
                break;
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern_byte(a->sent + i);
            a->sent += tcp_send(a->h, buf, n);
        }
        if (a->sent == a->want) {
            tcp_close(a->h); /* server closes first: it goes through FIN_WAIT and TIME_WAIT */
            return 0;
        }
        return 1;
    case APP_SINK:
    case APP_LAZY_SINK:
        for (;;) {
            size_t want = sizeof buf;
            if (a->kind == APP_LAZY_SINK) {
                uint64_t t = now_ns();
                if (t < a->next_read_ns)
                    break;
                a->next_read_ns = t + 20000000ull;
                want = 2048;
            }
            size_t n = tcp_recv(a->h, buf, want);
            if (!n)
                break;
            a->sum = crc32_update((uint32_t)a->sum, buf, n);
            a->got += n;
        }
        if (tcp_peer_closed(a->h)) {
            char line[64];
            int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)a->got, (unsigned long long)a->sum);
            tcp_send(a->h, line, (size_t)n);
            tcp_close(a->h);
            return 0;
        }
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TUN LOCAL_IP [loss dup reorder seed]\n", argv[0]);
        return 2;
    }
    unsigned a, b, c, d;
    if (sscanf(argv[2], "%u.%u.%u.%u", &a, &b, &c, &d) != 4)
        return 2;
    local_ip = a << 24 | b << 16 | c << 8 | d;
    if (argc >= 7) {
        loss_pct = atof(argv[3]);
        dup_pct = atof(argv[4]);
        reorder_pct = atof(argv[5]);
        rng_state ^= strtoull(argv[6], NULL, 10) * 0xbf58476d1ce4e5b9ull;
    }
    host_log_quiet = 1;
    tun_fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK);
    if (tun_fd < 0) {
        perror("open /dev/net/tun");
        return 1;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", argv[1]);
    if (ioctl(tun_fd, TUNSETIFF, &ifr) < 0) {
        perror("TUNSETIFF");
        return 1;
    }
    host_clock_set_ns(now_ns());
    tcp_init();
    tcp_listen(7);
    tcp_listen(9);
    tcp_listen(13);
    tcp_listen(19);
    printf("ready\n");
    fflush(stdout);
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
    int stdin_open = 1;
    uint64_t drain_until = 0;
    for (;;) {
        struct pollfd pf[2] = {{tun_fd, POLLIN, 0}, {0, POLLIN, 0}};
        poll(pf, stdin_open ? 2 : 1, 1);
        uint64_t t = now_ns();
        host_clock_set_ns(t);
        for (int i = 0; i < 256; i++) {
            uint8_t pkt[2048];
            ssize_t n = read(tun_fd, pkt, sizeof pkt);
            if (n <= 0)
                break;
            pkts_in++;
            link_send(&held_in, pkt, (size_t)n, deliver_in);
        }
        link_flush(&held_in, deliver_in);
        link_flush(&held_out, tun_write);
        tcp_poll(t);
        tcp_handle h;
        while ((h = tcp_accept(7)))
            app_start(h, APP_ECHO);
        while ((h = tcp_accept(9)))
            app_start(h, APP_SINK);
        while ((h = tcp_accept(13)))
            app_start(h, APP_LAZY_SINK);
        while ((h = tcp_accept(19)))
            app_start(h, APP_SOURCE);
        for (int i = 0; i < MAX_APPS; i++) {
            if (apps[i] && !app_step(apps[i])) {
                free(apps[i]);
                apps[i] = NULL;
            }
        }
        if (stdin_open && (pf[1].revents & (POLLIN | POLLHUP))) {
            char tmp[64];
            ssize_t n = read(0, tmp, sizeof tmp);
            if (n == 0 || (n > 0 && tmp[0] == 'q')) {
                stdin_open = 0;
                drain_until = t + 2u * CLLM_TCP_MSL_MS * 1000000ull + 3000000000ull;
            }
        }
        if (!stdin_open && (tcp_conns_in_use() == 0 || t > drain_until))
            break;
    }
    struct tcp_stats st;
    tcp_get_stats(&st);
    printf("{\"segs_in\": %llu, \"segs_out\": %llu, \"retransmits\": %llu, \"bad_segs\": %llu, "
           "\"resets_in\": %llu, \"resets_out\": %llu, \"conns_opened\": %llu, \"conns_closed\": %llu, "
           "\"conns_active\": %llu, \"dropped_no_slot\": %llu, \"fast_retransmits\": %llu, \"timeouts\": %llu, "
           "\"ooo_segs\": %llu, \"dup_segs\": %llu, \"persist_probes\": %llu, \"in_use\": %zu, \"invariants\": %d, "
           "\"pkts_in\": %lu, \"pkts_out\": %lu, \"dropped\": %lu, \"duped\": %lu, \"reordered\": %lu}\n",
           (unsigned long long)st.segs_in, (unsigned long long)st.segs_out, (unsigned long long)st.retransmits,
           (unsigned long long)st.bad_segs, (unsigned long long)st.resets_in, (unsigned long long)st.resets_out,
           (unsigned long long)st.conns_opened, (unsigned long long)st.conns_closed,
           (unsigned long long)st.conns_active, (unsigned long long)st.conns_dropped_no_slot,
           (unsigned long long)st.fast_retransmits, (unsigned long long)st.timeouts,
           (unsigned long long)st.ooo_segs, (unsigned long long)st.dup_segs,
           (unsigned long long)st.persist_probes, tcp_conns_in_use(),
           tcp_check_invariants(), pkts_in, pkts_out, pkts_dropped, pkts_duped, pkts_reordered);
    return 0;
}

/* TCP state machine (RFC 9293) and the socket-style API of net/tcp.h: passive open, the full close
   handshake incl. simultaneous close and TIME_WAIT, RFC 6298 retransmission timer with Karn's rule and
   back-off, NewReno-style fast retransmit (RFC 5681, 6582) with early retransmit (RFC 5827), persist timer,
   out-of-order data held in the receive buffer and reported in SACK blocks (RFC 2018), RFC 5961 RST/SYN/ACK
   checks with challenge ACKs, RFC 6528 ISNs, SYN-flood and TIME_WAIT slot recycling. Segment parse/emit is
   in net/tcp_wire.c; datagrams go out through net/ipv4.h. Single-threaded: called from the event loop only. */
#include "net/tcp.h"
#include "net/tcp_wire.h"
#include "net/ipv4.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "core/log.h"
#include "lib/string.h"

#define TCP_MSS_MAX 1460u          /* largest segment payload we build (Ethernet MTU 1500 - 40) */
#define TCP_MSS_MIN 64u            /* smallest send MSS we accept from a peer */
#define TCP_MSS_DEFAULT 536u       /* peer MSS without the option, RFC 9293 3.7.1 */
#define TCP_WND_MAX 65535u         /* no window scaling: we never send the option, so neither side scales */
#define TCP_CHALLENGE_PER_S 100u   /* challenge ACKs per second, RFC 5961 7 */
#define TCP_DUPACK_THRESH 3u       /* RFC 5681 3.2 */
#define TCP_INIT_CWND_SEGS 10u     /* RFC 6928 */
#define TCP_HANDLE_SLOT_BITS 12u
#define TCP_NS_PER_MS 1000000ull

_Static_assert(CLLM_MAX_CONN < (1 << TCP_HANDLE_SLOT_BITS), "slot index must fit the handle");
_Static_assert(CLLM_TCP_RX_BUF <= TCP_WND_MAX, "receive buffer must fit an unscaled window");

struct tcp_range { uint32_t start, end; }; /* [start, end) in sequence space */

struct tcp_conn {
    enum tcp_state state;
    uint32_t gen;                  /* bumped whenever the slot is freed: stale handles stop matching */
    uint32_t lip, rip;
    uint16_t lport, rport;
    bool accepted, app_closed;
    uint64_t accept_order;         /* FIFO order of connections waiting for tcp_accept */
    uint64_t created_at;           /* clock_ns of the SYN */

    /* send sequence space, RFC 9293 3.3.1; snd_max: highest sequence number sent (go-back-N rewinds snd_nxt) */
    uint32_t iss, snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2, max_snd_wnd;
    uint32_t mss;                  /* effective send MSS */
    uint32_t cwnd, ssthresh, recover;
    uint32_t dupacks;
    bool in_recovery;
    uint8_t *tx;                   /* (CLLM_TCP_TX_BUF) ring; byte of snd_una at tx_head */
    uint32_t tx_head, tx_len;
    bool fin_queued, fin_acked;    /* our FIN sits at snd_una + tx_len once queued */

    /* receive sequence space */
    uint32_t irs, rcv_nxt, rcv_adv; /* rcv_adv: right edge of the window last advertised, never shrinks */
    uint8_t *rx;                   /* (CLLM_TCP_RX_BUF) ring; unread bytes at rx_head, then out-of-order data */
    uint32_t rx_head, rx_len;
    struct tcp_range ooo[CLLM_TCP_OOO_RANGES]; /* held out-of-order ranges, disjoint, beyond rcv_nxt */
    uint32_t n_ooo;
    uint32_t ooo_last;             /* start of the latest out-of-order segment (first SACK block) */
    bool fin_rcvd, ooo_fin;
    uint32_t ooo_fin_seq;
    bool sack_ok;                  /* the peer offered SACK: our ACKs report held ranges (RFC 2018). Its SACK
                                      blocks about our data are not used: we recover NewReno-style. */

    /* timers (absolute clock_ns, 0 = off) and the RTT estimator (RFC 6298, nanoseconds). close_at: end of
       TIME_WAIT, of FIN_WAIT_2, or of the time an app-closed connection may take to finish closing. */
    uint64_t rto_at, persist_at, close_at;
    uint64_t srtt, rttvar, rto;
    bool have_rtt, rtt_active;
    uint32_t rtt_seq;
    uint64_t rtt_start;
    uint32_t retries, persist_shift;
};

struct tcp_listener { bool used; uint16_t port; };

static struct tcp_conn tcp_conns[CLLM_MAX_CONN];
static struct tcp_listener tcp_listeners[CLLM_TCP_MAX_LISTEN];
static struct tcp_stats tcp_st;
static uint64_t tcp_accept_counter;
static uint64_t tcp_isn_key[2];
static uint64_t tcp_challenge_window_start;
static uint32_t tcp_challenge_count;

/* ------------------------------------------------------------------------------------------------ */
/* ISN, RFC 6528: ISN = M + F(localip, localport, remoteip, remoteport, secretkey), M a 4 us clock.   */

static uint64_t tcp_rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static void tcp_sip_round(uint64_t v[4])
{
    v[0] += v[1]; v[1] = tcp_rotl(v[1], 13); v[1] ^= v[0]; v[0] = tcp_rotl(v[0], 32);
    v[2] += v[3]; v[3] = tcp_rotl(v[3], 16); v[3] ^= v[2];
    v[0] += v[3]; v[3] = tcp_rotl(v[3], 21); v[3] ^= v[0];
    v[2] += v[1]; v[1] = tcp_rotl(v[1], 17); v[1] ^= v[2]; v[2] = tcp_rotl(v[2], 32);
}

/* SipHash-2-4 of two 64-bit words (the 4-tuple), keyed by tcp_isn_key. */
static uint64_t tcp_siphash(uint64_t m0, uint64_t m1)
{
    uint64_t v[4] = {tcp_isn_key[0] ^ 0x736f6d6570736575ull, tcp_isn_key[1] ^ 0x646f72616e646f6dull,
                     tcp_isn_key[0] ^ 0x6c7967656e657261ull, tcp_isn_key[1] ^ 0x7465646279746573ull};
    uint64_t m[3] = {m0, m1, (uint64_t)16 << 56};
    for (int i = 0; i < 3; i++) {
        v[3] ^= m[i];
        tcp_sip_round(v);
        tcp_sip_round(v);
        v[0] ^= m[i];
    }
    v[2] ^= 0xff;
    for (int i = 0; i < 4; i++)
        tcp_sip_round(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static uint32_t tcp_make_isn(const struct tcp_conn *c)
{
    uint64_t m0 = (uint64_t)c->lip << 32 | c->rip;
    uint64_t m1 = (uint64_t)c->lport << 16 | c->rport;
    return (uint32_t)tcp_siphash(m0, m1) + (uint32_t)(clock_ns() / 4000u);
}

/* ------------------------------------------------------------------------------------------------ */
/* Slots and handles                                                                                  */

static tcp_handle tcp_handle_of(const struct tcp_conn *c)
{
    uint32_t idx = (uint32_t)(c - tcp_conns);
    return (c->gen << TCP_HANDLE_SLOT_BITS) | (idx + 1u);
}

/* The connection a handle names, or NULL when the handle is stale, foreign or already closed by the app. */
static struct tcp_conn *tcp_conn_of(tcp_handle h)
{
    uint32_t idx = (h & ((1u << TCP_HANDLE_SLOT_BITS) - 1u));
    if (idx == 0 || idx > CLLM_MAX_CONN)
        return NULL;
    struct tcp_conn *c = &tcp_conns[idx - 1];
    uint32_t gen_mask = (1u << (32 - TCP_HANDLE_SLOT_BITS)) - 1u;
    if (c->state == TCP_STATE_CLOSED || (h >> TCP_HANDLE_SLOT_BITS) != (c->gen & gen_mask) || !c->accepted ||
        c->app_closed)
        return NULL;
    return c;
}

static void tcp_conn_free(struct tcp_conn *c)
{
    if (c->state == TCP_STATE_CLOSED)
        return;
    if (c->accept_order) /* reached ESTABLISHED at some point */
        tcp_st.conns_closed++;
    uint8_t *rx = c->rx, *tx = c->tx;
    uint32_t gen = c->gen + 1u;
    memset(c, 0, sizeof *c);
    c->rx = rx;
    c->tx = tx;
    c->gen = gen & ((1u << (32 - TCP_HANDLE_SLOT_BITS)) - 1u);
    c->state = TCP_STATE_CLOSED;
    tcp_st.conns_active--;
}

static struct tcp_conn *tcp_conn_find(uint32_t lip, uint16_t lport, uint32_t rip, uint16_t rport)
{
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state != TCP_STATE_CLOSED && c->lport == lport && c->rport == rport && c->rip == rip &&
            c->lip == lip)
            return c;
    }
    return NULL;
}

static struct tcp_listener *tcp_listener_find(uint16_t port)
{
    for (int i = 0; i < CLLM_TCP_MAX_LISTEN; i++)
        if (tcp_listeners[i].used && tcp_listeners[i].port == port)
            return &tcp_listeners[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------------ */
/* Output                                                                                             */

static uint32_t tcp_min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }
static uint64_t tcp_now(void) { return clock_ns(); }

static void tcp_emit(uint32_t lip, uint32_t rip, uint16_t lport, uint16_t rport, uint32_t seq, uint32_t ack,
                     uint8_t flags, uint32_t wnd, const struct tcp_wire_opts *opts, const uint8_t *p1, size_t n1,
                     const uint8_t *p2, size_t n2)
{
    uint8_t buf[TCP_HDR_MAX + TCP_MSS_MAX];
    if (n1 + n2 > TCP_MSS_MAX || (n1 + n2 && opts && opts->n_sack))
        return; /* SACK blocks only ride on pure ACKs, so a full segment always fits the MTU */
    size_t hl = tcp_wire_emit_header(buf, lport, rport, seq, ack, flags, (uint16_t)tcp_min_u32(wnd, TCP_WND_MAX),
                                     opts);
    if (n1)
        memcpy(buf + hl, p1, n1);
    if (n2)
        memcpy(buf + hl + n1, p2, n2);
    tcp_wire_set_checksum(buf, hl + n1 + n2, lip, rip);
    tcp_st.segs_out++;
    if (flags & TCP_FLAG_RST)
        tcp_st.resets_out++;
    (void)ipv4_output(rip, TCP_PROTO, buf, hl + n1 + n2); /* a dropped datagram is a lost segment */
}

/* The receive window to advertise. The right edge only moves when it can move by at least
   min(RX_BUF / 2, MSS): receiver silly-window avoidance, RFC 9293 3.8.6.2.2. */
static uint32_t tcp_rcv_wnd(struct tcp_conn *c)
{
    uint32_t free_space = c->app_closed ? CLLM_TCP_RX_BUF : CLLM_TCP_RX_BUF - c->rx_len;
    uint32_t edge = c->rcv_nxt + free_space;
    if (tcp_seq_lt(c->rcv_adv, c->rcv_nxt))
        c->rcv_adv = c->rcv_nxt;
    uint32_t step = tcp_min_u32(CLLM_TCP_RX_BUF / 2u, c->mss ? c->mss : TCP_MSS_DEFAULT);
    if (tcp_seq_gt(edge, c->rcv_adv) && (edge - c->rcv_adv >= step || free_space == CLLM_TCP_RX_BUF))
        c->rcv_adv = edge;
    return c->rcv_adv - c->rcv_nxt;
}

/* SACK blocks (RFC 2018 4) for the held out-of-order ranges: the one holding the latest arrival first. */
static void tcp_sack_blocks(const struct tcp_conn *c, struct tcp_wire_opts *o)
{
    if (!c->sack_ok || c->app_closed)
        return;
    uint32_t latest = c->n_ooo;
    for (uint32_t i = 0; i < c->n_ooo; i++)
        if (tcp_seq_le(c->ooo[i].start, c->ooo_last) && tcp_seq_lt(c->ooo_last, c->ooo[i].end))
            latest = i;
    if (latest < c->n_ooo) {
        o->sack[0][0] = c->ooo[latest].start;
        o->sack[0][1] = c->ooo[latest].end;
        o->n_sack = 1;
    }
    for (uint32_t i = 0; i < c->n_ooo && o->n_sack < TCP_SACK_MAX; i++) {
        if (i == latest)
            continue;
        o->sack[o->n_sack][0] = c->ooo[i].start;
        o->sack[o->n_sack][1] = c->ooo[i].end;
        o->n_sack++;
    }
}

static void tcp_send_ctl(struct tcp_conn *c, uint32_t seq, uint8_t flags)
{
    struct tcp_wire_opts o = {0};
    if ((flags & (TCP_FLAG_ACK | TCP_FLAG_RST)) == TCP_FLAG_ACK)
        tcp_sack_blocks(c, &o);
    tcp_emit(c->lip, c->rip, c->lport, c->rport, seq, c->rcv_nxt, flags, tcp_rcv_wnd(c), &o, NULL, 0, NULL, 0);
}

static void tcp_send_ack(struct tcp_conn *c) { tcp_send_ctl(c, c->snd_nxt, TCP_FLAG_ACK); }

static void tcp_send_synack(struct tcp_conn *c)
{
    size_t mtu = net_mtu();
    uint32_t our_mss = mtu > 40u + TCP_MSS_MIN ? tcp_min_u32((uint32_t)(mtu - 40u), TCP_MSS_MAX) : TCP_MSS_MIN;
    struct tcp_wire_opts o = {.mss = (uint16_t)our_mss, .sack_ok = c->sack_ok};
    tcp_emit(c->lip, c->rip, c->lport, c->rport, c->iss, c->rcv_nxt, TCP_FLAG_SYN | TCP_FLAG_ACK, tcp_rcv_wnd(c),
             &o, NULL, 0, NULL, 0);
}

/* RFC 5961 challenge ACK, globally rate-limited. */
static void tcp_send_challenge_ack(struct tcp_conn *c)
{
    uint64_t now = tcp_now();
    if (now - tcp_challenge_window_start >= 1000 * TCP_NS_PER_MS) {
        tcp_challenge_window_start = now;
        tcp_challenge_count = 0;
    }
    if (tcp_challenge_count >= TCP_CHALLENGE_PER_S)
        return;
    tcp_challenge_count++;
    tcp_st.challenge_acks++;
    tcp_send_ack(c);
}

/* Send from the send stream at sequence number seq: up to max_len data bytes, and our FIN when the segment
   reaches it. Returns the sequence space used (data + FIN), 0 when there is nothing at seq. */
static uint32_t tcp_send_data_at(struct tcp_conn *c, uint32_t seq, uint32_t max_len)
{
    uint32_t off = seq - c->snd_una;
    if (tcp_seq_lt(seq, c->snd_una) || off > c->tx_len)
        return 0;
    uint32_t n = tcp_min_u32(tcp_min_u32(c->tx_len - off, max_len), c->mss);
    bool fin = c->fin_queued && !c->fin_acked && off + n == c->tx_len;
    if (n == 0 && !fin)
        return 0;
    uint32_t pos = (c->tx_head + off) % CLLM_TCP_TX_BUF;
    uint32_t n1 = tcp_min_u32(n, CLLM_TCP_TX_BUF - pos);
    uint8_t flags = TCP_FLAG_ACK | (fin ? TCP_FLAG_FIN : 0) | (n && off + n == c->tx_len ? TCP_FLAG_PSH : 0);
    tcp_emit(c->lip, c->rip, c->lport, c->rport, seq, c->rcv_nxt, flags, tcp_rcv_wnd(c), NULL, c->tx + pos, n1,
             c->tx, n - n1);
    return n + (fin ? 1u : 0u);
}

static bool tcp_can_send(const struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_STATE_ESTABLISHED: case TCP_STATE_CLOSE_WAIT: case TCP_STATE_FIN_WAIT_1:
    case TCP_STATE_CLOSING: case TCP_STATE_LAST_ACK:
        return true;
    default:
        return false;
    }
}

/* Sequence space of the whole unacknowledged send stream (data + a queued, unacknowledged FIN). */
static uint32_t tcp_stream_len(const struct tcp_conn *c)
{
    return c->tx_len + (c->fin_queued && !c->fin_acked ? 1u : 0u);
}

static void tcp_timer_start_rto(struct tcp_conn *c)
{
    if (!c->rto_at)
        c->rto_at = tcp_now() + c->rto;
}

/* Send what the windows allow (Nagle off: the application writes whole responses). */
static void tcp_output(struct tcp_conn *c)
{
    if (!tcp_can_send(c))
        return;
    for (;;) {
        uint32_t off = c->snd_nxt - c->snd_una;
        uint32_t stream = tcp_stream_len(c);
        if (off >= stream)
            break;
        uint32_t wnd = tcp_min_u32(c->snd_wnd, c->cwnd);
        uint32_t usable = wnd > off ? wnd - off : 0;
        uint32_t data_left = c->tx_len > off ? c->tx_len - off : 0;
        uint32_t n = tcp_min_u32(tcp_min_u32(data_left, usable), c->mss);
        if (data_left > 0 && n == 0)
            break;
        /* sender silly-window avoidance (RFC 9293 3.8.6.2.1) while an ACK is still to come */
        if (data_left > 0 && n < c->mss && n < data_left && off > 0 && n < c->max_snd_wnd / 2u)
            break;
        uint32_t used = tcp_send_data_at(c, c->snd_nxt, n);
        if (used == 0)
            break;
        if (!c->rtt_active && tcp_seq_ge(c->snd_nxt, c->snd_max)) { /* time new data only (Karn) */
            c->rtt_active = true;
            c->rtt_seq = c->snd_nxt + used;
            c->rtt_start = tcp_now();
        }
        c->snd_nxt += used;
        if (tcp_seq_gt(c->snd_nxt, c->snd_max))
            c->snd_max = c->snd_nxt;
        tcp_timer_start_rto(c);
    }
    /* persist timer: data waits, the peer's window is zero and nothing is in flight to bring an update */
    bool waiting = c->tx_len > c->snd_nxt - c->snd_una;
    if (waiting && c->snd_wnd == 0 && c->snd_max == c->snd_una) {
        if (!c->persist_at)
            c->persist_at = tcp_now() + (c->rto << c->persist_shift);
    } else {
        c->persist_at = 0;
        c->persist_shift = 0;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Input helpers                                                                                      */

static void tcp_rtt_sample(struct tcp_conn *c, uint64_t r)
{
    const uint64_t g = TCP_NS_PER_MS; /* clock granularity G */
    if (!c->have_rtt) {
        c->srtt = r;
        c->rttvar = r / 2u;
        c->have_rtt = true;
    } else {
        uint64_t diff = c->srtt > r ? c->srtt - r : r - c->srtt;
        c->rttvar = (3u * c->rttvar + diff) / 4u;
        c->srtt = (7u * c->srtt + r) / 8u;
    }
    uint64_t rto = c->srtt + (4u * c->rttvar > g ? 4u * c->rttvar : g);
    if (rto < CLLM_TCP_RTO_MIN_MS * TCP_NS_PER_MS)
        rto = CLLM_TCP_RTO_MIN_MS * TCP_NS_PER_MS;
    if (rto > CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS)
        rto = CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS;
    c->rto = rto;
}

static void tcp_enter_time_wait(struct tcp_conn *c)
{
    c->state = TCP_STATE_TIME_WAIT;
    c->rto_at = 0;
    c->persist_at = 0;
    c->close_at = tcp_now() + 2u * CLLM_TCP_MSL_MS * TCP_NS_PER_MS;
}

/* Copy len bytes into the receive ring at offset off past the unread bytes. */
static void tcp_rx_store(struct tcp_conn *c, uint32_t off, const uint8_t *data, uint32_t len)
{
    uint32_t pos = (c->rx_head + c->rx_len + off) % CLLM_TCP_RX_BUF;
    uint32_t n1 = tcp_min_u32(len, CLLM_TCP_RX_BUF - pos);
    memcpy(c->rx + pos, data, n1);
    memcpy(c->rx, data + n1, len - n1);
}

/* Remember [start, end) as held out-of-order data, merging with neighbours. False when no range is free. */
static bool tcp_ooo_add(struct tcp_conn *c, uint32_t start, uint32_t end)
{
    for (uint32_t i = 0; i < c->n_ooo;) {
        struct tcp_range *r = &c->ooo[i];
        if (tcp_seq_le(r->start, end) && tcp_seq_le(start, r->end)) { /* overlaps or touches: absorb */
            if (tcp_seq_lt(r->start, start))
                start = r->start;
            if (tcp_seq_gt(r->end, end))
                end = r->end;
            c->ooo[i] = c->ooo[--c->n_ooo];
            i = 0;
            continue;
        }
        i++;
    }
    if (c->n_ooo >= CLLM_TCP_OOO_RANGES)
        return false;
    c->ooo[c->n_ooo++] = (struct tcp_range){start, end};
    return true;
}

/* Advance rcv_nxt over held ranges that now join the in-order data. */
static void tcp_ooo_drain(struct tcp_conn *c)
{
    bool moved = true;
    while (moved) {
        moved = false;
        for (uint32_t i = 0; i < c->n_ooo; i++) {
            struct tcp_range r = c->ooo[i];
            if (tcp_seq_le(r.start, c->rcv_nxt)) {
                if (tcp_seq_gt(r.end, c->rcv_nxt)) {
                    uint32_t adv = r.end - c->rcv_nxt;
                    if (!c->app_closed)
                        c->rx_len += adv;
                    c->rcv_nxt = r.end;
                }
                c->ooo[i] = c->ooo[--c->n_ooo];
                moved = true;
                break;
            }
        }
    }
}

/* Segment text (RFC 9293 3.10.7.4, seventh): trim what we have, store what fits, hold what is early. */
static void tcp_rx_data(struct tcp_conn *c, uint32_t seq, const uint8_t *data, uint32_t len)
{
    if (len == 0)
        return;
    if (tcp_seq_lt(seq, c->rcv_nxt)) {
        uint32_t skip = c->rcv_nxt - seq;
        if (skip >= len) {
            tcp_st.dup_segs++;
            return;
        }
        data += skip;
        len -= skip;
        seq = c->rcv_nxt;
    }
    uint32_t free_space = c->app_closed ? CLLM_TCP_RX_BUF : CLLM_TCP_RX_BUF - c->rx_len;
    uint32_t off = seq - c->rcv_nxt;
    if (off >= free_space)
        return;
    if (len > free_space - off)
        len = free_space - off;
    if (off == 0) {
        if (!c->app_closed) {
            tcp_rx_store(c, 0, data, len);
            c->rx_len += len;
        }
        c->rcv_nxt += len;
        tcp_ooo_drain(c);
    } else {
        tcp_st.ooo_segs++;
        if (c->app_closed)
            return; /* nobody will read it: let the peer resend it in order */
        if (tcp_ooo_add(c, seq, seq + len)) {
            tcp_rx_store(c, off, data, len);
            c->ooo_last = seq;
        }
    }
}

/* Our FIN is acknowledged: move through the closing states. Returns false when the slot was freed. */
static bool tcp_on_fin_acked(struct tcp_conn *c)
{
    switch (c->state) {
    case TCP_STATE_FIN_WAIT_1:
        c->state = TCP_STATE_FIN_WAIT_2;
        c->close_at = tcp_now() + CLLM_TCP_FIN_WAIT2_MS * TCP_NS_PER_MS;
        return true;
    case TCP_STATE_CLOSING:
        tcp_enter_time_wait(c);
        return true;
    case TCP_STATE_LAST_ACK:
        tcp_conn_free(c);
        return false;
    default:
        return true;
    }
}

/* Retransmit the first unacknowledged segment (fast retransmit, partial ACKs). */
static void tcp_retransmit_first(struct tcp_conn *c)
{
    uint32_t used = tcp_send_data_at(c, c->snd_una, c->mss);
    if (used) {
        tcp_st.retransmits++;
        c->rtt_active = false; /* Karn: never time a retransmitted segment */
        if (tcp_seq_gt(c->snd_una + used, c->snd_nxt))
            c->snd_nxt = c->snd_una + used;
        if (tcp_seq_gt(c->snd_nxt, c->snd_max)) /* the segment may reach past what was sent before */
            c->snd_max = c->snd_nxt;
    }
}

/* ACK field processing for synchronized states (fifth step). Returns false when the segment must be
   dropped or the slot was freed (*freed says which). */
static bool tcp_rx_ack(struct tcp_conn *c, const struct tcp_segment *s, bool *freed)
{
    uint32_t ack = s->ack;
    /* RFC 5961 5.2: acceptable iff SND.UNA - MAX.SND.WND <= SEG.ACK <= SND.MAX */
    if (tcp_seq_gt(ack, c->snd_max)) {
        tcp_send_ack(c);
        return false;
    }
    if (tcp_seq_lt(ack, c->snd_una - c->max_snd_wnd)) {
        tcp_send_challenge_ack(c);
        return false;
    }
    uint32_t stream = tcp_stream_len(c);
    if (tcp_seq_gt(ack, c->snd_una)) {
        uint32_t acked = ack - c->snd_una;
        if (acked > stream) /* cannot happen with ack <= snd_max; keep the arithmetic safe anyway */
            acked = stream;
        uint32_t data_acked = tcp_min_u32(acked, c->tx_len);
        bool fin_now_acked = c->fin_queued && !c->fin_acked && acked > c->tx_len;
        c->tx_head = (c->tx_head + data_acked) % CLLM_TCP_TX_BUF;
        c->tx_len -= data_acked;
        c->snd_una = ack;
        if (tcp_seq_lt(c->snd_nxt, c->snd_una))
            c->snd_nxt = c->snd_una;
        if (c->rtt_active && tcp_seq_ge(ack, c->rtt_seq)) {
            c->rtt_active = false;
            tcp_rtt_sample(c, tcp_now() - c->rtt_start);
        }
        c->retries = 0;
        c->dupacks = 0;
        /* congestion window, RFC 5681 3.1; NewReno-style recovery, RFC 6582 */
        if (c->in_recovery) {
            if (tcp_seq_ge(ack, c->recover)) {
                c->in_recovery = false;
                c->cwnd = c->ssthresh;
            } else {
                tcp_retransmit_first(c); /* partial ACK: the next hole */
            }
        } else if (c->cwnd < c->ssthresh) {
            c->cwnd += tcp_min_u32(data_acked, c->mss);
        } else if (c->cwnd) {
            uint32_t inc = c->mss * c->mss / c->cwnd;
            c->cwnd += inc ? inc : 1u;
        }
        if (c->cwnd > 4u * TCP_WND_MAX)
            c->cwnd = 4u * TCP_WND_MAX;
        c->rto_at = 0;
        if (c->snd_una != c->snd_max)
            tcp_timer_start_rto(c);
        if (fin_now_acked) {
            c->fin_acked = true;
            if (!tcp_on_fin_acked(c)) {
                *freed = true;
                return false;
            }
        }
    } else if (ack == c->snd_una && s->payload_len == 0 && !(s->flags & (TCP_FLAG_SYN | TCP_FLAG_FIN)) &&
               c->snd_max != c->snd_una) {
        /* duplicate ACK, RFC 5681 2, except that a changed window does not disqualify it: Linux grows its
           advertised window while it holds out-of-order data, and insisting on an equal window turned most
           losses into timeouts (measured on the lossy TUN test: 26 timeouts -> 5 per MB) */
        uint32_t flight = c->snd_max - c->snd_una;
        uint32_t thresh = TCP_DUPACK_THRESH;
        /* early retransmit, RFC 5827: with fewer than four segments out and nothing new to send, three
           duplicate ACKs can never come; one fewer than the segments out will do */
        uint32_t segs_out = (flight + c->mss - 1u) / c->mss;
        if (segs_out < 4u && segs_out >= 2u && c->tx_len <= flight)
            thresh = segs_out - 1u;
        if (++c->dupacks == thresh && !c->in_recovery) {
            c->ssthresh = flight / 2u > 2u * c->mss ? flight / 2u : 2u * c->mss;
            c->cwnd = c->ssthresh;
            c->recover = c->snd_max;
            c->in_recovery = true;
            tcp_st.fast_retransmits++;
            tcp_retransmit_first(c);
        }
    }
    /* window update, RFC 9293 3.10.7.4 */
    if (tcp_seq_le(c->snd_una, ack) &&
        (tcp_seq_lt(c->snd_wl1, s->seq) || (c->snd_wl1 == s->seq && tcp_seq_le(c->snd_wl2, ack)))) {
        c->snd_wnd = s->wnd;
        c->snd_wl1 = s->seq;
        c->snd_wl2 = ack;
        if (c->snd_wnd > c->max_snd_wnd)
            c->max_snd_wnd = c->snd_wnd;
    }
    return true;
}

/* The peer's FIN is in order: consume it and move through the closing states. */
static void tcp_rx_fin(struct tcp_conn *c)
{
    c->rcv_nxt += 1u;
    c->fin_rcvd = true;
    c->ooo_fin = false;
    c->n_ooo = 0; /* anything held beyond the FIN is not part of the stream */
    switch (c->state) {
    case TCP_STATE_SYN_RECEIVED:
    case TCP_STATE_ESTABLISHED:
        c->state = TCP_STATE_CLOSE_WAIT;
        break;
    case TCP_STATE_FIN_WAIT_1:
        if (c->fin_acked)
            tcp_enter_time_wait(c);
        else
            c->state = TCP_STATE_CLOSING; /* simultaneous close */
        break;
    case TCP_STATE_FIN_WAIT_2:
        tcp_enter_time_wait(c);
        break;
    default:
        break;
    }
}

/* RFC 9293 3.10.7.4 segment acceptability for a segment of seg_len sequence numbers. */
static bool tcp_seq_acceptable(const struct tcp_conn *c, uint32_t seq, uint32_t seg_len)
{
    uint32_t wnd = c->app_closed ? CLLM_TCP_RX_BUF : CLLM_TCP_RX_BUF - c->rx_len;
    uint32_t rel = seq - c->rcv_nxt;
    if (seg_len == 0)
        return wnd == 0 ? seq == c->rcv_nxt : rel < wnd;
    if (wnd == 0)
        return false;
    uint32_t rel_end = seq + seg_len - 1u - c->rcv_nxt;
    return rel < wnd || rel_end < wnd;
}

/* A segment for an existing connection in any state but LISTEN (RFC 9293 3.10.7.4). */
static void tcp_rx_conn(struct tcp_conn *c, const struct tcp_segment *s)
{
    uint32_t seg_len = (uint32_t)s->payload_len + ((s->flags & TCP_FLAG_SYN) ? 1u : 0u) +
                       ((s->flags & TCP_FLAG_FIN) ? 1u : 0u);

    /* a retransmitted SYN while our SYN-ACK is unanswered: answer it again */
    if (c->state == TCP_STATE_SYN_RECEIVED && (s->flags & TCP_FLAG_SYN) && !(s->flags & (TCP_FLAG_ACK | TCP_FLAG_RST)) &&
        s->seq == c->irs) {
        tcp_send_synack(c);
        return;
    }
    /* TIME_WAIT: a new SYN above the old sequence space may reopen the pair (RFC 9293 3.10.7.4 note, RFC 6191) */
    if (c->state == TCP_STATE_TIME_WAIT && (s->flags & TCP_FLAG_SYN) && !(s->flags & (TCP_FLAG_ACK | TCP_FLAG_RST)) &&
        tcp_seq_gt(s->seq, c->rcv_nxt) && tcp_listener_find(c->lport)) {
        tcp_conn_free(c);
        return; /* the caller sees the SYN again with no connection (see tcp_input) */
    }

    /* first: sequence number */
    if (!tcp_seq_acceptable(c, s->seq, seg_len)) {
        if (!(s->flags & TCP_FLAG_RST))
            tcp_send_ack(c);
        if (tcp_seq_lt(s->seq, c->rcv_nxt))
            tcp_st.dup_segs++;
        return;
    }
    /* second: RST, RFC 5961 3.2: only an exact match resets, others in window get a challenge ACK */
    if (s->flags & TCP_FLAG_RST) {
        if (s->seq == c->rcv_nxt) {
            tcp_st.resets_in++;
            tcp_conn_free(c);
        } else {
            tcp_send_challenge_ack(c);
        }
        return;
    }
    /* fourth: SYN in a synchronized state, RFC 5961 4.2: challenge ACK, drop */
    if (s->flags & TCP_FLAG_SYN) {
        tcp_send_challenge_ack(c);
        return;
    }
    /* fifth: ACK */
    if (!(s->flags & TCP_FLAG_ACK))
        return;
    if (c->state == TCP_STATE_SYN_RECEIVED) {
        if (tcp_seq_gt(s->ack, c->snd_una) && tcp_seq_le(s->ack, c->snd_nxt)) {
            c->state = TCP_STATE_ESTABLISHED;
            c->snd_una = s->ack;
            c->snd_wnd = s->wnd;
            c->max_snd_wnd = s->wnd;
            c->snd_wl1 = s->seq;
            c->snd_wl2 = s->ack;
            c->rto_at = 0;
            c->retries = 0;
            if (c->rtt_active) {
                c->rtt_active = false;
                tcp_rtt_sample(c, tcp_now() - c->rtt_start);
            }
            c->accept_order = ++tcp_accept_counter;
            tcp_st.conns_opened++;
        } else {
            tcp_emit(c->lip, c->rip, c->lport, c->rport, s->ack, 0, TCP_FLAG_RST, 0, NULL, NULL, 0, NULL, 0);
            return;
        }
    } else {
        bool freed = false;
        if (!tcp_rx_ack(c, s, &freed))
            return;
    }
    /* seventh: segment text */
    uint32_t rcv_before = c->rcv_nxt;
    bool take_text = c->state == TCP_STATE_ESTABLISHED || c->state == TCP_STATE_FIN_WAIT_1 ||
                     c->state == TCP_STATE_FIN_WAIT_2;
    if (take_text && !c->fin_rcvd)
        tcp_rx_data(c, s->seq, s->payload, (uint32_t)s->payload_len);
    /* eighth: FIN (in order now, or held for later) */
    if (!c->fin_rcvd) {
        if (s->flags & TCP_FLAG_FIN) {
            uint32_t fin_seq = s->seq + (uint32_t)s->payload_len;
            if (fin_seq == c->rcv_nxt) {
                tcp_rx_fin(c);
            } else if (tcp_seq_gt(fin_seq, c->rcv_nxt) && take_text &&
                       fin_seq - c->rcv_nxt < (c->app_closed ? CLLM_TCP_RX_BUF : CLLM_TCP_RX_BUF - c->rx_len)) {
                c->ooo_fin = true;
                c->ooo_fin_seq = fin_seq;
            }
        }
        if (!c->fin_rcvd && c->ooo_fin && c->ooo_fin_seq == c->rcv_nxt)
            tcp_rx_fin(c);
    } else if ((s->flags & TCP_FLAG_FIN) && c->state == TCP_STATE_TIME_WAIT) {
        c->close_at = tcp_now() + 2u * CLLM_TCP_MSL_MS * TCP_NS_PER_MS; /* restart the 2 MSL wait */
    }
    if (seg_len > 0 || c->rcv_nxt != rcv_before)
        tcp_send_ack(c);
    tcp_output(c);
}

/* A SYN for a listening port (RFC 9293 3.10.7.2). */
static void tcp_rx_listen(uint32_t lip, uint32_t rip, const struct tcp_segment *s)
{
    /* backlog: half-open and established-but-not-accepted connections of this port */
    uint32_t waiting = 0, half_open = 0;
    struct tcp_conn *slot = NULL, *oldest_tw = NULL, *oldest_syn = NULL, *oldest_syn_mine = NULL;
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state == TCP_STATE_CLOSED) {
            if (!slot)
                slot = c;
            continue;
        }
        bool mine = c->lport == s->dport && !c->accepted;
        if (mine && c->state != TCP_STATE_SYN_RECEIVED)
            waiting++;
        if (c->state == TCP_STATE_TIME_WAIT && (!oldest_tw || c->close_at < oldest_tw->close_at))
            oldest_tw = c;
        if (c->state == TCP_STATE_SYN_RECEIVED) {
            if (!oldest_syn || c->created_at < oldest_syn->created_at)
                oldest_syn = c;
            if (mine && (!oldest_syn_mine || c->created_at < oldest_syn_mine->created_at))
                oldest_syn_mine = c;
            half_open += mine;
        }
    }
    if (oldest_syn_mine) /* a flood on one port should not push out another port's half-open connections */
        oldest_syn = oldest_syn_mine;
    /* Full of half-open connections (a SYN flood): the oldest one makes room, with an RST, so that a
       real client still gets in. Full of connections the application has not accepted: refuse. */
    bool refuse = waiting >= CLLM_TCP_BACKLOG;
    bool evict_syn = !refuse && waiting + half_open >= CLLM_TCP_BACKLOG;
    if (!refuse && (!slot || evict_syn)) {
        if (!evict_syn && oldest_tw) {
            tcp_conn_free(oldest_tw);
            slot = oldest_tw;
        } else if (oldest_syn) {
            tcp_emit(oldest_syn->lip, oldest_syn->rip, oldest_syn->lport, oldest_syn->rport, oldest_syn->snd_nxt,
                     0, TCP_FLAG_RST, 0, NULL, NULL, 0, NULL, 0);
            tcp_conn_free(oldest_syn);
            slot = oldest_syn;
        } else {
            refuse = true;
        }
    }
    if (refuse) {
        tcp_st.conns_dropped_no_slot++;
        tcp_emit(lip, rip, s->dport, s->sport, 0, s->seq + 1u, TCP_FLAG_RST | TCP_FLAG_ACK, 0, NULL, NULL, 0, NULL,
                 0);
        return;
    }
    struct tcp_conn *c = slot;
    uint32_t gen = c->gen;
    uint8_t *rx = c->rx, *tx = c->tx;
    memset(c, 0, sizeof *c);
    c->gen = gen;
    c->rx = rx;
    c->tx = tx;
    tcp_st.conns_active++;
    c->state = TCP_STATE_SYN_RECEIVED;
    c->created_at = tcp_now();
    c->lip = lip;
    c->rip = rip;
    c->lport = s->dport;
    c->rport = s->sport;
    c->irs = s->seq;
    c->rcv_nxt = s->seq + 1u;
    c->rcv_adv = c->rcv_nxt;
    c->iss = tcp_make_isn(c);
    c->snd_una = c->iss;
    c->snd_nxt = c->iss + 1u;
    c->snd_max = c->snd_nxt;
    c->snd_wnd = s->wnd; /* never scaled in a SYN */
    c->snd_wl1 = s->seq;
    c->snd_wl2 = c->iss;
    size_t mtu = net_mtu();
    uint32_t our_mss = mtu > 40u + TCP_MSS_MIN ? tcp_min_u32((uint32_t)(mtu - 40u), TCP_MSS_MAX) : TCP_MSS_MIN;
    uint32_t peer_mss = s->has_mss ? s->mss : TCP_MSS_DEFAULT;
    if (peer_mss < TCP_MSS_MIN)
        peer_mss = TCP_MSS_MIN;
    c->mss = tcp_min_u32(peer_mss, our_mss);
    c->sack_ok = s->sack_ok;
    c->cwnd = TCP_INIT_CWND_SEGS * c->mss;
    c->ssthresh = 4u * TCP_WND_MAX;
    c->rto = CLLM_TCP_RTO_INIT_MS * TCP_NS_PER_MS;
    c->rtt_active = true; /* time the handshake (a retransmitted SYN-ACK clears it) */
    c->rtt_seq = c->snd_nxt;
    c->rtt_start = tcp_now();
    tcp_send_synack(c);
    tcp_timer_start_rto(c);
}

/* ------------------------------------------------------------------------------------------------ */
/* Entry points for the IPv4 layer and the event loop                                                 */

/* Every connection's receive and send buffers, in one allocation: 2 x CLLM_MAX_CONN allocations touched a page
   each (a VM exit the first time under kvm-pvm, and the host zeroing a huge page for every 2 MiB reached), which
   was most of the network's set-up time at boot; now the buffers' pages are first touched when used. */
static uint8_t *tcp_bufs;

void tcp_init(void)
{
    kfree(tcp_bufs);
    tcp_bufs = kmalloc((size_t)CLLM_MAX_CONN * (CLLM_TCP_RX_BUF + CLLM_TCP_TX_BUF));
    memset(tcp_conns, 0, sizeof tcp_conns);
    memset(tcp_listeners, 0, sizeof tcp_listeners);
    memset(&tcp_st, 0, sizeof tcp_st);
    tcp_accept_counter = 0;
    tcp_challenge_count = 0;
    tcp_challenge_window_start = 0;
    uint64_t t = __builtin_ia32_rdtsc();
    tcp_isn_key[0] = t * 0x9e3779b97f4a7c15ull ^ clock_ns();
    tcp_isn_key[1] = tcp_rotl(t, 29) * 0xbf58476d1ce4e5b9ull ^ (uint64_t)(uintptr_t)&t;
    if (!tcp_bufs)
        log_error("tcp: out of memory for connection buffers (%d slots)", CLLM_MAX_CONN);
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        uint8_t *b = tcp_bufs ? tcp_bufs + (size_t)i * (CLLM_TCP_RX_BUF + CLLM_TCP_TX_BUF) : NULL;
        tcp_conns[i].rx = b;
        tcp_conns[i].tx = b ? b + CLLM_TCP_RX_BUF : NULL;
        tcp_conns[i].gen = 1;
        if (!b) {
            tcp_conns[i].state = TCP_STATE_LISTEN; /* marks the slot unusable: never matched, never taken */
            tcp_conns[i].lport = 0;
        }
    }
}

void tcp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len)
{
    tcp_st.segs_in++;
    struct tcp_segment s;
    if (tcp_wire_parse(seg, len, src_ip, dst_ip, &s) != TCP_WIRE_OK) {
        tcp_st.bad_segs++;
        return;
    }
    /* RFC 9293 3.10.7.2 / RFC 1122 4.2.3.10: nothing to or from broadcast, multicast or a zero address */
    if (dst_ip == 0xffffffffu || (dst_ip >> 28) == 0xeu || src_ip == 0 || src_ip == 0xffffffffu ||
        (src_ip >> 28) == 0xeu || s.sport == 0 || s.dport == 0) {
        tcp_st.bad_segs++;
        return;
    }
    struct tcp_conn *c = tcp_conn_find(dst_ip, s.dport, src_ip, s.sport);
    if (c) {
        tcp_rx_conn(c, &s);
        if (c->state != TCP_STATE_CLOSED || !(s.flags & TCP_FLAG_SYN))
            return;
        /* a TIME_WAIT pair was reopened by a new SYN: fall through to the listener */
    }
    if (s.flags & TCP_FLAG_RST)
        return; /* LISTEN and CLOSED ignore resets */
    if (s.flags & TCP_FLAG_ACK) {
        /* LISTEN or CLOSED (RFC 9293 3.10.7.1-2): an ACK for nothing gets <SEQ=SEG.ACK><CTL=RST> */
        tcp_emit(dst_ip, src_ip, s.dport, s.sport, s.ack, 0, TCP_FLAG_RST, 0, NULL, NULL, 0, NULL, 0);
        return;
    }
    if (tcp_listener_find(s.dport)) {
        if (s.flags & TCP_FLAG_SYN)
            tcp_rx_listen(dst_ip, src_ip, &s);
        return; /* LISTEN, neither SYN, ACK nor RST: drop */
    }
    uint32_t seg_len = (uint32_t)s.payload_len + ((s.flags & TCP_FLAG_SYN) ? 1u : 0u) +
                       ((s.flags & TCP_FLAG_FIN) ? 1u : 0u);
    tcp_emit(dst_ip, src_ip, s.dport, s.sport, 0, s.seq + seg_len, TCP_FLAG_RST | TCP_FLAG_ACK, 0, NULL, NULL, 0, NULL, 0);
}

/* Retransmission timeout (RFC 6298 5.4-5.7): go back to snd_una, back off, abort after too many. */
static void tcp_on_rto(struct tcp_conn *c)
{
    c->rto_at = 0;
    if (c->snd_una == c->snd_max)
        return; /* nothing outstanding (the timer was stale) */
    c->retries++;
    tcp_st.timeouts++;
    if (c->state == TCP_STATE_SYN_RECEIVED) {
        if (c->retries > CLLM_TCP_SYN_RETRIES) {
            tcp_conn_free(c);
            return;
        }
        c->rtt_active = false;
        c->rto = c->rto * 2u > CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS ? CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS : c->rto * 2u;
        tcp_st.retransmits++;
        tcp_send_synack(c);
        tcp_timer_start_rto(c);
        return;
    }
    if (c->retries > CLLM_TCP_MAX_RETRIES) {
        tcp_send_ctl(c, c->snd_nxt, TCP_FLAG_RST | TCP_FLAG_ACK);
        tcp_conn_free(c);
        return;
    }
    uint32_t flight = c->snd_max - c->snd_una;
    c->ssthresh = flight / 2u > 2u * c->mss ? flight / 2u : 2u * c->mss;
    c->cwnd = c->mss;
    c->in_recovery = false;
    c->dupacks = 0;
    c->rto = c->rto * 2u > CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS ? CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS : c->rto * 2u;
    c->snd_nxt = c->snd_una; /* go back N */
    tcp_retransmit_first(c);  /* one segment even into a zero window: it doubles as a probe */
    tcp_timer_start_rto(c);
}

static void tcp_on_persist(struct tcp_conn *c)
{
    c->persist_at = 0;
    uint32_t off = c->snd_nxt - c->snd_una;
    if (c->snd_wnd != 0 || c->tx_len <= off) {
        tcp_output(c);
        return;
    }
    /* Window probe (RFC 9293 3.8.6.1, RFC 1122 4.2.2.17): a zero-length segment one below SND.UNA is outside
       the peer's window, so the peer must answer with an ACK carrying its current window. Probes go on as
       long as the peer answers; they never count as retries (the app's timeouts bound a stuck peer). */
    tcp_send_ctl(c, c->snd_una - 1u, TCP_FLAG_ACK);
    tcp_st.persist_probes++;
    if (c->persist_shift < 8)
        c->persist_shift++;
    uint64_t wait = c->rto << c->persist_shift;
    if (wait > CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS)
        wait = CLLM_TCP_RTO_MAX_MS * TCP_NS_PER_MS;
    c->persist_at = tcp_now() + wait;
}

void tcp_poll(uint64_t now_ns)
{
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state == TCP_STATE_CLOSED || !c->rx)
            continue;
        if (c->close_at && now_ns >= c->close_at) {
            if (c->state != TCP_STATE_TIME_WAIT) /* FIN_WAIT_2 or an orphan that would not finish closing */
                tcp_send_ctl(c, c->snd_nxt, TCP_FLAG_RST | TCP_FLAG_ACK);
            tcp_conn_free(c);
            continue;
        }
        if (c->rto_at && now_ns >= c->rto_at) {
            tcp_on_rto(c);
            if (c->state == TCP_STATE_CLOSED)
                continue;
        }
        if (c->persist_at && now_ns >= c->persist_at)
            tcp_on_persist(c);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Application API                                                                                    */

int tcp_listen(uint16_t port)
{
    if (port == 0)
        return -1;
    if (tcp_listener_find(port))
        return 0;
    for (int i = 0; i < CLLM_TCP_MAX_LISTEN; i++) {
        if (!tcp_listeners[i].used) {
            tcp_listeners[i] = (struct tcp_listener){true, port};
            return 0;
        }
    }
    return -1;
}

tcp_handle tcp_accept(uint16_t port)
{
    struct tcp_conn *best = NULL;
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->lport == port && !c->accepted &&
            (c->state == TCP_STATE_ESTABLISHED || c->state == TCP_STATE_CLOSE_WAIT) &&
            (!best || c->accept_order < best->accept_order))
            best = c;
    }
    if (!best)
        return 0;
    best->accepted = true;
    return tcp_handle_of(best);
}

size_t tcp_recv(tcp_handle h, void *buf, size_t n)
{
    struct tcp_conn *c = tcp_conn_of(h);
    if (!c || !buf)
        return 0;
    uint32_t take = (uint32_t)(n < c->rx_len ? n : c->rx_len);
    uint32_t n1 = tcp_min_u32(take, CLLM_TCP_RX_BUF - c->rx_head);
    memcpy(buf, c->rx + c->rx_head, n1);
    memcpy((uint8_t *)buf + n1, c->rx, take - n1);
    c->rx_head = (c->rx_head + take) % CLLM_TCP_RX_BUF;
    c->rx_len -= take;
    if (take && !c->fin_rcvd) {
        uint32_t before = c->rcv_adv;
        tcp_rcv_wnd(c);
        if (c->rcv_adv != before)
            tcp_send_ack(c); /* window update */
    }
    return take;
}

size_t tcp_recv_available(tcp_handle h)
{
    struct tcp_conn *c = tcp_conn_of(h);
    return c ? c->rx_len : 0;
}

static bool tcp_app_may_send(const struct tcp_conn *c)
{
    return !c->fin_queued && (c->state == TCP_STATE_ESTABLISHED || c->state == TCP_STATE_CLOSE_WAIT);
}

size_t tcp_send(tcp_handle h, const void *buf, size_t n)
{
    struct tcp_conn *c = tcp_conn_of(h);
    if (!c || !buf || !tcp_app_may_send(c))
        return 0;
    uint32_t room = CLLM_TCP_TX_BUF - c->tx_len;
    uint32_t take = (uint32_t)(n < room ? n : room);
    uint32_t pos = (c->tx_head + c->tx_len) % CLLM_TCP_TX_BUF;
    uint32_t n1 = tcp_min_u32(take, CLLM_TCP_TX_BUF - pos);
    memcpy(c->tx + pos, buf, n1);
    memcpy(c->tx, (const uint8_t *)buf + n1, take - n1);
    c->tx_len += take;
    tcp_output(c);
    return take;
}

size_t tcp_send_space(tcp_handle h)
{
    struct tcp_conn *c = tcp_conn_of(h);
    return c && tcp_app_may_send(c) ? CLLM_TCP_TX_BUF - c->tx_len : 0;
}

bool tcp_peer_closed(tcp_handle h)
{
    struct tcp_conn *c = tcp_conn_of(h);
    return !c || (c->fin_rcvd && c->rx_len == 0);
}

bool tcp_is_alive(tcp_handle h) { return tcp_conn_of(h) != NULL; }

void tcp_close(tcp_handle h)
{
    struct tcp_conn *c = tcp_conn_of(h);
    if (!c)
        return;
    c->app_closed = true;
    c->rx_len = 0; /* unread bytes are discarded; later ones are ACKed and dropped */
    c->n_ooo = 0;
    if (c->state == TCP_STATE_ESTABLISHED)
        c->state = TCP_STATE_FIN_WAIT_1;
    else if (c->state == TCP_STATE_CLOSE_WAIT)
        c->state = TCP_STATE_LAST_ACK;
    c->fin_queued = true;
    c->close_at = tcp_now() + 2u * CLLM_TCP_FIN_WAIT2_MS * TCP_NS_PER_MS; /* orphan deadline */
    tcp_output(c);
}

void tcp_abort(tcp_handle h)
{
    struct tcp_conn *c = tcp_conn_of(h);
    if (!c)
        return;
    tcp_send_ctl(c, c->snd_nxt, TCP_FLAG_RST | TCP_FLAG_ACK);
    tcp_conn_free(c);
}

void tcp_get_stats(struct tcp_stats *st) { *st = tcp_st; }

/* ------------------------------------------------------------------------------------------------ */
/* Introspection                                                                                      */

const char *tcp_state_name(enum tcp_state st)
{
    static const char *const names[] = {"CLOSED", "LISTEN", "SYN-RECEIVED", "ESTABLISHED", "FIN-WAIT-1",
                                        "FIN-WAIT-2", "CLOSING", "TIME-WAIT", "CLOSE-WAIT", "LAST-ACK"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "?";
}

enum tcp_state tcp_conn_state(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port)
{
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        struct tcp_conn *c = &tcp_conns[i];
        if (c->state != TCP_STATE_CLOSED && c->rx && c->rip == remote_ip && c->rport == remote_port &&
            c->lport == local_port)
            return c->state;
    }
    return TCP_STATE_CLOSED;
}

size_t tcp_conns_in_use(void)
{
    size_t n = 0;
    for (int i = 0; i < CLLM_MAX_CONN; i++)
        n += tcp_conns[i].state != TCP_STATE_CLOSED && tcp_conns[i].rx;
    return n;
}

int tcp_check_invariants(void)
{
    size_t active = 0;
    for (int i = 0; i < CLLM_MAX_CONN; i++) {
        const struct tcp_conn *c = &tcp_conns[i];
        if (!c->rx || !c->tx)
            continue;
        if (c->state == TCP_STATE_CLOSED) {
            if (c->rx_len || c->tx_len || c->n_ooo || c->rto_at || c->persist_at || c->close_at || c->accepted)
                return 1;
            continue;
        }
        active++;
        if (c->rx_len > CLLM_TCP_RX_BUF || c->tx_len > CLLM_TCP_TX_BUF || c->n_ooo > CLLM_TCP_OOO_RANGES)
            return 2;
        if (c->rx_head >= CLLM_TCP_RX_BUF || c->tx_head >= CLLM_TCP_TX_BUF)
            return 3;
        if (tcp_seq_gt(c->snd_una, c->snd_nxt) || tcp_seq_gt(c->snd_nxt, c->snd_max))
            return 4;
        if (c->state != TCP_STATE_SYN_RECEIVED && c->snd_max - c->snd_una > tcp_stream_len(c))
            return 5;
        for (uint32_t k = 0; k < c->n_ooo; k++) {
            uint32_t lim = CLLM_TCP_RX_BUF - c->rx_len;
            if (!tcp_seq_lt(c->rcv_nxt, c->ooo[k].start) || !tcp_seq_lt(c->ooo[k].start, c->ooo[k].end) ||
                c->ooo[k].end - c->rcv_nxt > lim)
                return 6;
        }
        if (c->state == TCP_STATE_TIME_WAIT && !c->close_at)
            return 7;
        if (c->snd_una != c->snd_max && !c->rto_at && c->state != TCP_STATE_TIME_WAIT)
            return 8;
    }
    if (active != tcp_st.conns_active)
        return 9;
    return 0;
}

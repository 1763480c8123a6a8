/* DHCP client state machine (RFC 2131 section 4.4, figure 5). Retransmission: CLLM_DHCP_RETRY_MS doubling to
   CLLM_DHCP_RETRY_MAX_MS (RFC 2131 4.1 suggests 4 s doubling to 64 s; QEMU answers at once, so we start lower).
   A REQUEST unanswered after 4 tries, a NAK, or an expired lease start over with DISCOVER. DISCOVER
   retransmissions keep their xid: QEMU's e1000 holds received frames for 1 s after RCTL is written, so the first
   OFFER arrives about when the first retransmission goes out, and must still match.
   Wire format in net/dhcp_wire.c; the address is applied by net_set_address (net/net.c). */
#include "net/dhcp.h"
#include "net/arp.h"
#include "net/dhcp_wire.h"
#include "net/ipv4.h"
#include "net/net.h"
#include "net/udp.h"
#include "net/wire.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "lib/string.h"

#define DHCP_REQUEST_TRIES 4
#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

static struct {
    enum dhcp_state state;
    uint32_t xid;
    uint32_t offered_ip, server_id;
    uint32_t lease_ip, lease_mask, lease_router;
    uint64_t t1_ns, t2_ns, lease_end_ns; /* absolute */
    uint64_t next_tx_ns;                 /* absolute: when to retransmit */
    uint32_t retry_ms;                   /* current back-off */
    int tries;                           /* messages sent in this state */
    uint64_t rng;
} dhcp;

enum dhcp_state dhcp_get_state(void) { return dhcp.state; }
uint32_t dhcp_server(void) { return dhcp.state >= DHCP_STATE_BOUND ? dhcp.server_id : 0; }
uint64_t dhcp_lease_end_ns(void) { return dhcp.lease_end_ns; }

static uint32_t dhcp_random(void)
{
    /* xorshift64: transaction ids need only be unlikely to repeat, not unpredictable */
    uint64_t x = dhcp.rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    dhcp.rng = x;
    return (uint32_t)(x >> 16);
}

static void dhcp_send(uint8_t type, uint32_t ciaddr, uint32_t requested, uint32_t server, uint32_t dst)
{
    struct dhcp_msg m;
    uint8_t buf[DHCP_MSG_MIN];
    memset(&m, 0, sizeof m);
    m.xid = dhcp.xid;
    m.flags = ciaddr ? 0 : 0x8000; /* broadcast the reply while we have no address */
    m.ciaddr = ciaddr;
    memcpy(m.chaddr, net_local_mac(), 6);
    m.type = type;
    m.requested_ip = requested;
    m.server_id = server;
    size_t n = dhcp_emit(buf, sizeof buf, &m);
    if (udp_send(ciaddr, DHCP_CLIENT_PORT, dst, DHCP_SERVER_PORT, buf, n) == 0)
        net_stats.dhcp_out++;
}

static void dhcp_backoff(uint64_t now)
{
    dhcp.next_tx_ns = now + (uint64_t)dhcp.retry_ms * NS_PER_MS;
    dhcp.retry_ms = dhcp.retry_ms * 2 > CLLM_DHCP_RETRY_MAX_MS ? CLLM_DHCP_RETRY_MAX_MS : dhcp.retry_ms * 2;
}

static void dhcp_discover(uint64_t now)
{
    dhcp.state = DHCP_STATE_SELECTING;
    if (dhcp.tries == 0)
        dhcp.xid = dhcp_random(); /* retransmissions keep it: a late offer still matches */
    dhcp.tries++;
    dhcp_send(DHCP_DISCOVER, 0, dhcp.lease_ip, 0, 0xffffffffu);
    dhcp_backoff(now);
}

static void dhcp_send_request(void)
{
    switch (dhcp.state) {
    case DHCP_STATE_REQUESTING: /* 4.3.2 SELECTING: requested IP and server id, from 0.0.0.0, broadcast */
        dhcp_send(DHCP_REQUEST, 0, dhcp.offered_ip, dhcp.server_id, 0xffffffffu);
        break;
    case DHCP_STATE_RENEWING:   /* 4.3.2 RENEWING: ciaddr, unicast to the server */
        dhcp_send(DHCP_REQUEST, dhcp.lease_ip, 0, 0, dhcp.server_id);
        break;
    case DHCP_STATE_REBINDING:  /* 4.3.2 REBINDING: ciaddr, broadcast */
        dhcp_send(DHCP_REQUEST, dhcp.lease_ip, 0, 0, 0xffffffffu);
        break;
    default: break;
    }
    dhcp.tries++;
}

static void dhcp_restart(uint64_t now)
{
    net_hold_until_bound(true);  /* hold what reaches us until a lease is bound (net/net.c) */
    if (dhcp.lease_ip && net_local_ip() == dhcp.lease_ip)
        net_set_address(0, 0, 0);
    dhcp.lease_ip = 0;
    dhcp.tries = 0;
    dhcp.retry_ms = CLLM_DHCP_RETRY_MS;
    dhcp_discover(now);
}

static void dhcp_bind(const struct dhcp_msg *m, uint64_t now)
{
    char a[16], b[16], c[16];
    uint32_t lease = m->lease_s ? m->lease_s : 3600; /* no lease time: RFC 2131 requires one; assume an hour */
    uint32_t t1 = m->t1_s && m->t1_s < lease ? m->t1_s : lease / 2;
    uint32_t t2 = m->t2_s && m->t2_s < lease && m->t2_s > t1 ? m->t2_s : (uint32_t)((uint64_t)lease * 7 / 8);
    int renewed = dhcp.lease_ip == m->yiaddr;
    dhcp.state = DHCP_STATE_BOUND;
    dhcp.lease_ip = m->yiaddr;
    dhcp.lease_mask = m->subnet_mask ? m->subnet_mask : 0xffffff00u;
    dhcp.lease_router = m->router;
    if (m->server_id)
        dhcp.server_id = m->server_id;
    dhcp.t1_ns = now + t1 * NS_PER_S;
    dhcp.t2_ns = now + t2 * NS_PER_S;
    dhcp.lease_end_ns = now + lease * NS_PER_S;
    dhcp.tries = 0;
    net_stats.dhcp_leases++;
    net_set_address(dhcp.lease_ip, dhcp.lease_mask, dhcp.lease_router);
    if (!renewed) {
        log_info("dhcp: bound %s mask %s gw %s, lease %u s", wire_format_ipv4(dhcp.lease_ip, a),
                 wire_format_ipv4(dhcp.lease_mask, b), wire_format_ipv4(dhcp.lease_router, c), (unsigned)lease);
        net_address_up();                           /* gratuitous ARP, gateway probe (net/net.c) */
    } else {
        log_debug("dhcp: lease renewed for %u s", (unsigned)lease);
    }
}

static void dhcp_receive(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, const uint8_t *data, size_t len)
{
    struct dhcp_msg m;
    uint64_t now = clock_ns();
    (void)src_ip;
    (void)dst_ip;
    if (src_port != DHCP_SERVER_PORT || dhcp_parse(data, len, &m) < 0)
        return;
    if (m.op != 2 || m.xid != dhcp.xid || memcmp(m.chaddr, net_local_mac(), 6) != 0)
        return;
    net_stats.dhcp_in++;
    switch (dhcp.state) {
    case DHCP_STATE_SELECTING:
        if (m.type != DHCP_OFFER || !m.yiaddr || !m.server_id)
            return;
        dhcp.offered_ip = m.yiaddr; /* the first offer wins */
        dhcp.server_id = m.server_id;
        dhcp.state = DHCP_STATE_REQUESTING;
        dhcp.tries = 0;
        dhcp.retry_ms = CLLM_DHCP_RETRY_MS;
        dhcp_send_request();
        dhcp_backoff(now);
        break;
    case DHCP_STATE_REQUESTING:
    case DHCP_STATE_RENEWING:
    case DHCP_STATE_REBINDING:
        if (m.type == DHCP_ACK && m.yiaddr) {
            dhcp_bind(&m, now);
        } else if (m.type == DHCP_NAK) {
            net_stats.dhcp_naks++;
            log_warn("dhcp: NAK, starting over");
            dhcp_restart(now);
        }
        break;
    default: break;
    }
}

void dhcp_start(void)
{
    uint64_t now = clock_ns();
    const uint8_t *mac = net_local_mac();
    dhcp_stop();
    dhcp.rng = now ^ 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 6; i++)
        dhcp.rng = dhcp.rng * 31 + mac[i];
    if (!dhcp.rng)
        dhcp.rng = 1;
    udp_bind(DHCP_CLIENT_PORT, dhcp_receive);
    dhcp_restart(now);
}

void dhcp_stop(void)
{
    net_hold_until_bound(false);
    udp_unbind(DHCP_CLIENT_PORT);
    memset(&dhcp, 0, sizeof dhcp);
}

void dhcp_poll(uint64_t now)
{
    switch (dhcp.state) {
    case DHCP_STATE_OFF: return;
    case DHCP_STATE_SELECTING:
        if (now >= dhcp.next_tx_ns)
            dhcp_discover(now);
        return;
    case DHCP_STATE_REQUESTING:
        if (now < dhcp.next_tx_ns)
            return;
        if (dhcp.tries >= DHCP_REQUEST_TRIES) {
            dhcp_restart(now);
        } else {
            dhcp_send_request();
            dhcp_backoff(now);
        }
        return;
    case DHCP_STATE_BOUND:
    case DHCP_STATE_RENEWING:
    case DHCP_STATE_REBINDING:
        if (now >= dhcp.lease_end_ns) {
            log_warn("dhcp: lease expired");
            dhcp_restart(now);
            return;
        }
        if (dhcp.state == DHCP_STATE_BOUND && now >= dhcp.t1_ns) {
            dhcp.state = DHCP_STATE_RENEWING;
            dhcp.xid = dhcp_random();
            dhcp.retry_ms = CLLM_DHCP_RETRY_MS;
            dhcp.next_tx_ns = now;
        }
        if (dhcp.state == DHCP_STATE_RENEWING && now >= dhcp.t2_ns) {
            dhcp.state = DHCP_STATE_REBINDING;
            dhcp.xid = dhcp_random();
            dhcp.retry_ms = CLLM_DHCP_RETRY_MS;
            dhcp.next_tx_ns = now;
        }
        if (dhcp.state != DHCP_STATE_BOUND && now >= dhcp.next_tx_ns) {
            dhcp_send_request();
            dhcp_backoff(now);
        }
        return;
    }
}

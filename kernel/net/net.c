/* The stack's glue: the attached interface, the address configuration, the transmit batching (one tail-register
   write per batch: every MMIO write is a VM exit), net_poll for the event loop, and the counters.
   Layers: net/eth.c, net/arp.c, net/ipv4.c, net/icmp.c, net/udp.c, net/dhcp.c; TCP in net/tcp.c.
   The NIC is found by net/net_dev.c (kernel only). */
#include "net/net.h"
#include "net/arp.h"
#include "net/dhcp.h"
#include "net/eth.h"
#include "net/eth_wire.h"
#include "net/icmp.h"
#include "net/ipv4.h"
#include "net/tcp.h"
#include "net/udp.h"
#include "net/wire.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "lib/string.h"

struct net_stats net_stats;

static struct {
    struct netif *nif;
    uint32_t ip, mask, gw;
    int tx_depth;     /* net_tx_begin nesting */
    int tx_pending;   /* frames queued since the last flush */
} net;

/* Datagrams that reach us (our MAC) while DHCP has not bound an address yet, held until it does. QEMU's slirp
   learns our MAC from the DHCPDISCOVER and at once sends what it held for the address it will offer (a
   forwarded connection's SYN from the host, made while we booted); dropping it would leave the connection to
   TCP's retransmission, seconds later. RFC 2131 forbids *using* an address before the ACK: nothing is answered
   until the lease is bound, and then only datagrams for the bound address are delivered. */
#define NET_HELD_MAX 4
static struct {
    bool active;
    int n;
    struct { uint32_t dst; size_t len; uint8_t pkt[ETH_MTU]; } dgram[NET_HELD_MAX];
} net_held;

void net_hold_until_bound(bool on)
{
    net_held.active = on;
    net_held.n = 0;
}

bool net_hold_datagram(uint32_t dst, const uint8_t *pkt, size_t len)
{
    if (!net_held.active || len > ETH_MTU || net_held.n >= NET_HELD_MAX)
        return false;
    net_held.dgram[net_held.n].dst = dst;
    memcpy(net_held.dgram[net_held.n].pkt, pkt, len);
    net_held.dgram[net_held.n].len = len;
    net_held.n++;
    net_stats.ip_held++;
    return true;
}

/* Once an address is bound: deliver what was held for it, forget the rest. */
static void net_release_held(void)
{
    if (!net.ip || !net_held.active)
        return;
    int n = net_held.n;
    net_held.active = false;
    net_held.n = 0;
    for (int i = 0; i < n; i++)
        if (net_held.dgram[i].dst == net.ip)
            ipv4_input(net_held.dgram[i].pkt, net_held.dgram[i].len);
}

void net_get_stats(struct net_stats *st) { *st = net_stats; }
const uint8_t *net_local_mac(void)
{
    static const uint8_t none[6];
    return net.nif ? net.nif->mac : none;
}
uint32_t net_local_ip(void) { return net.ip; }
uint32_t net_netmask(void) { return net.mask; }
uint32_t net_gateway(void) { return net.gw; }
bool net_is_configured(void) { return net.ip != 0; }

void net_set_address(uint32_t ip, uint32_t mask, uint32_t gw)
{
    net.ip = ip;
    net.mask = ip ? mask : 0;
    net.gw = ip ? gw : 0;
}

void net_attach(struct netif *nif)
{
    dhcp_stop();
    arp_reset();
    udp_reset();
    memset(&net, 0, sizeof net);
    memset(&net_held, 0, sizeof net_held);
    memset(&net_stats, 0, sizeof net_stats);
    net.nif = nif;
    tcp_init();
}

void net_config_static(uint32_t ip, uint32_t mask, uint32_t gw)
{
    char a[16], b[16], c[16];
    dhcp_stop();
    net_set_address(ip, mask, gw);
    log_info("net: static address %s mask %s gw %s", wire_format_ipv4(ip, a), wire_format_ipv4(mask, b),
             wire_format_ipv4(gw, c));
    net_address_up();
}

/* The address just became usable (static, or a new DHCP lease). A gratuitous ARP (RFC 5227 2.3 announcement)
   lets neighbours learn or refresh our MAC, and one ICMP echo to the gateway resolves its MAC now rather than
   on the first reply we owe. The echo also matters under QEMU's user networking: libslirp holds frames for the
   guest that it could not address (a forwarded connection's SYN that came before we had an address) and
   retries them only when it next sends something itself, or on its 500 ms slow timer; the gateway's echo
   reply is such a send, so a connection made during boot is answered at once instead of ~0.5 s later. */
void net_address_up(void)
{
    arp_announce();
    if (net.gw && icmp_send_echo_request(net.gw, NET_PROBE_ICMP_ID, 1) == 0)
        net_stats.gateway_probes++;
}

void net_config_dhcp(void)
{
    net_set_address(0, 0, 0);
    dhcp_start();
}

void net_config_default(void)
{
    if (CLLM_NET_DHCP)
        net_config_dhcp();
    else
        net_config_static(CLLM_NET_IP, CLLM_NET_NETMASK, CLLM_NET_GATEWAY);
}

void net_tx_begin(void) { net.tx_depth++; }

void net_tx_end(void)
{
    if (net.tx_depth > 0)
        net.tx_depth--;
    if (net.tx_depth == 0 && net.tx_pending && net.nif) {
        net.nif->flush(net.nif);
        net.tx_pending = 0;
    }
}

int net_output_frame(const void *frame, size_t len)
{
    if (!net.nif)
        return -1;
    if (net.nif->send(net.nif, frame, len) < 0) {
        net_stats.drop_tx_full++;
        return -1;
    }
    net_stats.frames_out++;
    net_stats.bytes_out += len;
    net.tx_pending++;
    if (net.tx_depth == 0) {
        net.nif->flush(net.nif);
        net.tx_pending = 0;
    }
    return 0;
}

void net_input(const uint8_t *frame, size_t len)
{
    net_stats.frames_in++;
    net_stats.bytes_in += len;
    eth_input(frame, len);
}

bool net_poll(void)
{
    if (!net.nif)
        return false;
    uint64_t out_before = net_stats.frames_out;
    net_tx_begin();
    int n = net.nif->poll(net.nif, CLLM_NET_RX_BUDGET, net_input);
    net_release_held();
    uint64_t now = clock_ns();
    arp_poll(now);
    dhcp_poll(now);
    tcp_poll(now);
    net_tx_end();
    return n > 0 || net_stats.frames_out != out_before;
}

bool net_rx_ready(void) { return net.nif && net.nif->rx_ready && net.nif->rx_ready(net.nif); }

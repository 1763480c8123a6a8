/* IPv4 input (header checks, fragment drop, delivery to ICMP/UDP/TCP) and output (header emit, next hop:
   on-link or the gateway, then ARP). Wire format in net/ipv4_wire.c; neighbours: net/arp.c below,
   net/icmp.c, net/udp.c and net/tcp.c above. */
#include "net/ipv4.h"
#include "net/arp.h"
#include "net/eth.h"
#include "net/eth_wire.h"
#include "net/icmp.h"
#include "net/ipv4_wire.h"
#include "net/net.h"
#include "net/tcp.h"
#include "net/udp.h"
#include "lib/string.h"

#define IPV4_TTL 64 /* RFC 1700 default */

static uint16_t ipv4_next_id;

size_t net_mtu(void) { return ETH_MTU; }

void ipv4_input(const uint8_t *pkt, size_t len)
{
    struct ipv4_hdr h;
    net_stats.ip_in++;
    switch (ipv4_parse(pkt, len, &h)) {
    case IPV4_PARSE_OK: break;
    case IPV4_PARSE_BAD_CHECKSUM: net_stats.ip_bad_checksum++; return;
    case IPV4_PARSE_FRAGMENT: net_stats.ip_fragments_dropped++; return;
    default: net_stats.ip_bad_header++; return;
    }
    uint32_t me = net_local_ip();
    uint32_t mask = net_netmask();
    int broadcast = h.dst == 0xffffffffu || (me && mask != 0xffffffffu && h.dst == (me | ~mask));
    if (h.dst != me && !broadcast) {
        /* Before DHCP binds, the server may unicast the offer to the address it is offering. */
        if (me != 0 || h.proto != IPV4_PROTO_UDP) {
            if (!me && net_hold_datagram(h.dst, pkt, len)) /* DHCP not bound yet: kept until it is */
                return;
            net_stats.ip_not_for_us++;
            return;
        }
    }
    if (h.src == 0xffffffffu || (h.src >> 28) == 0xe) { /* a broadcast or multicast source is never valid */
        net_stats.ip_bad_header++;
        return;
    }
    const uint8_t *payload = pkt + h.hdr_len;    /* options, if any, are skipped */
    size_t plen = (size_t)h.total_len - h.hdr_len; /* Ethernet padding beyond total_len is dropped here */
    switch (h.proto) {
    case IPV4_PROTO_ICMP: icmp_input(h.src, h.dst, payload, plen, broadcast); break;
    case IPV4_PROTO_UDP: udp_input(h.src, h.dst, payload, plen); break;
    case IPV4_PROTO_TCP:
        if (broadcast || !me)
            net_stats.ip_not_for_us++;
        else
            tcp_input(h.src, h.dst, payload, plen);
        break;
    default: net_stats.ip_bad_proto++; break;
    }
}

int ipv4_output_from(uint32_t src, uint32_t dst, uint8_t proto, const void *payload, size_t len)
{
    uint8_t pkt[ETH_MTU];
    if (len > ETH_MTU - IPV4_HDR_LEN) {
        net_stats.drop_too_big++;
        return -1;
    }
    uint32_t me = net_local_ip();
    uint32_t mask = net_netmask();
    int broadcast = dst == 0xffffffffu || (me && mask != 0xffffffffu && dst == (me | ~mask));
    if (!broadcast && (!me || !src)) {
        net_stats.drop_no_address++;
        return -1;
    }
    ipv4_emit(pkt, src, dst, proto, ipv4_next_id++, IPV4_TTL, len);
    memcpy(pkt + IPV4_HDR_LEN, payload, len);
    net_stats.ip_out++;
    if (broadcast)
        return eth_output(eth_broadcast_mac, ETH_TYPE_IPV4, pkt, IPV4_HDR_LEN + len);
    uint32_t next_hop = dst;
    if ((dst & mask) != (me & mask)) {
        next_hop = net_gateway();
        if (!next_hop) {
            net_stats.drop_no_address++; /* no route */
            return -1;
        }
    }
    return arp_output_ipv4(next_hop, pkt, IPV4_HDR_LEN + len) < 0 ? -1 : 0;
}

int ipv4_output(uint32_t dst, uint8_t proto, const void *payload, size_t len)
{
    return ipv4_output_from(net_local_ip(), dst, proto, payload, len);
}

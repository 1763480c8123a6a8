/* UDP port dispatch and send (RFC 768). Wire format in net/udp_wire.c; called from net/ipv4.c. */
#include "net/udp.h"
#include "net/eth_wire.h"
#include "net/ipv4.h"
#include "net/ipv4_wire.h"
#include "net/net.h"
#include "net/udp_wire.h"

struct udp_binding {
    uint16_t port; /* 0: free */
    udp_handler fn;
};

static struct udp_binding udp_bindings[UDP_MAX_BINDINGS];

void udp_reset(void)
{
    for (int i = 0; i < UDP_MAX_BINDINGS; i++)
        udp_bindings[i].port = 0;
}

int udp_bind(uint16_t port, udp_handler fn)
{
    int free_slot = -1;
    for (int i = 0; i < UDP_MAX_BINDINGS; i++) {
        if (udp_bindings[i].port == port)
            return -1;
        if (!udp_bindings[i].port && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0 || port == 0)
        return -1;
    udp_bindings[free_slot].port = port;
    udp_bindings[free_slot].fn = fn;
    return 0;
}

void udp_unbind(uint16_t port)
{
    for (int i = 0; i < UDP_MAX_BINDINGS; i++)
        if (udp_bindings[i].port == port)
            udp_bindings[i].port = 0;
}

void udp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len)
{
    struct udp_hdr h;
    net_stats.udp_in++;
    switch (udp_parse(src_ip, dst_ip, seg, len, &h)) {
    case UDP_PARSE_OK: break;
    case UDP_PARSE_BAD_CHECKSUM: net_stats.udp_bad_checksum++; return;
    default: net_stats.udp_bad++; return;
    }
    for (int i = 0; i < UDP_MAX_BINDINGS; i++) {
        if (udp_bindings[i].port && udp_bindings[i].port == h.dst_port) {
            udp_bindings[i].fn(src_ip, h.src_port, dst_ip, h.payload, h.payload_len);
            return;
        }
    }
    net_stats.udp_no_port++; /* no ICMP port unreachable: nothing here needs it, and it is a reflection vector */
}

int udp_send(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, const void *data, size_t len)
{
    uint8_t seg[ETH_MTU - IPV4_HDR_LEN];
    if (len > sizeof seg - UDP_HDR_LEN) {
        net_stats.drop_too_big++;
        return -1;
    }
    if (!src_ip)
        src_ip = net_local_ip();
    size_t n = udp_emit(seg, src_ip, dst_ip, src_port, dst_port, data, len);
    if (ipv4_output_from(src_ip, dst_ip, IPV4_PROTO_UDP, seg, n) < 0)
        return -1;
    net_stats.udp_out++;
    return 0;
}

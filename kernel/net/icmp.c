/* ICMP echo replies (RFC 792, RFC 1122 3.2.2.6: same id, sequence and data; broadcast echo not answered), and
   echo requests for net/net.c's gateway probe.
   Wire format in net/icmp_wire.c; called from net/ipv4.c. */
#include "net/icmp.h"
#include "net/eth_wire.h"
#include "net/icmp_wire.h"
#include "net/ipv4.h"
#include "net/ipv4_wire.h"
#include "net/net.h"

void icmp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *msg, size_t len, int broadcast)
{
    struct icmp_hdr h;
    (void)dst_ip;
    net_stats.icmp_in++;
    if (icmp_parse(msg, len, &h) < 0) {
        net_stats.icmp_bad++;
        return;
    }
    if (h.type != ICMP_TYPE_ECHO_REQUEST || broadcast || len > ETH_MTU - IPV4_HDR_LEN)
        return;
    uint8_t reply[ETH_MTU - IPV4_HDR_LEN];
    icmp_emit_echo_reply(reply, msg, len);
    if (ipv4_output(src_ip, IPV4_PROTO_ICMP, reply, len) == 0)
        net_stats.icmp_echo_replies++;
}

int icmp_send_echo_request(uint32_t dst, uint16_t id, uint16_t seq)
{
    uint8_t req[ICMP_HDR_LEN];
    size_t n = icmp_emit_echo_request(req, id, seq, 0, 0);
    return ipv4_output(dst, IPV4_PROTO_ICMP, req, n);
}

/* Ethernet layer: destination filter and EtherType dispatch on input, header emit on output.
   Wire format in net/eth_wire.c; the layers above are net/arp.c and net/ipv4.c. */
#include "net/eth.h"
#include "net/arp.h"
#include "net/eth_wire.h"
#include "net/ipv4.h"
#include "net/net.h"
#include "lib/string.h"

const uint8_t eth_broadcast_mac[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void eth_input(const uint8_t *frame, size_t len)
{
    struct eth_hdr h;
    if (eth_parse(frame, len, &h) < 0) {
        net_stats.drop_short++;
        return;
    }
    if (!eth_is_broadcast(h.dst) && memcmp(h.dst, net_local_mac(), 6) != 0) {
        net_stats.drop_not_for_us++; /* other unicast, or multicast we never joined */
        return;
    }
    const uint8_t *payload = frame + ETH_HDR_LEN;
    size_t plen = len - ETH_HDR_LEN;
    switch (h.type) {
    case ETH_TYPE_ARP: arp_input(payload, plen); break;
    case ETH_TYPE_IPV4: ipv4_input(payload, plen); break;
    default: net_stats.drop_ethertype++; break;
    }
}

int eth_output(const uint8_t dst[6], uint16_t type, const void *payload, size_t len)
{
    uint8_t frame[ETH_FRAME_MAX];
    if (len > ETH_MTU) {
        net_stats.drop_too_big++;
        return -1;
    }
    eth_emit(frame, dst, net_local_mac(), type);
    memcpy(frame + ETH_HDR_LEN, payload, len);
    return net_output_frame(frame, ETH_HDR_LEN + len);
}

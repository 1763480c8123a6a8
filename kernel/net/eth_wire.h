/* Ethernet II frame header parse/emit (IEEE 802.3 with EtherType; no 802.1Q tags: tagged frames are dropped
   as an unknown EtherType). Pure functions; the dispatch by EtherType is in net/eth.c. */
#ifndef NET_ETH_WIRE_H
#define NET_ETH_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define ETH_HDR_LEN 14
#define ETH_MTU 1500
#define ETH_FRAME_MAX (ETH_HDR_LEN + ETH_MTU) /* without the FCS, which the NIC strips and appends */
#define ETH_TYPE_IPV4 0x0800
#define ETH_TYPE_ARP 0x0806

struct eth_hdr {
    uint8_t dst[6];
    uint8_t src[6];
    uint16_t type;
};

/* Returns the payload offset (ETH_HDR_LEN) or -1 when the frame is too short. */
int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h);
/* Writes the 14-byte header into buf; returns ETH_HDR_LEN. */
size_t eth_emit(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type);

static inline bool eth_is_broadcast(const uint8_t m[6])
{
    return (m[0] & m[1] & m[2] & m[3] & m[4] & m[5]) == 0xff;
}
static inline bool eth_is_multicast(const uint8_t m[6]) { return m[0] & 1; }

#endif

/* Ethernet layer: check the destination, dispatch by EtherType (net/arp.c, net/ipv4.c), and send frames with
   our source address. Header parse/emit is in net/eth_wire.c. */
#ifndef NET_ETH_H
#define NET_ETH_H
#include <stddef.h>
#include <stdint.h>

extern const uint8_t eth_broadcast_mac[6];

void eth_input(const uint8_t *frame, size_t len);
/* Send payload in a frame to dst with our MAC as source. Returns 0 or < 0 (dropped and counted). */
int eth_output(const uint8_t dst[6], uint16_t type, const void *payload, size_t len);

#endif

/* ARP (RFC 826) for IPv4 over Ethernet: a cache with timeouts, replies to requests for our address, requests
   for unresolved next hops, and a bounded queue of outgoing packets per unresolved address.
   Wire format in net/arp_wire.c. */
#ifndef NET_ARP_H
#define NET_ARP_H
#include <stddef.h>
#include <stdint.h>

void arp_reset(void);      /* empty the cache and free every queued packet */
void arp_input(const uint8_t *pkt, size_t len);
/* Send an IPv4 packet (pkt, len: IPv4 header + payload) to the neighbour next_hop: at once when its MAC is
   known, else queued while an ARP request goes out. Returns 0 sent, 1 queued, < 0 dropped (counted). */
int arp_output_ipv4(uint32_t next_hop, const uint8_t *pkt, size_t len);
/* Expire entries, retransmit requests, give up on silent neighbours (their queues are dropped). */
void arp_poll(uint64_t now_ns);
/* Copy the MAC of ip into mac when resolved; 0, or -1 when not in the cache. */
int arp_lookup(uint32_t ip, uint8_t mac[6]);
/* Broadcast a gratuitous ARP for our address (after it is bound). */
void arp_announce(void);

#endif

/* IPv4: input (header checks, fragment drop, protocol dispatch) and output (header emit, route to the gateway,
   ARP resolution). Wire format parse/emit lives in net/ipv4_wire.c; the ARP cache in net/arp.c; the glue that
   owns the interface and the counters in net/net.c. These three calls are what TCP (net/tcp.c) uses. */
#ifndef NET_IPV4_H
#define NET_IPV4_H
#include <stddef.h>
#include <stdint.h>

#define IPV4_PROTO_ICMP 1
#define IPV4_PROTO_TCP 6
#define IPV4_PROTO_UDP 17

/* Send one IPv4 datagram carrying payload (len bytes, already complete incl. its own checksum) to dst_ip
   (host byte order). The next hop is dst_ip when on-link, else the gateway; while its MAC is unresolved the
   datagram is queued (bounded per address) and an ARP request sent; when the queue is full it is dropped and
   counted. Never fragments: len must be <= net_mtu() - 20.
   Returns 0 when sent or queued, < 0 when dropped (no address yet, too long, no route, queue full, NIC full). */
int ipv4_output(uint32_t dst_ip, uint8_t proto, const void *payload, size_t len);

/* ipv4_output with an explicit source address: DHCP sends from 0.0.0.0 to 255.255.255.255 before it has a
   lease. Limited broadcast (and our subnet's broadcast) go to the Ethernet broadcast address without ARP. */
int ipv4_output_from(uint32_t src_ip, uint32_t dst_ip, uint8_t proto, const void *payload, size_t len);

/* Our address (host byte order), 0 while DHCP has not bound one yet. */
uint32_t net_local_ip(void);

/* Link MTU in bytes (IPv4 header + payload), 1500 on Ethernet. */
size_t net_mtu(void);

/* An IPv4 packet arrived in an Ethernet frame (pkt points at the IPv4 header). Called by net/eth.c. */
void ipv4_input(const uint8_t *pkt, size_t len);

#endif

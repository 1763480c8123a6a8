/* ICMP: answers echo requests (ping) and sends the gateway probe (net/net.c); other messages are counted and
   ignored. Wire format in net/icmp_wire.c. */
#ifndef NET_ICMP_H
#define NET_ICMP_H
#include <stddef.h>
#include <stdint.h>

/* msg/len: the IPv4 payload; broadcast: the datagram was sent to a broadcast address (never answered). */
void icmp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *msg, size_t len, int broadcast);
/* Send one echo request (no data) to dst; its reply is counted in icmp_in like any message. 0, or -1 when it
   could not be queued (ipv4_output). */
int icmp_send_echo_request(uint32_t dst, uint16_t id, uint16_t seq);

#endif

/* ICMP: answers echo requests (ping); other messages are counted and ignored. Wire format in net/icmp_wire.c. */
#ifndef NET_ICMP_H
#define NET_ICMP_H
#include <stddef.h>
#include <stdint.h>

/* msg/len: the IPv4 payload; broadcast: the datagram was sent to a broadcast address (never answered). */
void icmp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *msg, size_t len, int broadcast);

#endif

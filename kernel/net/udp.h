/* UDP: port dispatch to bound handlers, and sending. Wire format in net/udp_wire.c; the one user today is the
   DHCP client (net/dhcp.c). */
#ifndef NET_UDP_H
#define NET_UDP_H
#include <stddef.h>
#include <stdint.h>

#define UDP_MAX_BINDINGS 8

typedef void (*udp_handler)(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, const uint8_t *data, size_t len);

void udp_reset(void);
/* 0, or -1 when the port is taken or the table is full. */
int udp_bind(uint16_t port, udp_handler fn);
void udp_unbind(uint16_t port);
void udp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len);
/* Send from src_ip (0 = our address) : src_port to dst_ip : dst_port. 0 or < 0 (dropped, counted). */
int udp_send(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, const void *data, size_t len);

#endif

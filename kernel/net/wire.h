/* Big-endian (network byte order) loads and stores on byte pointers, and the dotted-quad parser/formatter.
   Shared by every *_wire.c parse/emit module (eth_wire, arp_wire, ipv4_wire, icmp_wire, udp_wire, dhcp_wire). */
#ifndef NET_WIRE_H
#define NET_WIRE_H
#include <stddef.h>
#include <stdint.h>

static inline uint16_t wire_get16(const uint8_t *p) { return (uint16_t)((uint16_t)p[0] << 8 | p[1]); }
static inline uint32_t wire_get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void wire_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline void wire_put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* "a.b.c.d" (exactly four decimal octets, nothing after) -> host-order address; returns 0 on success. */
int wire_parse_ipv4(const char *s, uint32_t *out);
/* Host-order address -> "a.b.c.d" in buf (at least 16 bytes). Returns buf. */
char *wire_format_ipv4(uint32_t ip, char *buf);

#endif

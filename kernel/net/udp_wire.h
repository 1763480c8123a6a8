/* UDP datagram parse/emit (RFC 768) with the IPv4 pseudo-header checksum. Pure functions; port dispatch is in
   net/udp.c. */
#ifndef NET_UDP_WIRE_H
#define NET_UDP_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define UDP_HDR_LEN 8

struct udp_hdr {
    uint16_t src_port, dst_port;
    uint16_t len;           /* header + payload, from the header */
    const uint8_t *payload; /* points into the datagram */
    size_t payload_len;
};

enum udp_parse_result { UDP_PARSE_OK = 0, UDP_PARSE_SHORT, UDP_PARSE_BAD_LEN, UDP_PARSE_BAD_CHECKSUM };

/* seg/len: the IPv4 payload. A checksum field of 0 means "none" (allowed over IPv4). */
enum udp_parse_result udp_parse(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len,
                                struct udp_hdr *h);
/* Writes header + payload into buf with the checksum filled (0 is sent as 0xffff). Returns the length. */
size_t udp_emit(uint8_t *buf, uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                const void *payload, size_t payload_len);

#endif

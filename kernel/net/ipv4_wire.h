/* IPv4 header parse/emit (RFC 791): version, header length with options, total length, header checksum,
   fragment fields. Pure functions; input/output and routing are in net/ipv4.c. */
#ifndef NET_IPV4_WIRE_H
#define NET_IPV4_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define IPV4_HDR_LEN 20 /* without options; we never emit options */
#define IPV4_FLAG_DF 0x4000
#define IPV4_FLAG_MF 0x2000
#define IPV4_FRAG_OFFSET_MASK 0x1fff

struct ipv4_hdr {
    uint8_t hdr_len;     /* bytes, 20..60 (options are skipped, not interpreted) */
    uint8_t tos;
    uint16_t total_len;  /* bytes, header + payload */
    uint16_t id;
    uint16_t frag;       /* flags and fragment offset, as on the wire */
    uint8_t ttl;
    uint8_t proto;
    uint32_t src, dst;   /* host order */
};

enum ipv4_parse_result {
    IPV4_PARSE_OK = 0,
    IPV4_PARSE_SHORT,        /* shorter than the header, or than total_len says */
    IPV4_PARSE_BAD_VERSION,
    IPV4_PARSE_BAD_HDR_LEN,  /* IHL < 5 or beyond total_len */
    IPV4_PARSE_BAD_CHECKSUM,
    IPV4_PARSE_FRAGMENT,     /* MF set or offset != 0: we do not reassemble */
};

/* Checks everything in the list above, in that order. len may exceed total_len (Ethernet padding). */
enum ipv4_parse_result ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_hdr *h);
/* Writes a 20-byte header (DF set, checksum filled); returns IPV4_HDR_LEN. */
size_t ipv4_emit(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint8_t ttl,
                 size_t payload_len);

#endif

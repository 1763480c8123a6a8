/* UDP parse/emit (RFC 768). See net/udp_wire.h; port dispatch is in net/udp.c. */
#include "net/udp_wire.h"
#include "net/checksum.h"
#include "net/ipv4.h"
#include "net/wire.h"
#include "lib/string.h"

enum udp_parse_result udp_parse(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len,
                                struct udp_hdr *h)
{
    if (len < UDP_HDR_LEN)
        return UDP_PARSE_SHORT;
    h->src_port = wire_get16(seg);
    h->dst_port = wire_get16(seg + 2);
    h->len = wire_get16(seg + 4);
    if (h->len < UDP_HDR_LEN || h->len > len)
        return UDP_PARSE_BAD_LEN;
    if (wire_get16(seg + 6) != 0) {
        uint32_t sum = checksum_pseudo_ipv4(src_ip, dst_ip, IPV4_PROTO_UDP, h->len);
        if (checksum_finish(checksum_add(sum, seg, h->len)) != 0)
            return UDP_PARSE_BAD_CHECKSUM;
    }
    h->payload = seg + UDP_HDR_LEN;
    h->payload_len = h->len - UDP_HDR_LEN;
    return UDP_PARSE_OK;
}

size_t udp_emit(uint8_t *buf, uint32_t src_ip, uint32_t dst_ip, uint16_t src_port, uint16_t dst_port,
                const void *payload, size_t payload_len)
{
    uint16_t len = (uint16_t)(UDP_HDR_LEN + payload_len);
    wire_put16(buf, src_port);
    wire_put16(buf + 2, dst_port);
    wire_put16(buf + 4, len);
    wire_put16(buf + 6, 0);
    memmove(buf + UDP_HDR_LEN, payload, payload_len);
    uint16_t c = checksum_finish(checksum_add(checksum_pseudo_ipv4(src_ip, dst_ip, IPV4_PROTO_UDP, len), buf, len));
    wire_put16(buf + 6, c ? c : 0xffff);
    return len;
}

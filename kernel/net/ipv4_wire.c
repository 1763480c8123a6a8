/* IPv4 header parse/emit (RFC 791). See net/ipv4_wire.h; the protocol is in net/ipv4.c. */
#include "net/ipv4_wire.h"
#include "net/checksum.h"
#include "net/wire.h"

enum ipv4_parse_result ipv4_parse(const uint8_t *pkt, size_t len, struct ipv4_hdr *h)
{
    if (len < IPV4_HDR_LEN)
        return IPV4_PARSE_SHORT;
    if (pkt[0] >> 4 != 4)
        return IPV4_PARSE_BAD_VERSION;
    h->hdr_len = (uint8_t)((pkt[0] & 15) * 4);
    h->tos = pkt[1];
    h->total_len = wire_get16(pkt + 2);
    h->id = wire_get16(pkt + 4);
    h->frag = wire_get16(pkt + 6);
    h->ttl = pkt[8];
    h->proto = pkt[9];
    h->src = wire_get32(pkt + 12);
    h->dst = wire_get32(pkt + 16);
    if (h->hdr_len < IPV4_HDR_LEN || h->hdr_len > h->total_len)
        return IPV4_PARSE_BAD_HDR_LEN;
    if (h->total_len > len || h->hdr_len > len)
        return IPV4_PARSE_SHORT;
    if (checksum_finish(checksum_add(0, pkt, h->hdr_len)) != 0)
        return IPV4_PARSE_BAD_CHECKSUM;
    if (h->frag & (IPV4_FLAG_MF | IPV4_FRAG_OFFSET_MASK))
        return IPV4_PARSE_FRAGMENT;
    return IPV4_PARSE_OK;
}

size_t ipv4_emit(uint8_t *buf, uint32_t src, uint32_t dst, uint8_t proto, uint16_t id, uint8_t ttl,
                 size_t payload_len)
{
    buf[0] = 0x45;
    buf[1] = 0;
    wire_put16(buf + 2, (uint16_t)(IPV4_HDR_LEN + payload_len));
    wire_put16(buf + 4, id);
    wire_put16(buf + 6, IPV4_FLAG_DF);
    buf[8] = ttl;
    buf[9] = proto;
    wire_put16(buf + 10, 0);
    wire_put32(buf + 12, src);
    wire_put32(buf + 16, dst);
    wire_put16(buf + 10, checksum_finish(checksum_add(0, buf, IPV4_HDR_LEN)));
    return IPV4_HDR_LEN;
}

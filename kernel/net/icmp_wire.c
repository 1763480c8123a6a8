/* ICMP parse and echo emit (RFC 792). See net/icmp_wire.h; the protocol is in net/icmp.c. */
#include "net/icmp_wire.h"
#include "net/checksum.h"
#include "net/wire.h"
#include "lib/string.h"

int icmp_parse(const uint8_t *msg, size_t len, struct icmp_hdr *h)
{
    if (len < ICMP_HDR_LEN)
        return -1;
    if (checksum_finish(checksum_add(0, msg, len)) != 0)
        return -1;
    h->type = msg[0];
    h->code = msg[1];
    h->id = wire_get16(msg + 4);
    h->seq = wire_get16(msg + 6);
    return 0;
}

size_t icmp_emit_echo_reply(uint8_t *buf, const uint8_t *req, size_t len)
{
    if (buf != req)
        memmove(buf, req, len);
    buf[0] = ICMP_TYPE_ECHO_REPLY;
    buf[1] = 0;
    wire_put16(buf + 2, 0);
    wire_put16(buf + 2, checksum_finish(checksum_add(0, buf, len)));
    return len;
}

size_t icmp_emit_echo_request(uint8_t *buf, uint16_t id, uint16_t seq, const void *data, size_t data_len)
{
    buf[0] = ICMP_TYPE_ECHO_REQUEST;
    buf[1] = 0;
    wire_put16(buf + 2, 0);
    wire_put16(buf + 4, id);
    wire_put16(buf + 6, seq);
    if (data_len)
        memcpy(buf + ICMP_HDR_LEN, data, data_len);
    wire_put16(buf + 2, checksum_finish(checksum_add(0, buf, ICMP_HDR_LEN + data_len)));
    return ICMP_HDR_LEN + data_len;
}

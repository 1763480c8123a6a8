/* Ethernet II header parse/emit. See net/eth_wire.h; dispatch in net/eth.c. */
#include "net/eth_wire.h"
#include "net/wire.h"
#include "lib/string.h"

int eth_parse(const uint8_t *frame, size_t len, struct eth_hdr *h)
{
    if (len < ETH_HDR_LEN)
        return -1;
    memcpy(h->dst, frame, 6);
    memcpy(h->src, frame + 6, 6);
    h->type = wire_get16(frame + 12);
    return ETH_HDR_LEN;
}

size_t eth_emit(uint8_t *buf, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
    memcpy(buf, dst, 6);
    memcpy(buf + 6, src, 6);
    wire_put16(buf + 12, type);
    return ETH_HDR_LEN;
}

/* ARP packet parse/emit (RFC 826). See net/arp_wire.h; the cache is in net/arp.c. */
#include "net/arp_wire.h"
#include "net/wire.h"
#include "lib/string.h"

int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *out)
{
    if (len < ARP_PKT_LEN)
        return -1;
    if (wire_get16(p) != 1 || wire_get16(p + 2) != 0x0800 || p[4] != 6 || p[5] != 4)
        return -1;
    out->op = wire_get16(p + 6);
    memcpy(out->sha, p + 8, 6);
    out->spa = wire_get32(p + 14);
    memcpy(out->tha, p + 18, 6);
    out->tpa = wire_get32(p + 24);
    return 0;
}

size_t arp_emit(uint8_t *buf, const struct arp_pkt *a)
{
    wire_put16(buf, 1);
    wire_put16(buf + 2, 0x0800);
    buf[4] = 6;
    buf[5] = 4;
    wire_put16(buf + 6, a->op);
    memcpy(buf + 8, a->sha, 6);
    wire_put32(buf + 14, a->spa);
    memcpy(buf + 18, a->tha, 6);
    wire_put32(buf + 24, a->tpa);
    return ARP_PKT_LEN;
}

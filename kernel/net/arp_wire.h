/* ARP packet parse/emit for IPv4 over Ethernet (RFC 826): htype 1, ptype 0x0800, hlen 6, plen 4.
   Pure functions; the cache and the protocol are in net/arp.c. */
#ifndef NET_ARP_WIRE_H
#define NET_ARP_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define ARP_PKT_LEN 28
#define ARP_OP_REQUEST 1
#define ARP_OP_REPLY 2

struct arp_pkt {
    uint16_t op;
    uint8_t sha[6]; /* sender hardware address */
    uint32_t spa;   /* sender protocol address, host order */
    uint8_t tha[6];
    uint32_t tpa;
};

/* 0 on success, -1 when too short or not Ethernet/IPv4 ARP. Trailing bytes (frame padding) are ignored. */
int arp_parse(const uint8_t *p, size_t len, struct arp_pkt *out);
size_t arp_emit(uint8_t *buf, const struct arp_pkt *a); /* writes ARP_PKT_LEN bytes */

#endif

/* ICMP (RFC 792) message parse and echo-reply emit. Pure functions; the protocol is in net/icmp.c. */
#ifndef NET_ICMP_WIRE_H
#define NET_ICMP_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define ICMP_HDR_LEN 8
#define ICMP_TYPE_ECHO_REPLY 0
#define ICMP_TYPE_ECHO_REQUEST 8

struct icmp_hdr {
    uint8_t type, code;
    uint16_t id, seq; /* meaningful for echo request/reply */
};

/* 0 on success; -1 when shorter than 8 bytes or the checksum over the whole message is wrong. */
int icmp_parse(const uint8_t *msg, size_t len, struct icmp_hdr *h);
/* Writes an echo reply into buf answering the request req (len bytes, same length, same id/seq/data);
   returns len. buf may equal req. */
size_t icmp_emit_echo_reply(uint8_t *buf, const uint8_t *req, size_t len);
/* Writes an echo request with the given data; returns ICMP_HDR_LEN + data_len (used by tests and ping). */
size_t icmp_emit_echo_request(uint8_t *buf, uint16_t id, uint16_t seq, const void *data, size_t data_len);

#endif

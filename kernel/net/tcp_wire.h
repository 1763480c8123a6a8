/* TCP segment wire format (RFC 9293 3.1): parse and emit headers and options, pure functions with no state.
   The state machine that uses them is net/tcp.c; checksums come from net/checksum.c. Built for the host too. */
#ifndef NET_TCP_WIRE_H
#define NET_TCP_WIRE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define TCP_FLAG_FIN 0x01u
#define TCP_FLAG_SYN 0x02u
#define TCP_FLAG_RST 0x04u
#define TCP_FLAG_PSH 0x08u
#define TCP_FLAG_ACK 0x10u
#define TCP_FLAG_URG 0x20u

#define TCP_HDR_MIN 20u      /* header without options, RFC 9293 3.1 */
#define TCP_HDR_MAX 60u      /* data offset is 4 bits of 32-bit words */
#define TCP_OPT_END 0u       /* RFC 9293 3.2 */
#define TCP_OPT_NOP 1u
#define TCP_OPT_MSS 2u       /* length 4 */
#define TCP_OPT_WSCALE 3u    /* length 3, RFC 7323 2.2 */
#define TCP_OPT_SACK_OK 4u   /* length 2, RFC 2018 2 */
#define TCP_PROTO 6u         /* IPv4 protocol number */

/* A parsed segment. Multi-byte fields in host byte order; payload points into the parsed buffer. */
struct tcp_segment {
    uint16_t sport, dport;
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, urg;
    size_t hdr_len;
    const uint8_t *payload;
    size_t payload_len;
    bool has_mss, has_wscale, sack_ok;
    uint16_t mss;
    uint8_t wscale;
};

enum tcp_wire_err {
    TCP_WIRE_OK = 0,
    TCP_WIRE_SHORT = -1,       /* fewer than 20 bytes */
    TCP_WIRE_BAD_OFFSET = -2,  /* data offset < 5 or past the end */
    TCP_WIRE_BAD_CHECKSUM = -3,
    TCP_WIRE_BAD_OPTION = -4,  /* an option's length runs past the header or is < 2 */
};

/* Parse and verify (checksum over the IPv4 pseudo-header; addresses in host byte order). */
enum tcp_wire_err tcp_wire_parse(const uint8_t *buf, size_t len, uint32_t src_ip, uint32_t dst_ip,
                                 struct tcp_segment *out);

#define TCP_OPT_SACK 5u      /* length 2 + 8n, RFC 2018 3 */
#define TCP_SACK_MAX 4u      /* blocks that fit the 40 option bytes (without timestamps) */

/* Options to emit. MSS and SACK-permitted belong in SYNs; SACK blocks are [left, right) edges. */
struct tcp_wire_opts {
    uint16_t mss;            /* 0: no MSS option */
    bool sack_ok;
    uint32_t n_sack;         /* at most TCP_SACK_MAX */
    uint32_t sack[TCP_SACK_MAX][2];
};

/* Write a header with the given options (NULL: none) at buf (room for TCP_HDR_MAX bytes); returns the
   header length. The checksum field is left zero: append the payload, then call tcp_wire_set_checksum. */
size_t tcp_wire_emit_header(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                            uint8_t flags, uint16_t wnd, const struct tcp_wire_opts *opts);
void tcp_wire_set_checksum(uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip);

/* Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4). */
static inline bool tcp_seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static inline bool tcp_seq_le(uint32_t a, uint32_t b) { return (int32_t)(a - b) <= 0; }
static inline bool tcp_seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }
static inline bool tcp_seq_ge(uint32_t a, uint32_t b) { return (int32_t)(a - b) >= 0; }

#endif

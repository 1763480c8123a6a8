/* TCP segment parse/emit (RFC 9293 3.1, 3.2) with the options MSS, window scale, SACK-permitted and SACK.
   Pure: no state, no allocation. The TCP state machine is in net/tcp.c. */
#include "net/tcp_wire.h"
#include "net/checksum.h"
#include "net/wire.h"

static enum tcp_wire_err tcp_wire_parse_options(const uint8_t *p, size_t n, struct tcp_segment *out)
{
    size_t i = 0;
    while (i < n) {
        uint8_t kind = p[i];
        if (kind == TCP_OPT_END)
            break;
        if (kind == TCP_OPT_NOP) {
            i++;
            continue;
        }
        if (i + 1 >= n)
            return TCP_WIRE_BAD_OPTION;
        uint8_t olen = p[i + 1];
        if (olen < 2 || olen > n - i)
            return TCP_WIRE_BAD_OPTION;
        /* Options with an unexpected length are ignored, not fatal (RFC 9293 3.2, MUST-7). */
        if (kind == TCP_OPT_MSS && olen == 4) {
            out->has_mss = true;
            out->mss = wire_get16(p + i + 2);
        } else if (kind == TCP_OPT_WSCALE && olen == 3) {
            out->has_wscale = true;
            out->wscale = p[i + 2] > 14 ? 14 : p[i + 2]; /* RFC 7323 2.3: clamp to 14 */
        } else if (kind == TCP_OPT_SACK_OK && olen == 2) {
            out->sack_ok = true;
        }
        i += olen;
    }
    return TCP_WIRE_OK;
}

enum tcp_wire_err tcp_wire_parse(const uint8_t *buf, size_t len, uint32_t src_ip, uint32_t dst_ip,
                                 struct tcp_segment *out)
{
    if (!buf || len < TCP_HDR_MIN)
        return TCP_WIRE_SHORT;
    size_t off = (size_t)(buf[12] >> 4) * 4u;
    if (off < TCP_HDR_MIN || off > len)
        return TCP_WIRE_BAD_OFFSET;
    if (len > 0xffffu)
        return TCP_WIRE_SHORT; /* cannot be carried in IPv4; the pseudo-header length is 16 bits */
    uint32_t sum = checksum_pseudo_ipv4(src_ip, dst_ip, TCP_PROTO, (uint16_t)len);
    if (checksum_finish(checksum_add(sum, buf, len)) != 0)
        return TCP_WIRE_BAD_CHECKSUM;
    *out = (struct tcp_segment){0};
    out->sport = wire_get16(buf);
    out->dport = wire_get16(buf + 2);
    out->seq = wire_get32(buf + 4);
    out->ack = wire_get32(buf + 8);
    out->flags = buf[13] & 0x3fu;
    out->wnd = wire_get16(buf + 14);
    out->urg = wire_get16(buf + 18);
    out->hdr_len = off;
    out->payload = buf + off;
    out->payload_len = len - off;
    return tcp_wire_parse_options(buf + TCP_HDR_MIN, off - TCP_HDR_MIN, out);
}

size_t tcp_wire_emit_header(uint8_t *buf, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
                            uint8_t flags, uint16_t wnd, const struct tcp_wire_opts *opts)
{
    size_t hl = TCP_HDR_MIN;
    if (opts && opts->mss) {
        buf[hl] = TCP_OPT_MSS;
        buf[hl + 1] = 4;
        wire_put16(buf + hl + 2, opts->mss);
        hl += 4;
    }
    if (opts && opts->sack_ok) {
        buf[hl] = TCP_OPT_NOP;
        buf[hl + 1] = TCP_OPT_NOP;
        buf[hl + 2] = TCP_OPT_SACK_OK;
        buf[hl + 3] = 2;
        hl += 4;
    }
    if (opts && opts->n_sack) {
        uint32_t n = opts->n_sack < TCP_SACK_MAX ? opts->n_sack : TCP_SACK_MAX;
        if (hl + 4u + 8u * n > TCP_HDR_MAX)
            n = (uint32_t)((TCP_HDR_MAX - hl - 4u) / 8u);
        buf[hl] = TCP_OPT_NOP;
        buf[hl + 1] = TCP_OPT_NOP;
        buf[hl + 2] = TCP_OPT_SACK;
        buf[hl + 3] = (uint8_t)(2u + 8u * n);
        hl += 4;
        for (uint32_t i = 0; i < n; i++, hl += 8) {
            wire_put32(buf + hl, opts->sack[i][0]);
            wire_put32(buf + hl + 4, opts->sack[i][1]);
        }
    }
    wire_put16(buf, sport);
    wire_put16(buf + 2, dport);
    wire_put32(buf + 4, seq);
    wire_put32(buf + 8, ack);
    buf[12] = (uint8_t)((hl / 4u) << 4);
    buf[13] = flags;
    wire_put16(buf + 14, wnd);
    wire_put16(buf + 16, 0);
    wire_put16(buf + 18, 0);
    return hl;
}

void tcp_wire_set_checksum(uint8_t *seg, size_t len, uint32_t src_ip, uint32_t dst_ip)
{
    wire_put16(seg + 16, 0);
    uint32_t sum = checksum_pseudo_ipv4(src_ip, dst_ip, TCP_PROTO, (uint16_t)len);
    wire_put16(seg + 16, checksum_finish(checksum_add(sum, seg, len)));
}

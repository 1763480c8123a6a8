/* DHCP message parse/emit (RFC 2131, RFC 2132). See net/dhcp_wire.h; the client is in net/dhcp.c. */
#include "net/dhcp_wire.h"
#include "net/wire.h"
#include "lib/string.h"

int dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m)
{
    memset(m, 0, sizeof *m);
    if (len < DHCP_FIXED_LEN + 4)
        return -1;
    if (p[1] != 1 || p[2] != 6)
        return -1;
    m->op = p[0];
    m->xid = wire_get32(p + 4);
    m->flags = wire_get16(p + 10);
    m->ciaddr = wire_get32(p + 12);
    m->yiaddr = wire_get32(p + 16);
    m->siaddr = wire_get32(p + 20);
    memcpy(m->chaddr, p + 28, 6);
    if (wire_get32(p + DHCP_FIXED_LEN) != DHCP_MAGIC)
        return -1;
    size_t i = DHCP_FIXED_LEN + 4;
    while (i < len) {
        uint8_t code = p[i++];
        if (code == DHCP_OPT_PAD)
            continue;
        if (code == DHCP_OPT_END)
            return 0;
        if (i >= len)
            return -1;
        size_t olen = p[i++];
        if (olen > len - i)
            return -1;
        const uint8_t *v = p + i;
        i += olen;
        switch (code) {
        case DHCP_OPT_MSG_TYPE: if (olen >= 1) m->type = v[0]; break;
        case DHCP_OPT_SUBNET_MASK: if (olen >= 4) m->subnet_mask = wire_get32(v); break;
        case DHCP_OPT_ROUTER: if (olen >= 4) m->router = wire_get32(v); break;   /* first router */
        case DHCP_OPT_DNS: if (olen >= 4) m->dns = wire_get32(v); break;         /* first server */
        case DHCP_OPT_REQUESTED_IP: if (olen >= 4) m->requested_ip = wire_get32(v); break;
        case DHCP_OPT_LEASE_TIME: if (olen >= 4) m->lease_s = wire_get32(v); break;
        case DHCP_OPT_SERVER_ID: if (olen >= 4) m->server_id = wire_get32(v); break;
        case DHCP_OPT_T1: if (olen >= 4) m->t1_s = wire_get32(v); break;
        case DHCP_OPT_T2: if (olen >= 4) m->t2_s = wire_get32(v); break;
        default: break;
        }
    }
    return 0; /* no END option: tolerated, what we read is complete */
}

size_t dhcp_emit(uint8_t *buf, size_t cap, const struct dhcp_msg *m)
{
    if (cap < DHCP_MSG_MIN)
        return 0;
    memset(buf, 0, DHCP_MSG_MIN);
    buf[0] = 1; /* BOOTREQUEST */
    buf[1] = 1; /* htype Ethernet */
    buf[2] = 6; /* hlen */
    wire_put32(buf + 4, m->xid);
    wire_put16(buf + 10, m->flags);
    wire_put32(buf + 12, m->ciaddr);
    memcpy(buf + 28, m->chaddr, 6);
    wire_put32(buf + DHCP_FIXED_LEN, DHCP_MAGIC);
    size_t i = DHCP_FIXED_LEN + 4;
    buf[i++] = DHCP_OPT_MSG_TYPE; buf[i++] = 1; buf[i++] = m->type;
    if (m->requested_ip) {
        buf[i++] = DHCP_OPT_REQUESTED_IP; buf[i++] = 4; wire_put32(buf + i, m->requested_ip); i += 4;
    }
    if (m->server_id) {
        buf[i++] = DHCP_OPT_SERVER_ID; buf[i++] = 4; wire_put32(buf + i, m->server_id); i += 4;
    }
    static const uint8_t params[] = { DHCP_OPT_SUBNET_MASK, DHCP_OPT_ROUTER, DHCP_OPT_DNS, DHCP_OPT_LEASE_TIME,
                                      DHCP_OPT_T1, DHCP_OPT_T2 };
    buf[i++] = DHCP_OPT_PARAM_LIST; buf[i++] = sizeof params;
    memcpy(buf + i, params, sizeof params);
    i += sizeof params;
    buf[i++] = DHCP_OPT_END;
    return DHCP_MSG_MIN;
}

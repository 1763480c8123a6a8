/* DHCP message parse/emit (RFC 2131 message layout, RFC 2132 options) for the client side.
   Pure functions; the client state machine is in net/dhcp.c. */
#ifndef NET_DHCP_WIRE_H
#define NET_DHCP_WIRE_H
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_FIXED_LEN 236      /* op .. file, RFC 2131 figure 1 */
#define DHCP_MAGIC 0x63825363u  /* RFC 2131 section 3 */
#define DHCP_MSG_MIN 300        /* BOOTP minimum message length (RFC 1542); emitted messages are padded */
#define DHCP_MSG_MAX 576        /* we never emit more */

enum dhcp_type {
    DHCP_NONE = 0, DHCP_DISCOVER = 1, DHCP_OFFER = 2, DHCP_REQUEST = 3, DHCP_DECLINE = 4,
    DHCP_ACK = 5, DHCP_NAK = 6, DHCP_RELEASE = 7, DHCP_INFORM = 8,
};

/* RFC 2132 option codes we read or write. */
#define DHCP_OPT_PAD 0
#define DHCP_OPT_SUBNET_MASK 1
#define DHCP_OPT_ROUTER 3
#define DHCP_OPT_DNS 6
#define DHCP_OPT_REQUESTED_IP 50
#define DHCP_OPT_LEASE_TIME 51
#define DHCP_OPT_MSG_TYPE 53
#define DHCP_OPT_SERVER_ID 54
#define DHCP_OPT_PARAM_LIST 55
#define DHCP_OPT_T1 58
#define DHCP_OPT_T2 59
#define DHCP_OPT_END 255

struct dhcp_msg {
    uint8_t op;                 /* 1 BOOTREQUEST, 2 BOOTREPLY */
    uint32_t xid;
    uint16_t flags;             /* 0x8000: broadcast the reply */
    uint32_t ciaddr, yiaddr, siaddr; /* host order */
    uint8_t chaddr[6];
    /* options; 0 means absent */
    uint8_t type;               /* enum dhcp_type */
    uint32_t server_id, requested_ip, subnet_mask, router, dns;
    uint32_t lease_s, t1_s, t2_s;
};

/* 0 on success; -1 when too short, not Ethernet (htype 1, hlen 6), no magic cookie, or an option runs past the
   end. Unknown options are skipped. */
int dhcp_parse(const uint8_t *p, size_t len, struct dhcp_msg *m);
/* Writes a client message (op 1) with options 53, 50 and 54 when nonzero, and 55; returns the length
   (DHCP_MSG_MIN, padded), or 0 when cap is smaller than DHCP_MSG_MIN. */
size_t dhcp_emit(uint8_t *buf, size_t cap, const struct dhcp_msg *m);

#endif

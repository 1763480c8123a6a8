/* DHCP client (RFC 2131): INIT -> SELECTING -> REQUESTING -> BOUND -> RENEWING -> REBINDING, with
   retransmission and exponential back-off, lease renewal at T1 and rebinding at T2. Wire format in
   net/dhcp_wire.c; it binds UDP port 68 (net/udp.c) and sets the address with net_set_address (net/net.c). */
#ifndef NET_DHCP_H
#define NET_DHCP_H
#include <stdint.h>

enum dhcp_state {
    DHCP_STATE_OFF = 0, DHCP_STATE_SELECTING, DHCP_STATE_REQUESTING, DHCP_STATE_BOUND,
    DHCP_STATE_RENEWING, DHCP_STATE_REBINDING,
};

void dhcp_start(void);                /* from any state: forget the lease, send DISCOVER */
void dhcp_stop(void);
void dhcp_poll(uint64_t now_ns);      /* retransmissions and lease timers */
enum dhcp_state dhcp_get_state(void);
uint32_t dhcp_server(void);           /* server identifier of the lease, 0 when none */
uint64_t dhcp_lease_end_ns(void);

#endif

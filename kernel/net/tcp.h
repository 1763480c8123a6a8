/* TCP: the socket-style API the HTTP server uses, and the entry points the IPv4 layer and the event loop call.
   The state machine is in net/tcp.c, segment parse/emit in net/tcp_wire.c. Connections are named by handles
   that carry a generation count, so a stale handle to a reused slot is detected, never confused. */
#ifndef NET_TCP_H
#define NET_TCP_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef uint32_t tcp_handle; /* 0 is never a valid handle */

/* --- for the IPv4 layer and the event loop --- */
void tcp_init(void);
/* A TCP segment arrived (IPv4 addresses in host byte order; seg points at the TCP header). */
void tcp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len);
/* Timers: retransmission, persist (zero window), delayed ACK, TIME_WAIT, keepalive. Call often. */
void tcp_poll(uint64_t now_ns);

/* --- for applications (http/) --- */
int tcp_listen(uint16_t port);            /* 0, or < 0 when no listener slot is free */
tcp_handle tcp_accept(uint16_t port);      /* an established connection not yet accepted, or 0 */
/* Copy up to n received bytes; returns bytes copied, 0 when nothing is buffered (see tcp_peer_closed). */
size_t tcp_recv(tcp_handle h, void *buf, size_t n);
size_t tcp_recv_available(tcp_handle h);
/* Queue up to n bytes for sending; returns bytes queued (less than n when the send buffer is full). */
size_t tcp_send(tcp_handle h, const void *buf, size_t n);
size_t tcp_send_space(tcp_handle h);
bool tcp_peer_closed(tcp_handle h);       /* FIN received and every byte before it read */
bool tcp_is_alive(tcp_handle h);          /* false once reset, timed out or fully closed; the handle is dead */
void tcp_close(tcp_handle h);             /* send FIN after queued data; the handle must not be used again */
void tcp_abort(tcp_handle h);             /* send RST and free at once */

struct tcp_stats {
    uint64_t segs_in, segs_out, retransmits, bad_segs, resets_in, resets_out;
    uint64_t conns_opened, conns_closed, conns_active, conns_dropped_no_slot;
};
void tcp_get_stats(struct tcp_stats *st);

#endif

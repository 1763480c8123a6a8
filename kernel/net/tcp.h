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
bool tcp_peer_closed(tcp_handle h);       /* FIN received and every byte before it read; true for a dead handle */
bool tcp_is_alive(tcp_handle h);          /* false once reset, timed out or fully closed; the handle is dead */
/* Send FIN after queued data; the handle must not be used again (later calls on it fail harmlessly).
   Unread bytes are discarded, later ones ACKed and dropped. The slot lives on until the close handshake
   ends (TIME_WAIT is 2 * CLLM_TCP_MSL_MS) or 2 * CLLM_TCP_FIN_WAIT2_MS pass, whichever comes first. */
void tcp_close(tcp_handle h);
void tcp_abort(tcp_handle h);             /* send RST and free at once */
/* Every call taking a handle accepts stale or invalid ones: recv/send return 0, is_alive false. A slot is
   freed the moment its connection ends (RST in or out, retransmission give-up, close handshake done), even
   while the application still holds the handle; the handle's generation count then no longer matches. */

/* segs_in: every segment handed to tcp_input; bad_segs: dropped as malformed (short, bad data offset, bad
   checksum, bad option, broadcast/multicast address); retransmits: segments sent again (timeout, fast
   retransmit); conns_opened/closed: connections that reached ESTABLISHED, and those of them freed since;
   conns_active: slots in use in any state; conns_dropped_no_slot: SYNs refused (no slot, backlog full). */
struct tcp_stats {
    uint64_t segs_in, segs_out, retransmits, bad_segs, resets_in, resets_out;
    uint64_t conns_opened, conns_closed, conns_active, conns_dropped_no_slot;
    uint64_t challenge_acks, dup_segs, ooo_segs, persist_probes, timeouts, fast_retransmits;
};
void tcp_get_stats(struct tcp_stats *st);

/* --- introspection for tests and the metrics endpoint --- */
enum tcp_state {
    TCP_STATE_CLOSED = 0, TCP_STATE_LISTEN, TCP_STATE_SYN_RECEIVED, TCP_STATE_ESTABLISHED,
    TCP_STATE_FIN_WAIT_1, TCP_STATE_FIN_WAIT_2, TCP_STATE_CLOSING, TCP_STATE_TIME_WAIT,
    TCP_STATE_CLOSE_WAIT, TCP_STATE_LAST_ACK,
};
const char *tcp_state_name(enum tcp_state st);
/* State of the connection (remote ip:port -> local port), TCP_STATE_CLOSED when there is none. */
enum tcp_state tcp_conn_state(uint32_t remote_ip, uint16_t remote_port, uint16_t local_port);
size_t tcp_conns_in_use(void);
/* Check every slot's bookkeeping (free slots hold no bytes, no timers; live ones keep their sequence
   numbers ordered and their buffers within bounds). 0 when consistent, else a positive code. */
int tcp_check_invariants(void);

#endif

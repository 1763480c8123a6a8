/* The network stack's front door: attach the interface, poll it from the event loop, read the counters.
   Layers: net/eth.c -> net/arp.c, net/ipv4.c -> net/icmp.c, net/udp.c (-> net/dhcp.c), net/tcp.c.
   The NIC is found by net/net_dev.c (PCI -> drivers/e1000.c); host tests attach a fake (net/netif.h). */
#ifndef NET_NET_H
#define NET_NET_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "net/netif.h"

/* Find the NIC (PCI scan, e1000), attach it and start DHCP or the static address from the build
   configuration (CLLM_NET_DHCP, CLLM_NET_IP, CLLM_NET_NETMASK, CLLM_NET_GATEWAY). Kernel only (net/net_dev.c).
   Returns 0, or < 0 when no supported NIC was found (the kernel then runs without a network). */
int net_init(void);

/* Attach an interface and reset every layer (ARP cache, DHCP, TCP via tcp_init). Host tests call this. */
void net_attach(struct netif *nif);
/* Address configuration: static (host-order addresses), or start the DHCP client. */
void net_config_static(uint32_t ip, uint32_t mask, uint32_t gw);
void net_config_dhcp(void);
/* Apply the build configuration (CLLM_NET_* in core/limits.h): DHCP or static. */
void net_config_default(void);

/* Drain received frames, run the protocols and fire their timers (ARP, DHCP, tcp_poll), then flush the
   transmit ring once. Returns true when it did any work (a frame in or out); the event loop halts with
   cpu_wait_irq() only after a call that returned false. */
bool net_poll(void);

/* A received frame is waiting in the NIC's ring (reads descriptor memory only: no MMIO, no VM exit). The event
   loop may spin on this briefly before halting: under kvm-pvm an interrupt round trip costs far more. */
bool net_rx_ready(void);

/* One received Ethernet frame (the netif's poll calls this; host tests and the fuzzer too). */
void net_input(const uint8_t *frame, size_t len);

/* Transmit one complete Ethernet frame through the interface. Frames sent inside net_poll go out with one
   tail write at its end; frames sent outside (from the HTTP layer) are flushed at once. Returns 0 or < 0. */
int net_output_frame(const void *frame, size_t len);
/* Group transmissions: inside begin/end, frames reach the NIC with one tail write at the end. Nests. */
void net_tx_begin(void);
void net_tx_end(void);

const uint8_t *net_local_mac(void);
uint32_t net_netmask(void);
uint32_t net_gateway(void);
bool net_is_configured(void);   /* an address is bound (static, or a DHCP lease) */
/* Set by net/dhcp.c when a lease is bound (ip 0 = lease lost). */
void net_set_address(uint32_t ip, uint32_t mask, uint32_t gw);
/* While DHCP has no lease (net/dhcp.c turns this on at DISCOVER, off when stopped): unicast datagrams are held
   (a few, see net/net.c) and those for the address that gets bound are delivered then; on() again forgets them.
   ipv4_input offers them with net_hold_datagram, which returns true when it kept one. */
void net_hold_until_bound(bool on);
bool net_hold_datagram(uint32_t dst, const uint8_t *pkt, size_t len);
/* The address is usable (net_config_static, a new DHCP lease): gratuitous ARP, then one ICMP echo to the
   gateway (resolves it now; under QEMU's slirp it also releases frames slirp held for us, see net/net.c). */
void net_address_up(void);
#define NET_PROBE_ICMP_ID 0x636c  /* "cl": the gateway probe's echo identifier */

/* Counters for the metrics endpoint. Every frame that is not delivered is counted under one reason. */
struct net_stats {
    uint64_t frames_in, frames_out, bytes_in, bytes_out;
    uint64_t drop_short, drop_not_for_us, drop_ethertype, drop_tx_full, drop_too_big, drop_no_address;
    uint64_t arp_in, arp_out, arp_requests_out, arp_replies_out, arp_bad, arp_queue_drops, arp_timeouts;
    uint64_t ip_in, ip_out, ip_bad_header, ip_bad_checksum, ip_fragments_dropped, ip_not_for_us, ip_bad_proto;
    uint64_t icmp_in, icmp_echo_replies, icmp_bad;
    uint64_t udp_in, udp_out, udp_bad, udp_bad_checksum, udp_no_port;
    uint64_t dhcp_out, dhcp_in, dhcp_leases, dhcp_naks;
    uint64_t gateway_probes;     /* echo requests net_address_up sent to the gateway */
    uint64_t ip_held;            /* datagrams held while DHCP had no lease (net_hold_datagram) */
};
void net_get_stats(struct net_stats *st);
extern struct net_stats net_stats; /* the layers increment it directly; readers use net_get_stats */

#endif

/* ARP cache and protocol (RFC 826, with the RFC 1122 2.3.2 cache rules: timeouts, queue per unresolved address,
   request retransmission at most once per CLLM_ARP_RETRY_MS). Wire format in net/arp_wire.c; the caller is
   net/ipv4.c (arp_output_ipv4) and net/eth.c (arp_input). */
#include "net/arp.h"
#include "net/arp_wire.h"
#include "net/eth.h"
#include "net/eth_wire.h"
#include "net/ipv4.h"
#include "net/net.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/limits.h"
#include "lib/string.h"

enum arp_state { ARP_STATE_FREE = 0, ARP_STATE_PENDING, ARP_STATE_RESOLVED };

struct arp_queued {
    uint8_t *pkt; /* kmalloc'd IPv4 packet */
    size_t len;
};

struct arp_entry {
    enum arp_state state;
    uint32_t ip;
    uint8_t mac[6];
    uint64_t expires_ns;   /* RESOLVED: when to forget; PENDING: when to send the next request */
    int requests_sent;     /* PENDING */
    int nq;
    struct arp_queued q[CLLM_ARP_QUEUE];
};

static struct arp_entry arp_cache[CLLM_ARP_ENTRIES];

static void arp_entry_free(struct arp_entry *e, int count_drops)
{
    for (int i = 0; i < e->nq; i++) {
        kfree(e->q[i].pkt);
        if (count_drops)
            net_stats.arp_queue_drops++;
    }
    memset(e, 0, sizeof *e);
}

void arp_reset(void)
{
    for (int i = 0; i < CLLM_ARP_ENTRIES; i++)
        arp_entry_free(&arp_cache[i], 0);
}

static struct arp_entry *arp_find(uint32_t ip)
{
    for (int i = 0; i < CLLM_ARP_ENTRIES; i++)
        if (arp_cache[i].state != ARP_STATE_FREE && arp_cache[i].ip == ip)
            return &arp_cache[i];
    return NULL;
}

/* A free entry, else the resolved entry closest to expiry (pending entries hold packets: never evicted). */
static struct arp_entry *arp_alloc(void)
{
    struct arp_entry *victim = NULL;
    for (int i = 0; i < CLLM_ARP_ENTRIES; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state == ARP_STATE_FREE)
            return e;
        if (e->state == ARP_STATE_RESOLVED && (!victim || e->expires_ns < victim->expires_ns))
            victim = e;
    }
    if (victim)
        arp_entry_free(victim, 0);
    return victim;
}

static void arp_send(uint16_t op, const uint8_t eth_dst[6], const uint8_t tha[6], uint32_t tpa)
{
    struct arp_pkt a;
    uint8_t buf[ARP_PKT_LEN];
    a.op = op;
    memcpy(a.sha, net_local_mac(), 6);
    a.spa = net_local_ip();
    memcpy(a.tha, tha, 6);
    a.tpa = tpa;
    arp_emit(buf, &a);
    if (eth_output(eth_dst, ETH_TYPE_ARP, buf, sizeof buf) == 0) {
        net_stats.arp_out++;
        if (op == ARP_OP_REQUEST)
            net_stats.arp_requests_out++;
        else
            net_stats.arp_replies_out++;
    }
}

static void arp_request(uint32_t ip)
{
    static const uint8_t zero[6];
    arp_send(ARP_OP_REQUEST, eth_broadcast_mac, zero, ip);
}

void arp_announce(void)
{
    static const uint8_t zero[6];
    if (net_local_ip())
        arp_send(ARP_OP_REQUEST, eth_broadcast_mac, zero, net_local_ip());
}

/* The entry became resolved: send everything queued for it, in order. */
static void arp_flush_queue(struct arp_entry *e)
{
    for (int i = 0; i < e->nq; i++) {
        eth_output(e->mac, ETH_TYPE_IPV4, e->q[i].pkt, e->q[i].len);
        kfree(e->q[i].pkt);
        e->q[i].pkt = NULL;
    }
    e->nq = 0;
}

static void arp_update(struct arp_entry *e, const uint8_t mac[6])
{
    memcpy(e->mac, mac, 6);
    e->expires_ns = clock_ns() + (uint64_t)CLLM_ARP_TTL_S * 1000000000u;
    e->requests_sent = 0;
    int was_pending = e->state == ARP_STATE_PENDING;
    e->state = ARP_STATE_RESOLVED;
    if (was_pending)
        arp_flush_queue(e);
}

void arp_input(const uint8_t *pkt, size_t len)
{
    struct arp_pkt a;
    net_stats.arp_in++;
    if (arp_parse(pkt, len, &a) < 0) {
        net_stats.arp_bad++;
        return;
    }
    uint32_t me = net_local_ip();
    /* Never learn a multicast MAC, our own address, or the unspecified sender of a probe (RFC 5227). */
    if (a.spa != 0 && a.spa != 0xffffffffu && a.spa != me && !eth_is_multicast(a.sha)) {
        /* RFC 826 merge: update an entry we have; add one only when the packet is aimed at us. */
        struct arp_entry *e = arp_find(a.spa);
        if (e)
            arp_update(e, a.sha);
        else if (me && a.tpa == me && (e = arp_alloc()) != NULL) {
            e->ip = a.spa;
            arp_update(e, a.sha);
        }
    }
    if (a.op == ARP_OP_REQUEST && me && a.tpa == me && !eth_is_multicast(a.sha))
        arp_send(ARP_OP_REPLY, a.sha, a.sha, a.spa);
}

int arp_lookup(uint32_t ip, uint8_t mac[6])
{
    struct arp_entry *e = arp_find(ip);
    if (!e || e->state != ARP_STATE_RESOLVED)
        return -1;
    memcpy(mac, e->mac, 6);
    return 0;
}

int arp_output_ipv4(uint32_t next_hop, const uint8_t *pkt, size_t len)
{
    struct arp_entry *e = arp_find(next_hop);
    if (e && e->state == ARP_STATE_RESOLVED)
        return eth_output(e->mac, ETH_TYPE_IPV4, pkt, len);
    if (!e) {
        e = arp_alloc();
        if (!e) {
            net_stats.arp_queue_drops++;
            return -1;
        }
        e->state = ARP_STATE_PENDING;
        e->ip = next_hop;
        e->requests_sent = 1;
        e->expires_ns = clock_ns() + (uint64_t)CLLM_ARP_RETRY_MS * 1000000u;
        arp_request(next_hop);
    }
    if (e->nq >= CLLM_ARP_QUEUE) {
        net_stats.arp_queue_drops++;
        return -1;
    }
    uint8_t *copy = kmalloc(len);
    if (!copy) {
        net_stats.arp_queue_drops++;
        return -1;
    }
    memcpy(copy, pkt, len);
    e->q[e->nq].pkt = copy;
    e->q[e->nq].len = len;
    e->nq++;
    return 1;
}

void arp_poll(uint64_t now_ns)
{
    for (int i = 0; i < CLLM_ARP_ENTRIES; i++) {
        struct arp_entry *e = &arp_cache[i];
        if (e->state == ARP_STATE_FREE || now_ns < e->expires_ns)
            continue;
        if (e->state == ARP_STATE_RESOLVED) {
            arp_entry_free(e, 0); /* aged out; the next packet to it asks again */
        } else if (e->requests_sent >= CLLM_ARP_RETRIES) {
            net_stats.arp_timeouts++;
            arp_entry_free(e, 1);
        } else {
            e->requests_sent++;
            e->expires_ns = now_ns + (uint64_t)CLLM_ARP_RETRY_MS * 1000000u;
            arp_request(e->ip);
        }
    }
}

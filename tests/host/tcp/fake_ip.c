/* Host test stand-in for the IPv4 layer (net/ipv4.h) under net/tcp.c: ipv4_output captures each TCP segment
   in a FIFO that tests drain (fake_ip_pop), and the local address and MTU are set by the test.
   Used by the ctypes library (tests/test_tcp_*.py) and the fuzz harness (fuzz_tcp.c). */
#include <stdint.h>
#include <string.h>
#include "net/ipv4.h"

#define FAKE_IP_SLOTS 8192
#define FAKE_IP_MAX 1600

struct fake_ip_pkt { uint32_t dst; uint8_t proto; uint16_t len; uint8_t data[FAKE_IP_MAX]; };

static struct fake_ip_pkt fake_ip_q[FAKE_IP_SLOTS];
static unsigned fake_ip_head, fake_ip_count_;
static uint32_t fake_ip_local = 0x0a000002u; /* 10.0.0.2 */
static size_t fake_ip_mtu = 1500;
static int fake_ip_fail;
static unsigned long fake_ip_overflow;

int ipv4_output(uint32_t dst_ip, uint8_t proto, const void *payload, size_t len)
{
    if (fake_ip_fail || len > FAKE_IP_MAX || len + 20 > fake_ip_mtu)
        return -1;
    if (fake_ip_count_ == FAKE_IP_SLOTS) { /* the oldest is lost, like a full NIC queue */
        fake_ip_head = (fake_ip_head + 1) % FAKE_IP_SLOTS;
        fake_ip_count_--;
        fake_ip_overflow++;
    }
    struct fake_ip_pkt *p = &fake_ip_q[(fake_ip_head + fake_ip_count_) % FAKE_IP_SLOTS];
    p->dst = dst_ip;
    p->proto = proto;
    p->len = (uint16_t)len;
    memcpy(p->data, payload, len);
    fake_ip_count_++;
    return 0;
}

uint32_t net_local_ip(void) { return fake_ip_local; }
size_t net_mtu(void) { return fake_ip_mtu; }

void fake_ip_set_local(uint32_t ip) { fake_ip_local = ip; }
void fake_ip_set_mtu(size_t mtu) { fake_ip_mtu = mtu; }
void fake_ip_set_fail(int fail) { fake_ip_fail = fail; }
unsigned fake_ip_count(void) { return fake_ip_count_; }
void fake_ip_clear(void) { fake_ip_head = fake_ip_count_ = 0; }

/* Oldest captured datagram payload into buf; returns its length, -1 when none. */
int fake_ip_pop(uint8_t *buf, size_t cap, uint32_t *dst, uint8_t *proto)
{
    if (!fake_ip_count_)
        return -1;
    struct fake_ip_pkt *p = &fake_ip_q[fake_ip_head];
    fake_ip_head = (fake_ip_head + 1) % FAKE_IP_SLOTS;
    fake_ip_count_--;
    size_t n = p->len < cap ? p->len : cap;
    memcpy(buf, p->data, n);
    if (dst)
        *dst = p->dst;
    if (proto)
        *proto = p->proto;
    return (int)n;
}

/* Stand-in for net/tcp.c in host tests of the layers below TCP: records what IPv4 delivers and lets a test send
   a segment through ipv4_output, so the IPv4 <-> TCP seam is tested without the TCP state machine. */
#include <string.h>
#include "net/tcp.h"

static int stub_inputs, stub_polls, stub_inits;
static uint32_t stub_src, stub_dst;
static size_t stub_len;
static uint8_t stub_seg[1500];

void tcp_init(void) { stub_inits++; stub_inputs = stub_polls = 0; }
void tcp_input(uint32_t src_ip, uint32_t dst_ip, const uint8_t *seg, size_t len)
{
    stub_inputs++;
    stub_src = src_ip;
    stub_dst = dst_ip;
    stub_len = len < sizeof stub_seg ? len : sizeof stub_seg;
    memcpy(stub_seg, seg, stub_len);
}
void tcp_poll(uint64_t now_ns) { (void)now_ns; stub_polls++; }

int tcp_stub_inputs(void) { return stub_inputs; }
int tcp_stub_polls(void) { return stub_polls; }
uint32_t tcp_stub_src(void) { return stub_src; }
uint32_t tcp_stub_dst(void) { return stub_dst; }
size_t tcp_stub_seg(uint8_t *buf, size_t cap)
{
    size_t n = stub_len < cap ? stub_len : cap;
    memcpy(buf, stub_seg, n);
    return stub_len;
}

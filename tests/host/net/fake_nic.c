/* A fake NIC for host tests of the network stack below TCP (kernel/net): frames the test injects come out of
   poll(); frames the stack sends are kept in a list the test reads back. Built with the stack into
   libnettest.so and driven from tests/test_net_stack.py through ctypes (see nethost.py beside this file). */
#include <stdlib.h>
#include <string.h>
#include "net/net.h"
#include "net/netif.h"

#define FAKE_MAX_FRAMES 4096

struct fake_frame {
    size_t len;
    uint8_t data[1514];
};

static struct fake_frame *fake_rx_q, *fake_tx_q;
static int fake_rx_n, fake_rx_head, fake_tx_n;
static int fake_tx_queued_unflushed;
static int fake_flushes, fake_tx_full;
static struct netif fake_nif;

static int fake_send(struct netif *nif, const void *frame, size_t len)
{
    (void)nif;
    if (fake_tx_full || fake_tx_n >= FAKE_MAX_FRAMES || len > 1514)
        return -1;
    fake_tx_q[fake_tx_n].len = len;
    memcpy(fake_tx_q[fake_tx_n].data, frame, len);
    fake_tx_n++;
    fake_tx_queued_unflushed++;
    return 0;
}

static void fake_flush(struct netif *nif)
{
    (void)nif;
    fake_flushes++;
    fake_tx_queued_unflushed = 0;
}

static int fake_poll(struct netif *nif, int budget, void (*rx)(const uint8_t *frame, size_t len))
{
    int n = 0;
    (void)nif;
    while (n < budget && fake_rx_head < fake_rx_n) {
        rx(fake_rx_q[fake_rx_head].data, fake_rx_q[fake_rx_head].len);
        fake_rx_head++;
        n++;
    }
    if (fake_rx_head == fake_rx_n)
        fake_rx_head = fake_rx_n = 0;
    return n;
}

static bool fake_link_up(struct netif *nif) { (void)nif; return true; }

void fake_nic_attach(const uint8_t mac[6])
{
    if (!fake_rx_q) {
        fake_rx_q = calloc(FAKE_MAX_FRAMES, sizeof *fake_rx_q);
        fake_tx_q = calloc(FAKE_MAX_FRAMES, sizeof *fake_tx_q);
    }
    fake_rx_n = fake_rx_head = fake_tx_n = fake_flushes = fake_tx_full = fake_tx_queued_unflushed = 0;
    memcpy(fake_nif.mac, mac, 6);
    fake_nif.send = fake_send;
    fake_nif.flush = fake_flush;
    fake_nif.poll = fake_poll;
    fake_nif.link_up = fake_link_up;
    net_attach(&fake_nif);
}

/* Queue a frame for the next net_poll. Returns 0, -1 when the queue is full or the frame too long. */
int fake_nic_rx(const uint8_t *frame, size_t len)
{
    if (fake_rx_n >= FAKE_MAX_FRAMES || len > 1514)
        return -1;
    fake_rx_q[fake_rx_n].len = len;
    memcpy(fake_rx_q[fake_rx_n].data, frame, len);
    fake_rx_n++;
    return 0;
}

int fake_nic_tx_count(void) { return fake_tx_n; }
int fake_nic_flushes(void) { return fake_flushes; }
int fake_nic_unflushed(void) { return fake_tx_queued_unflushed; }
void fake_nic_set_tx_full(int full) { fake_tx_full = full; }

/* Copy sent frame i into buf; returns its length, or -1. */
int fake_nic_tx_get(int i, uint8_t *buf, size_t cap)
{
    if (i < 0 || i >= fake_tx_n || fake_tx_q[i].len > cap)
        return -1;
    memcpy(buf, fake_tx_q[i].data, fake_tx_q[i].len);
    return (int)fake_tx_q[i].len;
}

void fake_nic_tx_clear(void) { fake_tx_n = 0; }

size_t fake_net_stats_size(void) { return sizeof(struct net_stats); }

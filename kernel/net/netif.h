/* The network interface as the stack sees it: a MAC address and four operations. drivers/e1000.c fills one
   in for the real NIC; tests/host/net/fake_nic.c fills one in for host tests. The stack (net/net.c) never
   touches hardware except through this struct. */
#ifndef NET_NETIF_H
#define NET_NETIF_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct netif {
    uint8_t mac[6];
    void *priv;    /* the driver's state */
    /* Queue one frame (len <= 1514, without FCS; copied before return). It reaches the wire only after flush.
       Returns 0, or < 0 when the transmit ring is full (the frame is dropped by the caller and counted). */
    int (*send)(struct netif *nif, const void *frame, size_t len);
    /* Hand every queued frame to the hardware with one tail-register write. */
    void (*flush)(struct netif *nif);
    /* Receive up to budget frames, passing each to rx (which must not keep the pointer); returns how many.
       Also acknowledges the NIC's interrupt cause, before draining, so a frame arriving after the drain
       raises a new interrupt. */
    int (*poll)(struct netif *nif, int budget, void (*rx)(const uint8_t *frame, size_t len));
    bool (*link_up)(struct netif *nif);
    /* A received frame is waiting (memory read only, no register access); NULL when the driver cannot tell. */
    bool (*rx_ready)(struct netif *nif);
};

#endif

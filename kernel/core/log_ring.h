/* A byte ring for console output that is written later (core/serial.c queues the log in one so a log line costs
   a memcpy, not a trap per byte; the event loop drains it when idle). Pure: no kernel services, built for the
   host tests too (tests/host/core/log_ring_test.c). Nothing is ever dropped: when a write does not fit, the
   oldest bytes are handed to the sink first, so output order is always the order of the writes. */
#ifndef CORE_LOG_RING_H
#define CORE_LOG_RING_H
#include <stddef.h>
#include <stdint.h>

/* Where drained bytes go (the UART under the kernel; a buffer in the tests). */
typedef void (*log_ring_sink)(void *user, const char *s, size_t n);

struct log_ring {
    char *buf;
    size_t cap;        /* bytes of buf */
    uint64_t head;     /* total bytes ever written (next write at head % cap) */
    uint64_t tail;     /* total bytes ever drained */
};

void log_ring_init(struct log_ring *r, char *buf, size_t cap);
static inline size_t log_ring_used(const struct log_ring *r) { return (size_t)(r->head - r->tail); }
/* Queue n bytes; first drains to sink whatever does not fit (n larger than the ring goes to sink directly). */
void log_ring_put(struct log_ring *r, const char *s, size_t n, log_ring_sink sink, void *user);
/* Drain at most max bytes, oldest first, in at most two sink calls (the wrap). Returns the bytes drained. */
size_t log_ring_drain(struct log_ring *r, size_t max, log_ring_sink sink, void *user);

#endif

/* The console byte ring (core/log_ring.h). The kernel's user is core/serial.c. */
#include "core/log_ring.h"
#include "lib/string.h"

void log_ring_init(struct log_ring *r, char *buf, size_t cap)
{
    r->buf = buf;
    r->cap = cap;
    r->head = r->tail = 0;
}

size_t log_ring_drain(struct log_ring *r, size_t max, log_ring_sink sink, void *user)
{
    size_t done = 0;
    while (done < max && r->tail != r->head) {
        size_t at = (size_t)(r->tail % r->cap);
        size_t n = log_ring_used(r);
        if (n > r->cap - at)
            n = r->cap - at;       /* up to the end of the buffer; the rest after the wrap */
        if (n > max - done)
            n = max - done;
        sink(user, r->buf + at, n);
        r->tail += n;
        done += n;
    }
    return done;
}

void log_ring_put(struct log_ring *r, const char *s, size_t n, log_ring_sink sink, void *user)
{
    if (n > r->cap) {              /* larger than the whole ring: everything queued, then this, straight out */
        log_ring_drain(r, log_ring_used(r), sink, user);
        sink(user, s, n);
        return;
    }
    size_t free_bytes = r->cap - log_ring_used(r);
    if (n > free_bytes)
        log_ring_drain(r, n - free_bytes, sink, user);
    while (n) {
        size_t at = (size_t)(r->head % r->cap);
        size_t k = r->cap - at < n ? r->cap - at : n;
        memcpy(r->buf + at, s, k);
        r->head += k;
        s += k;
        n -= k;
    }
}

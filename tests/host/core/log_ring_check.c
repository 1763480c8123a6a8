/* Host harness for kernel/core/log_ring.c (tests/test_kernel_log_ring.py drives it through ctypes): one ring over
   a buffer of the size the test asks for, and a sink that appends what is drained to an output buffer and counts
   its calls. */
#include <stdlib.h>
#include <string.h>
#include "core/log_ring.h"

#define OUT_MAX (64u << 20)

static struct log_ring ring;
static char *ring_buf, *out;
static size_t out_len, sink_calls;

static void sink(void *user, const char *s, size_t n)
{
    (void)user;
    if (out_len + n <= OUT_MAX)
        memcpy(out + out_len, s, n);
    out_len += n;
    sink_calls++;
}

int lr_init(size_t cap)
{
    free(ring_buf);
    ring_buf = malloc(cap);
    if (!out)
        out = malloc(OUT_MAX);
    out_len = sink_calls = 0;
    if (!ring_buf || !out)
        return -1;
    log_ring_init(&ring, ring_buf, cap);
    return 0;
}

void lr_put(const char *s, size_t n) { log_ring_put(&ring, s, n, sink, 0); }
size_t lr_drain(size_t max) { return log_ring_drain(&ring, max, sink, 0); }
size_t lr_used(void) { return log_ring_used(&ring); }
size_t lr_out_len(void) { return out_len; }
size_t lr_sink_calls(void) { return sink_calls; }
const char *lr_out(void) { return out; }

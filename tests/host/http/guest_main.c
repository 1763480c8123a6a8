/* The guest-side program of the HTTP boot tests (tests/test_http_boot.py): it replaces kernel/core/main.c in a
   copy of the kernel tree (tests/host/http/httpboot.py) and serves the real HTTP server (GET /health) plus two
   test routes that exercise handlers the way the API will: POST /echo answers the body at once, and
   GET /stream?N sends N Server-Sent Events from the event loop, one per loop pass at most every 5 ms, then ends the
   stream; a client that leaves mid-stream is reported on the serial log ("HTTPBOOT cancel N") by the cancel
   callback. Boot order as in kmain: serial, CPU + clock, heap, interrupts, PCI + network, HTTP. */
#include <stdint.h>
#include "arch/x86/cpu.h"
#include "arch/x86/io.h"
#include "arch/x86/irq.h"
#include "core/clock.h"
#include "core/heap.h"
#include "core/log.h"
#include "core/mboot.h"
#include "core/power.h"
#include "core/serial.h"
#include "drivers/pci.h"
#include "http/http_server.h"
#include "http/router.h"
#include "lib/fmt.h"
#include "lib/parse.h"
#include "net/net.h"

#define GUEST_HEAP_BYTES (64u << 20) /* the tests boot with -m 256 */
extern const uint8_t __image_end[];

static struct {
    http_reply reply;  /* 0: no stream running */
    uint64_t left, sent, next_ns;
} stream;
static unsigned cancels;

static void echo_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)ctx;
    http_reply_send(r, 200, "application/octet-stream", req->body, req->body_len);
}

static void stream_cancel(void *ctx)
{
    (void)ctx;
    kprintf("HTTPBOOT cancel %u after %llu events\n", ++cancels, (unsigned long long)stream.sent);
    stream.reply = 0;
}

static void stream_handle(const struct http_request *req, http_reply r, void *ctx)
{
    (void)ctx;
    uint64_t n = 10;
    bool overflow = false;
    if (req->head->query)
        parse_u64(req->head->query, req->head->query_len, &n, &overflow);
    if (stream.reply) {
        http_reply_error(r, 503, "one stream at a time");
        return;
    }
    stream.reply = r;
    stream.left = n;
    stream.sent = 0;
    stream.next_ns = 0;
    http_reply_defer(r, stream_cancel, NULL);
    http_reply_stream_begin(r, 200, "text/event-stream");
}

/* One event per call at most, as a generation loop would produce tokens. Returns whether it did anything. */
static bool stream_step(uint64_t now)
{
    if (!stream.reply || now < stream.next_ns)
        return false;
    if (stream.left == 0) {
        http_reply_stream_end(stream.reply);
        stream.reply = 0;
        return true;
    }
    char ev[96];
    int n = fmt_snprintf(ev, sizeof ev, "{\"index\":%llu,\"t_ns\":%llu}", (unsigned long long)stream.sent,
                         (unsigned long long)now);
    if (http_reply_sse(stream.reply, ev, (size_t)n)) {
        stream.sent++;
        stream.left--;
        stream.next_ns = now + 5000000ull;
    }
    return true;
}

void kmain(uint32_t mb_magic, uint32_t mb_info)
{
    serial_init();
    cpu_init();
    clock_init();
    mboot_init(mb_magic, mb_info);
    uint64_t heap_base = ((uint64_t)(uintptr_t)__image_end + (2u << 20)) & ~(uint64_t)((1u << 20) - 1);
    if (heap_add_region(heap_base, GUEST_HEAP_BYTES) < 0) {
        kprintf("HTTPBOOT no heap\n");
        power_exit(2);
    }
    irq_init();
    pci_init();
    if (net_init() < 0) {
        kprintf("HTTPBOOT no network\n");
        power_exit(2);
    }
    if (!http_server_init(0)) {
        kprintf("HTTPBOOT no http server\n");
        power_exit(2);
    }
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_POST), "/echo", echo_handle, NULL);
    router_add(HTTP_METHOD_BIT(HTTP_METHOD_GET), "/stream", stream_handle, NULL);
    irq_start_timer(); /* the 100 Hz tick, calibrated over the set-up above */
    kprintf("HTTPBOOT up\n");
    bool bound = false;
    for (;;) {
        bool worked = net_poll();
        uint64_t now = clock_ns();
        worked |= http_server_poll(now);
        worked |= stream_step(now);
        if (!worked && !stream.reply)
            cpu_wait_irq();
        irq_take_pending();
        if (!bound && net_is_configured()) {
            bound = true;
            kprintf("HTTPBOOT bound\n");
        }
    }
}

__attribute__((weak)) void panic(const char *fmt, ...)
{
    kprintf("HTTPBOOT panic: %s\n", fmt);
    power_exit(3);
}

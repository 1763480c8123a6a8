/* COM1 16550 UART (PC16550D datasheet): initialised once, then written through the monitor's block write (one
   trap per call, not per byte: port I/O is a trap from CPL 3), either at once (serial_write) or later from a
   queue the event loop drains (serial_queue/serial_drain; the ring itself is core/log_ring.c). The queue has a
   lock because a fault on another CPU may print while the boot CPU logs; a fault dump that finds the lock taken
   skips the queue rather than wait (the dump matters more than the order then). */
#include "core/serial.h"
#include "arch/x86/io.h"
#include "core/limits.h"
#include "core/log_ring.h"

#define COM1 0x3f8
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_FCR 2 /* FIFO control */
#define UART_LCR 3 /* line control */
#define UART_MCR 4 /* modem control */
#define UART_LCR_DLAB 0x80
#define UART_LCR_8N1 0x03
#define SERIAL_LOCK_SPINS 100000000u /* pause loops before a waiter gives up the lock (a holder that faulted) */

static char serial_buf[CLLM_LOG_QUEUE_BYTES];
static struct log_ring serial_ring = { serial_buf, sizeof serial_buf, 0, 0 };
static volatile int serial_lock_word;
static bool serial_sync;

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, UART_LCR_DLAB);
    outb(COM1 + UART_DLL, 1); /* 115200 baud: divisor 1 */
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, UART_LCR_8N1);
    outb(COM1 + UART_FCR, 0xc7); /* enable and clear FIFOs, 14-byte threshold */
    outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

static void serial_out(void *user, const char *s, size_t n)
{
    (void)user;
    if (n)
        monitor_call(MON_SERIAL_WRITE, (uint64_t)(uintptr_t)s, n, 0);
}

static bool serial_lock(void)
{
    for (uint32_t i = 0; i < SERIAL_LOCK_SPINS; i++) {
        if (!__atomic_exchange_n(&serial_lock_word, 1, __ATOMIC_ACQUIRE))
            return true;
        cpu_relax();
    }
    return false;
}

static void serial_unlock(void) { __atomic_store_n(&serial_lock_word, 0, __ATOMIC_RELEASE); }

void serial_write(const char *s, size_t n)
{
    if (serial_lock()) {
        log_ring_drain(&serial_ring, log_ring_used(&serial_ring), serial_out, 0);
        serial_out(0, s, n);
        serial_unlock();
    } else {
        serial_out(0, s, n);
    }
}

void serial_queue(const char *s, size_t n)
{
    if (serial_sync) {
        serial_write(s, n);
        return;
    }
    if (!serial_lock()) {
        serial_out(0, s, n);
        return;
    }
    log_ring_put(&serial_ring, s, n, serial_out, 0);
    serial_unlock();
}

size_t serial_drain(size_t max)
{
    if (!log_ring_used(&serial_ring) || !serial_lock())
        return 0;
    size_t n = log_ring_drain(&serial_ring, max, serial_out, 0);
    serial_unlock();
    return n;
}

void serial_flush(void)
{
    if (!serial_lock())
        return;
    log_ring_drain(&serial_ring, log_ring_used(&serial_ring), serial_out, 0);
    serial_unlock();
}

size_t serial_pending(void) { return log_ring_used(&serial_ring); }

void serial_set_sync(bool sync)
{
    serial_sync = sync;
    if (sync)
        serial_flush();
}

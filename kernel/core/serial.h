/* COM1 serial console (16550 UART at 0x3f8, 115200 8N1): the log and the test harness read it.
   Every byte written to the UART is a trap through the ring-0 monitor and a QEMU exit (~20 us under kvm-pvm), so
   the log is queued (serial_queue, into a core/log_ring.h ring) and written out by the event loop when it is idle
   (serial_drain, in bounded pieces); serial_write is the synchronous path (panics, faults, the boot self-test's
   output) and first writes out whatever is queued, so the console always shows bytes in the order they were
   produced. power_exit flushes the queue before leaving. */
#ifndef CORE_SERIAL_H
#define CORE_SERIAL_H
#include <stdbool.h>
#include <stddef.h>

void serial_init(void);
void serial_write(const char *s, size_t n);   /* synchronous: the queue first, then s */
void serial_queue(const char *s, size_t n);   /* asynchronous (synchronous after serial_set_sync(true)) */
size_t serial_drain(size_t max);              /* write out at most max queued bytes; returns how many */
void serial_flush(void);                      /* write out everything queued */
size_t serial_pending(void);                  /* bytes queued */
void serial_set_sync(bool sync);              /* true: serial_queue writes at once (log=sync, fault dumps) */

#endif

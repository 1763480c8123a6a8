/* kprintf and leveled logging onto both consoles: COM1 (core/serial.c) and VGA text (core/vga.c, once
   vga_init has run). Leveled log lines are queued for the serial port and written out by the event loop when
   it is idle (core/serial.h: a log line would otherwise cost ~1 ms of traps at boot); kprintf writes at once
   (after anything queued), for panics, fault dumps and the boot self-test's streamed output. */
#include "core/log.h"
#include "core/limits.h"
#include "core/serial.h"
#include "core/vga.h"
#include "core/clock.h"
#include "lib/fmt.h"
#include <stdarg.h>
#include <stdbool.h>

static void console_write(const char *s, size_t n, bool now)
{
    if (now)
        serial_write(s, n);
    else
        serial_queue(s, n);
    vga_write(s, n);
}

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = fmt_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    if (n > 0)
        console_write(buf, (size_t)n, true);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    static const char letters[] = "EWID";
    if ((int)level > CLLM_LOG_LEVEL)
        return;
    char buf[512];
    uint64_t us = clock_us();
    int n = fmt_snprintf(buf, sizeof buf, "[%5u.%06u] %c ", (unsigned)(us / 1000000u), (unsigned)(us % 1000000u),
                         letters[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    n += fmt_vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    console_write(buf, (size_t)n, false);
}

/* Host-build stand-ins for the kernel services that pure modules call: the heap (malloc), the log (stderr)
   and a clock that tests set by hand (host_clock_set_ns). Link it into every host test binary or library.
   Kernel modules never see this file: they include the same headers (core/heap.h, core/log.h, core/clock.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/clock.h"
#include "core/heap.h"
#include "core/log.h"
#include "lib/fmt.h"

void *kmalloc(size_t n) { return n ? malloc(n) : malloc(1); }
void *kcalloc(size_t count, size_t size) { return calloc(count ? count : 1, size ? size : 1); }
void *krealloc(void *p, size_t n) { return realloc(p, n ? n : 1); }
void kfree(void *p) { free(p); }
void *kmalloc_aligned(size_t n, size_t align)
{
    void *p = NULL;
    if (align < sizeof(void *))
        align = sizeof(void *);
    return posix_memalign(&p, align, n ? n : 1) ? NULL : p;
}
void heap_get_stats(struct heap_stats *st) { memset(st, 0, sizeof *st); }

static uint64_t host_now_ns;
void host_clock_set_ns(uint64_t ns) { host_now_ns = ns; }
uint64_t clock_ns(void) { return host_now_ns; }
void clock_delay_us(uint32_t us) { host_now_ns += (uint64_t)us * 1000u; }

int host_log_quiet = 0; /* tests may set this to silence the log */

void kprintf(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!host_log_quiet)
        fputs(buf, stderr);
}

void log_write(enum log_level level, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    fmt_vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (!host_log_quiet)
        fprintf(stderr, "%c %s\n", "EWID"[level & 3], buf);
}

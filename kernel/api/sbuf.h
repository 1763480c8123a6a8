/* A growing byte buffer on the kernel heap, bounded by a maximum size: the API's text accumulator (generated
   content, rendered chat prompts, Prometheus text). Running out of room or memory marks it failed; callers check
   once at the end. Header-only; used by the api/ files. */
#ifndef API_SBUF_H
#define API_SBUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "core/heap.h"
#include "lib/fmt.h"
#include "lib/string.h"

struct sbuf {
    char *p;        /* NUL-terminated when not NULL */
    size_t len, cap, max;
    bool failed;
};

static inline void sbuf_init(struct sbuf *b, size_t max)
{
    b->p = NULL;
    b->len = b->cap = 0;
    b->max = max;
    b->failed = false;
}

static inline void sbuf_free(struct sbuf *b)
{
    kfree(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static inline bool sbuf_reserve(struct sbuf *b, size_t extra)
{
    if (b->failed)
        return false;
    if (extra > b->max || b->len + extra > b->max) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    char *p = krealloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

static inline void sbuf_add(struct sbuf *b, const void *s, size_t n)
{
    if (!sbuf_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static inline void sbuf_adds(struct sbuf *b, const char *s) { sbuf_add(b, s, strlen(s)); }

static inline void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char tmp[256];
    int n = fmt_vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        b->failed = true;
        return;
    }
    sbuf_add(b, tmp, (size_t)n);
}

/* Cut to n bytes (n <= len). */
static inline void sbuf_truncate(struct sbuf *b, size_t n)
{
    if (n < b->len) {
        b->len = n;
        b->p[n] = 0;
    }
}

#endif

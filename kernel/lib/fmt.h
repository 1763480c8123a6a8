/* printf-style formatting into a buffer, the same in the kernel and in host builds.
   Conversions: %d %i %u %x %X %o %c %s %p %% with flags (- + space 0 #), width, precision and the
   length modifiers hh h l ll z j t; %f %e %g for doubles. Output is always NUL-terminated when n > 0;
   the return value is the length the full output would have (as C99 snprintf). */
#ifndef LIB_FMT_H
#define LIB_FMT_H
#include <stdarg.h>
#include <stddef.h>

int fmt_snprintf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap);

/* The shortest decimal that reads back as v (what JSON numbers need), formatted like Python's repr():
   "0.1", "1.0", "-0.0", "1e+16", "1.5e-05". Returns the length (as snprintf), or -1 for nan and
   infinities, which JSON cannot carry: the caller decides what to write then (buf gets ""). */
int fmt_double_shortest(char *buf, size_t n, double v);

#endif

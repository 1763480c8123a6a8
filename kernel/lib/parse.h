/* Number parsing without locale: integers with overflow detection, and doubles correctly rounded.
   Each function reads from s up to s + len (no NUL needed) and returns the number of bytes consumed,
   0 when no number starts at s. */
#ifndef LIB_PARSE_H
#define LIB_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

size_t parse_i64(const char *s, size_t len, int64_t *out, bool *overflow);
size_t parse_u64(const char *s, size_t len, uint64_t *out, bool *overflow);
size_t parse_double(const char *s, size_t len, double *out);

#endif

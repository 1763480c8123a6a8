/* Number parsing without locale: integers with overflow detection, and doubles correctly rounded.
   Each function reads from s up to s + len (no NUL needed) and returns the number of bytes consumed,
   0 when no number starts at s. No leading whitespace is skipped.
   Integers: [+-]?[0-9]+ (parse_u64 takes no '-'); on overflow *overflow is set, *out saturates, and the
   digits are still consumed. Doubles: [+-]? (digits [. digits] | . digits) ([eE] [+-]? digits)?, and
   inf, infinity, nan (any case) as strtod reads them. */
#ifndef LIB_PARSE_H
#define LIB_PARSE_H
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

size_t parse_i64(const char *s, size_t len, int64_t *out, bool *overflow);
size_t parse_u64(const char *s, size_t len, uint64_t *out, bool *overflow);
size_t parse_double(const char *s, size_t len, double *out);

/* The double nearest to D * 10^exp10 (ties to even), where D is the integer written by the ASCII digits
   digits[0..nd) (no sign, no point). Used by parse_double and by fmt_double_shortest's round-trip check. */
double parse_decimal_digits(const char *digits, size_t nd, int64_t exp10);

#endif

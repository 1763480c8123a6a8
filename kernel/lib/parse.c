/* Number parsing (lib/parse.h): integers with overflow detection, and doubles correctly rounded
   (round to nearest, ties to even) for any input length. Doubles: a fast exact path (Clinger) when the
   digits and the power of ten are both exactly representable, otherwise exact big-integer arithmetic
   (lib/bigint.h). Printing is the mirror image, in lib/fmt.c. */
#include "lib/parse.h"
#include "lib/bigint.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

size_t parse_u64(const char *s, size_t len, uint64_t *out, bool *overflow)
{
    size_t i = 0;
    bool ovf = false;
    uint64_t v = 0;
    if (i < len && s[i] == '+')
        i++;
    size_t start = i;
    for (; i < len && is_digit(s[i]); i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            ovf = true;
            v = UINT64_MAX;
        } else if (!ovf) {
            v = v * 10 + d;
        }
    }
    if (i == start)
        return 0;
    *out = v;
    if (overflow)
        *overflow = ovf;
    return i;
}

size_t parse_i64(const char *s, size_t len, int64_t *out, bool *overflow)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i >= len || !is_digit(s[i]))
        return 0;
    uint64_t u;
    bool ovf = false;
    size_t n = parse_u64(s + i, len - i, &u, &ovf);
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (ovf || u > limit) {
        ovf = true;
        u = limit;
    }
    *out = neg ? (int64_t)(0 - u) : (int64_t)u;
    if (overflow)
        *overflow = ovf;
    return i + n;
}

/* ---- doubles ------------------------------------------------------------------------------------------ */

static double double_from_bits(uint64_t b)
{
    double d;
    __builtin_memcpy(&d, &b, sizeof d);
    return d;
}

/* The double nearest to top * 2^exp2 (+ a little more when sticky), top != 0, ties to even. */
static double make_double(uint64_t top, bool sticky, int64_t exp2)
{
    int lz = __builtin_clzll(top); /* normalize: bit 63 set */
    top <<= lz;
    exp2 -= lz;
    int64_t lead = exp2 + 63; /* exponent of the leading bit */
    if (lead > 1023)
        return double_from_bits(0x7ff0000000000000ull);
    int64_t shift; /* bits of top to drop */
    if (lead >= -1022)
        shift = 11;
    else
        shift = -1074 - exp2; /* subnormal: the last kept bit weighs 2^-1074 */
    if (shift > 64)
        return 0.0;
    uint64_t kept, rem, half;
    if (shift == 64) {
        kept = 0;
        rem = top;
        half = 1ull << 63;
    } else {
        kept = top >> shift;
        rem = top & ((1ull << shift) - 1);
        half = 1ull << (shift - 1);
    }
    if (rem > half || (rem == half && (sticky || (kept & 1))))
        kept++;
    uint64_t bits;
    if (lead >= -1022)
        bits = ((uint64_t)(lead + 1023 - 1) << 52) + kept; /* kept carries the hidden bit: a carry bumps the exponent */
    else
        bits = kept; /* subnormal; a carry to 2^52 is the smallest normal */
    if (bits >= 0x7ff0000000000000ull)
        bits = 0x7ff0000000000000ull;
    return double_from_bits(bits);
}

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define PARSE_MAX_DIGITS 800 /* a halfway point between doubles has at most 767 significant digits */

double parse_decimal_digits(const char *digits, size_t nd, int64_t exp10)
{
    while (nd > 0 && digits[0] == '0') {
        digits++;
        nd--;
    }
    while (nd > 0 && digits[nd - 1] == '0') {
        nd--;
        exp10++;
    }
    if (nd == 0)
        return 0.0;
    /* Beyond PARSE_MAX_DIGITS digits only "is anything nonzero left" matters: keep that as one extra 1. */
    char buf[PARSE_MAX_DIGITS + 1];
    if (nd > PARSE_MAX_DIGITS) {
        for (size_t i = 0; i < PARSE_MAX_DIGITS; i++)
            buf[i] = digits[i];
        buf[PARSE_MAX_DIGITS] = '1'; /* digits beyond are not all zero: the trailing ones were stripped */
        exp10 += (int64_t)(nd - PARSE_MAX_DIGITS - 1);
        digits = buf;
        nd = PARSE_MAX_DIGITS + 1;
    }
    /* value = D * 10^exp10 with 10^(nd-1+exp10) <= value < 10^(nd+exp10) */
    if ((int64_t)nd + exp10 > 310)
        return double_from_bits(0x7ff0000000000000ull);
    if ((int64_t)nd + exp10 < -323)
        return 0.0; /* value < 1e-324 < half the smallest subnormal */
    if (nd <= 15 && exp10 >= -22 && exp10 <= 22) { /* Clinger: D and 10^|exp10| exact, one rounding */
        uint64_t d = 0;
        for (size_t i = 0; i < nd; i++)
            d = d * 10 + (uint64_t)(digits[i] - '0');
        return exp10 >= 0 ? (double)d * pow10_exact[exp10] : (double)d / pow10_exact[-exp10];
    }
    static struct bigint num, den, t; /* big: keep them off the kernel stack (single-threaded callers) */
    num.n = 0;
    for (size_t i = 0; i < nd;) {
        uint32_t chunk = 0, mul = 1;
        for (int k = 0; k < 9 && i < nd; k++, i++) {
            chunk = chunk * 10 + (uint32_t)(digits[i] - '0');
            mul *= 10;
        }
        bigint_mul_add_small(&num, mul, chunk);
    }
    uint64_t top;
    bool sticky;
    if (exp10 >= 0) { /* exact integer D * 5^e * 2^e: at most 2^1030 or so */
        bigint_mul_pow5(&num, (int)exp10);
        int bl = bigint_top64(&num, &top, &sticky);
        return make_double(top, sticky, (int64_t)bl - 64 + exp10);
    }
    /* value = num / den with den = 10^-exp10; compute q = floor(num * 2^k / den) with 2^62 < q < 2^64 */
    bigint_set_u64(&den, 1);
    bigint_mul_pow5(&den, (int)-exp10);
    bigint_shl(&den, (int)-exp10);
    int k = bigint_bitlen(&den) - bigint_bitlen(&num) + 63;
    if (k >= 0)
        bigint_shl(&num, k);
    else
        bigint_shl(&den, -k);
    uint64_t q = 0;
    for (int bit = 63; bit >= 0; bit--) {
        t = den;
        bigint_shl(&t, bit);
        if (bigint_cmp(&num, &t) >= 0) {
            bigint_sub(&num, &t);
            q |= 1ull << bit;
        }
    }
    return make_double(q, num.n != 0, -(int64_t)k);
}

static char lower(char c) { return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c; }

static bool match_word(const char *s, size_t len, const char *w)
{
    size_t i = 0;
    for (; w[i]; i++)
        if (i >= len || lower(s[i]) != w[i])
            return false;
    return true;
}

size_t parse_double(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i < len && (s[i] == 'i' || s[i] == 'I' || s[i] == 'n' || s[i] == 'N')) {
        double v;
        size_t n;
        if (match_word(s + i, len - i, "infinity")) {
            v = double_from_bits(0x7ff0000000000000ull);
            n = 8;
        } else if (match_word(s + i, len - i, "inf")) {
            v = double_from_bits(0x7ff0000000000000ull);
            n = 3;
        } else if (match_word(s + i, len - i, "nan")) {
            v = double_from_bits(0x7ff8000000000000ull);
            n = 3;
        } else {
            return 0;
        }
        *out = neg ? -v : v;
        return i + n;
    }
    /* Mantissa: keep the digits (leading zeros dropped) in place; the point only moves the exponent. */
    char buf[PARSE_MAX_DIGITS + 1];
    size_t nd = 0;        /* significant digits kept in buf */
    bool more = false;    /* a nonzero digit was dropped past buf */
    int64_t exp10 = 0;    /* value = buf * 10^exp10 (+ dropped) */
    bool any = false, point = false;
    for (; i < len; i++) {
        char c = s[i];
        if (c == '.' && !point) {
            point = true;
            continue;
        }
        if (!is_digit(c))
            break;
        any = true;
        if (nd == 0 && c == '0') {
            if (point)
                exp10--;
            continue;
        }
        if (nd < PARSE_MAX_DIGITS) {
            buf[nd++] = c;
            if (point)
                exp10--;
        } else {
            if (c != '0')
                more = true;
            if (!point)
                exp10++;
        }
    }
    if (!any)
        return 0;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t j = i + 1;
        bool eneg = false;
        if (j < len && (s[j] == '+' || s[j] == '-'))
            eneg = s[j++] == '-';
        if (j < len && is_digit(s[j])) {
            int64_t e = 0;
            for (; j < len && is_digit(s[j]); j++)
                if (e < 100000000)
                    e = e * 10 + (s[j] - '0');
            exp10 += eneg ? -e : e;
            i = j;
        }
    }
    if (more) { /* stand-in for the dropped tail: one more nonzero digit */
        buf[nd++] = '1';
        exp10--;
    }
    double v = parse_decimal_digits(buf, nd, exp10);
    *out = neg ? -v : v;
    return i;
}

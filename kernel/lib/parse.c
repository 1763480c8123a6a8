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

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                       1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#define PARSE_MAX_DIGITS 800 /* a halfway point between doubles has at most 767 significant digits */

/* Compares the decimal x with the binary M * 2^p, where x * pw = big * 2^exp10 (pw = 5^-exp10 when exp10 < 0,
   else 1, and big = D * 5^exp10 when exp10 >= 0, else D): compare big * 2^exp10 with M * pw * 2^p.
   Returns <0, 0, >0 as x is below, at, above. */
static int parse_cmp_midpoint(const struct bigint *big, const struct bigint *pw, int64_t exp10, uint64_t M,
                              int64_t p)
{
    static struct bigint L, R;
    L.n = big->n;
    for (int i = 0; i < big->n; i++)
        L.limb[i] = big->limb[i];
    R.n = pw->n;
    for (int i = 0; i < pw->n; i++)
        R.limb[i] = pw->limb[i];
    /* R = pw * M, M < 2^55: times the high and low halves */
    static struct bigint hi;
    hi.n = R.n;
    for (int i = 0; i < R.n; i++)
        hi.limb[i] = R.limb[i];
    bigint_mul_add_small(&R, (uint32_t)M, 0);
    bigint_mul_add_small(&hi, (uint32_t)(M >> 32), 0);
    bigint_shl(&hi, 32);
    bigint_add(&R, &hi);
    int64_t lo = exp10 < p ? exp10 : p;
    bigint_shl(&L, (int)(exp10 - lo));
    bigint_shl(&R, (int)(p - lo));
    return bigint_cmp(&L, &R);
}

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
    /* Exact path: estimate in double arithmetic (a few ulps off at worst), then correct it by comparing the
       decimal exactly with the midpoints to the neighbouring doubles ("bigcomp"). */
    static struct bigint big, pw; /* big: keep them off the kernel stack (single-threaded callers) */
    big.n = 0;
    for (size_t i = 0; i < nd;) {
        uint32_t chunk = 0, mul = 1;
        for (int k = 0; k < 9 && i < nd; k++, i++) {
            chunk = chunk * 10 + (uint32_t)(digits[i] - '0');
            mul *= 10;
        }
        bigint_mul_add_small(&big, mul, chunk);
    }
    bigint_set_u64(&pw, 1);
    if (exp10 >= 0)
        bigint_mul_pow5(&big, (int)exp10); /* x = big * 2^exp10 */
    else
        bigint_mul_pow5(&pw, (int)-exp10); /* x * pw = big * 2^exp10 */

    uint64_t w = 0;
    size_t used = nd < 19 ? nd : 19;
    for (size_t i = 0; i < used; i++)
        w = w * 10 + (uint64_t)(digits[i] - '0');
    int64_t k = exp10 + (int64_t)(nd - used);
    double est = (double)w;
    while (k > 22 && est < 1e300) {
        est *= 1e22;
        k -= 22;
    }
    while (k < -22 && est > 0) {
        est /= 1e22;
        k += 22;
    }
    if (k > 0 && k <= 22)
        est *= pow10_exact[k];
    else if (k < 0 && k >= -22)
        est /= pow10_exact[-k];
    uint64_t c;
    __builtin_memcpy(&c, &est, 8);
    if (c == 0)
        c = 1;                     /* start from the smallest subnormal */
    if (c >= 0x7ff0000000000000ull)
        c = 0x7fefffffffffffffull; /* ... or the largest double */
    for (;;) {
        uint64_t mant = c & ((1ull << 52) - 1);
        int be = (int)(c >> 52);
        uint64_t m = be ? mant | (1ull << 52) : mant;
        int64_t e = be ? be - 1075 : -1074;
        int r = parse_cmp_midpoint(&big, &pw, exp10, 2 * m + 1, e - 1); /* midpoint to the next double up */
        if (r > 0) {
            if (c == 0x7fefffffffffffffull)
                return double_from_bits(0x7ff0000000000000ull);
            c++;
            continue;
        }
        if (r == 0)
            return double_from_bits((c & 1) ? c + 1 : c); /* tie: the even one */
        if (mant == 0 && be > 1)
            r = parse_cmp_midpoint(&big, &pw, exp10, 4 * m - 1, e - 2); /* the gap below is half as wide */
        else
            r = parse_cmp_midpoint(&big, &pw, exp10, 2 * m - 1, e - 1);
        if (r < 0) {
            c--;
            if (c == 0)
                return 0.0;
            continue;
        }
        if (r == 0)
            return double_from_bits((c & 1) ? c - 1 : c);
        return double_from_bits(c);
    }
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

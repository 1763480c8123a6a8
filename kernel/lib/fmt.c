/* printf-style formatting (lib/fmt.h): one pass over the format, integer conversions here,
   floating-point conversions in fmt_float() (exact digits from lib/bigint.h, correctly rounded like glibc),
   and fmt_double_shortest() for JSON. Number parsing is the mirror image, in lib/parse.c. Never writes past n bytes. */
#include "lib/fmt.h"
#include "lib/bigint.h"
#include "lib/parse.h"
#include <stdint.h>
#include <stdbool.h>

struct out {
    char *buf;
    size_t n;   /* capacity */
    size_t len; /* bytes the full output would have */
};

static void out_c(struct out *o, char c)
{
    if (o->len + 1 < o->n)
        o->buf[o->len] = c;
    o->len++;
}

static void out_pad(struct out *o, char c, int count)
{
    while (count-- > 0)
        out_c(o, c);
}

struct spec {
    bool left, plus, space, zero, alt;
    int width, prec; /* prec < 0: none */
};

static void out_num(struct out *o, const struct spec *sp, uint64_t v, bool neg, unsigned base, bool upper,
                    const char *prefix)
{
    char digits[24];
    int nd = 0;
    const char *tab = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    while (v) {
        digits[nd++] = tab[v % base];
        v /= base;
    }
    int prec = sp->prec < 0 ? 1 : sp->prec;
    int zeros = prec > nd ? prec - nd : 0;
    char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
    int plen = 0;
    while (prefix && prefix[plen])
        plen++;
    int total = nd + zeros + (sign != 0) + plen;
    int pad = sp->width > total ? sp->width - total : 0;
    if (sp->zero && !sp->left && sp->prec < 0) {
        zeros += pad;
        pad = 0;
    }
    if (!sp->left)
        out_pad(o, ' ', pad);
    if (sign)
        out_c(o, sign);
    for (int i = 0; i < plen; i++)
        out_c(o, prefix[i]);
    out_pad(o, '0', zeros);
    while (nd)
        out_c(o, digits[--nd]);
    if (sp->left)
        out_pad(o, ' ', pad);
}

static void out_str(struct out *o, const struct spec *sp, const char *s)
{
    if (!s)
        s = "(null)";
    int len = 0;
    while (s[len] && (sp->prec < 0 || len < sp->prec))
        len++;
    int pad = sp->width > len ? sp->width - len : 0;
    if (!sp->left)
        out_pad(o, ' ', pad);
    for (int i = 0; i < len; i++)
        out_c(o, s[i]);
    if (sp->left)
        out_pad(o, ' ', pad);
}

static void fmt_float(struct out *o, const struct spec *sp, double v, char conv);

int fmt_vsnprintf(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct out o = {buf, n, 0};
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            out_c(&o, *p);
            continue;
        }
        struct spec sp = {0};
        sp.prec = -1;
        for (;; p++) {
            char f = p[1];
            if (f == '-') sp.left = true;
            else if (f == '+') sp.plus = true;
            else if (f == ' ') sp.space = true;
            else if (f == '0') sp.zero = true;
            else if (f == '#') sp.alt = true;
            else break;
        }
        p++;
        if (*p == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {
                sp.left = true;
                sp.width = -sp.width;
            }
            p++;
        } else {
            while (*p >= '0' && *p <= '9')
                sp.width = sp.width * 10 + (*p++ - '0');
        }
        if (*p == '.') {
            p++;
            sp.prec = 0;
            if (*p == '*') {
                sp.prec = va_arg(ap, int);
                p++;
            } else {
                while (*p >= '0' && *p <= '9')
                    sp.prec = sp.prec * 10 + (*p++ - '0');
            }
        }
        int lng = 0; /* 0 int, 1 long, 2 long long, 3 size_t/intmax/ptrdiff, -1 short, -2 char */
        for (;; p++) {
            if (*p == 'l') lng = lng == 1 ? 2 : 1;
            else if (*p == 'h') lng = lng == -1 ? -2 : -1;
            else if (*p == 'z' || *p == 't') lng = 3;
            else if (*p == 'j') lng = 2;
            else break;
        }
        char c = *p;
        if (!c)
            break;
        switch (c) {
        case 'd':
        case 'i': {
            int64_t v;
            if (lng == 2) v = va_arg(ap, long long);
            else if (lng == 1) v = va_arg(ap, long);
            else if (lng == 3) v = (int64_t)va_arg(ap, ptrdiff_t);
            else v = va_arg(ap, int);
            if (lng == -1) v = (short)v;
            if (lng == -2) v = (signed char)v;
            uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
            out_num(&o, &sp, u, v < 0, 10, false, NULL);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            uint64_t v;
            if (lng == 2) v = va_arg(ap, unsigned long long);
            else if (lng == 1) v = va_arg(ap, unsigned long);
            else if (lng == 3) v = va_arg(ap, size_t);
            else v = va_arg(ap, unsigned);
            if (lng == -1) v = (unsigned short)v;
            if (lng == -2) v = (unsigned char)v;
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            const char *prefix = NULL;
            if (sp.alt && v && base == 16) prefix = c == 'X' ? "0X" : "0x";
            if (sp.alt && base == 8) prefix = "0";
            sp.plus = sp.space = false;
            out_num(&o, &sp, v, false, base, c == 'X', prefix);
            break;
        }
        case 'p': {
            uintptr_t v = (uintptr_t)va_arg(ap, void *);
            sp.plus = sp.space = false;
            out_num(&o, &sp, v, false, 16, false, "0x");
            break;
        }
        case 'c':
            sp.prec = -1;
            {
                char s[2] = {(char)va_arg(ap, int), 0};
                int pad = sp.width > 1 ? sp.width - 1 : 0;
                if (!sp.left) out_pad(&o, ' ', pad);
                out_c(&o, s[0]);
                if (sp.left) out_pad(&o, ' ', pad);
            }
            break;
        case 's':
            out_str(&o, &sp, va_arg(ap, const char *));
            break;
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            fmt_float(&o, &sp, va_arg(ap, double), c);
            break;
        case '%':
            out_c(&o, '%');
            break;
        default: /* unknown conversion: print it literally */
            out_c(&o, '%');
            out_c(&o, c);
            break;
        }
    }
    if (n)
        buf[o.len < n ? o.len : n - 1] = 0;
    return (int)o.len;
}

int fmt_snprintf(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = fmt_vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    return r;
}

/* ---- Floating point ------------------------------------------------------------------------------------
   A finite double is m * 2^e exactly, so its decimal expansion is finite (at most 767 significant digits):
   for e >= 0 it is the integer m << e, for e < 0 it is (m * 5^-e) / 10^-e. We compute those digits exactly
   with a big integer, then round the digit string once, half to even on exact ties (as glibc does in the
   default rounding mode). Sizes: m * 5^1074 < 2^2548 and m << 971 < 2^1024, both well inside a bigint. */

#define FMT_MAX_DIGITS 800 /* significant digits of any double, with room */

struct decimal {
    char d[FMT_MAX_DIGITS]; /* digit values 0..9, no leading zero; nd == 0 means the value 0 */
    int nd;
    int dexp; /* value = 0.d[0]d[1]... * 10^dexp */
};

/* Exact decimal expansion of |v| (v finite). */
static void decimal_from_double(struct decimal *dec, double v)
{
    uint64_t bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    uint64_t m = bits & ((1ull << 52) - 1);
    int be = (int)((bits >> 52) & 0x7ff);
    int e;
    if (be == 0) {
        e = -1074;
    } else {
        m |= 1ull << 52;
        e = be - 1075;
    }
    dec->nd = 0;
    dec->dexp = 1;
    if (m == 0)
        return;
    while (!(m & 1) && e < 0) {
        m >>= 1;
        e++;
    }
    struct bigint n;
    bigint_set_u64(&n, m);
    int point_shift = 0; /* digits to the right of the decimal point in n */
    if (e >= 0) {
        bigint_shl(&n, e);
    } else {
        bigint_mul_pow5(&n, -e);
        point_shift = -e;
    }
    /* 9-digit chunks, least significant first, then written most significant first */
    uint32_t chunks[FMT_MAX_DIGITS / 9 + 2];
    int nc = 0;
    while (n.n)
        chunks[nc++] = bigint_divmod_small(&n, 1000000000u);
    int nd = 0;
    for (int i = nc - 1; i >= 0; i--) {
        char tmp[9];
        uint32_t c = chunks[i];
        for (int k = 8; k >= 0; k--) {
            tmp[k] = (char)(c % 10);
            c /= 10;
        }
        for (int k = 0; k < 9; k++) {
            if (nd == 0 && tmp[k] == 0)
                continue; /* leading zeros */
            dec->d[nd++] = tmp[k];
        }
    }
    dec->dexp = nd - point_shift;
    while (nd > 0 && dec->d[nd - 1] == 0)
        nd--;
    dec->nd = nd;
}

/* Round to `keep` significant digits (keep may be <= 0: rounding left of the first digit), half to even. */
static void decimal_round(struct decimal *dec, int keep)
{
    if (keep >= dec->nd)
        return;
    bool up;
    if (keep < 0) {
        up = false;
    } else {
        int r = dec->d[keep];
        if (r != 5) {
            up = r > 5;
        } else {
            bool beyond = false;
            for (int i = keep + 1; i < dec->nd; i++)
                if (dec->d[i]) {
                    beyond = true;
                    break;
                }
            up = beyond || (keep > 0 && (dec->d[keep - 1] & 1));
        }
    }
    if (!up) {
        dec->nd = keep < 0 ? 0 : keep;
        while (dec->nd > 0 && dec->d[dec->nd - 1] == 0)
            dec->nd--;
        if (dec->nd == 0)
            dec->dexp = 1;
        return;
    }
    int i = keep - 1;
    while (i >= 0 && dec->d[i] == 9)
        i--;
    if (i < 0) { /* all nines, or keep == 0: becomes 0.1 * 10^(dexp+1) */
        dec->d[0] = 1;
        dec->nd = 1;
        dec->dexp += 1;
        return;
    }
    dec->d[i]++;
    dec->nd = i + 1;
}

static char decimal_digit(const struct decimal *dec, int i)
{
    return (char)('0' + (i >= 0 && i < dec->nd ? dec->d[i] : 0));
}

static void out_exp(struct out *o, int x, bool upper)
{
    out_c(o, upper ? 'E' : 'e');
    out_c(o, x < 0 ? '-' : '+');
    if (x < 0)
        x = -x;
    char t[8];
    int n = 0;
    do {
        t[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    if (n < 2)
        t[n++] = '0';
    while (n)
        out_c(o, t[--n]);
}

/* Body of %f with `prec` fraction digits from a rounded decimal; strip: %g without '#' */
static void body_fixed(struct out *o, const struct decimal *dec, int prec, bool point, bool strip)
{
    if (dec->nd == 0 || dec->dexp <= 0)
        out_c(o, '0');
    else
        for (int i = 0; i < dec->dexp; i++)
            out_c(o, decimal_digit(dec, i));
    if (strip) { /* drop trailing zeros of the fraction */
        int last = dec->nd - dec->dexp; /* fraction digits that can be nonzero */
        if (dec->nd == 0 || last < 0)
            last = 0;
        if (last < prec)
            prec = last;
    }
    if (prec > 0 || point)
        out_c(o, '.');
    for (int i = 0; i < prec; i++)
        out_c(o, decimal_digit(dec, dec->dexp + i));
}

static void body_exp(struct out *o, const struct decimal *dec, int prec, bool point, bool strip, bool upper)
{
    out_c(o, decimal_digit(dec, 0));
    if (strip) {
        int last = dec->nd - 1;
        if (last < 0)
            last = 0;
        if (last < prec)
            prec = last;
    }
    if (prec > 0 || point)
        out_c(o, '.');
    for (int i = 0; i < prec; i++)
        out_c(o, decimal_digit(dec, 1 + i));
    out_exp(o, dec->nd ? dec->dexp - 1 : 0, upper);
}

/* The digits of a conversion (no sign, no padding), written to o; called once to count, once to write. */
static void float_body(struct out *o, const struct decimal *dec, const struct spec *sp, char conv)
{
    int prec = sp->prec < 0 ? 6 : sp->prec;
    bool upper = conv == 'E' || conv == 'G' || conv == 'F';
    switch (conv) {
    case 'f':
    case 'F':
        body_fixed(o, dec, prec, sp->alt, false);
        break;
    case 'e':
    case 'E':
        body_exp(o, dec, prec, sp->alt, false, upper);
        break;
    default: { /* g: P significant digits; fixed when -4 <= X < P (C11 7.21.6.1) */
        int p = prec == 0 ? 1 : prec;
        int x = dec->nd ? dec->dexp - 1 : 0;
        if (x >= -4 && x < p)
            body_fixed(o, dec, p - 1 - x, sp->alt, !sp->alt);
        else
            body_exp(o, dec, p - 1, sp->alt, !sp->alt, upper);
        break;
    }
    }
}

static void fmt_float(struct out *o, const struct spec *sp, double v, char conv)
{
    uint64_t bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    bool neg = bits >> 63;
    char sign = neg ? '-' : sp->plus ? '+' : sp->space ? ' ' : 0;
    bool upper = conv == 'E' || conv == 'G' || conv == 'F';
    if (((bits >> 52) & 0x7ff) == 0x7ff) { /* inf and nan: no zero padding */
        const char *s = (bits & ((1ull << 52) - 1)) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf");
        int pad = sp->width - 3 - (sign != 0);
        if (!sp->left)
            out_pad(o, ' ', pad);
        if (sign)
            out_c(o, sign);
        for (int i = 0; i < 3; i++)
            out_c(o, s[i]);
        if (sp->left)
            out_pad(o, ' ', pad);
        return;
    }
    struct decimal dec;
    decimal_from_double(&dec, v);
    int prec = sp->prec < 0 ? 6 : sp->prec;
    if (conv == 'f' || conv == 'F')
        decimal_round(&dec, dec.dexp + prec);
    else if (conv == 'e' || conv == 'E')
        decimal_round(&dec, prec + 1);
    else
        decimal_round(&dec, prec == 0 ? 1 : prec);
    struct out count = {NULL, 0, 0};
    float_body(&count, &dec, sp, conv);
    int len = (int)count.len + (sign != 0);
    int pad = sp->width > len ? sp->width - len : 0;
    if (!sp->left && !sp->zero)
        out_pad(o, ' ', pad);
    if (sign)
        out_c(o, sign);
    if (!sp->left && sp->zero)
        out_pad(o, '0', pad);
    float_body(o, &dec, sp, conv);
    if (sp->left)
        out_pad(o, ' ', pad);
}

/* Shortest round-trip: the fewest significant digits p such that v rounded to p digits reads back as v.
   The correctly rounded p-digit decimal is the closest one, so if any p-digit decimal reads back, it does. */
int fmt_double_shortest(char *buf, size_t n, double v)
{
    struct out o = {buf, n, 0};
    uint64_t bits;
    __builtin_memcpy(&bits, &v, sizeof bits);
    if (((bits >> 52) & 0x7ff) == 0x7ff) {
        if (n)
            buf[0] = 0;
        return -1;
    }
    if (bits >> 63)
        out_c(&o, '-');
    double a = v < 0 ? -v : v;
    struct decimal exact, dec;
    decimal_from_double(&exact, a);
    dec = exact;
    if (exact.nd > 0) {
        char ascii[20];
        for (int p = 1; p <= 17; p++) {
            dec = exact;
            decimal_round(&dec, p);
            if (p == 17)
                break; /* 17 significant digits always read back (IEEE 754-2008 5.12.2) */
            for (int i = 0; i < dec.nd; i++)
                ascii[i] = (char)('0' + dec.d[i]);
            if (parse_decimal_digits(ascii, (size_t)dec.nd, dec.dexp - dec.nd) == a)
                break;
        }
    }
    int x = dec.nd ? dec.dexp - 1 : 0;
    if (x >= -4 && x < 16) { /* fixed, always with a fraction digit ("1.0"), like Python's repr */
        int frac = dec.nd - dec.dexp;
        body_fixed(&o, &dec, frac > 0 ? frac : 1, false, false);
    } else {
        body_exp(&o, &dec, dec.nd > 1 ? dec.nd - 1 : 0, false, false, false);
    }
    if (n)
        buf[o.len < n ? o.len : n - 1] = 0;
    return (int)o.len;
}

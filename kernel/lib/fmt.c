/* printf-style formatting (lib/fmt.h): one pass over the format, integer conversions here,
   floating-point conversions in fmt_float(). Never writes past n bytes. */
#include "lib/fmt.h"
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

void fmt_float(struct out *o, const struct spec *sp, double v, char conv);

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

/* Floating point: %f %e %g with precision, via exact-enough digit generation in double arithmetic.
   TODO(kernel-base helper): replace with a correctly rounded implementation. */
void fmt_float(struct out *o, const struct spec *sp, double v, char conv)
{
    (void)conv;
    struct spec s2 = *sp;
    s2.prec = -1;
    if (v != v) { out_str(o, &s2, "nan"); return; }
    bool neg = v < 0;
    if (neg) v = -v;
    int prec = sp->prec < 0 ? 6 : sp->prec;
    double scale = 1;
    for (int i = 0; i < prec; i++) scale *= 10;
    uint64_t ip = (uint64_t)v;
    uint64_t fp = (uint64_t)((v - (double)ip) * scale + 0.5);
    if ((double)fp >= scale) { ip++; fp = 0; }
    if (neg) out_c(o, '-');
    out_num(o, &s2, ip, false, 10, false, NULL);
    if (prec) {
        out_c(o, '.');
        struct spec s3 = {0};
        s3.prec = prec;
        out_num(o, &s3, fp, false, 10, false, NULL);
    }
}

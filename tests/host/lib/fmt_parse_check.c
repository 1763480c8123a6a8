/* Host check of lib/fmt.c and lib/parse.c against the host C library (glibc's printf and strtod are exact):
   random and edge-case doubles through many %f/%e/%g formats, and parse_double on random, long and
   halfway-case strings. Driven by tests/test_lib_fmt_parse.py; prints "N passed, M failed" and the first
   mismatches. Usage: fmt_parse_check SEED COUNT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <errno.h>
#include <limits.h>
#include "lib/fmt.h"
#include "lib/parse.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static long passed, failed;

static void report(const char *what, const char *a, const char *b)
{
    if (failed < 20)
        printf("MISMATCH %s: ours [%s] host [%s]\n", what, a, b);
    failed++;
}

static double random_double(void)
{
    uint64_t kind = rnd() % 8, b;
    double d;
    switch (kind) {
    case 0: /* any bit pattern (finite or not) */
        b = rnd();
        memcpy(&d, &b, 8);
        return d;
    case 1: /* subnormals */
        b = rnd() & ((1ull << 52) - 1);
        if (rnd() & 1) b |= 1ull << 63;
        memcpy(&d, &b, 8);
        return d;
    case 2: /* short decimals, many exact ties at some precision */
        return (double)(int64_t)(rnd() % 2000001 - 1000000) / (double)(1 << (rnd() % 12));
    case 3: /* moderate magnitudes */
        return ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * pow(10, (int)(rnd() % 40) - 20);
    case 4: /* integers */
        return (double)(int64_t)(rnd() >> (rnd() % 64));
    case 5: /* powers of ten and their neighbours */
        d = pow(10, (int)(rnd() % 600) - 300);
        return (rnd() & 1) ? nextafter(d, INFINITY) : (rnd() & 1) ? nextafter(d, 0) : d;
    case 6: /* x.5 style ties */
        return (double)(rnd() % 100000) + 0.5;
    default:
        return (double)(rnd() % 1000) / 1000.0;
    }
}

static void check_format(const char *f, double v)
{
    char a[2048], b[2048];
    int na = fmt_snprintf(a, sizeof a, f, v);
    int nb = snprintf(b, sizeof b, f, v);
    if (na != nb || strcmp(a, b)) {
        char what[64];
        snprintf(what, sizeof what, "'%s' %a", f, v);
        report(what, a, b);
    } else {
        passed++;
    }
}

static void check_formats(double v)
{
    static const char convs[] = "feEgG";
    char f[32];
    for (int k = 0; k < 4; k++) {
        char conv = convs[rnd() % 5];
        const char *flags[] = {"", "+", " ", "-", "0", "#", "+0", "-#", "#0"};
        const char *fl = flags[rnd() % 9];
        int width = (rnd() & 3) ? 0 : (int)(rnd() % 30);
        int prec = (int)(rnd() % 5 == 0 ? rnd() % 60 : rnd() % 20);
        /* glibc drops the zeros of "%#g" when rounding carries into a new power of ten (999999.9 -> "1.e+06");
           C11 7.21.6.1 says '#' keeps them, as we do. So '#' with g is checked only in the fixed cases above. */
        if ((conv == 'g' || conv == 'G') && strchr(fl, '#'))
            fl = "";
        if (rnd() % 8 == 0)
            snprintf(f, sizeof f, "%%%s%d%c", fl, width, conv); /* default precision */
        else
            snprintf(f, sizeof f, "%%%s%d.%d%c", fl, width, prec, conv);
        if (conv == 'f' && fabs(v) > 1e60 && prec > 20)
            continue;
        check_format(f, v);
    }
}

static void check_parse(const char *s)
{
    double ours, host;
    char *end;
    host = strtod(s, &end);
    size_t n = parse_double(s, strlen(s), &ours);
    uint64_t bo, bh;
    memcpy(&bo, &ours, 8);
    memcpy(&bh, &host, 8);
    if (n != (size_t)(end - s) || (n && bo != bh && !(isnan(ours) && isnan(host)))) {
        char a[64], b[64], what[120];
        snprintf(a, sizeof a, "%a n=%zu", ours, n);
        snprintf(b, sizeof b, "%a n=%zu", host, (size_t)(end - s));
        snprintf(what, sizeof what, "parse '%.80s'%s", s, strlen(s) > 80 ? "..." : "");
        report(what, a, b);
    } else {
        passed++;
    }
}

/* Exact decimal of the midpoint between d and its upper neighbour (x87 long double holds it exactly),
   then that string and its neighbours one unit in the last digit up and down. */
static void check_halfway(double d)
{
    if (!isfinite(d) || d < 0)
        return;
    double up = nextafter(d, INFINITY);
    if (!isfinite(up))
        return;
    long double mid = ((long double)d + (long double)up) / 2;
    char s[1200];
    snprintf(s, sizeof s, "%.800Le", mid);
    /* trim trailing zeros of the mantissa */
    char *e = strchr(s, 'e');
    char exp[16];
    snprintf(exp, sizeof exp, "%s", e);
    char *p = e - 1;
    while (*p == '0')
        p--;
    p[1] = 0;
    char t[1300];
    snprintf(t, sizeof t, "%s%s", s, exp);
    check_parse(t); /* exact tie: must round to even */
    snprintf(t, sizeof t, "%s000000000000000000001%s", s, exp);
    check_parse(t); /* just above */
    size_t len = strlen(s);
    if (s[len - 1] > '1') {
        s[len - 1]--;
        snprintf(t, sizeof t, "%s99999999999999%s", s, exp);
        check_parse(t); /* just below */
    }
}

static void random_number_string(char *s, size_t cap)
{
    size_t n = 0;
    if (rnd() % 3 == 0)
        s[n++] = (rnd() & 1) ? '-' : '+';
    int nd = (int)(rnd() % 5 == 0 ? rnd() % 900 : rnd() % 25) + 1;
    int point = (int)(rnd() % (nd + 2)) - 1;
    for (int i = 0; i < nd && n < cap - 40; i++) {
        if (i == point)
            s[n++] = '.';
        s[n++] = (char)('0' + rnd() % 10);
    }
    if (rnd() % 2) {
        s[n++] = (rnd() & 1) ? 'e' : 'E';
        if (rnd() & 1)
            s[n++] = (rnd() & 1) ? '-' : '+';
        n += (size_t)snprintf(s + n, cap - n, "%d", (int)(rnd() % (rnd() % 4 == 0 ? 1200 : 330)));
    }
    if (rnd() % 10 == 0)
        s[n++] = 'x'; /* trailing junk */
    s[n] = 0;
}

int main(int argc, char **argv)
{
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 0) * 2654435761u + 1 : 1;
    long count = argc > 2 ? atol(argv[2]) : 10000;

    static const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 0.125, 0.375, 1e-320, 4.9e-324,
                                  2.2250738585072014e-308, 2.2250738585072009e-308, 1.7976931348623157e308,
                                  1e21, 1e22, 1e23, 9.5, 99.5, 999.5, 0.05, 0.15, 0.25, 0.35, 9.999999e-5,
                                  123456789.0, 0.1, 1.0 / 3, 5e-324, 1e300, 1e-300, 9007199254740993.0};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        for (int p = 0; p < 25; p++) {
            char f[16];
            const char *cs = "feg";
            for (int c = 0; c < 3; c++) {
                snprintf(f, sizeof f, "%%.%d%c", p, cs[c]);
                check_format(f, edge[i]);
                check_format(f, -edge[i]);
            }
        }
        check_formats(edge[i]);
        check_halfway(edge[i]);
    }
    check_format("%f", INFINITY);
    check_format("%-8F", -INFINITY);
    check_format("%08.3e", NAN);
    check_format("%+g", NAN);
    check_format("%G", -INFINITY);
    check_format("%#.0f", 3.0);
    check_format("%#.0e", 3.0);
    check_format("%#g", 0.0);
    check_format("%.0f", 0.5);
    check_format("%.3000f", 1e-300);
    check_format("%.20f", 1.7976931348623157e308);

    static const char *strs[] = {
        "0", "-0", "1", "1.", ".5", "-.5", "+1.5e3", "1e", "1e+", "1e-", "e5", ".", "-", "+", "",
        "inf", "-Infinity", "INFINITY", "nan", "NaN", "infx", "in", "1x", "1.5E-3z", "00000000000000000001",
        "0.000000000000000000000000000001", "1e400", "-1e400", "1e-400", "2.4703282292062327e-324",
        "2.4703282292062328e-324", "2.4703282292062327208828439643411068618252990130716238221279284125033775363510437593264991818081799618989828234772285886546332835517796989819938739800539093906315035659515570226392290858392449105184435931802849936536152500319370457678249219365623669863658480757001585769269903706311928279558551332927834338409351978015531246597263579574622766465272827220056374006485499977096599470454020828166226237857393450736339007967761930577506740176324673600968951340535537458516661134223766678604162159680461914467291840300530057530849048765391711386591646239524912623653881879636239373280423891018672348497668235089863388587925628302755995657524455507255189313690836254779186948667994968324049705821028513185451396213837722826145437693412532098591327667236328125e-324",
        "1.7976931348623157e308", "1.7976931348623158e308", "1.7976931348623159e308", "9007199254740993",
        "9007199254740992.9999999999999999999", "0.1e-99999999999999999999", "1e99999999999999999999",
        "123456789012345678901234567890e-50", "7.2057594037927933e16", "2.2250738585072011e-308",
        "2.2250738585072012e-308", "1.0000000000000002220446049250313080847263336181640625",
        "1.00000000000000011102230246251565404236316680908203125", "1.00000000000000011102230246251565404236316680908203124",
        "1.00000000000000011102230246251565404236316680908203126", "4.9406564584124654e-324", "3e-324",
        "0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000001e+100"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        check_parse(strs[i]);

    for (long i = 0; i < count; i++) {
        double v = random_double();
        check_formats(v);
        char s[1400];
        random_number_string(s, sizeof s);
        check_parse(s);
        if (i % 4 == 0) {
            double d = random_double();
            check_halfway(d < 0 ? -d : d);
            /* round trip of our own %.17g through our parser */
            char b[64];
            fmt_snprintf(b, sizeof b, "%.17g", d);
            check_parse(b);
        }
        /* integers */
        if (i % 2 == 0) {
            char t[64];
            int64_t x = (int64_t)rnd() >> (rnd() % 64);
            snprintf(t, sizeof t, "%lld", (long long)x);
            int64_t y = 0;
            bool ovf = true;
            size_t n = parse_i64(t, strlen(t), &y, &ovf);
            if (n != strlen(t) || y != x || ovf)
                report("parse_i64", t, t);
            else
                passed++;
        }
    }
    /* integer overflow edges, against strtoll/strtoull saturation */
    static const char *ints[] = {"9223372036854775807", "9223372036854775808", "-9223372036854775808",
                                 "-9223372036854775809", "18446744073709551615", "18446744073709551616",
                                 "99999999999999999999999", "-0", "+7", "12ab", "-", "x"};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        const char *t = ints[i];
        char *end;
        errno = 0;
        long long hs = strtoll(t, &end, 10);
        bool hovf = errno == ERANGE;
        size_t hn = (size_t)(end - t);
        int64_t y = 0;
        bool ovf = false;
        size_t n = parse_i64(t, strlen(t), &y, &ovf);
        if (n != hn || (n && (y != hs || ovf != hovf)))
            report("parse_i64 edge", t, t);
        else
            passed++;
        if (t[0] != '-') {
            unsigned long long hu = strtoull(t, &end, 10);
            uint64_t u = 0;
            n = parse_u64(t, strlen(t), &u, &ovf);
            if (n != (size_t)(end - t) || (n && (u != hu)))
                report("parse_u64 edge", t, t);
            else
                passed++;
        }
    }
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed != 0;
}

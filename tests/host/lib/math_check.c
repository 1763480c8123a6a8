/* Host check of lib/math.c against the host libm: every function over random bit patterns, ranges that
   matter for inference, and edge cases (0, -0, denormals, inf, nan, huge arguments), reporting the largest
   error in ulps. Float references are the host's double functions rounded to float (within ~0.5 ulp), double
   references are glibc's double functions. Driven by tests/test_lib_math.py: prints one line per function,
   "name maxulp N count M mismatch_special K", and exits non-zero when a bound is exceeded.
   Usage: math_check SEED COUNT */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lib/math.h"

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* distance in representable floats; nan vs nan = 0, nan vs number = huge */
static double ulp_f(float a, float b)
{
    if (isnan(a) || isnan(b))
        return (isnan(a) && isnan(b)) ? 0 : 1e30;
    if (a == b)
        return 0;
    int32_t ia, ib;
    memcpy(&ia, &a, 4);
    memcpy(&ib, &b, 4);
    if (ia < 0) ia = INT32_MIN - ia;
    if (ib < 0) ib = INT32_MIN - ib;
    return fabs((double)ia - (double)ib);
}

static double ulp_d(double a, double b)
{
    if (isnan(a) || isnan(b))
        return (isnan(a) && isnan(b)) ? 0 : 1e30;
    if (a == b)
        return 0;
    int64_t ia, ib;
    memcpy(&ia, &a, 8);
    memcpy(&ib, &b, 8);
    if (ia < 0) ia = INT64_MIN - ia;
    if (ib < 0) ib = INT64_MIN - ib;
    __int128 d = (__int128)ia - ib;
    return (double)(d < 0 ? -d : d);
}

static float rand_float(double lo, double hi)
{
    switch (rnd() % 4) {
    case 0: { /* any bit pattern */
        uint32_t b = (uint32_t)rnd();
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    case 1: { /* log-uniform magnitude with random sign */
        double m = ldexp(1.0 + (double)(rnd() >> 11) / 9007199254740992.0, (int)(rnd() % 300) - 150);
        return (float)((rnd() & 1) ? -m : m);
    }
    default: /* uniform in the range of interest */
        return (float)(lo + (hi - lo) * ((double)(rnd() >> 11) / 9007199254740992.0));
    }
}

static double rand_double(double lo, double hi)
{
    switch (rnd() % 4) {
    case 0: {
        uint64_t b = rnd();
        double d;
        memcpy(&d, &b, 8);
        return d;
    }
    case 1: {
        double m = ldexp(1.0 + (double)(rnd() >> 11) / 9007199254740992.0, (int)(rnd() % 2100) - 1075);
        return (rnd() & 1) ? -m : m;
    }
    default:
        return lo + (hi - lo) * ((double)(rnd() >> 11) / 9007199254740992.0);
    }
}

static const float edge_f[] = {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-45f, -1e-45f, 1.17549435e-38f,
                               5.9e-39f, 3.4028235e38f, -3.4028235e38f, INFINITY, -INFINITY, NAN, 88.72283f,
                               88.7229f, -87.33654f, -103.97f, -104.0f, 1.5707964f, 3.1415927f, 1e10f,
                               -1e10f, 12345.678f, 0.1f, 9.0f, 10.0f, 20.0f, 1e-8f, 0.6931472f};
static const double edge_d[] = {0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                                1.7976931348623157e308, INFINITY, -INFINITY, NAN, 709.782712893384,
                                709.79, -745.1332191019412, -745.2, -708.4, 0.1, 1e-300, 1e300, 3.0, -3.0};

static int failures;

static void finish(const char *name, double maxulp, double bound, long n, int special_bad)
{
    int bad = maxulp > bound || special_bad;
    printf("%s maxulp %.3f bound %.1f count %ld special_bad %d%s\n", name, maxulp, bound, n, special_bad,
           bad ? " FAIL" : "");
    failures += bad;
}

#define CHECK_F1(NAME, OURS, REF, LO, HI, BOUND)                                                        \
    do {                                                                                                \
        double mx = 0;                                                                                  \
        float worst = 0;                                                                                \
        long n = 0;                                                                                     \
        for (size_t i = 0; i < sizeof edge_f / sizeof edge_f[0]; i++, n++) {                            \
            float x = edge_f[i];                                                                        \
            double u = ulp_f(OURS(x), (float)REF((double)x));                                           \
            if (u > mx) { mx = u; worst = x; }                                                          \
        }                                                                                               \
        for (long i = 0; i < count; i++, n++) {                                                         \
            float x = rand_float(LO, HI);                                                               \
            double u = ulp_f(OURS(x), (float)REF((double)x));                                           \
            if (u > mx) { mx = u; worst = x; }                                                          \
        }                                                                                               \
        if (mx > 0) printf("  %s worst at %a: ours %a ref %a\n", NAME, worst, OURS(worst), (float)REF((double)worst)); \
        finish(NAME, mx, BOUND, n, 0);                                                                  \
    } while (0)

#define CHECK_D1(NAME, OURS, REF, LO, HI, BOUND)                                                        \
    do {                                                                                                \
        double mx = 0, worst = 0;                                                                       \
        long n = 0;                                                                                     \
        for (size_t i = 0; i < sizeof edge_d / sizeof edge_d[0]; i++, n++) {                            \
            double x = edge_d[i];                                                                       \
            double u = ulp_d(OURS(x), REF(x));                                                          \
            if (u > mx) { mx = u; worst = x; }                                                          \
        }                                                                                               \
        for (long i = 0; i < count; i++, n++) {                                                         \
            double x = rand_double(LO, HI);                                                             \
            double u = ulp_d(OURS(x), REF(x));                                                          \
            if (u > mx) { mx = u; worst = x; }                                                          \
        }                                                                                               \
        if (mx > 0) printf("  %s worst at %a: ours %a ref %a\n", NAME, worst, OURS(worst), REF(worst)); \
        finish(NAME, mx, BOUND, n, 0);                                                                  \
    } while (0)

static float ref_sqrtf(double x) { return sqrtf((float)x); }

int main(int argc, char **argv)
{
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 0) * 2654435761u + 1 : 1;
    long count = argc > 2 ? atol(argv[2]) : 100000;

    CHECK_F1("expf", k_expf, exp, -110, 90, 1.0);
    CHECK_F1("logf", k_logf, log, 0, 100, 1.0);
    CHECK_F1("sqrtf", k_sqrtf, ref_sqrtf, 0, 1e6, 0.0);
    CHECK_F1("sinf", k_sinf, sin, -100, 100, 1.0);
    CHECK_F1("cosf", k_cosf, cos, -100, 100, 1.0);
    CHECK_F1("tanhf", k_tanhf, tanh, -12, 12, 1.0);
    CHECK_F1("fabsf", k_fabsf, fabs, -10, 10, 0.0);
    CHECK_F1("floorf", k_floorf, floor, -1e7, 1e7, 0.0);
    CHECK_D1("exp", k_exp, exp, -750, 750, 1.0);
    CHECK_D1("log", k_log, log, 0, 1e3, 1.0);
    CHECK_D1("sqrt", k_sqrt, sqrt, 0, 1e6, 0.0);
    CHECK_D1("fabs", k_fabs, fabs, -10, 10, 0.0);
    CHECK_D1("floor", k_floor, floor, -1e17, 1e17, 0.0);

    /* pow: float and double, with the Annex F special cases as a grid */
    {
        static const double sp[] = {0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 2.5, INFINITY,
                                    -INFINITY, NAN, 1e-310, 1e300, -1e300, 9007199254740993.0, 0.75, 1e-3};
        int bad = 0;
        double mxf = 0, mxd = 0;
        long n = 0;
        for (size_t i = 0; i < sizeof sp / sizeof sp[0]; i++)
            for (size_t j = 0; j < sizeof sp / sizeof sp[0]; j++, n++) {
                double x = sp[i], y = sp[j];
                double u = ulp_d(k_pow(x, y), pow(x, y));
                if (u > 1) {
                    if (bad < 10) printf("  pow(%a, %a): ours %a ref %a\n", x, y, k_pow(x, y), pow(x, y));
                    bad++;
                }
                float uf = (float)ulp_f(k_powf((float)x, (float)y), (float)pow((float)x, (float)y));
                if (uf > 1) {
                    if (bad < 10) printf("  powf(%a, %a): ours %a\n", x, y, k_powf((float)x, (float)y));
                    bad++;
                }
            }
        double wx = 0, wy = 0;
        for (long i = 0; i < count; i++, n++) {
            double x, y;
            if (rnd() & 1) { /* results in range: x in (0, 1e4), y so that |y log x| < 700 */
                x = ldexp((double)(rnd() >> 11) / 9007199254740992.0 + 0.5, (int)(rnd() % 40) - 20);
                y = ((double)(rnd() >> 11) / 9007199254740992.0 - 0.5) * 1400 / (fabs(log(x)) + 1e-3);
            } else {
                x = rand_double(-10, 10);
                y = (rnd() & 1) ? (double)(int64_t)(rnd() % 41 - 20) : rand_double(-20, 20);
            }
            /* k_pow's log is double-double only to ~2^-62, so the error grows with |y ln x| (documented
               in lib/math.c): the bound is 1 + |y ln x| / 4 ulp, reported here as a ratio to that bound */
            double z = fabs(y * log(fabs(x)));
            double u = ulp_d(k_pow(x, y), pow(x, y)) / (1.0 + (isfinite(z) ? z : 0) / 4);
            if (u > mxd) { mxd = u; wx = x; wy = y; }
            float xf = (float)x, yf = (float)(y / 8);
            double uf = ulp_f(k_powf(xf, yf), (float)pow((double)xf, (double)yf));
            if (uf > mxf) mxf = uf;
        }
        if (mxd > 0) printf("  pow worst at %a, %a: ours %a ref %a\n", wx, wy, k_pow(wx, wy), pow(wx, wy));
        finish("pow(ratio to 1+|y ln x|/4 ulp)", mxd, 1.0, n, bad);
        finish("powf", mxf, 1.0, n, 0);
    }
    return failures != 0;
}

/* Elementary functions for the kernel and host builds alike (lib/math.h), never the host libm.
   Float functions evaluate in double and round once at the end, so they land within ~0.5 ulp (tests compare
   with the host libm over random and edge inputs: tests/test_lib_math.py). Double functions use argument
   reduction by ln2 (Cody-Waite split), series on the reduced argument, and a double-double product in k_pow.
   sin/cos reduce exactly by pi/2 with the bits of 2/pi (Payne-Hanek) for every float argument. */
#include "lib/math.h"
#include <stdint.h>
#include <stdbool.h>

static inline uint64_t bits_of(double x)
{
    uint64_t b;
    __builtin_memcpy(&b, &x, 8);
    return b;
}

static inline double from_bits(uint64_t b)
{
    double x;
    __builtin_memcpy(&x, &b, 8);
    return x;
}

static inline uint32_t fbits_of(float x)
{
    uint32_t b;
    __builtin_memcpy(&b, &x, 4);
    return b;
}

static inline float ffrom_bits(uint32_t b)
{
    float x;
    __builtin_memcpy(&x, &b, 4);
    return x;
}

/* 2^k as a double, for -1022 <= k <= 1023 */
static inline double pow2i(int k) { return from_bits((uint64_t)(k + 1023) << 52); }

/* Round to the nearest integer (ties to even) for |x| < 2^51, without a branch or libm. */
static inline double round_near(double x)
{
    const double shifter = 6755399441055744.0; /* 1.5 * 2^52 */
    double t = x + shifter; /* not folded: no -ffast-math, so no reassociation */
    return t - shifter;
}

/* ---- trivial ---------------------------------------------------------------------------------------- */

float k_fabsf(float x) { return ffrom_bits(fbits_of(x) & 0x7fffffffu); }
double k_fabs(double x) { return from_bits(bits_of(x) & 0x7fffffffffffffffull); }

float k_sqrtf(float x)
{
    __asm__("sqrtss %1, %0" : "=x"(x) : "x"(x));
    return x;
}

double k_sqrt(double x)
{
    __asm__("sqrtsd %1, %0" : "=x"(x) : "x"(x));
    return x;
}

double k_floor(double x)
{
    uint64_t b = bits_of(x);
    int e = (int)((b >> 52) & 0x7ff) - 1023; /* unbiased exponent */
    if (e >= 52)
        return x; /* integral, inf or nan */
    if (e < 0) { /* |x| < 1 */
        if ((b << 1) == 0)
            return x; /* +-0 */
        return (b >> 63) ? -1.0 : 0.0;
    }
    uint64_t frac = (1ull << (52 - e)) - 1;
    if (!(b & frac))
        return x;
    if (b >> 63)
        b += frac + 1; /* negative: away from zero, carry may bump the exponent (fine) */
    return from_bits(b & ~frac);
}

float k_floorf(float x)
{
    uint32_t b = fbits_of(x);
    int e = (int)((b >> 23) & 0xff) - 127;
    if (e >= 23)
        return x;
    if (e < 0) {
        if ((b << 1) == 0)
            return x;
        return (b >> 31) ? -1.0f : 0.0f;
    }
    uint32_t frac = (1u << (23 - e)) - 1;
    if (!(b & frac))
        return x;
    if (b >> 31)
        b += frac + 1;
    return ffrom_bits(b & ~frac);
}

/* ---- exp ---------------------------------------------------------------------------------------------- */

/* ln 2 split so that k * LN2_HI is exact for |k| < 2^20 (LN2_HI has 32 significant bits) */
static const double LN2_HI = 6.93147180369123816490e-01;  /* 0x3fe62e42fee00000 */
static const double LN2_LO = 1.90821492927058770002e-10;  /* ln 2 - LN2_HI */
static const double INV_LN2 = 1.44269504088896338700e+00;

/* e^r - 1 - r for |r| <= 0.35, Taylor to r^13 (next term < 5e-18 relative) */
static double exp_tail(double r)
{
    double p = 1.0 / 6227020800.0;            /* 1/13! */
    p = p * r + 1.0 / 479001600.0;            /* 1/12! */
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    return p * r * r;
}

/* e^x for finite |x| < 746 given as x = hi + lo (lo tiny), the scale applied in two steps so that
   subnormal and near-overflow results work. */
static double exp_parts(double hi, double lo)
{
    double k = round_near(hi * INV_LN2);
    double r = (hi - k * LN2_HI) - k * LN2_LO + lo; /* |r| <= 0.35 */
    double y = 1.0 + (r + exp_tail(r));
    int ki = (int)k;
    if (ki > 1000)
        return y * pow2i(1000) * pow2i(ki - 1000);
    if (ki < -1000)
        return y * pow2i(-1000) * pow2i(ki + 1000);
    return y * pow2i(ki);
}

double k_exp(double x)
{
    if (x != x)
        return x + x;
    if (x > 709.782712893384)
        return K_INFINITY;
    if (x < -745.1332191019412)
        return 0.0;
    return exp_parts(x, 0.0);
}

/* 2^(j/32), j = 0..31, correctly rounded (computed with mpmath); also read by the SIMD k_expf twins */
const double k_exp2_32[32] = {
    0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,
    0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,
    0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,
    0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,
    0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,
    0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,
    0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,
    0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0};

float k_expf(float xf)
{
    double x = xf;
    if (x != x)
        return xf + xf;
    if (x > 89.0)
        return K_INFINITY;
    if (x < -104.0)
        return 0.0f;
    /* e^x = 2^(n/32) * e^u with n = round(32 x / ln 2), |u| <= ln2/64: 2^(n/32) = 2^(n>>5) * table[n&31],
       e^u by Taylor to u^4 (error < 2e-12), then one rounding to float */
    double t = x * (32 * INV_LN2);
    double n = round_near(t);
    double u = (t - n) * (0.6931471805599453 / 32);
    double p = 1.0 / 24;
    p = p * u + 1.0 / 6;
    p = p * u + 0.5;
    p = p * u + 1.0;
    p = p * u + 1.0;
    int ni = (int)n;
    return (float)(p * k_exp2_32[ni & 31] * pow2i(ni >> 5)); /* >> of a negative int: floor (gcc) */
}

/* ---- log ---------------------------------------------------------------------------------------------- */

/* Exact product a * b = p + e by Dekker's splitting (no FMA; -ffp-contract=off keeps it exact). */
static double two_prod(double a, double b, double *err)
{
    const double split = 134217729.0; /* 2^27 + 1 */
    double p = a * b;
    double ca = split * a, cb = split * b;
    double ah = ca - (ca - a), al = a - ah;
    double bh = cb - (cb - b), bl = b - bh;
    *err = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
    return p;
}

/* log(x) for finite x > 0 as hi + lo (|lo| tiny against hi), the core of k_log and k_pow.
   x = 2^e * (1 + f) with sqrt(1/2) <= 1 + f < sqrt(2); s = f / (2 + f); log(1+f) = 2 atanh(s)
   = f - (f^2/2 - s (f^2/2 + R(s^2))), R = 2s^2/3 + 2s^4/5 + ... (s^2 < 0.0295: 11 terms). */
static double log_parts(double x, double *lo_out)
{
    uint64_t b = bits_of(x);
    int e = 0;
    if ((b >> 52) == 0) { /* subnormal: scale up by 2^54 */
        x *= 18014398509481984.0;
        b = bits_of(x);
        e = -54;
    }
    e += (int)(b >> 52) - 1023;
    b = (b & ((1ull << 52) - 1)) | (0x3ffull << 52); /* mantissa in [1, 2) */
    double m = from_bits(b);
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double f = m - 1.0; /* exact */
    double s = f / (2.0 + f);
    double z = s * s;
    double R = 2.0 / 23;
    R = R * z + 2.0 / 21;
    R = R * z + 2.0 / 19;
    R = R * z + 2.0 / 17;
    R = R * z + 2.0 / 15;
    R = R * z + 2.0 / 13;
    R = R * z + 2.0 / 11;
    R = R * z + 2.0 / 9;
    R = R * z + 2.0 / 7;
    R = R * z + 2.0 / 5;
    R = R * z + 2.0 / 3;
    R *= z;
    double hfsq_lo, hfsq = two_prod(0.5 * f, f, &hfsq_lo); /* f^2/2 exactly */
    double d = 2.0 + f, d_err = (2.0 - d) + f;              /* 2 + f exactly, as d + d_err */
    double sd_err, sd = two_prod(s, d, &sd_err);
    double s_lo = (((f - sd) - sd_err) - s * d_err) / d;    /* f/(2+f) - s */
    double corr = s * (hfsq + R) + (s_lo * (hfsq + R) + s * hfsq_lo); /* small: |corr| < 0.005 */
    double dk = e;
    /* log = dk*LN2_HI + f - hfsq + corr + dk*LN2_LO; sum the big parts with their rounding errors kept */
    double a = dk * LN2_HI; /* exact */
    double t1 = f - hfsq;
    double t1_err = ((f - t1) - hfsq) - hfsq_lo; /* exact error of the subtraction (|f| >= hfsq) */
    double hi = a + t1;
    double hi_err = (a - hi) + t1; /* valid when |a| >= |t1| */
    if (k_fabs(a) < k_fabs(t1))
        hi_err = (t1 - hi) + a;
    double lo = hi_err + t1_err + corr + dk * LN2_LO;
    double r = hi + lo;
    *lo_out = lo - (r - hi);
    return r;
}

double k_log(double x)
{
    if (x != x)
        return x + x;
    if (x < 0)
        return K_NAN;
    if (x == 0)
        return -K_INFINITY;
    if (x == K_INFINITY)
        return x;
    double lo;
    return log_parts(x, &lo);
}

/* Float log in double: x = 2^e m, sqrt(1/2) <= m < sqrt(2), log m = 2 atanh(s), s = (m-1)/(m+1), series to s^19
   (truncation < 1e-15 relative, so rounding to float is almost always correct), then one rounding to float. */
float k_logf(float xf)
{
    uint32_t b = fbits_of(xf);
    if (xf != xf)
        return xf + xf;
    if (b >> 31)
        return (b << 1) ? K_NAN : -K_INFINITY; /* negative: nan; -0: -inf */
    if (b == 0)
        return -K_INFINITY;
    if (b >= 0x7f800000u)
        return xf; /* +inf */
    int e = 0;
    if (b < 0x00800000u) { /* subnormal: scale by 2^25 */
        b = fbits_of(xf * 33554432.0f);
        e = -25;
    }
    e += (int)(b >> 23) - 127;
    double m = (double)ffrom_bits((b & 0x7fffffu) | 0x3f800000u); /* [1, 2) */
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e++;
    }
    double s = (m - 1.0) / (m + 1.0);
    double z = s * s;
    double p = 2.0 / 19;
    p = p * z + 2.0 / 17;
    p = p * z + 2.0 / 15;
    p = p * z + 2.0 / 13;
    p = p * z + 2.0 / 11;
    p = p * z + 2.0 / 9;
    p = p * z + 2.0 / 7;
    p = p * z + 2.0 / 5;
    p = p * z + 2.0 / 3;
    p = p * z + 2.0;
    return (float)((double)e * 0.6931471805599453 + s * p);
}

/* ---- pow ---------------------------------------------------------------------------------------------- */

/* 0: y not an integer, 1: odd integer, 2: even integer */
static int int_kind(double y)
{
    if (k_floor(y) != y)
        return 0;
    if (k_fabs(y) >= 9007199254740992.0)
        return 2;
    double h = y * 0.5;
    return k_floor(h) == h ? 2 : 1;
}

/* C11 Annex F.10.4.4 special cases, then exp(y * log|x|) with log|x| and the product in double-double.
   log_parts is good to about 2^-62 absolute, so the error is within 1 + |y ln x| / 4 ulp (measured: <= 1 ulp
   for |y ln x| < 1, ~80 ulp for results near 2^-940). The float k_powf is correctly rounded in practice. */
double k_pow(double x, double y)
{
    if (y == 0 || x == 1)
        return 1.0;
    if (x != x || y != y)
        return x + y;
    double ax = k_fabs(x), ay = k_fabs(y);
    int yk = int_kind(y);
    bool neg = x < 0 || (x == 0 && (bits_of(x) >> 63));
    double sign = (neg && yk == 1) ? -1.0 : 1.0;
    if (ay == K_INFINITY) {
        if (ax == 1)
            return 1.0;
        return ((ax > 1) == (y > 0)) ? K_INFINITY : 0.0;
    }
    if (x == 0)
        return y < 0 ? sign * K_INFINITY : sign * 0.0;
    if (ax == K_INFINITY)
        return y < 0 ? sign * 0.0 : sign * K_INFINITY;
    if (x < 0 && yk == 0)
        return K_NAN;
    double lo, hi = log_parts(ax, &lo);
    double p0 = y * hi;
    if (p0 > 710)
        return sign * K_INFINITY;
    if (p0 < -746)
        return sign * 0.0;
    double perr, p = two_prod(y, hi, &perr); /* no overflow in the split now: |y|, |hi| bounded by p0 */
    double plo = perr + y * lo;
    double z = p + plo;
    if (z > 709.782712893384)
        return sign * K_INFINITY;
    if (z < -745.1332191019412)
        return sign * 0.0;
    return sign * exp_parts(z, plo - (z - p));
}

float k_powf(float x, float y) { return (float)k_pow((double)x, (double)y); }

/* ---- sin, cos ----------------------------------------------------------------------------------------- */

/* 2/pi in 32-bit words, most significant first: 2/pi = sum w[i] 2^(-32(i+1)) (computed with mpmath). */
static const uint32_t two_over_pi[10] = {0xa2f9836e, 0x4e441529, 0xfc2757d1, 0xf534ddc0, 0xdb629599,
                                         0x3c439041, 0xfe5163ab, 0xdebbc561, 0xb7246e3a, 0x424dd2e0};
static const double PIO2 = 1.5707963267948966;

/* For finite float |x| > pi/4: x = (4n + q) pi/2 + r exactly reduced, returns r (|r| <= pi/4) and q.
   x = m 2^e (m < 2^24); words of 2/pi above index i0 only add multiples of 4 to x 2/pi, so the product of m
   with five words from i0 holds the quadrant and >= 127 fraction bits (error < 2^-103). */
static double reduce_pio2(float xf, int *quadrant)
{
    uint32_t b = fbits_of(xf);
    int be = (int)((b >> 23) & 0xff);
    uint32_t m = (b & 0x7fffff) | 0x800000; /* |x| > pi/4 is normal */
    int e = be - 150;
    int i0 = e >= 2 ? (e - 2) / 32 : 0;
    /* P = m * (w[i0] .. w[i0+4]) as 6 limbs, least significant first; value = P 2^(e - 32(i0+5)) */
    uint32_t P[6];
    uint64_t carry = 0;
    for (int j = 4; j >= 0; j--) {
        uint64_t t = (uint64_t)m * two_over_pi[i0 + j] + carry;
        P[4 - j] = (uint32_t)t;
        carry = t >> 32;
    }
    P[5] = (uint32_t)carry;
    int sh = 32 * (i0 + 5) - e; /* fraction bits in P: 127..183 */
    /* bits [sh-2, sh+2) -> quadrant; bits [sh-128, sh) -> 128-bit fraction */
    unsigned __int128 hi128 = 0, lo128 = 0; /* P as 192 bits: hi128 holds limbs 4..5, lo128 limbs 0..3 */
    lo128 = ((unsigned __int128)P[3] << 96) | ((unsigned __int128)P[2] << 64) | ((unsigned __int128)P[1] << 32) | P[0];
    hi128 = ((unsigned __int128)P[5] << 32) | P[4];
    /* shift right by sh - 128 (>= -1) to put the fraction in the low 128 bits and the quadrant above */
    int s = sh - 128;
    unsigned __int128 frac;
    unsigned q;
    if (s >= 0) {
        frac = s ? (lo128 >> s) | (hi128 << (128 - s)) : lo128;
        q = (unsigned)(s ? (hi128 >> s) : hi128) & 3;
    } else { /* s == -1 */
        frac = lo128 << 1;
        q = (unsigned)((hi128 << 1) | (lo128 >> 127)) & 3;
    }
    /* to a signed fraction in [-1/2, 1/2) of pi/2 */
    bool negf = frac >> 127;
    if (negf) {
        q = (q + 1) & 3;
        frac = (unsigned __int128)0 - frac; /* magnitude of frac - 1 */
    }
    /* top 64 significant bits of frac into a double: frac * 2^-128 */
    uint64_t fh = (uint64_t)(frac >> 64), fl = (uint64_t)frac;
    int lz = fh ? __builtin_clzll(fh) : 64 + (fl ? __builtin_clzll(fl) : 64);
    double r = 0;
    if (lz < 128) {
        unsigned __int128 nrm = frac << lz;
        uint64_t top = (uint64_t)(nrm >> 64);
        r = (double)top * pow2i(-64 - lz); /* top < 2^64; rounding here is 2^-53 relative */
    }
    if (negf)
        r = -r;
    r *= PIO2;
    if (b >> 31) {
        r = -r;
        q = (4 - q) & 3;
    }
    *quadrant = (int)q;
    return r;
}

static double sin_poly(double r) /* |r| <= pi/4, Taylor to r^15 */
{
    double z = r * r;
    double p = -1.0 / 1307674368000.0;
    p = p * z + 1.0 / 6227020800.0;
    p = p * z - 1.0 / 39916800.0;
    p = p * z + 1.0 / 362880.0;
    p = p * z - 1.0 / 5040.0;
    p = p * z + 1.0 / 120.0;
    p = p * z - 1.0 / 6.0;
    return r + r * z * p;
}

static double cos_poly(double r) /* |r| <= pi/4, Taylor to r^16 */
{
    double z = r * r;
    double p = 1.0 / 20922789888000.0;
    p = p * z - 1.0 / 87178291200.0;
    p = p * z + 1.0 / 479001600.0;
    p = p * z - 1.0 / 3628800.0;
    p = p * z + 1.0 / 40320.0;
    p = p * z - 1.0 / 720.0;
    p = p * z + 1.0 / 24.0;
    p = p * z - 0.5;
    return 1.0 + z * p;
}

/* which: 0 sin, 1 cos */
static float sincos_f(float x, int which)
{
    if (x != x)
        return x + x;
    if (k_fabsf(x) == K_INFINITY)
        return K_NAN;
    int q = 0;
    double r = x;
    if (k_fabsf(x) > 0.78539816f)
        r = reduce_pio2(x, &q);
    q = (q + which) & 3; /* cos x = sin(x + pi/2) */
    double v = (q & 1) ? cos_poly(r) : sin_poly(r);
    return (float)((q & 2) ? -v : v);
}

float k_sinf(float x) { return sincos_f(x, 0); }
float k_cosf(float x) { return sincos_f(x, 1); }

/* ---- tanh --------------------------------------------------------------------------------------------- */

/* e^t - 1 for 0 <= t <= 2, Taylor to t^19 (error < 5e-12 relative) */
static double expm1_small(double t)
{
    double p = 1.0 / 121645100408832000.0; /* 1/19! */
    static const double inv_fact[18] = {
        1.0 / 6402373705728000.0, 1.0 / 355687428096000.0, 1.0 / 20922789888000.0, 1.0 / 1307674368000.0,
        1.0 / 87178291200.0, 1.0 / 6227020800.0, 1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
        1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0, 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0};
    for (int i = 0; i < 18; i++)
        p = p * t + inv_fact[i];
    return p * t;
}

float k_tanhf(float xf)
{
    double x = xf;
    if (x != x)
        return xf + xf;
    double ax = k_fabs(x);
    double t;
    if (ax >= 10)
        t = 1.0; /* 1 - tanh < 2^-57: rounds to 1 in float */
    else if (ax < 1) {
        double em = expm1_small(2 * ax); /* tanh = (e^2x - 1) / (e^2x + 1) */
        t = em / (em + 2);
    } else
        t = 1.0 - 2.0 / (k_exp(2 * ax) + 1.0);
    return (float)(x < 0 ? -t : t);
}

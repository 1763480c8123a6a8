/* Fixed-size unsigned big integers for exact decimal <-> binary conversion: the correctly rounded
   float printing in lib/fmt.c and the correctly rounded parsing in lib/parse.c share these.
   Header-only (static inline) so that host builds need only fmt.c, parse.c and math.c.
   Little-endian 32-bit limbs; BIGINT_LIMBS bounds every number these two files make (see their comments). */
#ifndef LIB_BIGINT_H
#define LIB_BIGINT_H
#include <stdint.h>
#include <stdbool.h>

#define BIGINT_LIMBS 200 /* 6400 bits: 10^1150 * 2^1200 and 2^53 * 5^1074 fit */

struct bigint {
    int n; /* limbs in use; limb[n-1] != 0 unless n == 0 (zero) */
    uint32_t limb[BIGINT_LIMBS];
};

static inline void bigint_set_u64(struct bigint *a, uint64_t v)
{
    a->n = 0;
    while (v) {
        a->limb[a->n++] = (uint32_t)v;
        v >>= 32;
    }
}

/* a = a * m + add. Returns false when the result would not fit (a is then unspecified). */
static inline bool bigint_mul_add_small(struct bigint *a, uint32_t m, uint32_t add)
{
    uint64_t carry = add;
    for (int i = 0; i < a->n; i++) {
        uint64_t t = (uint64_t)a->limb[i] * m + carry;
        a->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    if (carry) {
        if (a->n >= BIGINT_LIMBS)
            return false;
        a->limb[a->n++] = (uint32_t)carry;
    }
    while (a->n && !a->limb[a->n - 1])
        a->n--;
    return true;
}

/* a = a * 5^k */
static inline bool bigint_mul_pow5(struct bigint *a, int k)
{
    while (k >= 13) { /* 5^13 = 1220703125 < 2^32 */
        if (!bigint_mul_add_small(a, 1220703125u, 0))
            return false;
        k -= 13;
    }
    uint32_t m = 1;
    while (k-- > 0)
        m *= 5;
    return bigint_mul_add_small(a, m, 0);
}

static inline int bigint_bitlen(const struct bigint *a)
{
    if (a->n == 0)
        return 0;
    return 32 * (a->n - 1) + (32 - __builtin_clz(a->limb[a->n - 1]));
}

/* a = a << k */
static inline bool bigint_shl(struct bigint *a, int k)
{
    if (a->n == 0 || k == 0)
        return true;
    if (bigint_bitlen(a) + k > 32 * BIGINT_LIMBS)
        return false;
    int words = k / 32, bits = k % 32;
    uint32_t top = bits ? a->limb[a->n - 1] >> (32 - bits) : 0;
    for (int i = a->n - 1; i >= 0; i--) {
        uint32_t lo = (bits && i > 0) ? a->limb[i - 1] >> (32 - bits) : 0;
        a->limb[i + words] = bits ? (a->limb[i] << bits) | lo : a->limb[i];
    }
    for (int i = 0; i < words; i++)
        a->limb[i] = 0;
    a->n += words;
    if (top)
        a->limb[a->n++] = top;
    return true;
}

static inline int bigint_cmp(const struct bigint *a, const struct bigint *b)
{
    if (a->n != b->n)
        return a->n < b->n ? -1 : 1;
    for (int i = a->n - 1; i >= 0; i--)
        if (a->limb[i] != b->limb[i])
            return a->limb[i] < b->limb[i] ? -1 : 1;
    return 0;
}

/* a = a + b (the caller keeps the sum within BIGINT_LIMBS) */
static inline void bigint_add(struct bigint *a, const struct bigint *b)
{
    uint64_t carry = 0;
    int n = a->n > b->n ? a->n : b->n;
    for (int i = 0; i < n; i++) {
        uint64_t t = carry + (i < a->n ? a->limb[i] : 0) + (i < b->n ? b->limb[i] : 0);
        a->limb[i] = (uint32_t)t;
        carry = t >> 32;
    }
    a->n = n;
    if (carry && n < BIGINT_LIMBS)
        a->limb[a->n++] = (uint32_t)carry;
}

/* a = a - b, requires a >= b */
static inline void bigint_sub(struct bigint *a, const struct bigint *b)
{
    int64_t borrow = 0;
    for (int i = 0; i < a->n; i++) {
        int64_t t = (int64_t)a->limb[i] - (i < b->n ? b->limb[i] : 0) - borrow;
        borrow = t < 0;
        a->limb[i] = (uint32_t)(t + (borrow << 32));
    }
    while (a->n && !a->limb[a->n - 1])
        a->n--;
}

/* a = a / d, returns the remainder */
static inline uint32_t bigint_divmod_small(struct bigint *a, uint32_t d)
{
    uint64_t rem = 0;
    for (int i = a->n - 1; i >= 0; i--) {
        uint64_t cur = (rem << 32) | a->limb[i];
        a->limb[i] = (uint32_t)(cur / d);
        rem = cur % d;
    }
    while (a->n && !a->limb[a->n - 1])
        a->n--;
    return (uint32_t)rem;
}

/* The top 64 bits of a (a != 0), left-aligned so bit 63 is set; *sticky is set when any lower bit is 1.
   Returns the bit length of a. */
static inline int bigint_top64(const struct bigint *a, uint64_t *top, bool *sticky)
{
    int len = bigint_bitlen(a);
    uint64_t v = 0;
    bool st = false;
    /* gather bits [len-64, len) */
    for (int i = a->n - 1; i >= 0; i--) {
        int lo_bit = 32 * i;           /* bit index of this limb's bit 0 */
        int shift = lo_bit - (len - 64); /* where this limb lands in v */
        uint32_t w = a->limb[i];
        if (shift >= 0)
            v |= (uint64_t)w << shift;
        else if (shift > -32) {
            v |= (uint64_t)w >> -shift;
            if (w & ((1u << -shift) - 1))
                st = true;
        } else if (w)
            st = true;
    }
    *top = v;
    *sticky = st;
    return len;
}

#endif

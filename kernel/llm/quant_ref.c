/* Scalar reference kernels for the ggml tensor formats: dequantize every type, quantize activations
   (Q8_0, Q8_1, Q8_K, F16, BF16, F32) and the quantized dot products, one per weight type against the
   activation type ggml pairs it with. Block layouts: llm/ggml_types.h; the dispatch table: llm/ggml_types.c;
   fast twins: llm/quant_sse2.c. Dequantization evaluates exactly the float expressions of gguf.quants
   (same operations in the same order, no contraction), so the results are bit-identical to it. */
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "lib/string.h"

/* ---- helpers ---- */

static inline float absf(float x) { return x < 0.0f ? -x : x; }

/* roundf: nearest integer, halves away from zero (what ggml's quantize_row_q8_0_ref and gguf.quants use).
   Valid for |v| < 2^31; activations quantize to |v| <= 127.5. */
static inline int round_half_away(float v)
{
    float a = absf(v);
    if (!(a < 2147483520.0f))   /* NaN or huge: saturate rather than invoke undefined behaviour */
        return v < 0.0f ? -2147483647 : (v > 0.0f ? 2147483647 : 0);
    int i = (int)a;             /* truncation */
    if (a - (float)i >= 0.5f)   /* a - i is exact */
        i++;
    return v < 0.0f ? -i : i;
}

/* Nearest integer, ties to even (ggml's nearest_int, used by Q8_K), for |v| < 2^22. */
static inline int round_half_even(float v)
{
    float t = v + 12582912.0f;  /* 1.5 * 2^23: the float add rounds to an integer */
    uint32_t u = fp32_to_bits(t);
    return (int)(u & 0x007fffffu) - 0x00400000;
}

static inline uint32_t load_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* Q3_K: 16 6-bit scales, stored +32. Low 4 bits: bytes 0..7 (low nibbles then high nibbles);
   high 2 bits: bytes 8..11, scale k uses bits 2*(k/4) of byte 8 + k%4. */
static inline int q3_K_scale(const uint8_t *scales, int k)
{
    int lo = (k < 8 ? scales[k] : scales[k - 8] >> 4) & 0x0f;
    int hi = (scales[8 + (k & 3)] >> (2 * (k >> 2))) & 0x03;
    return (lo | (hi << 4)) - 32;
}

/* Q4_K/Q5_K: 8 6-bit scales and mins in 12 bytes. j < 4: low 6 bits of bytes j (scale) and j+4 (min);
   j >= 4: low nibble/high nibble of byte j+4 plus the top 2 bits of bytes j-4 / j. */
static inline void k_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* ---- dequantize ---- */

void dequantize_row_f32_ref(const void *vx, float *y, int64_t n)
{
    memcpy(y, vx, (size_t)n * sizeof(float));
}

void dequantize_row_f16_ref(const void *vx, float *y, int64_t n)
{
    const uint8_t *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = fp16_to_fp32((uint16_t)(x[2 * i] | (x[2 * i + 1] << 8)));
}

void dequantize_row_bf16_ref(const void *vx, float *y, int64_t n)
{
    const uint8_t *x = vx;
    for (int64_t i = 0; i < n; i++)
        y[i] = bf16_to_fp32((uint16_t)(x[2 * i] | (x[2 * i + 1] << 8)));
}

void dequantize_row_q4_0_ref(const void *vx, float *y, int64_t n)
{
    const block_q4_0 *x = vx;
    for (int64_t b = 0; b < n / QK4_0; b++, y += QK4_0) {
        float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[j] = d * (float)((x[b].qs[j] & 0x0f) - 8);
            y[j + QK4_0 / 2] = d * (float)((x[b].qs[j] >> 4) - 8);
        }
    }
}

void dequantize_row_q4_1_ref(const void *vx, float *y, int64_t n)
{
    const block_q4_1 *x = vx;
    for (int64_t b = 0; b < n / QK4_1; b++, y += QK4_1) {
        float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
        for (int j = 0; j < QK4_1 / 2; j++) {
            y[j] = d * (float)(x[b].qs[j] & 0x0f) + m;
            y[j + QK4_1 / 2] = d * (float)(x[b].qs[j] >> 4) + m;
        }
    }
}

void dequantize_row_q5_0_ref(const void *vx, float *y, int64_t n)
{
    const block_q5_0 *x = vx;
    for (int64_t b = 0; b < n / QK5_0; b++, y += QK5_0) {
        float d = fp16_to_fp32(x[b].d);
        uint32_t qh = load_u32le(x[b].qh);
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = (x[b].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * (float)(q0 - 16);
            y[j + QK5_0 / 2] = d * (float)(q1 - 16);
        }
    }
}

void dequantize_row_q5_1_ref(const void *vx, float *y, int64_t n)
{
    const block_q5_1 *x = vx;
    for (int64_t b = 0; b < n / QK5_1; b++, y += QK5_1) {
        float d = fp16_to_fp32(x[b].d), m = fp16_to_fp32(x[b].m);
        uint32_t qh = load_u32le(x[b].qh);
        for (int j = 0; j < QK5_1 / 2; j++) {
            int q0 = (x[b].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            y[j] = d * (float)q0 + m;
            y[j + QK5_1 / 2] = d * (float)q1 + m;
        }
    }
}

void dequantize_row_q8_0_ref(const void *vx, float *y, int64_t n)
{
    const block_q8_0 *x = vx;
    for (int64_t b = 0; b < n / QK8_0; b++, y += QK8_0) {
        float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++)
            y[j] = (float)x[b].qs[j] * d;
    }
}

void dequantize_row_q8_1_ref(const void *vx, float *y, int64_t n)
{
    const block_q8_1 *x = vx;
    for (int64_t b = 0; b < n / QK8_1; b++, y += QK8_1) {
        float d = fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_1; j++)
            y[j] = (float)x[b].qs[j] * d;
    }
}

void dequantize_row_q8_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q8_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K)
        for (int j = 0; j < QK_K; j++)
            y[j] = x[b].d * (float)x[b].qs[j];
}

/* Q2_K element e = 128*h + 32*s + l (h 0..1, s 0..3, l 0..31): q = (qs[32*h + l] >> 2*s) & 3, sub-block e/16. */
void dequantize_row_q2_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q2_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
        for (int e = 0; e < QK_K; e++) {
            int h = e >> 7, s = (e >> 5) & 3, l = e & 31;
            uint8_t sc = x[b].scales[e >> 4];
            float dl = d * (float)(sc & 0x0f), ml = dmin * (float)(sc >> 4);
            int q = (x[b].qs[32 * h + l] >> (2 * s)) & 3;
            y[e] = dl * (float)q - ml;
        }
    }
}

/* Q3_K element e: low bits as Q2_K; high bit = bit e/32 of hmask[e % 32]; q = low - (high ? 0 : 4). */
void dequantize_row_q3_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q3_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = fp16_to_fp32(x[b].d);
        for (int k = 0; k < 16; k++) {
            float dl = d * (float)q3_K_scale(x[b].scales, k);
            for (int i = 0; i < 16; i++) {
                int e = 16 * k + i;
                int h = e >> 7, s = (e >> 5) & 3, l = e & 31;
                int lo = (x[b].qs[32 * h + l] >> (2 * s)) & 3;
                int hi = (x[b].hmask[l] >> (e >> 5)) & 1;
                y[e] = dl * (float)(lo - (hi ? 0 : 4));
            }
        }
    }
}

/* Q4_K: sub-block j (32 elements) = nibble j&1 of qs[32*(j/2) + l]. */
void dequantize_row_q4_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q4_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k_scale_min(x[b].scales, j, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (j >> 1);
            int shift = 4 * (j & 1);
            for (int l = 0; l < 32; l++)
                y[32 * j + l] = d1 * (float)((q[l] >> shift) & 0x0f) - m1;
        }
    }
}

/* Q5_K: as Q4_K, plus bit j of qh[l] as bit 4. */
void dequantize_row_q5_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q5_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = fp16_to_fp32(x[b].d), dmin = fp16_to_fp32(x[b].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k_scale_min(x[b].scales, j, &sc, &m);
            float d1 = d * (float)sc, m1 = dmin * (float)m;
            const uint8_t *q = x[b].qs + 32 * (j >> 1);
            int shift = 4 * (j & 1);
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0x0f) | (((x[b].qh[l] >> j) & 1) << 4);
                y[32 * j + l] = d1 * (float)v - m1;
            }
        }
    }
}

/* Q6_K element e = 128*h + r: low 4 bits = nibble r/64 of ql[64*h + r%64], high 2 bits =
   (qh[32*h + r%32] >> 2*(r/32)) & 3; sub-block e/16. */
void dequantize_row_q6_K_ref(const void *vx, float *y, int64_t n)
{
    const block_q6_K *x = vx;
    for (int64_t b = 0; b < n / QK_K; b++, y += QK_K) {
        float d = fp16_to_fp32(x[b].d);
        for (int e = 0; e < QK_K; e++) {
            int h = e >> 7, r = e & 127;
            int lo = (x[b].ql[64 * h + (r & 63)] >> (4 * (r >> 6))) & 0x0f;
            int hi = (x[b].qh[32 * h + (r & 31)] >> (2 * (r >> 5))) & 3;
            float dl = d * (float)x[b].scales[e >> 4];
            y[e] = dl * (float)((lo | (hi << 4)) - 32);
        }
    }
}

/* ---- quantize (activations) ---- */

void quantize_row_f32_ref(const float *x, void *vy, int64_t n)
{
    memcpy(vy, x, (size_t)n * sizeof(float));
}

void quantize_row_f16_ref(const float *x, void *vy, int64_t n)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = fp16_from_fp32(x[i]);
        y[2 * i] = (uint8_t)h;
        y[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

void quantize_row_bf16_ref(const float *x, void *vy, int64_t n)
{
    uint8_t *y = vy;
    for (int64_t i = 0; i < n; i++) {
        uint16_t h = bf16_from_fp32(x[i]);
        y[2 * i] = (uint8_t)h;
        y[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

/* Q8_0: d = max|x| / 127, q = roundf(x / d) (computed as x * (1/d)). */
void quantize_row_q8_0_ref(const float *x, void *vy, int64_t n)
{
    block_q8_0 *y = vy;
    for (int64_t b = 0; b < n / QK8_0; b++, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++)
            if (absf(x[j]) > amax)
                amax = absf(x[j]);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = fp16_from_fp32(d);
        for (int j = 0; j < QK8_0; j++)
            y[b].qs[j] = (int8_t)round_half_away(x[j] * id);
    }
}

/* Q8_1: as Q8_0, plus s = fp16(d * sum(q)). */
void quantize_row_q8_1_ref(const float *x, void *vy, int64_t n)
{
    block_q8_1 *y = vy;
    for (int64_t b = 0; b < n / QK8_1; b++, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; j++)
            if (absf(x[j]) > amax)
                amax = absf(x[j]);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK8_1; j++) {
            int q = round_half_away(x[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = fp16_from_fp32(d);
        y[b].s = fp16_from_fp32((float)sum * d);
    }
}

/* Q8_K: max = the element of largest magnitude (first on ties), iscale = -127 / max,
   q = min(127, nearest_even(iscale * x)), d = 1 / iscale, bsums over groups of 16. */
void quantize_row_q8_K_ref(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (absf(x[j]) > amax) {
                amax = absf(x[j]);
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            int v = round_half_even(iscale * x[j]);
            y[b].qs[j] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += y[b].qs[16 * g + i];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1.0f / iscale;
    }
}

/* ---- dot products: x is a row of the weight type, y the activations in the paired type ---- */

void vec_dot_f32_f32_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const float *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(x[i] * y[i]);
    *s = (float)sum;
}

void vec_dot_f16_f16_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(fp16_to_fp32(x[i]) * fp16_to_fp32(y[i]));
    *s = (float)sum;
}

void vec_dot_bf16_bf16_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)(bf16_to_fp32(x[i]) * bf16_to_fp32(y[i]));
    *s = (float)sum;
}

void vec_dot_q4_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            isum += ((x[b].qs[j] & 0x0f) - 8) * y[b].qs[j];
            isum += ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + QK4_0 / 2];
        }
        sum += (float)isum * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d));
    }
    *s = sum;
}

/* sum_j (d*q_j + m) * dy*qy_j = d*dy * sum q*qy + m * (dy * sum qy) = ... + m * s_y */
void vec_dot_q4_1_q8_1_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK4_1; b++) {
        int isum = 0;
        for (int j = 0; j < QK4_1 / 2; j++) {
            isum += (x[b].qs[j] & 0x0f) * y[b].qs[j];
            isum += (x[b].qs[j] >> 4) * y[b].qs[j + QK4_1 / 2];
        }
        sum += (float)isum * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) +
               fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
    }
    *s = sum;
}

void vec_dot_q5_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_0; b++) {
        uint32_t qh = load_u32le(x[b].qh);
        int isum = 0;
        for (int j = 0; j < QK5_0 / 2; j++) {
            int q0 = (x[b].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            isum += (q0 - 16) * y[b].qs[j] + (q1 - 16) * y[b].qs[j + QK5_0 / 2];
        }
        sum += (float)isum * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d));
    }
    *s = sum;
}

void vec_dot_q5_1_q8_1_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_1 *x = vx;
    const block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK5_1; b++) {
        uint32_t qh = load_u32le(x[b].qh);
        int isum = 0;
        for (int j = 0; j < QK5_1 / 2; j++) {
            int q0 = (x[b].qs[j] & 0x0f) | (int)(((qh >> j) & 1u) << 4);
            int q1 = (x[b].qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1u) << 4);
            isum += q0 * y[b].qs[j] + q1 * y[b].qs[j + QK5_1 / 2];
        }
        sum += (float)isum * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d)) +
               fp16_to_fp32(x[b].m) * fp16_to_fp32(y[b].s);
    }
    *s = sum;
}

void vec_dot_q8_0_q8_0_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q8_0 *x = vx;
    const block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += x[b].qs[j] * y[b].qs[j];
        sum += (float)isum * (fp16_to_fp32(x[b].d) * fp16_to_fp32(y[b].d));
    }
    *s = sum;
}

/* K-quants: per super-block, integer sums per sub-block times the integer scale, then one float
   multiply by d * y.d; the min terms use the precomputed bsums of Q8_K. */
void vec_dot_q2_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q2_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int isum = 0, msum = 0;
        for (int k = 0; k < 16; k++) {
            int sub = 0;
            for (int i = 0; i < 16; i++) {
                int e = 16 * k + i;
                int q = (x[b].qs[32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
                sub += q * y[b].qs[e];
            }
            isum += (x[b].scales[k] & 0x0f) * sub;
            msum += (x[b].scales[k] >> 4) * y[b].bsums[k];
        }
        float dall = y[b].d * fp16_to_fp32(x[b].d), dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * (float)isum - dmin * (float)msum;
    }
    *s = sum;
}

void vec_dot_q3_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q3_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int k = 0; k < 16; k++) {
            int sub = 0;
            for (int i = 0; i < 16; i++) {
                int e = 16 * k + i;
                int lo = (x[b].qs[32 * (e >> 7) + (e & 31)] >> (2 * ((e >> 5) & 3))) & 3;
                int hi = (x[b].hmask[e & 31] >> (e >> 5)) & 1;
                sub += (lo - (hi ? 0 : 4)) * y[b].qs[e];
            }
            isum += q3_K_scale(x[b].scales, k) * sub;
        }
        sum += (y[b].d * fp16_to_fp32(x[b].d)) * (float)isum;
    }
    *s = sum;
}

void vec_dot_q4_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q4_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k_scale_min(x[b].scales, j, &sc, &m);
            const uint8_t *q = x[b].qs + 32 * (j >> 1);
            int shift = 4 * (j & 1), sub = 0;
            for (int l = 0; l < 32; l++)
                sub += ((q[l] >> shift) & 0x0f) * y[b].qs[32 * j + l];
            isum += sc * sub;
            msum += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        float dall = y[b].d * fp16_to_fp32(x[b].d), dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * (float)isum - dmin * (float)msum;
    }
    *s = sum;
}

void vec_dot_q5_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q5_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            k_scale_min(x[b].scales, j, &sc, &m);
            const uint8_t *q = x[b].qs + 32 * (j >> 1);
            int shift = 4 * (j & 1), sub = 0;
            for (int l = 0; l < 32; l++) {
                int v = ((q[l] >> shift) & 0x0f) | (((x[b].qh[l] >> j) & 1) << 4);
                sub += v * y[b].qs[32 * j + l];
            }
            isum += sc * sub;
            msum += m * (y[b].bsums[2 * j] + y[b].bsums[2 * j + 1]);
        }
        float dall = y[b].d * fp16_to_fp32(x[b].d), dmin = y[b].d * fp16_to_fp32(x[b].dmin);
        sum += dall * (float)isum - dmin * (float)msum;
    }
    *s = sum;
}

void vec_dot_q6_K_q8_K_ref(int64_t n, float *s, const void *vx, const void *vy)
{
    const block_q6_K *x = vx;
    const block_q8_K *y = vy;
    float sum = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int isum = 0;
        for (int k = 0; k < 16; k++) {
            int sub = 0;
            for (int i = 0; i < 16; i++) {
                int e = 16 * k + i, h = e >> 7, r = e & 127;
                int lo = (x[b].ql[64 * h + (r & 63)] >> (4 * (r >> 6))) & 0x0f;
                int hi = (x[b].qh[32 * h + (r & 31)] >> (2 * (r >> 5))) & 3;
                sub += ((lo | (hi << 4)) - 32) * y[b].qs[e];
            }
            isum += x[b].scales[k] * sub;
        }
        sum += (y[b].d * fp16_to_fp32(x[b].d)) * (float)isum;
    }
    *s = sum;
}

/* ggml tensor formats: the type numbers GGUF uses, the quantized block layouts (byte for byte as ggml's),
   and the one dispatch table (block size, type size, dequantize, activation quantize, vec_dot).
   Scalar references live in llm/quant_ref.c, fp16/bf16 conversions in llm/fp16.h, SIMD twins in
   llm/quant_sse2.c, llm/quant_avx2.c and llm/quant_avx512.c (installed into the table by ggml_types_init_simd). */
#ifndef LLM_GGML_TYPES_H
#define LLM_GGML_TYPES_H
#include <stddef.h>
#include <stdint.h>

/* Numeric values are ggml's (they are stored in GGUF tensor infos). Gaps are types we do not support. */
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_COUNT = 40, /* size of the dispatch table; ggml's numbering stays below this */
};

typedef uint16_t ggml_half;   /* IEEE binary16 bits; convert with llm/fp16.h */
typedef uint16_t ggml_bf16;   /* bfloat16 bits (upper half of an f32) */

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256              /* super-block size of the K-quants */
#define K_SCALE_SIZE 12       /* packed 6-bit scales+mins of Q4_K/Q5_K */

/* Q4_0: w = d * (q - 8), q in 0..15. qs[j] low nibble = element j, high nibble = element j+16.
   18 bytes / 32 weights = 4.5 bits per weight. */
typedef struct {
    ggml_half d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
_Static_assert(sizeof(block_q4_0) == 2 + QK4_0 / 2, "block_q4_0 size");

/* Q4_1: w = d * q + m, q in 0..15, nibble order as Q4_0. 20 bytes / 32 = 5.0 bpw. */
typedef struct {
    ggml_half d;
    ggml_half m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
_Static_assert(sizeof(block_q4_1) == 4 + QK4_1 / 2, "block_q4_1 size");

/* Q5_0: w = d * (q - 16), q 5 bits: low 4 bits as Q4_0, bit 4 of element j is bit j of qh (little-endian u32).
   22 bytes / 32 = 5.5 bpw. */
typedef struct {
    ggml_half d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
_Static_assert(sizeof(block_q5_0) == 2 + 4 + QK5_0 / 2, "block_q5_0 size");

/* Q5_1: w = d * q + m, q 5 bits as Q5_0. 24 bytes / 32 = 6.0 bpw. */
typedef struct {
    ggml_half d;
    ggml_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
_Static_assert(sizeof(block_q5_1) == 4 + 4 + QK5_1 / 2, "block_q5_1 size");

/* Q8_0: w = d * q, q int8. 34 bytes / 32 = 8.5 bpw. Also the activation type of Q4_0/Q5_0/Q8_0. */
typedef struct {
    ggml_half d;
    int8_t qs[QK8_0];
} block_q8_0;
_Static_assert(sizeof(block_q8_0) == 2 + QK8_0, "block_q8_0 size");

/* Q8_1: w = d * q, s = d * sum(q) (precomputed for the min term of Q4_1/Q5_1). 36 bytes / 32 = 9.0 bpw.
   Activation type only. */
typedef struct {
    ggml_half d;
    ggml_half s;
    int8_t qs[QK8_1];
} block_q8_1;
_Static_assert(sizeof(block_q8_1) == 4 + QK8_1, "block_q8_1 size");

/* Q2_K: 16 sub-blocks of 16. scales[i]: low nibble = scale, high nibble = min.
   w = d * (scales[i] & 15) * q - dmin * (scales[i] >> 4), q 2 bits.
   qs: 2 halves of 128; in half h, byte l (0..31) holds q for elements h*128 + 32*shift/2 + l at bit shift 0,2,4,6.
   84 bytes / 256 = 2.625 bpw. */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    ggml_half d;
    ggml_half dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == QK_K / 16 + QK_K / 4 + 4, "block_q2_K size");

/* Q3_K: 16 sub-blocks of 16, 6-bit signed scales (stored +32) packed in 12 bytes.
   w = d * (scale - 32) * (q - (hmask bit set ? 0 : 4)), q low 2 bits from qs (layout as Q2_K), high bit in hmask.
   110 bytes / 256 = 3.4375 bpw. */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    ggml_half d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == QK_K / 8 + QK_K / 4 + 12 + 2, "block_q3_K size");

/* Q4_K: 8 sub-blocks of 32, 6-bit scale sc and min m per sub-block packed in 12 bytes.
   w = d * sc * q - dmin * m, q 4 bits: qs chunk c (32 bytes) low nibbles = sub-block 2c, high = 2c+1.
   144 bytes / 256 = 4.5 bpw. */
typedef struct {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 4 + K_SCALE_SIZE + QK_K / 2, "block_q4_K size");

/* Q5_K: as Q4_K with a fifth bit: bit (2c) / (2c+1) of qh[l] is the high bit of element l of sub-block 2c / 2c+1.
   176 bytes / 256 = 5.5 bpw. */
typedef struct {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 4 + K_SCALE_SIZE + QK_K / 8 + QK_K / 2, "block_q5_K size");

/* Q6_K: 16 sub-blocks of 16, int8 scales. w = d * scales[i] * (q - 32), q 6 bits: low 4 in ql, high 2 in qh.
   210 bytes / 256 = 6.5625 bpw. */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    ggml_half d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == QK_K / 2 + QK_K / 4 + QK_K / 16 + 2, "block_q6_K size");

/* Q8_K: w = d * q (d is f32), bsums[i] = sum of q over the i-th group of 16. Activation type of the K-quants.
   292 bytes / 256 = 9.125 bpw. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
_Static_assert(sizeof(block_q8_K) == 4 + QK_K + QK_K / 16 * 2, "block_q8_K size");

typedef void (*ggml_to_float_fn)(const void *x, float *y, int64_t n);
typedef void (*ggml_from_float_fn)(const float *x, void *y, int64_t n);
typedef void (*ggml_vec_dot_fn)(int64_t n, float *s, const void *x, const void *y);
/* nr dot products sharing one activation row: s[r] = dot(x + r * bx bytes, y), r < nr. */
typedef void (*ggml_vec_dot_rows_fn)(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);

/* A 4x4 tile of a matrix product (prefill, llm/matmul.c): s[t * ls + r] = dot(x + r * bx bytes, y + t * by bytes)
   for r < 4, t < 4: each weight block is loaded once for 4 activation rows. */
typedef void (*ggml_vec_dot_tile_fn)(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                     size_t by);

/* The 4x4 tiles on prepared activations (SSE2 only: llm/quant_sse2.c; llm/matmul.c prefers them when installed).
   tile_act lays out nb blocks of 4 activation rows (y + t * by bytes, t < 4) as nb GGML_TILE_ACT_SIZE-byte
   records (int16 activations, float scales), once per token block instead of once per group of 4 weight rows;
   vec_dot_tile_act runs 4 weight rows (x + r * bx bytes, nb blocks) against ng groups of nb records, back to back:
   s[(4 * g + t) * ls + r] = the dot over the nb blocks, continuing the partial sums in s when acc (the earlier
   blocks of a longer row: the reference's order), else from 0. nb <= GGML_TILE_ACT_BLOCKS. */
#define GGML_TILE_ACT_SIZE 304    /* bytes per prepared block of 4 activation rows (16-byte aligned records) */
#define GGML_TILE_ACT_BLOCKS 16   /* the most blocks per vec_dot_tile_act call */
typedef void (*ggml_tile_act_fn)(int64_t nb, void *act, const void *y, size_t by);
typedef void (*ggml_vec_dot_tile_act_fn)(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act,
                                         int ng, int acc);

/* One row of the dispatch table. n is always in elements and a multiple of blck_size. */
struct ggml_type_traits {
    const char *name;
    int64_t blck_size;                 /* elements per block */
    size_t type_size;                  /* bytes per block */
    ggml_to_float_fn to_float;         /* dequantize n elements */
    ggml_from_float_fn from_float;     /* quantize n activations (set for activation types; NULL otherwise) */
    enum ggml_type vec_dot_type;       /* what the activations must be quantized to for vec_dot */
    ggml_vec_dot_fn vec_dot;           /* *s = dot(x, y); x: row of this type, y: row of vec_dot_type */
    ggml_vec_dot_rows_fn vec_dot_rows; /* several rows at once (SIMD twins only); NULL: vec_dot row by row */
    ggml_vec_dot_tile_fn vec_dot_tile; /* 4 rows x 4 activation rows (SIMD twins only); NULL: none */
    ggml_tile_act_fn tile_act;                 /* both or neither (SSE2 twins only) */
    ggml_vec_dot_tile_act_fn vec_dot_tile_act;
};

/* Matrix-vector step: s[r] = dot(row r of x, y) for r < nr, rows bx bytes apart, with the table's multi-row
   kernel when there is one (results within the vec_dot tolerance of the row-by-row references). */
void ggml_vec_dot_rows(const struct ggml_type_traits *tt, int64_t n, int64_t nr, float *s, const void *x, size_t bx,
                       const void *y);

/* NULL when t is out of range or not supported. */
const struct ggml_type_traits *ggml_get_type_traits(enum ggml_type t);
/* The scalar-reference row for t, whatever ggml_types_init_simd installed (tests hold fast against ref). */
const struct ggml_type_traits *ggml_get_type_traits_ref(enum ggml_type t);
/* Bytes of a row of n elements (n must be a multiple of the block size; returns 0 for unsupported types). */
size_t ggml_row_size(enum ggml_type t, int64_t n);
/* 1 when t is a supported type, 0 otherwise (accepts any integer read from a file). */
int ggml_type_is_supported(uint32_t t);
const char *ggml_type_name(uint32_t t);   /* "?" for unsupported */

/* CPU features for the SIMD dispatch (bits; filled by the caller from CPUID). */
#define GGML_CPU_SSE2 (1u << 0)
#define GGML_CPU_SSSE3 (1u << 1)
#define GGML_CPU_AVX2 (1u << 2)
#define GGML_CPU_AVX512 (1u << 4)   /* AVX-512 F+BW+VL+VNNI with XCR0 enabling its state (llm/quant_avx512.c,
                                       installed over the AVX2 set: needs AVX2 | FMA too) */
#define GGML_CPU_FMA (1u << 3)   /* AVX2 twins (llm/quant_avx2.c) need AVX2 | FMA (and F16C, checked inside) */
/* Replace table entries with the fastest variants the features allow; 0 restores the references.
   Call once at boot (before any worker runs), never while a matrix product is running. */
void ggml_types_init_simd(uint32_t features);
/* What the last ggml_types_init_simd installed: "avx512", "avx2", "sse2" or "ref" (for the boot log). */
const char *ggml_types_simd_name(void);
/* 1 when the AVX2 set is installed, alone or under the AVX-512 one (ops.c then also uses llm/attn_avx2.c). */
int ggml_types_simd_avx2(void);

/* The scalar references (llm/quant_ref.c), with the signatures of the table. */
void dequantize_row_f32_ref(const void *x, float *y, int64_t n);
void dequantize_row_f16_ref(const void *x, float *y, int64_t n);
void dequantize_row_bf16_ref(const void *x, float *y, int64_t n);
void dequantize_row_q4_0_ref(const void *x, float *y, int64_t n);
void dequantize_row_q4_1_ref(const void *x, float *y, int64_t n);
void dequantize_row_q5_0_ref(const void *x, float *y, int64_t n);
void dequantize_row_q5_1_ref(const void *x, float *y, int64_t n);
void dequantize_row_q8_0_ref(const void *x, float *y, int64_t n);
void dequantize_row_q8_1_ref(const void *x, float *y, int64_t n);
void dequantize_row_q2_K_ref(const void *x, float *y, int64_t n);
void dequantize_row_q3_K_ref(const void *x, float *y, int64_t n);
void dequantize_row_q4_K_ref(const void *x, float *y, int64_t n);
void dequantize_row_q5_K_ref(const void *x, float *y, int64_t n);
void dequantize_row_q6_K_ref(const void *x, float *y, int64_t n);
void dequantize_row_q8_K_ref(const void *x, float *y, int64_t n);

void quantize_row_f32_ref(const float *x, void *y, int64_t n);
void quantize_row_f16_ref(const float *x, void *y, int64_t n);
void quantize_row_bf16_ref(const float *x, void *y, int64_t n);
void quantize_row_q8_0_ref(const float *x, void *y, int64_t n);
void quantize_row_q8_1_ref(const float *x, void *y, int64_t n);
void quantize_row_q8_K_ref(const float *x, void *y, int64_t n);

void vec_dot_f32_f32_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_f16_f16_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_bf16_bf16_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_1_q8_1_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q8_0_q8_0_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q2_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q3_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q6_K_q8_K_ref(int64_t n, float *s, const void *x, const void *y);

#endif

/* The dispatch table of the ggml tensor formats, indexed by enum ggml_type: block size, bytes per block,
   dequantize, activation quantize, the activation type and the dot product. It starts out holding the
   scalar references (llm/quant_ref.c); ggml_types_init_simd swaps in the SIMD twins (llm/quant_sse2.c, then
   llm/quant_avx2.c, then llm/quant_avx512.c) once at boot. Block layouts are in llm/ggml_types.h. */
#include "llm/ggml_types.h"
#include "llm/quant_simd.h"

/* Every supported type once: (type, name, block size, type size, dequantize, quantize, activation type, vec_dot).
   Q8_1 and Q8_K are activation types only: no dot product with themselves as weights. */
#define GGML_TYPE_LIST(T) \
    T(GGML_TYPE_F32, "f32", 1, 4, dequantize_row_f32_ref, quantize_row_f32_ref, GGML_TYPE_F32, vec_dot_f32_f32_ref) \
    T(GGML_TYPE_F16, "f16", 1, 2, dequantize_row_f16_ref, quantize_row_f16_ref, GGML_TYPE_F16, vec_dot_f16_f16_ref) \
    T(GGML_TYPE_BF16, "bf16", 1, 2, dequantize_row_bf16_ref, quantize_row_bf16_ref, GGML_TYPE_BF16, \
      vec_dot_bf16_bf16_ref) \
    T(GGML_TYPE_Q4_0, "q4_0", QK4_0, sizeof(block_q4_0), dequantize_row_q4_0_ref, 0, GGML_TYPE_Q8_0, \
      vec_dot_q4_0_q8_0_ref) \
    T(GGML_TYPE_Q4_1, "q4_1", QK4_1, sizeof(block_q4_1), dequantize_row_q4_1_ref, 0, GGML_TYPE_Q8_1, \
      vec_dot_q4_1_q8_1_ref) \
    T(GGML_TYPE_Q5_0, "q5_0", QK5_0, sizeof(block_q5_0), dequantize_row_q5_0_ref, 0, GGML_TYPE_Q8_0, \
      vec_dot_q5_0_q8_0_ref) \
    T(GGML_TYPE_Q5_1, "q5_1", QK5_1, sizeof(block_q5_1), dequantize_row_q5_1_ref, 0, GGML_TYPE_Q8_1, \
      vec_dot_q5_1_q8_1_ref) \
    T(GGML_TYPE_Q8_0, "q8_0", QK8_0, sizeof(block_q8_0), dequantize_row_q8_0_ref, quantize_row_q8_0_ref, \
      GGML_TYPE_Q8_0, vec_dot_q8_0_q8_0_ref) \
    T(GGML_TYPE_Q8_1, "q8_1", QK8_1, sizeof(block_q8_1), dequantize_row_q8_1_ref, quantize_row_q8_1_ref, \
      GGML_TYPE_Q8_1, 0) \
    T(GGML_TYPE_Q2_K, "q2_K", QK_K, sizeof(block_q2_K), dequantize_row_q2_K_ref, 0, GGML_TYPE_Q8_K, \
      vec_dot_q2_K_q8_K_ref) \
    T(GGML_TYPE_Q3_K, "q3_K", QK_K, sizeof(block_q3_K), dequantize_row_q3_K_ref, 0, GGML_TYPE_Q8_K, \
      vec_dot_q3_K_q8_K_ref) \
    T(GGML_TYPE_Q4_K, "q4_K", QK_K, sizeof(block_q4_K), dequantize_row_q4_K_ref, 0, GGML_TYPE_Q8_K, \
      vec_dot_q4_K_q8_K_ref) \
    T(GGML_TYPE_Q5_K, "q5_K", QK_K, sizeof(block_q5_K), dequantize_row_q5_K_ref, 0, GGML_TYPE_Q8_K, \
      vec_dot_q5_K_q8_K_ref) \
    T(GGML_TYPE_Q6_K, "q6_K", QK_K, sizeof(block_q6_K), dequantize_row_q6_K_ref, 0, GGML_TYPE_Q8_K, \
      vec_dot_q6_K_q8_K_ref) \
    T(GGML_TYPE_Q8_K, "q8_K", QK_K, sizeof(block_q8_K), dequantize_row_q8_K_ref, quantize_row_q8_K_ref, \
      GGML_TYPE_Q8_K, 0)

#define T(t, nm, bs, ts, to, from, vdt, vd) \
    [t] = { .name = nm, .blck_size = bs, .type_size = ts, .to_float = to, .from_float = from, \
            .vec_dot_type = vdt, .vec_dot = vd },

/* The references, kept to restore the table (and for tests that compare a fast kernel with its reference). */
static const struct ggml_type_traits type_traits_ref[GGML_TYPE_COUNT] = { GGML_TYPE_LIST(T) };
/* The live table: the references until ggml_types_init_simd replaces entries. */
static struct ggml_type_traits type_traits[GGML_TYPE_COUNT] = { GGML_TYPE_LIST(T) };
#undef T

int ggml_type_is_supported(uint32_t t)
{
    return t < GGML_TYPE_COUNT && type_traits[t].name != 0;
}

const struct ggml_type_traits *ggml_get_type_traits(enum ggml_type t)
{
    return ggml_type_is_supported((uint32_t)t) ? &type_traits[t] : 0;
}

const struct ggml_type_traits *ggml_get_type_traits_ref(enum ggml_type t)
{
    return ggml_type_is_supported((uint32_t)t) ? &type_traits_ref[t] : 0;
}

const char *ggml_type_name(uint32_t t)
{
    return ggml_type_is_supported(t) ? type_traits[t].name : "?";
}

size_t ggml_row_size(enum ggml_type t, int64_t n)
{
    const struct ggml_type_traits *tt = ggml_get_type_traits(t);
    if (!tt || n < 0)
        return 0;
    return (size_t)(n / tt->blck_size) * tt->type_size;
}

void ggml_vec_dot_rows(const struct ggml_type_traits *tt, int64_t n, int64_t nr, float *s, const void *x, size_t bx,
                       const void *y)
{
    if (tt->vec_dot_rows) {
        tt->vec_dot_rows(n, nr, s, x, bx, y);
        return;
    }
    for (int64_t r = 0; r < nr; r++)
        tt->vec_dot(n, &s[r], (const uint8_t *)x + (size_t)r * bx, y);
}

static const char *simd_name = "ref";

const char *ggml_types_simd_name(void)
{
    return simd_name;
}

int ggml_types_simd_avx2(void)
{
    return simd_name[0] == 'a';   /* "avx2" or "avx512" (which includes the AVX2 set) */
}

void ggml_types_init_simd(uint32_t features)
{
    for (int t = 0; t < GGML_TYPE_COUNT; t++)
        type_traits[t] = type_traits_ref[t];
    simd_name = "ref";
    if (features & GGML_CPU_SSE2) {   /* llm/quant_sse2.c: bit-identical to the refs (F32/F16 rows: see there) */
        simd_name = "sse2";
        type_traits[GGML_TYPE_F16].to_float = dequantize_row_f16_sse2;
        type_traits[GGML_TYPE_F16].vec_dot = vec_dot_f16_f16_sse2;
        type_traits[GGML_TYPE_F32].vec_dot = vec_dot_f32_f32_sse2;
        type_traits[GGML_TYPE_Q8_0].from_float = quantize_row_q8_0_sse2;
        type_traits[GGML_TYPE_Q8_1].from_float = quantize_row_q8_1_sse2;
        type_traits[GGML_TYPE_Q8_K].from_float = quantize_row_q8_K_sse2;
        type_traits[GGML_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q4_0].vec_dot_rows = vec_dot_rows_q4_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_1].vec_dot_rows = vec_dot_rows_q4_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q5_0].vec_dot_rows = vec_dot_rows_q5_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q5_1].vec_dot_rows = vec_dot_rows_q5_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q8_0].vec_dot_rows = vec_dot_rows_q8_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_K].vec_dot_rows = vec_dot_rows_q4_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q5_K].vec_dot_rows = vec_dot_rows_q5_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q6_K].vec_dot_rows = vec_dot_rows_q6_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q4_K].vec_dot_tile = vec_dot_tile_q4_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q5_K].vec_dot_tile = vec_dot_tile_q5_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q6_K].vec_dot_tile = vec_dot_tile_q6_K_q8_K_sse2;
        type_traits[GGML_TYPE_Q4_0].tile_act = tile_act_q4_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_1].tile_act = tile_act_q4_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q5_0].tile_act = tile_act_q5_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q5_1].tile_act = tile_act_q5_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q8_0].tile_act = tile_act_q8_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_0].vec_dot_tile_act = vec_dot_tile_act_q4_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q4_1].vec_dot_tile_act = vec_dot_tile_act_q4_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q5_0].vec_dot_tile_act = vec_dot_tile_act_q5_0_q8_0_sse2;
        type_traits[GGML_TYPE_Q5_1].vec_dot_tile_act = vec_dot_tile_act_q5_1_q8_1_sse2;
        type_traits[GGML_TYPE_Q8_0].vec_dot_tile_act = vec_dot_tile_act_q8_0_q8_0_sse2;
    }
    if ((features & (GGML_CPU_AVX2 | GGML_CPU_FMA)) == (GGML_CPU_AVX2 | GGML_CPU_FMA) && quant_avx2_cpu_ok()) {
        /* llm/quant_avx2.c (the caller checked that XCR0 enables AVX state) */
        simd_name = "avx2";
        type_traits[GGML_TYPE_F16].to_float = dequantize_row_f16_avx2;
        type_traits[GGML_TYPE_F16].vec_dot = vec_dot_f16_f16_avx2;
        type_traits[GGML_TYPE_F32].vec_dot = vec_dot_f32_f32_avx2;
        type_traits[GGML_TYPE_Q8_0].from_float = quantize_row_q8_0_avx2;
        type_traits[GGML_TYPE_Q8_1].from_float = quantize_row_q8_1_avx2;
        type_traits[GGML_TYPE_Q8_K].from_float = quantize_row_q8_K_avx2;
        type_traits[GGML_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx2;
        type_traits[GGML_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx2;
        type_traits[GGML_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_avx2;
        type_traits[GGML_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_avx2;
        type_traits[GGML_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx2;
        type_traits[GGML_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q4_1].vec_dot_rows = vec_dot_rows_q4_1_q8_1_avx2;
        type_traits[GGML_TYPE_Q8_0].vec_dot_rows = vec_dot_rows_q8_0_q8_0_avx2;
        type_traits[GGML_TYPE_Q4_K].vec_dot_rows = vec_dot_rows_q4_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q5_K].vec_dot_rows = vec_dot_rows_q5_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q6_K].vec_dot_rows = vec_dot_rows_q6_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q4_1].vec_dot_tile = vec_dot_tile_q4_1_q8_1_avx2;
        type_traits[GGML_TYPE_Q8_0].vec_dot_tile = vec_dot_tile_q8_0_q8_0_avx2;
        type_traits[GGML_TYPE_Q4_K].vec_dot_tile = vec_dot_tile_q4_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q5_K].vec_dot_tile = vec_dot_tile_q5_K_q8_K_avx2;
        type_traits[GGML_TYPE_Q6_K].vec_dot_tile = vec_dot_tile_q6_K_q8_K_avx2;
        /* no AVX2 rows/tiles for these: the AVX2 vec_dot row by row rather than the SSE2 rows/tiles */
        type_traits[GGML_TYPE_Q4_0].vec_dot_rows = 0;
        type_traits[GGML_TYPE_Q5_0].vec_dot_rows = 0;
        type_traits[GGML_TYPE_Q5_1].vec_dot_rows = 0;
        for (int t = 0; t < GGML_TYPE_COUNT; t++) {
            type_traits[t].tile_act = 0;
            type_traits[t].vec_dot_tile_act = 0;
        }
        if (features & GGML_CPU_AVX512) {
            /* llm/quant_avx512.c over the AVX2 set (the caller checked F+BW+VL+VNNI and the XCR0 state) */
            simd_name = "avx512";
            type_traits[GGML_TYPE_Q8_0].from_float = quantize_row_q8_0_avx512;
            type_traits[GGML_TYPE_Q8_1].from_float = quantize_row_q8_1_avx512;
            type_traits[GGML_TYPE_Q8_K].from_float = quantize_row_q8_K_avx512;
            type_traits[GGML_TYPE_Q4_0].vec_dot = vec_dot_q4_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_1].vec_dot = vec_dot_q4_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q5_0].vec_dot = vec_dot_q5_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q5_1].vec_dot = vec_dot_q5_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q8_0].vec_dot = vec_dot_q8_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_K].vec_dot = vec_dot_q4_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q5_K].vec_dot = vec_dot_q5_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q6_K].vec_dot = vec_dot_q6_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q4_0].vec_dot_rows = vec_dot_rows_q4_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_1].vec_dot_rows = vec_dot_rows_q4_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q5_0].vec_dot_rows = vec_dot_rows_q5_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q5_1].vec_dot_rows = vec_dot_rows_q5_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q8_0].vec_dot_rows = vec_dot_rows_q8_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_0].vec_dot_tile = vec_dot_tile_q4_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_1].vec_dot_tile = vec_dot_tile_q4_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q5_0].vec_dot_tile = vec_dot_tile_q5_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q5_1].vec_dot_tile = vec_dot_tile_q5_1_q8_1_avx512;
            type_traits[GGML_TYPE_Q8_0].vec_dot_tile = vec_dot_tile_q8_0_q8_0_avx512;
            type_traits[GGML_TYPE_Q4_K].vec_dot_rows = vec_dot_rows_q4_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q5_K].vec_dot_rows = vec_dot_rows_q5_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q6_K].vec_dot_rows = vec_dot_rows_q6_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q4_K].vec_dot_tile = vec_dot_tile_q4_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q5_K].vec_dot_tile = vec_dot_tile_q5_K_q8_K_avx512;
            type_traits[GGML_TYPE_Q6_K].vec_dot_tile = vec_dot_tile_q6_K_q8_K_avx512;
        }
    }
}

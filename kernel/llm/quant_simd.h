/* The SIMD twins of the scalar references (llm/quant_ref.c), same signatures as the dispatch table
   (llm/ggml_types.h), which ggml_types_init_simd installs by CPU feature. SSE2: llm/quant_sse2.c;
   AVX2 (+FMA, F16C): llm/quant_avx2.c and llm/attn_avx2.c; AVX-512 F+BW+VL+VNNI: llm/quant_avx512.c. */
#ifndef LLM_QUANT_SIMD_H
#define LLM_QUANT_SIMD_H
#include <stddef.h>
#include <stdint.h>

/* SSE2 (llm/quant_sse2.c): all bit-identical to the refs except the F32/F16 rows (within the summation bound) */
void dequantize_row_f16_sse2(const void *x, float *y, int64_t n);
void quantize_row_q8_0_sse2(const float *x, void *y, int64_t n);
void quantize_row_q8_1_sse2(const float *x, void *y, int64_t n);
void quantize_row_q8_K_sse2(const float *x, void *y, int64_t n);
void vec_dot_f32_f32_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_f16_f16_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_1_q8_1_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_1_q8_1_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q8_0_q8_0_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q6_K_q8_K_sse2(int64_t n, float *s, const void *x, const void *y);
/* several rows against one activation row (ggml_vec_dot_rows_fn), weight-row prefetch */
void vec_dot_rows_q4_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q4_1_q8_1_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_1_q8_1_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q8_0_q8_0_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q4_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q6_K_q8_K_sse2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
/* 4x4 tiles (ggml_vec_dot_tile_fn) */
void vec_dot_tile_q4_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q5_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q6_K_q8_K_sse2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);

/* the tiles on prepared activations (ggml_tile_act_fn, ggml_vec_dot_tile_act_fn; llm/matmul.c) */
void tile_act_q4_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by);
void tile_act_q4_1_q8_1_sse2(int64_t nb, void *act, const void *y, size_t by);
void tile_act_q5_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by);
void tile_act_q5_1_q8_1_sse2(int64_t nb, void *act, const void *y, size_t by);
void tile_act_q8_0_q8_0_sse2(int64_t nb, void *act, const void *y, size_t by);
void vec_dot_tile_act_q4_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc);
void vec_dot_tile_act_q4_1_q8_1_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc);
void vec_dot_tile_act_q5_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc);
void vec_dot_tile_act_q5_1_q8_1_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc);
void vec_dot_tile_act_q8_0_q8_0_sse2(int64_t nb, float *s, size_t ls, const void *x, size_t bx, const void *act, int ng,
                                     int acc);

/* AVX2 + FMA + F16C (llm/quant_avx2.c) */
int quant_avx2_cpu_ok(void);   /* CPUID has F16C (the caller checked AVX2, FMA and XCR0) */
void dequantize_row_f16_avx2(const void *x, float *y, int64_t n);
void quantize_row_q8_0_avx2(const float *x, void *y, int64_t n);   /* bit-identical to the ref */
void quantize_row_q8_1_avx2(const float *x, void *y, int64_t n);   /* bit-identical to the ref */
void quantize_row_q8_K_avx2(const float *x, void *y, int64_t n);   /* bit-identical to the ref */
void vec_dot_f32_f32_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_f16_f16_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_1_q8_1_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q8_0_q8_0_avx2(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);   /* bit-identical to the ref */
void vec_dot_q5_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);   /* bit-identical to the ref */
void vec_dot_q6_K_q8_K_avx2(int64_t n, float *s, const void *x, const void *y);   /* bit-identical to the ref */
void vec_dot_rows_q4_1_q8_1_avx2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q8_0_q8_0_avx2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q4_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q6_K_q8_K_avx2(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
/* 4x4 tiles (ggml_vec_dot_tile_fn) */
void vec_dot_tile_q4_1_q8_1_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q8_0_q8_0_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q4_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q5_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);
void vec_dot_tile_q6_K_q8_K_avx2(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y, size_t by);

/* AVX-512 F+BW+VL+VNNI (llm/quant_avx512.c), installed over the AVX2 set; all bit-identical to the refs */
void quantize_row_q8_0_avx512(const float *x, void *y, int64_t n);
void quantize_row_q8_1_avx512(const float *x, void *y, int64_t n);
void quantize_row_q8_K_avx512(const float *x, void *y, int64_t n);
/* Q4_0 Q4_1 Q5_0 Q5_1 Q8_0: vec_dot, several rows (ggml_vec_dot_rows_fn), 4x4 tiles (ggml_vec_dot_tile_fn) */
void vec_dot_q4_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_1_q8_1_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q8_0_q8_0_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q4_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q5_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_q6_K_q8_K_avx512(int64_t n, float *s, const void *x, const void *y);
void vec_dot_rows_q4_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q4_1_q8_1_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_1_q8_1_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q8_0_q8_0_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_tile_q4_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q4_1_q8_1_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q5_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q5_1_q8_1_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_rows_q4_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q5_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_rows_q6_K_q8_K_avx512(int64_t n, int64_t nr, float *s, const void *x, size_t bx, const void *y);
void vec_dot_tile_q4_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q5_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q6_K_q8_K_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);
void vec_dot_tile_q8_0_q8_0_avx512(int64_t n, float *s, size_t ls, const void *x, size_t bx, const void *y,
                                   size_t by);

/* ops_attention_head's AVX2 twin, bit-identical (llm/attn_avx2.c); head_dim a multiple of 8 */
void attention_head_avx2(float *out, const float *q, const void *k, const void *v, size_t stride, int kv_f16,
                         int n_pos, int head_dim, float scale, float *scores);

#endif

/* Matrix-matrix product of a quantized weight matrix with a batch of quantized activation rows (prompt
   processing): out[t * ldo + r] = dot(weight row r, activation row t). Tiled so each weight block is loaded once
   for several activation rows (the type table's 4x4 vec_dot_tile kernels when installed, else the 4-row
   vec_dot_rows kernels per activation row over a weight-row block that stays in L1). Pure: no kernel services.
   Implementation: llm/matmul.c; kernels: llm/quant_sse2.c, llm/quant_avx2.c, llm/quant_avx512.c; test:
   tests/test_llm_simd_matmul.py. */
#ifndef LLM_MATMUL_H
#define LLM_MATMUL_H
#include <stddef.h>
#include <stdint.h>
#include "llm/ggml_types.h"

/* tt: the weights' type traits; w: n_rows rows of row_size bytes (n_cols elements each); act_q: n_tok rows of
   ggml_row_size(tt->vec_dot_type, n_cols) bytes, back to back (quantized with that type's from_float);
   out: n_tok rows of ldo floats, columns 0..n_rows-1 written. Results equal (within the vec_dot tolerance of the
   references) n_tok * n_rows calls of tt->vec_dot. */
void matmul_q_ld(const struct ggml_type_traits *tt, const void *w, size_t row_size, int64_t n_rows, int64_t n_cols,
                 const void *act_q, int n_tok, float *out, size_t ldo);

/* the same with ldo = n_rows */
void matmul_q(const struct ggml_type_traits *tt, const void *w, size_t row_size, int64_t n_rows, int64_t n_cols,
              const void *act_q, int n_tok, float *out);

#endif

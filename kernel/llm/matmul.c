/* Tiled quantized matrix-matrix product for prefill (see llm/matmul.h). Loop order: activation rows in blocks of
   MATMUL_TOK_BLOCK (their quantized rows stay in L2), weight rows in groups of 4 (one L1-resident weight tile per
   pass over the token block), 4 activation rows per kernel call. Each weight byte comes from memory once per
   token block; the kernel reuses each unpacked weight block for 4 tokens in registers. Edges (rows or tokens not
   a multiple of 4), fewer than 4 tokens and types without a tile kernel use the 4-row vec_dot_rows per activation
   row over groups of MATMUL_ROW_BLOCK weight rows. Row groups start at multiples of 4 from w, so a caller that
   splits rows at multiples of 4 gets the same bits for any split; each activation row's result does not depend
   on the batch with the SSE2 / AVX2 / AVX-512 kernels (bit-identical to the references) nor with the rows
   kernels alone. While a weight-row group is in use, the next group is prefetched (it comes from memory). */
#include "llm/matmul.h"

#define MATMUL_TOK_BLOCK 64   /* activation rows per block: 64 x 1.7 KB (1536 Q8_1 columns) = 110 KB */
#define MATMUL_ROW_BLOCK 16   /* weight rows per group without a tile kernel (16 x 0.9 KB for 1536 Q4_1) */

void matmul_q_ld(const struct ggml_type_traits *tt, const void *w, size_t row_size, int64_t n_rows, int64_t n_cols,
                 const void *act_q, int n_tok, float *out, size_t ldo)
{
    const size_t qrow = ggml_row_size(tt->vec_dot_type, n_cols);
    const uint8_t *wb = w, *qb = act_q;
    for (int t0 = 0; t0 < n_tok; t0 += MATMUL_TOK_BLOCK) {
        int t1 = t0 + MATMUL_TOK_BLOCK < n_tok ? t0 + MATMUL_TOK_BLOCK : n_tok;
        if (tt->vec_dot_tile && t1 - t0 >= 4) {
            int64_t r = 0;
            for (; r + 4 <= n_rows; r += 4) {
                const uint8_t *wr = wb + (size_t)r * row_size;
                if (r + 8 <= n_rows)   /* the next group's weights come from memory meanwhile (never faults) */
                    for (size_t o = 0; o < 4 * row_size; o += 64)
                        __builtin_prefetch(wr + 4 * row_size + o, 0, 2);
                int t = t0;
                for (; t + 4 <= t1; t += 4)
                    tt->vec_dot_tile(n_cols, out + (size_t)t * ldo + r, ldo, wr, row_size, qb + (size_t)t * qrow, qrow);
                for (; t < t1; t++)
                    ggml_vec_dot_rows(tt, n_cols, 4, out + (size_t)t * ldo + r, wr, row_size, qb + (size_t)t * qrow);
            }
            if (r < n_rows)
                for (int t = t0; t < t1; t++)
                    ggml_vec_dot_rows(tt, n_cols, n_rows - r, out + (size_t)t * ldo + r, wb + (size_t)r * row_size,
                                      row_size, qb + (size_t)t * qrow);
            continue;
        }
        for (int64_t r = 0; r < n_rows; r += MATMUL_ROW_BLOCK) {
            int64_t nr = r + MATMUL_ROW_BLOCK <= n_rows ? MATMUL_ROW_BLOCK : n_rows - r;
            for (int t = t0; t < t1; t++)
                ggml_vec_dot_rows(tt, n_cols, nr, out + (size_t)t * ldo + r, wb + (size_t)r * row_size, row_size,
                                  qb + (size_t)t * qrow);
        }
    }
}

void matmul_q(const struct ggml_type_traits *tt, const void *w, size_t row_size, int64_t n_rows, int64_t n_cols,
              const void *act_q, int n_tok, float *out)
{
    matmul_q_ld(tt, w, row_size, n_rows, n_cols, act_q, n_tok, out, (size_t)n_rows);
}

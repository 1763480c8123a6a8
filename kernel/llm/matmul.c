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

/* One token block (4 <= n_tok <= MATMUL_TOK_BLOCK activation rows at qb, out) with the tiles on prepared
   activations (tt->vec_dot_tile_act, SSE2): the columns are cut into chunks of at most GGML_TILE_ACT_BLOCKS
   blocks (of equal size); per chunk, the block's groups of 4 activation rows are laid out once (tt->tile_act)
   in a stack buffer - per CPU by construction, 78 KB, no allocation - and then every group of 4 weight rows runs
   against all of them, a chunk after the first continuing the partial sums in out (the reference's block
   order). The activation rows past a multiple of 4 and the weight rows past a multiple of 4 use vec_dot_rows. */
static void matmul_block_act(const struct ggml_type_traits *tt, const uint8_t *wb, size_t row_size, int64_t n_rows,
                             int64_t n_cols, const uint8_t *qb, size_t qrow, int n_tok, float *out, size_t ldo)
{
    _Alignas(16) uint8_t act[MATMUL_TOK_BLOCK / 4 * GGML_TILE_ACT_BLOCKS * GGML_TILE_ACT_SIZE];
    const int ng = n_tok / 4;
    const int64_t r4 = n_rows & ~(int64_t)3, nb = n_cols / tt->blck_size;
    const int64_t n_chunks = nb > 0 ? (nb + GGML_TILE_ACT_BLOCKS - 1) / GGML_TILE_ACT_BLOCKS : 1;
    const int64_t chunk = (nb + n_chunks - 1) / n_chunks;   /* <= GGML_TILE_ACT_BLOCKS */
    const size_t yblk = ggml_row_size(tt->vec_dot_type, tt->blck_size);
    for (int64_t c0 = 0; c0 < nb; c0 += chunk) {
        const int64_t nc = nb - c0 < chunk ? nb - c0 : chunk;
        const size_t xo = (size_t)c0 * tt->type_size, xn = (size_t)nc * tt->type_size;
        for (int g = 0; g < ng; g++)
            tt->tile_act(nc, act + (size_t)g * (size_t)nc * GGML_TILE_ACT_SIZE, qb + (size_t)(4 * g) * qrow +
                         (size_t)c0 * yblk, qrow);
        for (int64_t r = 0; r < r4; r += 4) {
            const uint8_t *wr = wb + (size_t)r * row_size + xo;
            if (r + 8 <= n_rows)   /* the next group's chunk comes from memory meanwhile (never faults) */
                for (int i = 4; i < 8; i++)
                    for (size_t o = 0; o < xn + 64; o += 64)
                        __builtin_prefetch(wr + (size_t)i * row_size + o, 0, 2);
            tt->vec_dot_tile_act(nc, out + r, ldo, wr, row_size, act, ng, c0 > 0);
        }
    }
    for (int t = 4 * ng; t < n_tok; t++)
        ggml_vec_dot_rows(tt, n_cols, r4, out + (size_t)t * ldo, wb, row_size, qb + (size_t)t * qrow);
    if (r4 < n_rows)
        for (int t = 0; t < n_tok; t++)
            ggml_vec_dot_rows(tt, n_cols, n_rows - r4, out + (size_t)t * ldo + r4, wb + (size_t)r4 * row_size,
                              row_size, qb + (size_t)t * qrow);
}

void matmul_q_ld(const struct ggml_type_traits *tt, const void *w, size_t row_size, int64_t n_rows, int64_t n_cols,
                 const void *act_q, int n_tok, float *out, size_t ldo)
{
    const size_t qrow = ggml_row_size(tt->vec_dot_type, n_cols);
    const uint8_t *wb = w, *qb = act_q;
    for (int t0 = 0; t0 < n_tok; t0 += MATMUL_TOK_BLOCK) {
        int t1 = t0 + MATMUL_TOK_BLOCK < n_tok ? t0 + MATMUL_TOK_BLOCK : n_tok;
        if (tt->vec_dot_tile_act && t1 - t0 >= 4) {
            matmul_block_act(tt, wb, row_size, n_rows, n_cols, qb + (size_t)t0 * qrow, qrow, t1 - t0,
                             out + (size_t)t0 * ldo, ldo);
            continue;
        }
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

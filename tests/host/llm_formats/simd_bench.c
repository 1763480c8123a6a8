/* Speed of the quantized kernels on SmolLM2-135M's matrix shapes (Q4_1 576x576, 1536x576, 576x1536 and the
   Q8_0 output head 49152x576; rows x cols), single thread: matrix-vector (one activation row: scalar reference,
   SSE2, AVX2 and AVX-512 vec_dot row by row and their multi-row kernels) and prefill with a batch of 64
   activation rows (the ops.c row-then-token loop with each table's vec_dot, and llm/matmul.c's matmul_q).
   `sweep`: a whole SmolLM2-shaped weight set streamed from memory per token (see sweep()). Not a test: prints
   tables. Best of N runs; on a loaded machine compare the ratios, not the absolute numbers.
     gcc -DCLLM_HOST -Ikernel -Itests/host/include -O2 -msse2 -ffp-contract=off tests/host/llm_formats/simd_bench.c \
       kernel/llm/ggml_types.c kernel/llm/quant_ref.c kernel/llm/quant_sse2.c kernel/llm/quant_avx2.c \
       kernel/llm/quant_avx512.c kernel/llm/matmul.c -o /tmp/simd_bench && taskset -c 1 /tmp/simd_bench [sweep|kquants]
   (the avx512 row needs a CPU with AVX-512 F/BW/VL/VNNI; it is left out elsewhere) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/matmul.h"

#define N_TOK 64

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: the machine may be shared */
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

struct mat {
    enum ggml_type type;
    int64_t rows, cols;
    size_t row_size;
    uint8_t *w;
    uint8_t *act;     /* N_TOK quantized activation rows */
    size_t qrow;
    float *out;
};

enum { K_LOOP, K_ROWS, K_LOOP_BATCH, K_MATMUL };

static void run(const struct ggml_type_traits *t, struct mat *m, int kind)
{
    switch (kind) {
    case K_LOOP:
        for (int64_t r = 0; r < m->rows; r++)
            t->vec_dot(m->cols, &m->out[r], m->w + (size_t)r * m->row_size, m->act);
        break;
    case K_ROWS:
        ggml_vec_dot_rows(t, m->cols, m->rows, m->out, m->w, m->row_size, m->act);
        break;
    case K_LOOP_BATCH:   /* ops_matmul_rows today: each weight row against every token */
        for (int64_t r = 0; r < m->rows; r++)
            for (int b = 0; b < N_TOK; b++)
                t->vec_dot(m->cols, &m->out[(size_t)b * m->rows + r], m->w + (size_t)r * m->row_size,
                           m->act + (size_t)b * m->qrow);
        break;
    case K_MATMUL:
        matmul_q(t, m->w, m->row_size, m->rows, m->cols, m->act, N_TOK, m->out);
        break;
    }
}

static double best_of(const struct ggml_type_traits *t, struct mat *m, int kind, double budget)
{
    double best = 1e9, spent = 0;
    for (int k = 0; k < 50 && (k < 3 || spent < budget); k++) {
        double t0 = now();
        run(t, m, kind);
        double dt = now() - t0;
        spent += dt;
        if (dt < best)
            best = dt;
    }
    return best;
}

/* A whole SmolLM2-135M-shaped weight set (30 layers of Q4_1 q k v o gate up down, the Q8_0 head: 96 MB, far
   more than the caches) swept once per token as the forward pass does: matmul_q over every matrix, 1 token
   (generation) or N_TOK tokens (prefill). Weights stream from memory here, unlike the per-matrix table above. */
static void sweep(uint32_t feat, const char *name, const float *x)
{
    struct { enum ggml_type t; int64_t rows, cols; } m[] = {
        { GGML_TYPE_Q4_1, 576, 576 }, { GGML_TYPE_Q4_1, 192, 576 }, { GGML_TYPE_Q4_1, 192, 576 },
        { GGML_TYPE_Q4_1, 576, 576 }, { GGML_TYPE_Q4_1, 1536, 576 }, { GGML_TYPE_Q4_1, 1536, 576 },
        { GGML_TYPE_Q4_1, 576, 1536 },
    };
    enum { N_LAYER = 30, N_MAT = sizeof m / sizeof m[0] };
    static uint8_t *w[N_LAYER * N_MAT + 1];
    static size_t total;
    const int64_t head_rows = 49152, head_cols = 576;
    if (!total) {
        /* one 2 MB-aligned arena with transparent huge pages, like the guest's large-page identity map */
        size_t arena_size = 100u << 20, used = 0;
        uint8_t *arena = aligned_alloc(2u << 20, arena_size);
        madvise(arena, arena_size, MADV_HUGEPAGE);
        for (int i = 0; i <= N_LAYER * N_MAT; i++) {
            int k = i % N_MAT;
            int last = i == N_LAYER * N_MAT;
            enum ggml_type t = last ? GGML_TYPE_Q8_0 : m[k].t;
            size_t bytes = ggml_row_size(t, last ? head_cols : m[k].cols) * (size_t)(last ? head_rows : m[k].rows);
            size_t bsz = t == GGML_TYPE_Q4_1 ? sizeof(block_q4_1) : sizeof(block_q8_0);
            w[i] = arena + used;
            used += (bytes + 63) & ~(size_t)63;
            for (size_t b = 0; b < bytes; b++)
                w[i][b] = (uint8_t)rand();
            for (size_t b = 0; b < bytes / bsz; b++) {
                uint16_t d = fp16_from_fp32(0.001f + 0.01f * (float)rand() / RAND_MAX);
                memcpy(w[i] + b * bsz, &d, 2);
            }
            total += bytes;
        }
    }
    ggml_types_init_simd(feat);
    static uint8_t act[N_TOK * 1536 * 2];
    static float out[N_TOK * 49152];
    for (int n_tok = 1; n_tok <= N_TOK; n_tok += N_TOK - 1) {
        double best = 1e9, best_head = 0;
        for (int rep = 0; rep < (n_tok == 1 ? 8 : 2); rep++) {
            double t0 = now(), th = 0;
            for (int i = 0; i <= N_LAYER * N_MAT; i++) {
                int k = i % N_MAT, last = i == N_LAYER * N_MAT;
                enum ggml_type t = last ? GGML_TYPE_Q8_0 : m[k].t;
                int64_t rows = last ? head_rows : m[k].rows, cols = last ? head_cols : m[k].cols;
                const struct ggml_type_traits *tt = ggml_get_type_traits(t);
                const struct ggml_type_traits *at = ggml_get_type_traits(tt->vec_dot_type);
                size_t qrow = ggml_row_size(tt->vec_dot_type, cols);
                for (int b = 0; b < n_tok; b++)
                    at->from_float(x + (size_t)b * cols, act + (size_t)b * qrow, cols);
                if (last)
                    th = now();
                matmul_q(tt, w[i], ggml_row_size(t, cols), rows, cols, act, n_tok, out);
                if (last)
                    th = now() - th;
            }
            double dt = now() - t0;
            if (dt < best)
                best = dt, best_head = th;
        }
        printf("  %-6s sweep %2d token%s: %8.2f ms (head %7.2f)  %6.2f GB/s of weights  %8.1f tok/s\n", name,
               n_tok, n_tok > 1 ? "s" : " ", best * 1e3, best_head * 1e3, total / best * 1e-9, n_tok / best);
    }
}

/* K-quant products (4096 x 4096 Q4_K, Q5_K, Q6_K; ten matrices, so they stream from memory) with the AVX2 and
   the AVX-512 table: 1 token (ggml_vec_dot_rows: the table's rows kernel, or vec_dot row by row) and 64 tokens
   (llm/matmul.c's matmul_q: the table's 4x4 tile kernel, or rows kernels token by token), GB/s of weights. */
static void kquants(void)
{
    enum { ROWS = 4096, COLS = 4096, N_MAT = 10, N_MAT_PP = 2 };
    static float x[N_TOK * COLS];
    static uint8_t act[N_TOK * (COLS + 1024)];
    static float out[N_TOK * ROWS];
    for (int i = 0; i < N_TOK * COLS; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    enum ggml_type types[] = { GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K };
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        size_t rs = ggml_row_size(types[k], COLS), bytes = rs * ROWS;
        uint8_t *w = aligned_alloc(2u << 20, bytes * N_MAT);
        madvise(w, bytes * N_MAT, MADV_HUGEPAGE);
        for (size_t i = 0; i < bytes * N_MAT; i++)
            w[i] = (uint8_t)rand();
        for (size_t i = 0; i + 1 < bytes * N_MAT; i += 2)   /* no inf/NaN halves among the fp16 fields */
            if ((w[i + 1] & 0x7c) == 0x7c)
                w[i + 1] &= 0x3f;
        uint32_t feats[] = { 1 | 2 | 4 | 8, 1 | 2 | 4 | 8 | 16 };
        for (int f = 0; f < 2; f++) {
            if ((feats[f] & GGML_CPU_AVX512) && !(__builtin_cpu_supports("avx512bw") &&
                                                  __builtin_cpu_supports("avx512vl") &&
                                                  __builtin_cpu_supports("avx512vnni")))
                continue;
            ggml_types_init_simd(feats[f]);
            const struct ggml_type_traits *t = ggml_get_type_traits(types[k]);
            size_t qrow = ggml_row_size(t->vec_dot_type, COLS);
            for (int i = 0; i < N_TOK; i++)
                ggml_get_type_traits(t->vec_dot_type)->from_float(x + (size_t)i * COLS, act + (size_t)i * qrow, COLS);
            double best = 1e9, best_pp = 1e9;
            for (int rep = 0; rep < 5; rep++) {
                double t0 = now();
                for (int m = 0; m < N_MAT; m++)
                    ggml_vec_dot_rows(t, COLS, ROWS, out, w + (size_t)m * bytes, rs, act);
                if (now() - t0 < best)
                    best = now() - t0;
            }
            for (int rep = 0; rep < 3; rep++) {
                double t0 = now();
                for (int m = 0; m < N_MAT_PP; m++)
                    matmul_q(t, w + (size_t)m * bytes, rs, ROWS, COLS, act, N_TOK, out);
                if (now() - t0 < best_pp)
                    best_pp = now() - t0;
            }
            printf("  %s %-6s %4dx%d: 1 token %7.2f ms/matrix %6.2f GB/s (rows %s) | %d tokens %7.2f ms/matrix "
                   "%6.2f GB/s x tokens (tile %s)\n", ggml_type_name(types[k]), ggml_types_simd_name(), ROWS, COLS,
                   best / N_MAT * 1e3, N_MAT * bytes / best * 1e-9, t->vec_dot_rows ? "yes" : "no", N_TOK,
                   best_pp / N_MAT_PP * 1e3, N_MAT_PP * bytes * (double)N_TOK / best_pp * 1e-9,
                   t->vec_dot_tile || t->vec_dot_tile_act ? "yes" : "no");
        }
        free(w);
    }
}

int main(int argc, char **argv)
{
    struct { enum ggml_type t; int64_t rows, cols; const char *what; } shapes[] = {
        { GGML_TYPE_Q4_1, 576, 576, "attn_q/o" },
        { GGML_TYPE_Q4_1, 1536, 576, "ffn_gate/up" },
        { GGML_TYPE_Q4_1, 576, 1536, "ffn_down" },
        { GGML_TYPE_Q8_0, 49152, 576, "output" },
    };
    struct { const char *name; uint32_t feat; } sets[] = { { "ref", 0 }, { "sse2", 1 }, { "avx2", 1 | 2 | 4 | 8 },
                                                   { "avx512", 1 | 2 | 4 | 8 | 16 } };
    srand(1);
    float *x = malloc(N_TOK * 1536 * sizeof(float));
    for (int i = 0; i < N_TOK * 1536; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    if (argc > 1 && strcmp(argv[1], "kquants") == 0) {
        printf("K-quant products, single thread, best of 5 (1 token) / 3 (64 tokens)\n");
        kquants();
        return 0;
    }
    if (argc > 1 && strcmp(argv[1], "sweep") == 0) {
        printf("SmolLM2-135M-shaped weight sweep (96 MB), single thread, best of 8 (1 token) / 2 (64 tokens)\n");
        for (size_t k = 1; k < sizeof sets / sizeof sets[0]; k++)
            if (!(sets[k].feat & GGML_CPU_AVX512) || (__builtin_cpu_supports("avx512bw") &&
                                                     __builtin_cpu_supports("avx512vl") &&
                                                     __builtin_cpu_supports("avx512vnni")))
                sweep(sets[k].feat, sets[k].name, x);
        return 0;
    }
    printf("single thread, thread CPU time, best of up to 50 runs; us per product; ratios vs the scalar reference\n");
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        struct mat m = { .type = shapes[s].t, .rows = shapes[s].rows, .cols = shapes[s].cols };
        m.row_size = ggml_row_size(m.type, m.cols);
        size_t bytes = m.row_size * (size_t)m.rows;
        m.w = malloc(bytes);
        for (size_t i = 0; i < bytes; i++)
            m.w[i] = (uint8_t)rand();
        /* finite, modest fp16 scales: d (and m for Q4_1) at the start of every block */
        size_t bsz = m.type == GGML_TYPE_Q4_1 ? sizeof(block_q4_1) : sizeof(block_q8_0);
        for (size_t b = 0; b < bytes / bsz; b++) {
            uint16_t d = fp16_from_fp32(0.001f + 0.01f * (float)rand() / RAND_MAX);
            memcpy(m.w + b * bsz, &d, 2);
            if (m.type == GGML_TYPE_Q4_1) {
                uint16_t mn = fp16_from_fp32(-0.05f * (float)rand() / RAND_MAX);
                memcpy(m.w + b * bsz + 2, &mn, 2);
            }
        }
        ggml_types_init_simd(0);
        enum ggml_type at = ggml_get_type_traits(m.type)->vec_dot_type;
        m.qrow = ggml_row_size(at, m.cols);
        m.act = malloc(m.qrow * N_TOK);
        for (int b = 0; b < N_TOK; b++)
            ggml_get_type_traits(at)->from_float(x + (size_t)b * m.cols, m.act + (size_t)b * m.qrow, m.cols);
        m.out = malloc(sizeof(float) * (size_t)m.rows * N_TOK);
        printf("\n%s %lldx%lld %s (%.2f MB)\n", ggml_type_name(m.type), (long long)m.rows, (long long)m.cols,
               shapes[s].what, bytes / 1e6);
        printf("  %-6s %10s %10s %9s | %12s %12s %10s %10s\n", "set", "matvec us", "rows4 us", "GB/s",
               "pp64 loop us", "pp64 mm us", "loop tok/s", "mm tok/s");
        double ref_mv = 0, ref_pp = 0;
        for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++) {
            if ((sets[k].feat & GGML_CPU_AVX512) &&
                !(__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                  __builtin_cpu_supports("avx512vnni")))
                continue;
            ggml_types_init_simd(sets[k].feat);
            const struct ggml_type_traits *t = ggml_get_type_traits(m.type);
            double budget = m.rows > 10000 ? 1.0 : 0.3;
            double mv = best_of(t, &m, K_LOOP, budget), rows = best_of(t, &m, K_ROWS, budget);
            double pl = best_of(t, &m, K_LOOP_BATCH, budget * 3), pm = best_of(t, &m, K_MATMUL, budget * 3);
            if (k == 0)
                ref_mv = mv, ref_pp = pl;
            printf("  %-6s %10.1f %10.1f %9.2f | %12.0f %12.0f %10.0f %10.0f   matvec x%.2f (rows x%.2f), "
                   "pp64 x%.2f (matmul x%.2f)\n",
                   sets[k].name, mv * 1e6, rows * 1e6, bytes / (mv < rows ? mv : rows) * 1e-9, pl * 1e6, pm * 1e6,
                   N_TOK / pl, N_TOK / pm, ref_mv / mv, ref_mv / rows, ref_pp / pl, ref_pp / pm);
        }
        free(m.w), free(m.act), free(m.out);
    }
    return 0;
}

/* Speed of the dot-product kernels on a SmolLM2-sized matrix-vector product (rows x cols, one activation row):
   scalar reference vs the live table after ggml_types_init_simd(SSE2). Not a test: prints a table.
     gcc -DCLLM_HOST -Ikernel -Itests/host/include -O2 -msse2 -ffp-contract=off tests/host/llm_formats/quant_bench.c \
       kernel/llm/ggml_types.c kernel/llm/quant_ref.c kernel/llm/quant_sse2.c kernel/llm/quant_avx2.c \
       kernel/llm/quant_avx512.c \
       -o /tmp/quant_bench && /tmp/quant_bench */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double bench(const struct ggml_type_traits *t, int64_t rows, int64_t cols, const uint8_t *w, const void *act,
                    float *out, int reps)
{
    size_t rs = ggml_row_size(t == NULL ? 0 : (enum ggml_type)0, 0);
    (void)rs;
    double best = 1e9;
    for (int k = 0; k < reps; k++) {
        double t0 = now();
        for (int64_t r = 0; r < rows; r++)
            t->vec_dot(cols, &out[r], w + (size_t)r * (size_t)(cols / t->blck_size) * t->type_size, act);
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    int64_t rows = argc > 1 ? atoll(argv[1]) : 1536, cols = argc > 2 ? atoll(argv[2]) : 576;
    enum ggml_type types[] = { GGML_TYPE_Q4_0, GGML_TYPE_Q4_1, GGML_TYPE_Q5_0, GGML_TYPE_Q5_1, GGML_TYPE_Q8_0,
                               GGML_TYPE_Q2_K, GGML_TYPE_Q3_K, GGML_TYPE_Q4_K, GGML_TYPE_Q5_K, GGML_TYPE_Q6_K,
                               GGML_TYPE_F16 };
    srand(1);
    float *x = malloc((size_t)cols * sizeof(float)), *out = malloc((size_t)rows * sizeof(float));
    for (int64_t i = 0; i < cols; i++)
        x[i] = (float)rand() / RAND_MAX - 0.5f;
    printf("%-6s %10s %10s %9s %9s %8s  (%lld x %lld, best of 20)\n", "type", "ref us", "simd us", "ref GB/s",
           "simd GB/s", "speedup", (long long)rows, (long long)cols);
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        enum ggml_type ty = types[k];
        if (ty == GGML_TYPE_Q2_K || cols % 256 != 0)
            if (ty >= GGML_TYPE_Q2_K && ty <= GGML_TYPE_Q6_K && cols % 256 != 0)
                continue;
        ggml_types_init_simd(0);
        const struct ggml_type_traits *ref = ggml_get_type_traits(ty);
        struct ggml_type_traits refc = *ref;
        size_t bytes = ggml_row_size(ty, cols) * (size_t)rows;
        uint8_t *w = malloc(bytes);
        for (size_t i = 0; i < bytes; i++)
            w[i] = (uint8_t)rand();
        /* finite scales: rewrite every fp16 field candidate by dequantizing nothing; random halves can be inf/NaN,
           which only slows the fast path's fallback, so clear the top exponent bit of every even 16-bit word */
        for (size_t i = 0; i + 1 < bytes; i += 2)
            if ((w[i + 1] & 0x7c) == 0x7c)
                w[i + 1] &= 0xbf;
        const struct ggml_type_traits *at = ggml_get_type_traits(refc.vec_dot_type);
        void *act = malloc(ggml_row_size(refc.vec_dot_type, cols));
        at->from_float(x, act, cols);
        double tr = bench(&refc, rows, cols, w, act, out, 20);
        ggml_types_init_simd(GGML_CPU_SSE2);
        struct ggml_type_traits fast = *ggml_get_type_traits(ty);
        double tf = bench(&fast, rows, cols, w, act, out, 20);
        printf("%-6s %10.1f %10.1f %9.2f %9.2f %7.2fx%s\n", refc.name, tr * 1e6, tf * 1e6, bytes / tr * 1e-9,
               bytes / tf * 1e-9, tr / tf, fast.vec_dot == refc.vec_dot ? "  (ref only)" : "");
        if (fast.vec_dot_rows) {
            double best = 1e9;
            for (int k = 0; k < 20; k++) {
                double t0 = now();
                ggml_vec_dot_rows(&fast, cols, rows, out, w, ggml_row_size(ty, cols), act);
                if (now() - t0 < best)
                    best = now() - t0;
            }
            printf("%-6s %10s %10.1f %9s %9.2f %7.2fx  (4-row kernel)\n", refc.name, "", best * 1e6, "",
                   bytes / best * 1e-9, tr / best);
        }
        free(w);
        free(act);
    }
    return 0;
}

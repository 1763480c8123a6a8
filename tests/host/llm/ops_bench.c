/* Speed of the float kernels of llm/ops.c against their SIMD twins (ops_sse2.c, ops_avx2.c, ops_avx512.c,
   attn_sse2.c, attn_avx2.c) on SmolLM2-135M's sizes: RMSNorm of 576, RoPE of 9 query heads + 3 key heads of 64,
   argmax over the 49152 logits (greedy sampling), and attention of one KV group (3 query heads sharing a KV head of 64 dims, all 3 groups) over n_pos cached
   positions, f32 and f16 caches, and one layer's prefill attention (a 512-token prompt in batches of 64, per
   position or with the keys prepared once per batch: the kt rows). Single thread, CPU time, best of N runs; not a test (correctness is
   tests/test_llm_ops_simd.py). Build with the sources tests/host/llm/llm_lib.py lists, e.g.
     gcc -DCLLM_HOST -Ikernel -Itests/host/include -O2 -ffp-contract=off tests/host/llm/ops_bench.c \
       $(python3 -c 'import sys; sys.path.insert(0, "tests/host/llm"); import llm_lib; print(*llm_lib.SOURCES)') \
       -lm -o /tmp/ops_bench && taskset -c 1 /tmp/ops_bench
   (the avx2/avx512 rows need those CPU features; they are left out elsewhere) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "llm/fp16.h"
#include "llm/ggml_types.h"
#include "llm/ops.h"
#include "llm/ops_simd.h"

#define RUNS 7
#define N_EMBD 576
#define HEAD_DIM 64
#define N_HEAD 9
#define N_HEAD_KV 3

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);   /* CPU time: the machine may be shared */
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float frand(void)
{
    return (float)rand() / RAND_MAX * 2.0f - 1.0f;
}

static int has(const char *feat)
{
    __builtin_cpu_init();
    if (feat[0] == 'a' && feat[3] == '5')
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    if (feat[0] == 'a')
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    return 1;
}

typedef void (*rms_fn)(float *, const float *, const float *, int, float);
typedef void (*rope_fn)(float *, int, int, const float *, int64_t, int64_t);

static void bench_rmsnorm(void)
{
    static float x[N_EMBD], w[N_EMBD], out[N_EMBD];
    for (int i = 0; i < N_EMBD; i++) {
        x[i] = frand() * 3;
        w[i] = frand();
    }
    const char *names[] = { "ref", "sse2", "avx2", "avx512" };
    rms_fn fns[] = { ops_rmsnorm_ref, ops_rmsnorm_sse2, ops_rmsnorm_avx2, ops_rmsnorm_avx512 };
    const int reps = 20000;
    double base = 0;
    printf("rmsnorm n=%d (ns/call)\n", N_EMBD);
    for (int f = 0; f < 4; f++) {
        if (!has(names[f]))
            continue;
        double best = 1e9;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            for (int i = 0; i < reps; i++)
                fns[f](out, x, w, N_EMBD, 1e-5f);
            double t = (now() - t0) / reps;
            best = t < best ? t : best;
        }
        if (f == 0)
            base = best;
        printf("  %-7s %8.1f  x%.1f\n", names[f], best * 1e9, base / best);
    }
}

static void bench_rope(void)
{
    static float q[N_HEAD * HEAD_DIM], k[N_HEAD_KV * HEAD_DIM], cs[HEAD_DIM];
    for (int i = 0; i < N_HEAD * HEAD_DIM; i++)
        q[i] = frand();
    for (int i = 0; i < N_HEAD_KV * HEAD_DIM; i++)
        k[i] = frand();
    for (int i = 0; i < HEAD_DIM / 2; i++) {    /* unit (cos, sin): repeated rotations keep the values normal */
        cs[2 * i] = cosf(0.1f * (float)i);
        cs[2 * i + 1] = sinf(0.1f * (float)i);
    }
    const char *names[] = { "ref", "sse2", "avx2", "avx512" };
    rope_fn fns[] = { ops_rope_range_ref, ops_rope_range_sse2, ops_rope_range_avx2, ops_rope_range_avx512 };
    const int reps = 20000;
    double base = 0;
    printf("rope q %dx%d + k %dx%d, n_rot %d (ns/token)\n", N_HEAD, HEAD_DIM, N_HEAD_KV, HEAD_DIM, HEAD_DIM);
    for (int f = 0; f < 4; f++) {
        if (!has(names[f]))
            continue;
        double best = 1e9;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            for (int i = 0; i < reps; i++) {
                fns[f](q, HEAD_DIM, HEAD_DIM, cs, 0, N_HEAD * HEAD_DIM);
                fns[f](k, HEAD_DIM, HEAD_DIM, cs, 0, N_HEAD_KV * HEAD_DIM);
            }
            double t = (now() - t0) / reps;
            best = t < best ? t : best;
        }
        if (f == 0)
            base = best;
        printf("  %-7s %8.1f  x%.1f\n", names[f], best * 1e9, base / best);
    }
}

static void bench_argmax(void)
{
    enum { N_VOCAB = 49152 };
    static float logits[N_VOCAB];
    for (int i = 0; i < N_VOCAB; i++)
        logits[i] = frand() * 10;
    const char *names[] = { "ref", "sse2", "avx2" };
    int (*fns[])(const float *, int) = { ops_argmax_ref, ops_argmax_sse2, ops_argmax_avx2 };
    const int reps = 500;
    double base = 0;
    volatile int sink = 0;
    printf("argmax n=%d (us/call)\n", N_VOCAB);
    for (int f = 0; f < 3; f++) {
        if (!has(names[f]))
            continue;
        double best = 1e9;
        for (int r = 0; r < RUNS; r++) {
            double t0 = now();
            for (int i = 0; i < reps; i++)
                sink += fns[f](logits, N_VOCAB);
            double t = (now() - t0) / reps;
            best = t < best ? t : best;
        }
        if (f == 0)
            base = best;
        printf("  %-7s %8.2f  x%.1f\n", names[f], best * 1e6, base / best);
    }
}

/* The attention of one token: N_HEAD_KV groups of N_HEAD / N_HEAD_KV query heads, KV cache rows of
   N_HEAD_KV * HEAD_DIM */
static double attention_once(int impl, const float *q, const void *k, const void *v, int kv_f16, int n_pos,
                             float *out, float *scores)
{
    const int group = N_HEAD / N_HEAD_KV, stride = N_HEAD_KV * HEAD_DIM;
    const size_t esz = kv_f16 ? 2 : 4;
    double t0 = now();
    for (int g = 0; g < N_HEAD_KV; g++) {
        const void *kg = (const uint8_t *)k + (size_t)g * HEAD_DIM * esz;
        const void *vg = (const uint8_t *)v + (size_t)g * HEAD_DIM * esz;
        const float *qg = q + (size_t)g * group * HEAD_DIM;
        float *og = out + (size_t)g * group * HEAD_DIM;
        if (impl == 0)
            for (int h = 0; h < group; h++)
                ops_attention_head(og + h * HEAD_DIM, qg + h * HEAD_DIM, kg, vg, stride, kv_f16, n_pos, HEAD_DIM,
                                   0.125f, scores);
        else if (impl == 1)
            attention_heads_sse2(og, qg, group, kg, vg, stride, kv_f16, n_pos, HEAD_DIM, 0.125f, scores);
        else
            attention_heads_avx2(og, qg, group, kg, vg, stride, kv_f16, n_pos, HEAD_DIM, 0.125f, scores);
    }
    return now() - t0;
}

static void bench_attention(void)
{
    enum { MAX_POS = 1024 };
    const int stride = N_HEAD_KV * HEAD_DIM;
    float *kf = malloc(sizeof(float) * MAX_POS * stride), *vf = malloc(sizeof(float) * MAX_POS * stride);
    uint16_t *kh = malloc(2 * MAX_POS * stride), *vh = malloc(2 * MAX_POS * stride);
    static float q[N_HEAD * HEAD_DIM], out[N_HEAD * HEAD_DIM], scores[N_HEAD * MAX_POS];
    for (int i = 0; i < MAX_POS * stride; i++) {
        kf[i] = frand();
        vf[i] = frand();
        kh[i] = fp16_from_fp32(kf[i]);
        vh[i] = fp16_from_fp32(vf[i]);
    }
    for (int i = 0; i < N_HEAD * HEAD_DIM; i++)
        q[i] = frand();
    /* the kernel set decides which softmax the twins call (and whether attn_avx2.c uses the AVX-512 value
       pass): each row installs the set it is named after (llm/ggml_types.c) */
    struct { const char *name; int impl; uint32_t features; } rows[] = {
        { "ref", 0, 0 },
        { "sse2", 1, GGML_CPU_SSE2 },
        { "avx2", 2, GGML_CPU_SSE2 | GGML_CPU_SSSE3 | GGML_CPU_AVX2 | GGML_CPU_FMA },
        { "avx512", 2, GGML_CPU_SSE2 | GGML_CPU_SSSE3 | GGML_CPU_AVX2 | GGML_CPU_FMA |
                       GGML_CPU_AVX512 },
    };
    const int npos[] = { 64, 256, 1024 };
    for (int f16 = 1; f16 >= 0; f16--)
        for (int p = 0; p < 3; p++) {
            printf("attention %d heads / %d KV heads x %d, n_pos %d, %s cache (us/token)\n", N_HEAD, N_HEAD_KV,
                   HEAD_DIM, npos[p], f16 ? "f16" : "f32");
            double base = 0;
            for (int r = 0; r < 4; r++) {
                if (!has(rows[r].name))
                    continue;
                ggml_types_init_simd(rows[r].features);
                int reps = 20000 / npos[p];
                double best = 1e9;
                for (int run = 0; run < RUNS; run++) {
                    double t = 0;
                    for (int i = 0; i < reps; i++)
                        t += attention_once(rows[r].impl, q, f16 ? (void *)kh : kf, f16 ? (void *)vh : vf, f16,
                                            npos[p], out, scores);
                    t /= reps;
                    best = t < best ? t : best;
                }
                if (r == 0)
                    base = best;
                printf("  %-7s %8.2f  x%.1f\n", rows[r].name, best * 1e6, base / best);
            }
        }
    ggml_types_init_simd(0);
}

/* One layer's attention over a prompt of PF_PROMPT tokens in batches of PF_BATCH (the guest's prefill, llm/llama.c):
   per batch either every (token, group) on the cache itself (impl 1 sse2, 2 avx2: attention_heads_*), or the KV
   heads prepared once (keys transposed, f16 values converted; ops_attention_kv_prepare) and then read by every
   (token, group) (impl 3 sse2, 4 avx2: attention_*_kt_*) */
enum { PF_PROMPT = 512, PF_BATCH = 64 };

static double prefill_once(int impl, const float *q, const void *k, const void *v, int kv_f16, float *kt, float *v32,
                           float *out, float *scores)
{
    const int group = N_HEAD / N_HEAD_KV, stride = N_HEAD_KV * HEAD_DIM, kt_blocks = (PF_PROMPT + 7) / 8;
    const size_t esz = kv_f16 ? 2 : 4;
    double t0 = now();
    for (int pos0 = 0; pos0 < PF_PROMPT; pos0 += PF_BATCH) {
        int n_pos = pos0 + PF_BATCH;
        if (impl >= 3)
            for (int g = 0; g < N_HEAD_KV; g++)
                (impl == 3 ? attention_kv_prepare_sse2 : attention_kv_prepare_avx2)(
                    kt + (size_t)g * kt_blocks * HEAD_DIM * 8, kv_f16 ? v32 + (size_t)g * HEAD_DIM : NULL,
                    (const uint8_t *)k + (size_t)g * HEAD_DIM * esz, (const uint8_t *)v + (size_t)g * HEAD_DIM * esz,
                    stride, kv_f16, HEAD_DIM, n_pos, 0, (n_pos + 7) / 8);
        for (int b = 0; b < PF_BATCH; b++)
            for (int g = 0; g < N_HEAD_KV; g++) {
                const float *qg = q + (size_t)g * group * HEAD_DIM;
                float *og = out + (size_t)g * group * HEAD_DIM;
                const void *kg = (const uint8_t *)k + (size_t)g * HEAD_DIM * esz;
                const void *vg = (const uint8_t *)v + (size_t)g * HEAD_DIM * esz;
                const float *ktg = kt + (size_t)g * kt_blocks * HEAD_DIM * 8;
                const float *vf = kv_f16 ? v32 + (size_t)g * HEAD_DIM : (const float *)vg;
                int np = pos0 + b + 1;
                if (impl == 1)
                    attention_heads_sse2(og, qg, group, kg, vg, stride, kv_f16, np, HEAD_DIM, 0.125f, scores);
                else if (impl == 2)
                    attention_heads_avx2(og, qg, group, kg, vg, stride, kv_f16, np, HEAD_DIM, 0.125f, scores);
                else
                    (impl == 3 ? attention_heads_kt_sse2 : attention_heads_kt_avx2)(og, qg, group, ktg, vf, stride,
                                                                                  np, HEAD_DIM, 0.125f, scores);
            }
    }
    return now() - t0;
}

static void bench_prefill(void)
{
    const int stride = N_HEAD_KV * HEAD_DIM;
    float *kf = malloc(sizeof(float) * PF_PROMPT * stride), *vf = malloc(sizeof(float) * PF_PROMPT * stride);
    uint16_t *kh = malloc(2 * PF_PROMPT * stride), *vh = malloc(2 * PF_PROMPT * stride);
    float *kt = malloc(sizeof(float) * PF_PROMPT * stride), *v32 = malloc(sizeof(float) * PF_PROMPT * stride);
    static float q[N_HEAD * HEAD_DIM], out[N_HEAD * HEAD_DIM], scores[N_HEAD * PF_PROMPT];
    for (int i = 0; i < PF_PROMPT * stride; i++) {
        kf[i] = frand();
        vf[i] = frand();
        kh[i] = fp16_from_fp32(kf[i]);
        vh[i] = fp16_from_fp32(vf[i]);
    }
    for (int i = 0; i < N_HEAD * HEAD_DIM; i++)
        q[i] = frand();
    struct { const char *name; int impl; uint32_t features; } rows[] = {
        { "sse2", 1, GGML_CPU_SSE2 },
        { "sse2-kt", 3, GGML_CPU_SSE2 },
        { "avx2", 2, GGML_CPU_SSE2 | GGML_CPU_SSSE3 | GGML_CPU_AVX2 | GGML_CPU_FMA },
        { "avx2-kt", 4, GGML_CPU_SSE2 | GGML_CPU_SSSE3 | GGML_CPU_AVX2 | GGML_CPU_FMA },
    };
    for (int f16 = 1; f16 >= 0; f16--) {
        printf("prefill attention, one layer: %d-token prompt in batches of %d, %d heads / %d KV heads x %d, "
               "%s cache (ms)\n", PF_PROMPT, PF_BATCH, N_HEAD, N_HEAD_KV, HEAD_DIM, f16 ? "f16" : "f32");
        double base = 0;
        for (int r = 0; r < 4; r++) {
            if (!has(rows[r].name))
                continue;
            ggml_types_init_simd(rows[r].features);
            double best = 1e9;
            for (int run = 0; run < RUNS; run++) {
                double t = prefill_once(rows[r].impl, q, f16 ? (void *)kh : kf, f16 ? (void *)vh : vf, f16, kt, v32,
                                        out, scores);
                best = t < best ? t : best;
            }
            if (r == 0)
                base = best;
            printf("  %-7s %8.2f  x%.1f\n", rows[r].name, best * 1e3, base / best);
        }
    }
    ggml_types_init_simd(0);
    free(kf);
    free(vf);
    free(kh);
    free(vh);
    free(kt);
    free(v32);
}

int main(int argc, char **argv)
{
    if (argc > 1 && argv[1][0] == 'p') {    /* "prefill": that benchmark alone */
        bench_prefill();
        return 0;
    }
    bench_rmsnorm();
    bench_rope();
    bench_argmax();
    bench_attention();
    bench_prefill();
    return 0;
}

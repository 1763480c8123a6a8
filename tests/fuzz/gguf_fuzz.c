/* libFuzzer harness for the GGUF reader (kernel/llm/gguf.c) and the tensor-format kernels it hands data to
   (kernel/llm/quant_ref.c, quant_sse2.c): any input must either be rejected with an error or yield a file whose
   every key, array element and tensor can be read in bounds; the first row of each tensor is then dequantized
   and dotted with zero activations (and up to 6 rows go through ggml_vec_dot_rows). Invariant violations trap;
   ASan/UBSan catch the rest.
   tests/test_llm_gguf_fuzz.py runs it for ~20 s from the damaged corpus (tests/bad_gguf_c) plus valid files.

   Long run (hours), from the repository root:
     mkdir -p /tmp/gguf-fuzz/corpus && clang -g -O1 -fsanitize=fuzzer,address,undefined -DCLLM_HOST \
       -Ikernel -Itests/host/include tests/fuzz/gguf_fuzz.c kernel/llm/gguf.c kernel/llm/ggml_types.c \
       kernel/llm/quant_ref.c kernel/llm/quant_sse2.c tests/host/shim.c kernel/lib/fmt.c kernel/lib/parse.c -o /tmp/gguf-fuzz/fuzz
     /tmp/gguf-fuzz/fuzz -max_len=65536 -timeout=10 -dict=tests/fuzz/gguf.dict -jobs=2 -workers=2 \
       -max_total_time=14400 /tmp/gguf-fuzz/corpus tests/bad_gguf_c
   (crash inputs are written as crash-* in the working directory; rerun one with /tmp/gguf-fuzz/fuzz FILE). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "llm/ggml_types.h"
#include "llm/gguf.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static volatile uint8_t sink;

static void touch(const void *p, uint64_t n)
{
    if (n) {
        sink ^= ((const uint8_t *)p)[0];
        sink ^= ((const uint8_t *)p)[n - 1];
    }
}

static void check_kv(const struct gguf_file *f, int64_t k, const uint8_t *data, uint64_t size)
{
    const char *key = gguf_get_key(f, k);
    CHECK(key && gguf_find_key(f, key) == k);
    int t = gguf_get_kv_type(f, k);
    CHECK(t >= 0 && t < GGUF_TYPE_COUNT);
    int64_t iv;
    double dv;
    float fv;
    int bv;
    const char *s;
    uint64_t len;
    (void)gguf_get_int(f, k, &iv);
    (void)gguf_get_f64(f, k, &dv);
    (void)gguf_get_f32(f, k, &fv);
    (void)gguf_get_bool(f, k, &bv);
    if (gguf_get_str(f, k, &s, &len) == 0) {
        CHECK((const uint8_t *)s >= data && len <= size - (uint64_t)((const uint8_t *)s - data));
        touch(s, len);
    }
    uint32_t et;
    uint64_t n;
    const void *arr;
    if (gguf_get_arr(f, k, &et, &n, &arr) != 0)
        return;
    CHECK(et < GGUF_TYPE_COUNT && et != GGUF_TYPE_ARRAY);
    for (uint64_t i = 0; i < n; i++) {
        if (et == GGUF_TYPE_STRING) {
            CHECK(gguf_get_arr_str(f, k, i, &s, &len) == 0);
            CHECK((const uint8_t *)s >= data && len <= size - (uint64_t)((const uint8_t *)s - data));
            touch(s, len);
        } else if (et == GGUF_TYPE_FLOAT32) {
            CHECK(gguf_get_arr_f32(f, k, i, &fv) == 0);
        } else {
            (void)gguf_get_arr_int(f, k, i, &iv);
        }
    }
    CHECK(gguf_get_arr_str(f, k, n, &s, &len) != 0);
}

static void check_tensor(const struct gguf_file *f, int64_t i, const uint8_t *data, uint64_t size)
{
    const struct gguf_tensor *t = gguf_get_tensor(f, i);
    CHECK(t && gguf_find_tensor(f, t->name) == t);
    CHECK(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
    const struct ggml_type_traits *tt = ggml_get_type_traits(t->type);
    CHECK(tt && t->ne[0] % tt->blck_size == 0);
    const uint8_t *p = t->data;
    CHECK(p >= data + f->data_offset && t->size <= size - (uint64_t)(p - data));
    CHECK((uint64_t)(p - data - f->data_offset) % f->alignment == 0);
    touch(p, t->size);
    /* the first row through the kernels (rows are short in fuzzed files; cap the work) */
    int64_t ne0 = t->ne[0];
    if (t->n_elements == 0 || ne0 > 4096)
        return;
    CHECK(ggml_row_size(t->type, ne0) <= t->size);
    float *row = malloc((size_t)ne0 * sizeof(float));
    tt->to_float(p, row, ne0);
    if (tt->vec_dot) {
        const struct ggml_type_traits *at = ggml_get_type_traits(tt->vec_dot_type);
        void *act = calloc(1, ggml_row_size(tt->vec_dot_type, ne0) + 1);
        float *x = calloc((size_t)ne0, sizeof(float));
        float s;
        at->from_float(x, act, ne0);
        tt->vec_dot(ne0, &s, p, act);
        size_t rs = ggml_row_size(t->type, ne0);   /* up to 6 rows through the multi-row kernels */
        int64_t nr = rs ? (int64_t)(t->size / rs) : 0;
        if (nr > 6)
            nr = 6;
        float out[6];
        if (nr > 0)
            ggml_vec_dot_rows(tt, ne0, nr, out, p, rs, act);
        free(x);
        free(act);
    }
    free(row);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int simd_ready;
    if (!simd_ready) {   /* fuzz the kernels the guest uses (SSE2 twins where they exist) */
        ggml_types_init_simd(GGML_CPU_SSE2);
        simd_ready = 1;
    }
    struct gguf_file f;
    char err[256];
    int rc = gguf_open(&f, data, size, err, sizeof err);
    if (rc != 0) {
        CHECK(rc < 0 && err[0] != 0);
        gguf_free(&f);
        return 0;
    }
    CHECK(f.alignment && (f.alignment & (f.alignment - 1)) == 0);
    CHECK(f.data_offset <= size);
    for (int64_t k = 0; k < f.n_kv; k++)
        check_kv(&f, k, data, size);
    for (int64_t i = 0; i < f.n_tensors; i++)
        check_tensor(&f, i, data, size);
    gguf_free(&f);
    return 0;
}

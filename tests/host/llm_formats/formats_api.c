/* ctypes-friendly entry points for the pytest tests of the tensor formats (tests/test_llm_quant*.py):
   one call per table operation, selected by type, with the live table or the scalar references.
   The GGUF reader is called directly (tests/test_llm_gguf*.py mirror its structs with ctypes). */
#include "llm/ggml_types.h"
#include "llm/gguf.h"
#include "llm/matmul.h"

static const struct ggml_type_traits *traits(int type, int ref)
{
    return ref ? ggml_get_type_traits_ref((enum ggml_type)type) : ggml_get_type_traits((enum ggml_type)type);
}

int fmt_info(int type, int64_t *blck_size, int64_t *type_size, int *vec_dot_type, int *has_from, int *has_dot)
{
    const struct ggml_type_traits *t = traits(type, 0);
    if (!t)
        return -1;
    *blck_size = t->blck_size;
    *type_size = (int64_t)t->type_size;
    *vec_dot_type = (int)t->vec_dot_type;
    *has_from = t->from_float != 0;
    *has_dot = t->vec_dot != 0;
    return 0;
}

int fmt_to_float(int type, int ref, const void *x, float *y, int64_t n)
{
    const struct ggml_type_traits *t = traits(type, ref);
    if (!t || !t->to_float || n % t->blck_size)
        return -1;
    t->to_float(x, y, n);
    return 0;
}

int fmt_from_float(int type, int ref, const float *x, void *y, int64_t n)
{
    const struct ggml_type_traits *t = traits(type, ref);
    if (!t || !t->from_float || n % t->blck_size)
        return -1;
    t->from_float(x, y, n);
    return 0;
}

int fmt_vec_dot(int type, int ref, int64_t n, float *s, const void *x, const void *y)
{
    const struct ggml_type_traits *t = traits(type, ref);
    if (!t || !t->vec_dot || n % t->blck_size)
        return -1;
    t->vec_dot(n, s, x, y);
    return 0;
}

uint64_t fmt_row_size(int type, int64_t n) { return ggml_row_size((enum ggml_type)type, n); }
void fmt_init_simd(uint32_t features) { ggml_types_init_simd(features); }
uint64_t fmt_sizeof_gguf_file(void) { return sizeof(struct gguf_file); }
uint64_t fmt_sizeof_gguf_tensor(void) { return sizeof(struct gguf_tensor); }

/* All strings of string array k in one call (the tests compare whole vocabularies): lens[i] = length of
   element i, buf gets the elements back to back. Returns the total bytes, or a negative error / -1000 - need
   when buf is too small. */
int64_t fmt_arr_str_dump(const struct gguf_file *f, int64_t k, uint64_t *lens, char *buf, uint64_t buflen)
{
    uint32_t et;
    uint64_t n, used = 0;
    const void *data;
    int rc = gguf_get_arr(f, k, &et, &n, &data);
    if (rc)
        return rc;
    for (uint64_t i = 0; i < n; i++) {
        const char *p;
        uint64_t len;
        if ((rc = gguf_get_arr_str(f, k, i, &p, &len)))
            return rc;
        lens[i] = len;
        if (used + len > buflen)
            return -1000;
        for (uint64_t j = 0; j < len; j++)
            buf[used + j] = p[j];
        used += len;
    }
    return (int64_t)used;
}

/* 1 when the live table's to_float and vec_dot for type are the scalar references, 0 when a twin is installed. */
int fmt_uses_ref(int type)
{
    const struct ggml_type_traits *t = traits(type, 0), *r = traits(type, 1);
    if (!t)
        return -1;
    return t->to_float == r->to_float && t->vec_dot == r->vec_dot;
}

/* ggml_vec_dot_rows with the live table: s[r] = dot(row r of x, y), rows bx bytes apart. */
int fmt_vec_dot_rows(int type, int64_t n, int64_t nr, float *s, const void *x, uint64_t bx, const void *y)
{
    const struct ggml_type_traits *t = traits(type, 0);
    if (!t || !t->vec_dot || n % t->blck_size)
        return -1;
    ggml_vec_dot_rows(t, n, nr, s, x, (size_t)bx, y);
    return 0;
}

/* llm/matmul.c with the live table: out[t * n_rows + r] = dot(row r of w, activation row t). */
int fmt_matmul(int type, int64_t n_rows, int64_t n_cols, const void *w, const void *act_q, int n_tok, float *out)
{
    const struct ggml_type_traits *t = traits(type, 0);
    if (!t || !t->vec_dot || n_cols % t->blck_size)
        return -1;
    matmul_q(t, w, ggml_row_size((enum ggml_type)type, n_cols), n_rows, n_cols, act_q, n_tok, out);
    return 0;
}

/* 1 when the live table has a 4x4 tile kernel for type (vec_dot_tile, or vec_dot_tile_act on prepared
   activations), 2 a multi-row kernel only, 0 neither. */
int fmt_kernel_kind(int type)
{
    const struct ggml_type_traits *t = traits(type, 0);
    if (!t)
        return -1;
    return t->vec_dot_tile || t->vec_dot_tile_act ? 1 : t->vec_dot_rows ? 2 : 0;
}

/* 1 when the live table's from_float for type is the scalar reference */
int fmt_from_is_ref(int type)
{
    const struct ggml_type_traits *t = traits(type, 0), *r = traits(type, 1);
    return t ? t->from_float == r->from_float : -1;
}

const char *fmt_simd_name(void) { return ggml_types_simd_name(); }

/* GGUF reader (versions 2 and 3, little-endian): checks a whole file before anything trusts it, then gives
   zero-copy access to its metadata and tensors in place. Parsing is in llm/gguf.c; the tensor formats and
   their sizes are in llm/ggml_types.h. Nothing here reads outside [data, data + size). */
#ifndef LLM_GGUF_H
#define LLM_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include "llm/ggml_types.h"

#define GGUF_MAGIC 0x46554747u            /* "GGUF" read as a little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32         /* bytes, when general.alignment is absent */
#define GGUF_MAX_DIMS 4

/* Metadata value types, numbered as in the GGUF specification. */
enum gguf_value_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13,
};

/* Error codes (negative); gguf_open also writes a message naming the field or tensor. */
enum gguf_error {
    GGUF_OK = 0,
    GGUF_E_TRUNCATED = -1,     /* a field runs past the end of the file */
    GGUF_E_MAGIC = -2,         /* not "GGUF" */
    GGUF_E_VERSION = -3,       /* version other than 2 or 3 (or a big-endian file) */
    GGUF_E_COUNT = -4,         /* tensor/key/array count larger than the bytes left could hold */
    GGUF_E_VALUE_TYPE = -5,    /* unknown metadata value type */
    GGUF_E_NESTED = -6,        /* array of arrays (not supported) */
    GGUF_E_BOOL = -7,          /* bool value other than 0 or 1 */
    GGUF_E_EMPTY_NAME = -8,    /* empty key or tensor name */
    GGUF_E_DUP_KEY = -9,
    GGUF_E_DUP_TENSOR = -10,
    GGUF_E_ALIGNMENT = -11,    /* general.alignment not a u32 power of two */
    GGUF_E_DIMS = -12,         /* n_dims outside 1..4 or a negative dimension */
    GGUF_E_OVERFLOW = -13,     /* element count or byte size does not fit in 64 bits */
    GGUF_E_TENSOR_TYPE = -14,  /* tensor type not supported */
    GGUF_E_BLOCK = -15,        /* row length not a multiple of the type's block size */
    GGUF_E_OFFSET = -16,       /* tensor offset not aligned */
    GGUF_E_BOUNDS = -17,       /* tensor data outside the data section */
    GGUF_E_OVERLAP = -18,      /* two tensors' data overlap */
    GGUF_E_NOMEM = -19,
    GGUF_E_NOT_FOUND = -20,    /* getters: no such key / index */
    GGUF_E_TYPE = -21,         /* getters: the value has another type */
    GGUF_E_INVALID = -22,      /* bad argument */
    GGUF_E_NAME = -23,         /* key or tensor name containing a NUL byte (unreachable by C-string lookup) */
};
const char *gguf_strerror(int err);   /* "truncated", "magic", ... (stable names, used by the tests) */

/* A metadata key/value; everything points into the file bytes. */
struct gguf_kv {
    const char *key;            /* NUL-terminated copy (owned by gguf_file) */
    uint32_t key_len;
    uint32_t type;              /* enum gguf_value_type */
    const uint8_t *val;         /* scalar: its bytes (unaligned); string: the bytes (no NUL); array: elements */
    uint64_t len;               /* string: byte length; array: element count; scalar: 1 */
    uint32_t arr_type;          /* array: element type */
    uint64_t *str_offsets;      /* string array: offset of element i's bytes from val (its u64 length precedes) */
};

struct gguf_tensor {
    const char *name;           /* NUL-terminated copy (owned by gguf_file) */
    uint32_t name_len;
    uint32_t n_dims;            /* 1..4 */
    int64_t ne[GGUF_MAX_DIMS];  /* elements per dimension, ne[0] innermost (row length); unused dims are 1 */
    enum ggml_type type;
    uint64_t offset;            /* from the start of the data section */
    const void *data;           /* in the file bytes; aligned to the file's alignment relative to the file start */
    uint64_t size;              /* bytes */
    int64_t n_elements;
};

struct gguf_file {
    const uint8_t *data;        /* the whole file, not owned */
    uint64_t size;
    uint32_t version;
    uint64_t alignment;
    uint64_t data_offset;       /* start of the tensor data section */
    int64_t n_kv;
    struct gguf_kv *kv;
    int64_t n_tensors;
    struct gguf_tensor *tensors;
    /* private: hash tables for lookup by name (open addressing, index + 1, 0 = empty) */
    uint32_t *kv_hash, *tensor_hash;
    uint64_t kv_hash_mask, tensor_hash_mask;
    char *names;                /* arena of the NUL-terminated key and tensor name copies */
    uint64_t *str_offsets;      /* one block for every string array's offsets table */
};

/* Parse and check everything. 0 on success, else a negative enum gguf_error and a message in err.
   On failure nothing needs freeing (gguf_free is still allowed). */
int gguf_open(struct gguf_file *f, const uint8_t *data, uint64_t size, char *err, size_t errlen);
void gguf_free(struct gguf_file *f);

/* Metadata. Keys are looked up in O(1); the index is valid until gguf_free. -1 when absent. */
int64_t gguf_find_key(const struct gguf_file *f, const char *key);
const char *gguf_get_key(const struct gguf_file *f, int64_t key_idx);
int gguf_get_kv_type(const struct gguf_file *f, int64_t key_idx);   /* enum gguf_value_type or -1 */

/* Typed getters: 0, or GGUF_E_NOT_FOUND (bad index), GGUF_E_TYPE (the value has another type). */
int gguf_get_u8(const struct gguf_file *f, int64_t key_idx, uint8_t *out);
int gguf_get_i8(const struct gguf_file *f, int64_t key_idx, int8_t *out);
int gguf_get_u16(const struct gguf_file *f, int64_t key_idx, uint16_t *out);
int gguf_get_i16(const struct gguf_file *f, int64_t key_idx, int16_t *out);
int gguf_get_u32(const struct gguf_file *f, int64_t key_idx, uint32_t *out);
int gguf_get_i32(const struct gguf_file *f, int64_t key_idx, int32_t *out);
int gguf_get_u64(const struct gguf_file *f, int64_t key_idx, uint64_t *out);
int gguf_get_i64(const struct gguf_file *f, int64_t key_idx, int64_t *out);
int gguf_get_f32(const struct gguf_file *f, int64_t key_idx, float *out);
int gguf_get_f64(const struct gguf_file *f, int64_t key_idx, double *out);
int gguf_get_bool(const struct gguf_file *f, int64_t key_idx, int *out);
int gguf_get_str(const struct gguf_file *f, int64_t key_idx, const char **ptr, uint64_t *len);  /* not NUL-terminated */
/* Any integer type (u8..i64) widened to int64; GGUF_E_TYPE for non-integers and u64 values above INT64_MAX.
   For hyper-parameters that writers store with varying integer widths. */
int gguf_get_int(const struct gguf_file *f, int64_t key_idx, int64_t *out);

/* Arrays. data points at the first element in the file (unaligned: read elements with the accessors below
   or memcpy); for string arrays use gguf_get_arr_str. */
int gguf_get_arr(const struct gguf_file *f, int64_t key_idx, uint32_t *elem_type, uint64_t *count, const void **data);
int gguf_get_arr_str(const struct gguf_file *f, int64_t key_idx, uint64_t i, const char **ptr, uint64_t *len); /* O(1) */
int gguf_get_arr_f32(const struct gguf_file *f, int64_t key_idx, uint64_t i, float *out);
int gguf_get_arr_i32(const struct gguf_file *f, int64_t key_idx, uint64_t i, int32_t *out);
int gguf_get_arr_int(const struct gguf_file *f, int64_t key_idx, uint64_t i, int64_t *out);  /* any integer type */

/* Tensors, by name in O(1) or by index. NULL when absent. */
const struct gguf_tensor *gguf_find_tensor(const struct gguf_file *f, const char *name);
const struct gguf_tensor *gguf_get_tensor(const struct gguf_file *f, int64_t i);

#endif

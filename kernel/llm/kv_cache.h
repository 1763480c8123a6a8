/* The KV cache: keys and values of every layer for every position of every slot (one slot per concurrent
   sequence), fp16 or f32 (CLLM_KV_F16 in the build configuration). Layout [slot][layer][pos][n_head_kv * head_dim],
   so one position's heads are contiguous and a head's positions are kv_dim apart. Allocated once at boot from
   the heap (llm/engine.c); the forward pass (llm/llama.c) writes and reads it. */
#ifndef LLM_KV_CACHE_H
#define LLM_KV_CACHE_H
#include <stddef.h>
#include <stdint.h>

struct kv_cache {
    int n_layer;
    int n_ctx;             /* positions per slot */
    int n_slots;
    int kv_dim;            /* n_head_kv * head_dim elements per position */
    int f16;               /* 1: elements are fp16 bits, 0: f32 */
    size_t elem_size;      /* 2 or 4 bytes */
    void *k, *v;           /* (n_slots, n_layer, n_ctx, kv_dim) each */
};

/* 0 on success, -1 when out of memory or a size overflows. */
int kv_cache_init(struct kv_cache *kv, int n_layer, int n_ctx, int n_slots, int kv_dim, int f16);
void kv_cache_free(struct kv_cache *kv);
size_t kv_cache_bytes(int n_layer, int n_ctx, int n_slots, int kv_dim, int f16);

/* Pointer to position pos of (slot, layer) in the key / value array. */
void *kv_cache_k(const struct kv_cache *kv, int slot, int layer, int pos);
void *kv_cache_v(const struct kv_cache *kv, int slot, int layer, int pos);

/* Store n floats (one position's kv_dim values) at (slot, layer, pos), converting to the cache type. */
void kv_cache_store(const struct kv_cache *kv, int slot, int layer, int pos, const float *k, const float *v);

/* Store elements [e0, e1) of one position's keys (which = KV_CACHE_K) or values (KV_CACHE_V): the worker that
   computed those rows of the K or V projection stores them (llm/llama.c). */
enum { KV_CACHE_K, KV_CACHE_V };
void kv_cache_store_range(const struct kv_cache *kv, int slot, int layer, int pos, int which, const float *x,
                          int e0, int e1);

#endif

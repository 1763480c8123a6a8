/* KV cache storage (see kv_cache.h). The attention that reads it is ops_attention_head in llm/ops.c. */
#include "llm/kv_cache.h"
#include "llm/fp16.h"
#include "core/heap.h"
#include "lib/string.h"

size_t kv_cache_bytes(int n_layer, int n_ctx, int n_slots, int kv_dim, int f16)
{
    if (n_layer <= 0 || n_ctx <= 0 || n_slots <= 0 || kv_dim <= 0)
        return 0;
    uint64_t n = (uint64_t)n_layer * (uint64_t)n_ctx * (uint64_t)n_slots * (uint64_t)kv_dim;
    if (n > ((uint64_t)1 << 40))
        return 0;
    return (size_t)(n * (f16 ? 2u : 4u));
}

int kv_cache_init(struct kv_cache *kv, int n_layer, int n_ctx, int n_slots, int kv_dim, int f16)
{
    memset(kv, 0, sizeof *kv);
    size_t bytes = kv_cache_bytes(n_layer, n_ctx, n_slots, kv_dim, f16);
    if (!bytes)
        return -1;
    kv->n_layer = n_layer;
    kv->n_ctx = n_ctx;
    kv->n_slots = n_slots;
    kv->kv_dim = kv_dim;
    kv->f16 = f16 ? 1 : 0;
    kv->elem_size = f16 ? 2 : 4;
    /* Not zeroed: a position is always written before attention reads it. */
    kv->k = kmalloc_aligned(bytes, 64);
    kv->v = kmalloc_aligned(bytes, 64);
    if (!kv->k || !kv->v) {
        kv_cache_free(kv);
        return -1;
    }
    return 0;
}

void kv_cache_free(struct kv_cache *kv)
{
    kfree(kv->k);
    kfree(kv->v);
    kv->k = kv->v = NULL;
}

static size_t kv_cache_offset(const struct kv_cache *kv, int slot, int layer, int pos)
{
    size_t idx = (((size_t)slot * kv->n_layer + (size_t)layer) * kv->n_ctx + (size_t)pos) * kv->kv_dim;
    return idx * kv->elem_size;
}

void *kv_cache_k(const struct kv_cache *kv, int slot, int layer, int pos)
{
    return (uint8_t *)kv->k + kv_cache_offset(kv, slot, layer, pos);
}

void *kv_cache_v(const struct kv_cache *kv, int slot, int layer, int pos)
{
    return (uint8_t *)kv->v + kv_cache_offset(kv, slot, layer, pos);
}

void kv_cache_store_range(const struct kv_cache *kv, int slot, int layer, int pos, int which, const float *x,
                          int e0, int e1)
{
    void *d = which == KV_CACHE_V ? kv_cache_v(kv, slot, layer, pos) : kv_cache_k(kv, slot, layer, pos);
    if (kv->f16) {
        uint16_t *h = d;
        for (int i = e0; i < e1; i++)
            h[i] = fp16_from_fp32(x[i]);
    } else {
        memcpy((float *)d + e0, x + e0, (size_t)(e1 - e0) * 4);
    }
}

void kv_cache_store(const struct kv_cache *kv, int slot, int layer, int pos, const float *k, const float *v)
{
    kv_cache_store_range(kv, slot, layer, pos, KV_CACHE_K, k, 0, kv->kv_dim);
    kv_cache_store_range(kv, slot, layer, pos, KV_CACHE_V, v, 0, kv->kv_dim);
}

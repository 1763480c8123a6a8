/* The kernel heap (core/heap.h): boundary-tagged blocks in one or more memory regions, free blocks on
   segregated lists by power of two, first fit within a list, immediate coalescing on free. The regions come
   from the Multiboot memory map minus everything in use (heap_init_from_mboot, core/mboot.c); host tests give
   their own (tests/host/core/heap_check.c). A spinlock makes the calls safe from any CPU (the event loop does
   almost all of them, so it is practically never contended). */
#include "core/heap.h"
#include "core/limits.h"
#include "core/panic.h"
#include "lib/string.h"
#include <stdbool.h>

/* Every block starts with this tag; sizes include it and are multiples of 16, so payloads are 16-aligned.
   Free blocks also hold their list links right after the tag (so the smallest block is 32 bytes).
   Each region ends with a 16-byte sentinel tag marked used and HB_END. No two free blocks are adjacent. */
struct hblock {
    uint64_t size;      /* block bytes | flags in the low 4 bits */
    uint64_t prev_size; /* bytes of the block just before; 0 for a region's first block */
};
struct hfree {
    struct hblock tag;
    struct hfree *next, *prev;
};

#define HB_USED 1u
#define HB_END 2u
#define HB_FLAGS 15u
#define HB_HDR 16u
#define HB_MIN 32u
#define HB_BINS 64

static struct hfree *bins[HB_BINS];
static struct hblock *region_first[HEAP_MAX_REGIONS];
static int n_regions;
static uint64_t stat_total, stat_used, stat_peak;

static volatile char heap_lock_flag;

static inline void heap_lock(void)
{
    while (__atomic_test_and_set(&heap_lock_flag, __ATOMIC_ACQUIRE))
        __asm__ volatile("pause");
}

static inline void heap_unlock(void) { __atomic_clear(&heap_lock_flag, __ATOMIC_RELEASE); }

static inline uint64_t bsize(const struct hblock *b) { return b->size & ~(uint64_t)HB_FLAGS; }
static inline bool bused(const struct hblock *b) { return b->size & HB_USED; }
static inline struct hblock *bnext(struct hblock *b) { return (struct hblock *)((char *)b + bsize(b)); }
static inline struct hblock *bprev(struct hblock *b) { return (struct hblock *)((char *)b - b->prev_size); }
static inline int bin_of(uint64_t size) { return 63 - __builtin_clzll(size); }

static void heap_corrupt(const char *what, const void *p)
{
    heap_unlock();
    panic("heap: %s at %p", what, p);
}

static void free_insert(struct hblock *b)
{
    struct hfree *f = (struct hfree *)b;
    int i = bin_of(bsize(b));
    f->prev = NULL;
    f->next = bins[i];
    if (bins[i])
        bins[i]->prev = f;
    bins[i] = f;
}

static void free_remove(struct hblock *b)
{
    struct hfree *f = (struct hfree *)b;
    if (f->prev)
        f->prev->next = f->next;
    else
        bins[bin_of(bsize(b))] = f->next;
    if (f->next)
        f->next->prev = f->prev;
}

/* b (not on a list) becomes free: merge with free neighbours, then list it. */
static void free_merge_insert(struct hblock *b)
{
    uint64_t size = bsize(b);
    struct hblock *n = bnext(b);
    if (!bused(n)) {
        free_remove(n);
        size += bsize(n);
    }
    if (b->prev_size) {
        struct hblock *p = bprev(b);
        if (!bused(p)) {
            free_remove(p);
            size += bsize(p);
            b = p;
        }
    }
    b->size = size;
    bnext(b)->prev_size = size;
    free_insert(b);
}

/* b is used with block size >= size: give back the tail when it can hold a block. */
static void block_trim(struct hblock *b, uint64_t size)
{
    uint64_t have = bsize(b);
    if (have - size < HB_MIN)
        return;
    b->size = size | HB_USED;
    struct hblock *r = bnext(b);
    r->size = have - size;
    r->prev_size = size;
    bnext(r)->prev_size = have - size;
    free_merge_insert(r);
}

static void account_alloc(uint64_t bytes)
{
    stat_used += bytes;
    if (stat_used > stat_peak)
        stat_peak = stat_used;
}

/* block bytes for an n-byte request; 0 when n is absurd */
static uint64_t block_bytes(size_t n)
{
    if (n > ((uint64_t)1 << 62))
        return 0;
    uint64_t size = ((uint64_t)n + HB_HDR + 15) & ~(uint64_t)15;
    return size < HB_MIN ? HB_MIN : size;
}

int heap_add_region(uint64_t base, uint64_t len)
{
    uint64_t start = (base + 15) & ~(uint64_t)15;
    uint64_t end = (base + len) & ~(uint64_t)15;
    if (end <= start || end - start < HB_MIN + HB_HDR || n_regions >= HEAP_MAX_REGIONS)
        return -1;
    struct hblock *b = (struct hblock *)(uintptr_t)start;
    uint64_t size = end - start - HB_HDR;
    b->size = size;
    b->prev_size = 0;
    struct hblock *s = bnext(b);
    s->size = HB_HDR | HB_USED | HB_END;
    s->prev_size = size;
    free_insert(b);
    region_first[n_regions++] = b;
    stat_total += size;
    return 0;
}

static void *kmalloc_locked(size_t n)
{
    uint64_t size = block_bytes(n);
    if (!size)
        return NULL;
    for (int i = bin_of(size); i < HB_BINS; i++) {
        for (struct hfree *f = bins[i]; f; f = f->next) {
            struct hblock *b = &f->tag;
            if (bsize(b) < size)
                continue; /* only the first list can hold smaller blocks */
            free_remove(b);
            b->size |= HB_USED;
            block_trim(b, size);
            account_alloc(bsize(b));
            return (char *)b + HB_HDR;
        }
    }
    return NULL;
}

void *kcalloc(size_t count, size_t size)
{
    if (size && count > (size_t)-1 / size)
        return NULL;
    void *p = kmalloc(count * size);
    if (p)
        memset(p, 0, count * size);
    return p;
}

static void *kmalloc_aligned_locked(size_t n, size_t align)
{
    if (align == 0 || (align & (align - 1)))
        return NULL;
    if (align <= 16)
        return kmalloc_locked(n);
    uint64_t size = block_bytes(n);
    if (!size || align > ((uint64_t)1 << 40))
        return NULL;
    for (int i = bin_of(size); i < HB_BINS; i++) {
        for (struct hfree *f = bins[i]; f; f = f->next) {
            struct hblock *b = &f->tag;
            uint64_t start = (uint64_t)(uintptr_t)b, end = start + bsize(b);
            uint64_t p = (start + HB_HDR + align - 1) & ~(uint64_t)(align - 1);
            while (p - HB_HDR != start && p - HB_HDR - start < HB_MIN)
                p += align; /* the part in front must be a whole free block */
            if (p - HB_HDR + size > end)
                continue;
            free_remove(b);
            struct hblock *a = (struct hblock *)(uintptr_t)(p - HB_HDR);
            if (a != b) { /* split off the front as a free block; its left neighbour is used */
                uint64_t lead = (uint64_t)(uintptr_t)a - start;
                a->size = bsize(b) - lead;
                a->prev_size = lead;
                bnext(a)->prev_size = bsize(a);
                b->size = lead;
                free_insert(b);
            }
            a->size |= HB_USED;
            block_trim(a, size);
            account_alloc(bsize(a));
            return (void *)(uintptr_t)p;
        }
    }
    return NULL;
}

static struct hblock *block_of(void *p)
{
    struct hblock *b = (struct hblock *)((char *)p - HB_HDR);
    if (((uintptr_t)p & 15) || !bused(b) || (b->size & HB_END) || bsize(b) < HB_MIN ||
        bnext(b)->prev_size != bsize(b))
        heap_corrupt("bad pointer or double free", p);
    return b;
}

static void kfree_locked(void *p)
{
    if (!p)
        return;
    struct hblock *b = block_of(p);
    stat_used -= bsize(b);
    b->size &= ~(uint64_t)HB_USED;
    free_merge_insert(b);
}

/* Grows in place when the next block is free and big enough; otherwise moves (alignment beyond 16 bytes
   is kept only in place). */
static void *krealloc_locked(void *p, size_t n)
{
    if (!p)
        return kmalloc_locked(n);
    uint64_t size = block_bytes(n);
    if (!size)
        return NULL;
    struct hblock *b = block_of(p);
    uint64_t have = bsize(b);
    if (size <= have) {
        stat_used -= have;
        block_trim(b, size);
        account_alloc(bsize(b));
        return p;
    }
    struct hblock *nx = bnext(b);
    if (!bused(nx) && have + bsize(nx) >= size) {
        free_remove(nx);
        b->size = (have + bsize(nx)) | HB_USED;
        bnext(b)->prev_size = bsize(b);
        stat_used -= have;
        block_trim(b, size);
        account_alloc(bsize(b));
        return p;
    }
    void *q = kmalloc_locked(n);
    if (!q)
        return NULL;
    memcpy(q, p, have - HB_HDR);
    kfree_locked(p);
    return q;
}

/* The public calls: the lock around the work. */
void *kmalloc(size_t n)
{
    heap_lock();
    void *p = kmalloc_locked(n);
    heap_unlock();
    return p;
}

void *kmalloc_aligned(size_t n, size_t align)
{
    heap_lock();
    void *p = kmalloc_aligned_locked(n, align);
    heap_unlock();
    return p;
}

void *krealloc(void *p, size_t n)
{
    heap_lock();
    void *q = krealloc_locked(p, n);
    heap_unlock();
    return q;
}

void kfree(void *p)
{
    heap_lock();
    kfree_locked(p);
    heap_unlock();
}

void heap_get_stats(struct heap_stats *st)
{
    st->total = stat_total;
    st->used = stat_used;
    st->peak = stat_peak;
}

/* Walks every region and list; returns the number of problems found (0: consistent). For tests and debug. */
int heap_check(void)
{
    int bad = 0;
    uint64_t used = 0, free_blocks = 0, listed = 0;
    for (int r = 0; r < n_regions; r++) {
        struct hblock *b = region_first[r];
        if (b->prev_size != 0)
            bad++;
        bool prev_free = false;
        while (!(b->size & HB_END)) {
            uint64_t s = bsize(b);
            if (s < HB_MIN || (s & 15))
                return bad + 1; /* cannot walk on */
            if (bnext(b)->prev_size != s)
                bad++;
            if (bused(b)) {
                used += s;
                prev_free = false;
            } else {
                if (prev_free)
                    bad++; /* two adjacent free blocks: a missed merge */
                prev_free = true;
                free_blocks++;
            }
            b = bnext(b);
        }
    }
    for (int i = 0; i < HB_BINS; i++)
        for (struct hfree *f = bins[i]; f; f = f->next) {
            listed++;
            if (bused(&f->tag) || bin_of(bsize(&f->tag)) != i || (f->next && f->next->prev != f))
                bad++;
        }
    if (used != stat_used || listed != free_blocks)
        bad++;
    return bad;
}

/* Number of free blocks: after everything is freed, one per region (full coalescing). */
uint64_t heap_free_blocks(void)
{
    uint64_t n = 0;
    for (int i = 0; i < HB_BINS; i++)
        for (struct hfree *f = bins[i]; f; f = f->next)
            n++;
    return n;
}

void heap_reset(void)
{
    for (int i = 0; i < HB_BINS; i++)
        bins[i] = NULL;
    n_regions = 0;
    stat_total = stat_used = stat_peak = 0;
}

/* ---- regions from a memory map ------------------------------------------------------------------------ */

/* Adds avail minus reserved (both lists of [base, base+len)) as heap regions, each piece shrunk to whole
   4 KiB pages. Returns the number of regions added. Pure, so the host tests exercise it too. */
int heap_init_regions(const struct heap_range *avail, int n_avail, const struct heap_range *reserved, int n_res)
{
    struct heap_range piece[HEAP_MAX_REGIONS * 2];
    int added = 0;
    for (int a = 0; a < n_avail; a++) {
        int np = 1;
        piece[0] = avail[a];
        for (int r = 0; r < n_res; r++) {
            uint64_t rb = reserved[r].base, re = reserved[r].base + reserved[r].len;
            for (int i = 0; i < np; i++) {
                uint64_t pb = piece[i].base, pe = piece[i].base + piece[i].len;
                if (re <= pb || rb >= pe)
                    continue; /* disjoint */
                /* keep [pb, rb) and [re, pe) */
                bool left = rb > pb, right = re < pe;
                if (left && right && np < (int)(sizeof piece / sizeof piece[0])) {
                    piece[np].base = re;
                    piece[np].len = pe - re;
                    np++;
                    piece[i].len = rb - pb;
                } else if (left) {
                    piece[i].len = rb - pb;
                } else if (right) {
                    piece[i].base = re;
                    piece[i].len = pe - re;
                } else {
                    piece[i] = piece[--np];
                    i--;
                }
            }
        }
        for (int i = 0; i < np; i++) {
            uint64_t b = (piece[i].base + 4095) & ~(uint64_t)4095;
            uint64_t e = (piece[i].base + piece[i].len) & ~(uint64_t)4095;
            if (e > b && heap_add_region(b, e - b) == 0)
                added++;
        }
    }
    return added;
}

#ifndef CLLM_HOST
#include "core/log.h"
#include "core/mboot.h"

extern const uint8_t __kernel_start[], __image_end[], __model_start[], __model_end[];

static struct heap_range early_reserved[8];
static int n_early_reserved;

void heap_reserve_early(uint64_t base, uint64_t len)
{
    if (n_early_reserved < (int)(sizeof early_reserved / sizeof early_reserved[0]))
        early_reserved[n_early_reserved++] = (struct heap_range){base, len};
    else
        panic("heap_reserve_early: too many ranges");
}

void heap_init_from_mboot(void)
{
    const struct mboot_info *mb = mboot_get();
    struct heap_range avail[MBOOT_MAX_MMAP];
    int n = 0;
    if (mb->n_mmap > 0) {
        for (int i = 0; i < mb->n_mmap; i++)
            if (mb->mmap[i].type == MBOOT_MEM_AVAILABLE)
                avail[n++] = (struct heap_range){mb->mmap[i].base, mb->mmap[i].len};
    } else if (mb->flags & MBOOT_INFO_MEM) { /* no map: upper memory from 1 MiB is what we can use */
        avail[n++] = (struct heap_range){0x100000, (uint64_t)mb->mem_upper_kb * 1024};
    }
    /* clip to what boot.S maps (and below: the first MiB, BIOS and loader data) */
    uint64_t unmapped = 0;
    for (int i = 0; i < n; i++) {
        uint64_t b = avail[i].base, e = avail[i].base + avail[i].len;
        if (b < 0x100000)
            b = 0x100000;
        if (e > CLLM_HEAP_MAPPED_END) {
            unmapped += e - (b > CLLM_HEAP_MAPPED_END ? b : CLLM_HEAP_MAPPED_END);
            e = CLLM_HEAP_MAPPED_END;
        }
        avail[i].base = b;
        avail[i].len = e > b ? e - b : 0;
    }
    if (unmapped)
        log_warn("heap: %llu MiB of RAM above the identity-mapped %llu MiB left unused",
                 (unsigned long long)(unmapped >> 20), (unsigned long long)(CLLM_HEAP_MAPPED_END >> 20));
    struct heap_range res[8 + MBOOT_MAX_RESERVED];
    int nr = 0;
    res[nr++] = (struct heap_range){0, 0x100000};
    res[nr++] = (struct heap_range){(uintptr_t)__kernel_start, (uintptr_t)__image_end - (uintptr_t)__kernel_start};
    res[nr++] = (struct heap_range){(uintptr_t)__model_start, (uintptr_t)__model_end - (uintptr_t)__model_start};
    for (int i = 0; i < mb->n_reserved; i++)
        res[nr++] = mb->reserved[i];
    for (int i = 0; i < n_early_reserved; i++)
        res[nr++] = early_reserved[i];
    int regions = heap_init_regions(avail, n, res, nr);
    for (int r = 0; r < n_regions; r++) {
        struct hblock *b = region_first[r];
        log_info("heap: region %d at %#llx, %llu KiB", r, (unsigned long long)(uintptr_t)b,
                 (unsigned long long)(bsize(b) >> 10));
    }
    log_info("heap: %d regions, %llu MiB total (image %#llx-%#llx, model %llu MiB excluded)", regions,
             (unsigned long long)(stat_total >> 20), (unsigned long long)(uintptr_t)__kernel_start,
             (unsigned long long)(uintptr_t)__image_end,
             (unsigned long long)(((uintptr_t)__model_end - (uintptr_t)__model_start) >> 20));
    if (regions == 0)
        panic("heap: no usable memory in the memory map");
}
#endif

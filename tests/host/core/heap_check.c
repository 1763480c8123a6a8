/* Host check of core/heap.c: regions carved from one malloc'd area with holes (heap_init_regions), then a
   long random sequence of kmalloc / kmalloc_aligned / kcalloc / krealloc / kfree. Every block is filled with
   its own byte pattern and verified before it is freed or moved; live blocks are checked pairwise for
   overlap and alignment; heap_check() walks the tags and lists; at the end everything is freed and the heap
   must be back to one free block per region. Usage: heap_check SEED OPS. Prints "N passed, M failed". */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/heap.h"
#include "core/panic.h"

static jmp_buf panic_jmp;
static int expect_panic;
static char panic_msg[256];

void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(panic_msg, sizeof panic_msg, fmt, ap);
    va_end(ap);
    if (expect_panic)
        longjmp(panic_jmp, 1);
    fprintf(stderr, "unexpected panic: %s\n", panic_msg);
    abort();
}

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct live {
    uint8_t *p;
    size_t n, align;
    uint8_t tag;
};
#define MAX_LIVE 4000
static struct live live[MAX_LIVE];
static int n_live;
static long passed, failed;

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (cond) passed++;                                                                                  \
        else {                                                                                               \
            failed++;                                                                                        \
            if (failed < 20) { printf("FAIL line %d: ", __LINE__); printf(__VA_ARGS__); printf("\n"); }      \
        }                                                                                                    \
    } while (0)

static int verify(const struct live *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->p[i] != (uint8_t)(l->tag + i * 7))
            return 0;
    return 1;
}

static void fill(struct live *l)
{
    for (size_t i = 0; i < l->n; i++)
        l->p[i] = (uint8_t)(l->tag + i * 7);
}

static int cmp_live(const void *a, const void *b)
{
    const struct live *x = a, *y = b;
    return x->p < y->p ? -1 : x->p > y->p;
}

static size_t rand_size(void)
{
    switch (rnd() % 8) {
    case 0: return rnd() % 17;               /* tiny, including 0 */
    case 1: return rnd() % (1u << 20);       /* up to 1 MiB */
    case 2: return rnd() % (4u << 20);       /* up to 4 MiB */
    default: return rnd() % 4096;
    }
}

int main(int argc, char **argv)
{
    rng_state = argc > 1 ? strtoull(argv[1], NULL, 0) * 2654435761u + 1 : 1;
    long ops = argc > 2 ? atol(argv[2]) : 100000;
    size_t arena_len = 96u << 20;
    uint8_t *arena = malloc(arena_len);
    uint64_t base = (uint64_t)(uintptr_t)arena;
    /* three "RAM" ranges with reserved holes inside (like the image and the Multiboot data) */
    struct heap_range avail[] = {{base + 1000, (32u << 20)}, {base + (33u << 20), (40u << 20) + 123},
                                 {base + (80u << 20), (16u << 20) - 5000}};
    struct heap_range res[] = {{base + (4u << 20), 3 << 20}, {base + (40u << 20) + 77, 4096},
                               {base + (33u << 20), 100}, {base + (95u << 20), 2 << 20}};
    int regions = heap_init_regions(avail, 3, res, 4);
    CHECK(regions == 5, "regions %d", regions);
    struct heap_stats st;
    heap_get_stats(&st);
    uint64_t total = st.total;
    CHECK(total > (80u << 20) && total < (90u << 20), "total %llu", (unsigned long long)total);
    /* reserved ranges are never handed out: keep a list for the overlap check */
    CHECK(heap_check() == 0, "fresh heap inconsistent");

    for (long op = 0; op < ops; op++) {
        unsigned what = (unsigned)(rnd() % 10);
        if ((what < 5 && n_live < MAX_LIVE) || n_live == 0) {
            struct live l = {0};
            l.n = rand_size();
            l.tag = (uint8_t)rnd();
            l.align = 16;
            if (what == 0) {
                l.align = (size_t)1 << (4 + rnd() % 18); /* 16 B .. 2 MiB */
                l.p = kmalloc_aligned(l.n, l.align);
            } else if (what == 1) {
                size_t count = rnd() % 100, each = l.n / 100 + 1;
                l.n = count * each;
                l.p = kcalloc(count, each);
                if (l.p) {
                    int zero = 1;
                    for (size_t i = 0; i < l.n; i++)
                        if (l.p[i]) zero = 0;
                    CHECK(zero, "kcalloc not zeroed");
                }
            } else {
                l.p = kmalloc(l.n);
            }
            if (!l.p)
                continue; /* out of memory is allowed: the random mix can fill 96 MiB */
            CHECK(((uintptr_t)l.p & (l.align - 1)) == 0, "alignment %zu of %p", l.align, (void *)l.p);
            CHECK((uint64_t)(uintptr_t)l.p >= base && (uint64_t)(uintptr_t)l.p + l.n <= base + arena_len,
                  "outside the arena");
            for (size_t r = 0; r < 4; r++)
                CHECK((uint64_t)(uintptr_t)l.p + l.n <= res[r].base ||
                      (uint64_t)(uintptr_t)l.p >= res[r].base + res[r].len || l.n == 0,
                      "block %p+%zu overlaps reserved range %zu", (void *)l.p, l.n, r);
            fill(&l);
            live[n_live++] = l;
        } else if (what < 7) {
            int i = (int)(rnd() % (uint64_t)n_live);
            struct live *l = &live[i];
            size_t n = rand_size();
            uint8_t *q = krealloc(l->p, n);
            if (!q)
                continue; /* old block stays valid */
            size_t keep = n < l->n ? n : l->n;
            int same = 1;
            for (size_t k = 0; k < keep; k++)
                if (q[k] != (uint8_t)(l->tag + k * 7)) same = 0;
            CHECK(same, "krealloc lost contents");
            l->p = q;
            l->n = n;
            l->align = 16;
            CHECK(((uintptr_t)q & 15) == 0, "krealloc alignment");
            fill(l);
        } else {
            int i = (int)(rnd() % (uint64_t)n_live);
            CHECK(verify(&live[i]), "block %p (%zu bytes) was overwritten", (void *)live[i].p, live[i].n);
            kfree(live[i].p);
            live[i] = live[--n_live];
        }
        if (op % 1000 == 0) {
            CHECK(heap_check() == 0, "heap_check after op %ld", op);
            qsort(live, (size_t)n_live, sizeof live[0], cmp_live);
            for (int i = 1; i < n_live; i++)
                CHECK(live[i - 1].p + (live[i - 1].n ? live[i - 1].n : 1) <= live[i].p, "overlap at %p",
                      (void *)live[i].p);
            heap_get_stats(&st);
            uint64_t sum = 0;
            for (int i = 0; i < n_live; i++)
                sum += live[i].n;
            CHECK(st.used >= sum && st.peak >= st.used && st.total == total, "stats used %llu live %llu",
                  (unsigned long long)st.used, (unsigned long long)sum);
        }
    }
    while (n_live) {
        CHECK(verify(&live[n_live - 1]), "block overwritten at the end");
        kfree(live[--n_live].p);
    }
    heap_get_stats(&st);
    CHECK(st.used == 0, "used %llu after freeing everything", (unsigned long long)st.used);
    CHECK(heap_free_blocks() == (uint64_t)regions, "free blocks %llu, regions %d: incomplete coalescing",
          (unsigned long long)heap_free_blocks(), regions);
    CHECK(heap_check() == 0, "final heap_check");

    /* edge cases */
    CHECK(kcalloc((size_t)1 << 40, (size_t)1 << 40) == NULL, "kcalloc overflow");
    CHECK(kmalloc((size_t)-1) == NULL, "kmalloc huge");
    CHECK(kmalloc(200u << 20) == NULL, "kmalloc beyond the heap");
    CHECK(kmalloc_aligned(100, 48) == NULL, "non power of two alignment");
    void *big = kmalloc_aligned(8u << 20, 2u << 20);
    CHECK(big && ((uintptr_t)big & ((2u << 20) - 1)) == 0, "2 MiB aligned 8 MiB block");
    kfree(big);
    kfree(NULL);
    void *p = kmalloc(100);
    kfree(p);
    expect_panic = 1;
    if (!setjmp(panic_jmp)) {
        kfree(p); /* double free */
        CHECK(0, "double free not detected");
    } else {
        CHECK(strstr(panic_msg, "double free") != NULL, "panic message: %s", panic_msg);
    }
    expect_panic = 0;
    CHECK(heap_free_blocks() == (uint64_t)regions && heap_check() == 0, "heap intact after the edge cases");
    printf("%ld passed, %ld failed\n", passed, failed);
    free(arena);
    return failed != 0;
}

/* The kernel heap: one allocator over all usable RAM from the Multiboot memory map (core/heap.c),
   never over the kernel image or the baked model. In host builds tests/host/shim.c maps it to malloc. */
#ifndef CORE_HEAP_H
#define CORE_HEAP_H
#include <stddef.h>
#include <stdint.h>

void *kmalloc(size_t n);                     /* 16-byte aligned; NULL when out of memory */
void *kcalloc(size_t count, size_t size);    /* zeroed; NULL on overflow or out of memory */
void *kmalloc_aligned(size_t n, size_t align); /* align: power of two; free with kfree */
void *krealloc(void *p, size_t n);
void kfree(void *p);                         /* NULL is allowed */

struct heap_stats { uint64_t total, used, peak; }; /* bytes: all regions, allocated blocks, most ever used */
void heap_get_stats(struct heap_stats *st);

/* Setting up (core/heap.c). Boot: heap_init_from_mboot() after mboot_init(); heap_reserve_early() before it
   keeps more physical ranges out (the image, the model, the first MiB and the Multiboot data are always kept
   out). Host tests: heap_init_regions()/heap_add_region() over malloc'd memory, heap_check(), heap_reset(). */
struct heap_range { uint64_t base, len; };
void heap_init_from_mboot(void);
void heap_reserve_early(uint64_t base, uint64_t len);
int heap_init_regions(const struct heap_range *avail, int n_avail, const struct heap_range *reserved, int n_res);
int heap_add_region(uint64_t base, uint64_t len);
int heap_check(void);               /* number of inconsistencies found (0 = good) */
uint64_t heap_free_blocks(void);    /* free blocks on the lists: one per region when all is freed */
void heap_reset(void);              /* forget all regions (host tests) */

#endif

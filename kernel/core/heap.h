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

struct heap_stats { uint64_t total, used, peak; };
void heap_get_stats(struct heap_stats *st);

#endif

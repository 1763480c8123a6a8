/* The Multiboot 1 information the loader hands over (Multiboot spec 0.6.96, section 3.3), parsed once at boot
   by mboot_init() into a copy that owns its data: the memory map, the command line, the loader's name, and
   the physical ranges the loader's structures occupy (the heap keeps them out). core/cmdline.c reads the
   command line; core/heap.c the memory map. */
#ifndef CORE_MBOOT_H
#define CORE_MBOOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/heap.h"
#include "core/limits.h"

#define MBOOT_BOOTLOADER_MAGIC 0x2BADB002u /* in EAX at entry (spec 3.2) */

/* flags bits of the info structure (spec 3.3) */
#define MBOOT_INFO_MEM (1u << 0)     /* mem_lower, mem_upper valid */
#define MBOOT_INFO_CMDLINE (1u << 2) /* cmdline valid */
#define MBOOT_INFO_MODS (1u << 3)    /* mods_count, mods_addr valid */
#define MBOOT_INFO_MMAP (1u << 6)    /* mmap_length, mmap_addr valid */
#define MBOOT_INFO_LOADER (1u << 9)  /* boot_loader_name valid */

#define MBOOT_MEM_AVAILABLE 1u       /* memory map entry type: usable RAM */
#define MBOOT_MAX_RESERVED 8

struct mboot_mmap_entry {
    uint64_t base, len;
    uint32_t type; /* 1 available, 3 ACPI reclaimable, 4 NVS, 5 bad, other reserved */
};

struct mboot_info {
    bool valid;                 /* magic right and the info structure readable */
    uint32_t flags;
    uint32_t mem_lower_kb, mem_upper_kb;
    int n_mmap;
    struct mboot_mmap_entry mmap[MBOOT_MAX_MMAP];
    bool has_cmdline;
    char cmdline[MBOOT_CMDLINE_MAX]; /* NUL-terminated, "" when absent */
    char loader[64];
    int n_reserved;             /* physical ranges of the loader's structures */
    struct heap_range reserved[MBOOT_MAX_RESERVED];
    int n_warnings;             /* malformed fields skipped */
};

/* Reads physical memory: returns a pointer to [phys, phys+len) or NULL when that range is not readable.
   The kernel's is the identity map (below 4 GiB); host tests pass a fake physical memory. */
typedef const void *(*mboot_phys_fn)(uint64_t phys, size_t len, void *ctx);

/* Parses into out; never reads outside what phys() allows. Returns 0, or -1 when magic or info is unusable
   (out is then valid = false, empty). Pure: host-tested. */
int mboot_parse(struct mboot_info *out, uint32_t magic, uint32_t info_phys, mboot_phys_fn phys, void *ctx);

/* Boot: parse the loader's info into the kernel's copy and log the memory map. */
void mboot_init(uint32_t magic, uint32_t info_phys);
const struct mboot_info *mboot_get(void);

#endif

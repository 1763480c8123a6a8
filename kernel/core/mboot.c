/* Multiboot 1 information parsing (core/mboot.h). Every field is checked before use: flags say which fields
   exist, lengths and addresses are bounded, strings must end within their limit. The heap (core/heap.c) uses
   the memory map and the reserved ranges; the command line goes to core/cmdline.c. */
#include "core/mboot.h"
#include "core/log.h"
#include "lib/string.h"

/* Offsets in the info structure (spec 3.3) */
#define MBI_FLAGS 0
#define MBI_MEM_LOWER 4
#define MBI_MEM_UPPER 8
#define MBI_CMDLINE 16
#define MBI_MODS_COUNT 20
#define MBI_MODS_ADDR 24
#define MBI_MMAP_LENGTH 44
#define MBI_MMAP_ADDR 48
#define MBI_LOADER_NAME 64
#define MBI_SIZE 88 /* through the VBE fields: what we may read */

#define MBOOT_MMAP_MAX_BYTES (64u * 1024) /* a larger map is not believed */
#define MBOOT_PHYS_READ_END 0xC0000000ull /* loader structures lie in RAM below the PCI hole */

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void add_reserved(struct mboot_info *out, uint64_t base, uint64_t len)
{
    if (len && out->n_reserved < MBOOT_MAX_RESERVED)
        out->reserved[out->n_reserved++] = (struct heap_range){base, len};
}

/* Copies a NUL-terminated string at phys into dst (cap bytes incl. NUL), reading at most cap bytes and never
   past a readable page. Returns the bytes of string read (without NUL), -1 when unreadable. */
static long copy_string(char *dst, size_t cap, uint64_t phys, mboot_phys_fn rd, void *ctx, bool *cut)
{
    size_t n = 0;
    *cut = false;
    while (n < cap) {
        const char *c = rd(phys + n, 1, ctx);
        if (!c) {
            dst[n < cap ? n : cap - 1] = 0;
            return n ? (long)n : -1;
        }
        if (*c == 0)
            break;
        if (n == cap - 1) {
            *cut = true;
            break;
        }
        dst[n++] = *c;
    }
    dst[n] = 0;
    return (long)n;
}

int mboot_parse(struct mboot_info *out, uint32_t magic, uint32_t info_phys, mboot_phys_fn rd, void *ctx)
{
    memset(out, 0, sizeof *out);
    if (magic != MBOOT_BOOTLOADER_MAGIC)
        return -1;
    const uint8_t *mbi = rd(info_phys, MBI_SIZE, ctx);
    if (!mbi || info_phys == 0)
        return -1;
    out->valid = true;
    out->flags = rd32(mbi + MBI_FLAGS);
    add_reserved(out, info_phys, MBI_SIZE);
    if (out->flags & MBOOT_INFO_MEM) {
        out->mem_lower_kb = rd32(mbi + MBI_MEM_LOWER);
        out->mem_upper_kb = rd32(mbi + MBI_MEM_UPPER);
    }
    if (out->flags & MBOOT_INFO_MMAP) {
        uint32_t len = rd32(mbi + MBI_MMAP_LENGTH), addr = rd32(mbi + MBI_MMAP_ADDR);
        const uint8_t *map = len <= MBOOT_MMAP_MAX_BYTES ? rd(addr, len, ctx) : NULL;
        if (!map) {
            out->n_warnings++;
        } else {
            add_reserved(out, addr, len);
            /* entries: u32 size (of the rest), u64 base, u64 length, u32 type; next at +size+4 */
            uint32_t off = 0;
            while (off + 24 <= len) {
                uint32_t size = rd32(map + off);
                if (size < 20 || size > len - off - 4) {
                    out->n_warnings++;
                    break;
                }
                uint64_t base = rd64(map + off + 4), elen = rd64(map + off + 12);
                uint32_t type = rd32(map + off + 20);
                off += size + 4;
                if (elen == 0)
                    continue; /* QEMU lists empty entries: nothing to use, nothing wrong */
                if (base + elen < base) {
                    out->n_warnings++;
                    continue;
                }
                if (out->n_mmap >= MBOOT_MAX_MMAP) {
                    out->n_warnings++;
                    break;
                }
                out->mmap[out->n_mmap++] = (struct mboot_mmap_entry){base, elen, type};
            }
        }
    }
    if (out->flags & MBOOT_INFO_CMDLINE) {
        uint32_t addr = rd32(mbi + MBI_CMDLINE);
        bool cut;
        long n = copy_string(out->cmdline, sizeof out->cmdline, addr, rd, ctx, &cut);
        if (n < 0) {
            out->cmdline[0] = 0;
            out->n_warnings++;
        } else {
            out->has_cmdline = true;
            add_reserved(out, addr, (uint64_t)n + 1);
            if (cut)
                out->n_warnings++;
        }
    }
    if (out->flags & MBOOT_INFO_LOADER) {
        uint32_t addr = rd32(mbi + MBI_LOADER_NAME);
        bool cut;
        long n = copy_string(out->loader, sizeof out->loader, addr, rd, ctx, &cut);
        if (n < 0)
            out->loader[0] = 0;
        else
            add_reserved(out, addr, (uint64_t)n + 1);
    }
    if (out->flags & MBOOT_INFO_MODS) {
        uint32_t count = rd32(mbi + MBI_MODS_COUNT), addr = rd32(mbi + MBI_MODS_ADDR);
        /* module entries: u32 start, u32 end, u32 string, u32 reserved; keep the modules themselves out too */
        const uint8_t *mods = count <= 16 ? rd(addr, (size_t)count * 16, ctx) : NULL;
        if (mods) {
            add_reserved(out, addr, (uint64_t)count * 16);
            for (uint32_t i = 0; i < count; i++) {
                uint32_t s = rd32(mods + 16 * i), e = rd32(mods + 16 * i + 4);
                if (e > s)
                    add_reserved(out, s, e - s);
            }
        } else if (count) {
            out->n_warnings++;
        }
    }
    return 0;
}

#ifndef CLLM_HOST
static struct mboot_info boot_info;

static const void *phys_identity(uint64_t phys, size_t len, void *ctx)
{
    (void)ctx;
    /* the zero page is unmapped (null dereferences fault); above 3 GiB may be MMIO, where reads have effects */
    if (phys + len < phys || phys + len > MBOOT_PHYS_READ_END || phys < 0x1000)
        return NULL;
    return (const void *)(uintptr_t)phys;
}

static const char *mmap_type_name(uint32_t t)
{
    switch (t) {
    case 1: return "available";
    case 2: return "reserved";
    case 3: return "ACPI reclaimable";
    case 4: return "ACPI NVS";
    case 5: return "bad";
    default: return "other";
    }
}

void mboot_init(uint32_t magic, uint32_t info_phys)
{
    if (mboot_parse(&boot_info, magic, info_phys, phys_identity, NULL) < 0) {
        log_error("mboot: no Multiboot information (magic %#x, info %#x)", (unsigned)magic, (unsigned)info_phys);
        return;
    }
    const struct mboot_info *mb = &boot_info;
    log_info("mboot: flags %#x, loader \"%s\", mem_lower %u KiB, mem_upper %u KiB", (unsigned)mb->flags,
             mb->loader, (unsigned)mb->mem_lower_kb, (unsigned)mb->mem_upper_kb);
    uint64_t avail = 0;
    for (int i = 0; i < mb->n_mmap; i++) {
        const struct mboot_mmap_entry *e = &mb->mmap[i];
        log_info("mmap: 0x%012llx-0x%012llx %s", (unsigned long long)e->base,
                 (unsigned long long)(e->base + e->len - 1), mmap_type_name(e->type));
        if (e->type == MBOOT_MEM_AVAILABLE)
            avail += e->len;
    }
    log_info("mmap: %d entries, %llu KiB available", mb->n_mmap, (unsigned long long)(avail >> 10));
    log_info("mboot: cmdline \"%.*s%s\"", 200, mb->cmdline, strlen(mb->cmdline) > 200 ? "..." : "");
    if (mb->n_warnings)
        log_warn("mboot: %d malformed or oversized fields skipped", mb->n_warnings);
}

const struct mboot_info *mboot_get(void) { return &boot_info; }
#endif

/* Host driver for core/mboot.c and core/cmdline.c: loads a file as fake physical memory (address 0 = file
   offset 0), parses the Multiboot info at INFO_PHYS, and prints what was understood, one fact per line, for
   tests/test_kernel_base_host.py to compare with the structures it packed. Usage: mboot_dump FILE MAGIC INFO */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/cmdline.h"
#include "core/mboot.h"

struct mem {
    const unsigned char *p;
    size_t len;
};

static const void *phys_file(uint64_t phys, size_t len, void *ctx)
{
    const struct mem *m = ctx;
    if (phys > m->len || len > m->len - phys)
        return NULL;
    return m->p + phys;
}

static struct mboot_info info;
static struct cmdline cl;

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        return 2;
    static unsigned char buf[1 << 22];
    struct mem m = {buf, fread(buf, 1, sizeof buf, f)};
    fclose(f);
    int r = mboot_parse(&info, (uint32_t)strtoul(argv[2], NULL, 0), (uint32_t)strtoul(argv[3], NULL, 0),
                        phys_file, &m);
    printf("result %d valid %d flags %u\n", r, info.valid, info.flags);
    printf("mem %u %u\n", info.mem_lower_kb, info.mem_upper_kb);
    for (int i = 0; i < info.n_mmap; i++)
        printf("mmap %llu %llu %u\n", (unsigned long long)info.mmap[i].base, (unsigned long long)info.mmap[i].len,
               info.mmap[i].type);
    printf("cmdline %d %s\n", info.has_cmdline, info.cmdline);
    printf("loader %s\n", info.loader);
    for (int i = 0; i < info.n_reserved; i++)
        printf("reserved %llu %llu\n", (unsigned long long)info.reserved[i].base,
               (unsigned long long)info.reserved[i].len);
    printf("warnings %d\n", info.n_warnings);
    int n = cmdline_parse(&cl, info.cmdline);
    for (int i = 0; i < n; i++)
        printf("arg %s=%s\n", cl.key[i], cl.val[i]);
    const char *prompt = cmdline_find(&cl, "prompt");
    if (prompt) {
        unsigned char out[8192];
        long k = base64_decode(prompt, strlen(prompt), out, sizeof out);
        printf("prompt %ld ", k);
        for (long i = 0; i < k; i++)
            printf("%02x", out[i]);
        printf("\n");
    }
    return 0;
}

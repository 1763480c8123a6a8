/* For each GGUF file given: the whole file must open, and every prefix that ends before the last byte of
   tensor data must be rejected (with some error, no crash, no out-of-bounds read: tests/test_llm_gguf_bad.py
   builds this with ASan/UBSan); longer prefixes only lose the padding after the last tensor and must open.
   Each prefix is copied into its own exact-size allocation so ASan sees any read past its end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "llm/gguf.h"


int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (int a = 1; a < argc; a++) {
        FILE *fp = fopen(argv[a], "rb");
        if (!fp)
            return 2;
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        unsigned char *all = malloc((size_t)size);
        if (!all || fread(all, 1, (size_t)size, fp) != (size_t)size)
            return 2;
        fclose(fp);
        struct gguf_file f;
        char err[256];
        int rc = gguf_open(&f, all, (uint64_t)size, err, sizeof err);
        if (rc != 0) {
            printf("%s: whole file rejected: %s\n", argv[a], err);
            return 1;
        }
        uint64_t need = f.n_tensors ? 0 : f.data_offset;
        for (int64_t i = 0; i < f.n_tensors; i++) {
            const struct gguf_tensor *t = gguf_get_tensor(&f, i);
            if (f.data_offset + t->offset + t->size > need)
                need = f.data_offset + t->offset + t->size;
        }
        gguf_free(&f);
        long rejected = 0;
        for (long n = 0; n < size; n++) {
            unsigned char *p = malloc(n ? (size_t)n : 1);
            memcpy(p, all, (size_t)n);
            rc = gguf_open(&f, p, (uint64_t)n, err, sizeof err);
            gguf_free(&f);
            free(p);
            if ((rc == 0) != ((uint64_t)n >= need)) {
                printf("%s: prefix of %ld bytes (data ends at %llu): %s\n", argv[a], n, (unsigned long long)need,
                       rc == 0 ? "accepted" : err);
                return 1;
            }
            rejected += rc != 0;
        }
        printf("%s: %ld prefixes rejected\n", argv[a], rejected);
        free(all);
    }
    return 0;
}

/* Memory and string functions with the C library's names and contracts.
   In the kernel they come from lib/string.c; in host builds (CLLM_HOST) from the host's libc. */
#ifndef LIB_STRING_H
#define LIB_STRING_H
#include <stddef.h>

#ifdef CLLM_HOST
#include <string.h>
#else
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
void *memchr(const void *s, int c, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
#endif

#endif

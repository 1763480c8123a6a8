/* Host stand-in for kernel/arch/x86/io.h, for building kernel/llm/workers.c with pthreads
   (tests/host/llm/workers_pthread.c): pause and rdtsc are the real instructions. */
#include <stdint.h>
#include <x86intrin.h>
static inline void cpu_relax(void) { _mm_pause(); }
static inline uint64_t rdtsc(void) { return __rdtsc(); }

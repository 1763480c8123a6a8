/* Host reference for the guest's TSC frequency: rdtsc against CLOCK_MONOTONIC over 300 ms (guests under both
   KVM and TCG read the host's TSC rate here). Prints Hz. */
#include <stdio.h>
#include <time.h>
#include <x86intrin.h>

int main(void)
{
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    unsigned long long t0 = __rdtsc();
    do
        clock_gettime(CLOCK_MONOTONIC, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec) < 300000000LL);
    unsigned long long t1 = __rdtsc();
    double ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
    printf("%.0f\n", (double)(t1 - t0) / ns * 1e9);
    return 0;
}

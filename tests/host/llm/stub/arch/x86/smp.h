/* Host stand-in for kernel/arch/x86/smp.h: no IPIs (the workers never really halt on the host). */
#define SMP_MAX_CPUS 16
static inline void smp_wake(int cpu) { (void)cpu; }

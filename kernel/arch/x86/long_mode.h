/* The climb to long mode that the boot CPU (arch/x86/boot.S) and every AP (arch/x86/ap_boot.S) share, as two
   assembler macros, so the two paths cannot drift apart:
   LONG_MODE_ENTER target: in 32-bit protected mode with paging off, turn on PAE, load CR3 with the identity
     page tables (boot.S's pml4), set EFER.LME, turn on paging, and far-jump to target in the 64-bit code segment.
   CPU_ENABLE_SIMD: in long mode at CPL 0, enable SSE, and AVX (with its XCR0 state) when CPUID has XSAVE and AVX.
   Both clobber EAX, ECX and EDX; CPU_ENABLE_SIMD also EBX (CPUID). Under kvm-pvm this code is emulated: it has no
   loops. */
#ifndef ARCH_X86_LONG_MODE_H
#define ARCH_X86_LONG_MODE_H
#ifdef __ASSEMBLER__

#define LM_SEL_CODE64 0x18 /* boot.S's GDT: 64-bit code, DPL 0 */

.macro LONG_MODE_ENTER target
    /* CR4.PAE, CR3, EFER.LME, CR0.PG (Intel SDM vol. 3A, 10.8.5) */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    movl %eax, %cr4
    movl $pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80000000, %eax
    movl %eax, %cr0
    ljmp $LM_SEL_CODE64, $\target
.endm

.macro CPU_ENABLE_SIMD
    /* SSE: CR0.EM=0, CR0.MP=1, CR4.OSFXSR|OSXMMEXCPT (SDM vol. 3A, 14.1.3) */
    movq %cr0, %rax
    andq $~(1 << 2), %rax
    orq $(1 << 1), %rax
    movq %rax, %cr0
    movq %cr4, %rax
    orq $((1 << 9) | (1 << 10)), %rax
    movq %rax, %cr4
    fninit
    /* AVX when CPUID.1:ECX has XSAVE (26) and AVX (28): CR4.OSXSAVE, XCR0 = x87|SSE|AVX (SDM vol. 1, 13.3) */
    movl $1, %eax
    cpuid
    movl %ecx, %eax
    andl $((1 << 26) | (1 << 28)), %eax
    cmpl $((1 << 26) | (1 << 28)), %eax
    jne .Lno_avx\@
    movq %cr4, %rax
    orq $(1 << 18), %rax
    movq %rax, %cr4
    xorl %ecx, %ecx
    movl $7, %eax
    xorl %edx, %edx
    xsetbv
.Lno_avx\@:
.endm

#endif
#endif

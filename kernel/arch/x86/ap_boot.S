/* The application processors' way from the SIPI to CPL 3 (arch/x86/smp.c starts them one at a time, and starts
   the next one as soon as this one has set smp_ap_args.alive: nothing may read smp_ap_args after that).
   ap_trampoline_start..ap_trampoline_end is copied to SMP_TRAMPOLINE (below 1 MiB: a SIPI starts the CPU in
   real mode at vector << 12, CS = vector << 8, IP = 0; Intel SDM vol. 3A, 9.4.4). It loads the kernel's GDT
   (smp.c patches ap_gdt_ptr from boot.S's gdt_ptr32), enters 32-bit protected mode, then long mode on the boot
   CPU's page tables exactly as boot.S does, and jumps to ap_long_entry in the kernel image, which sets up SSE/AVX,
   the shared IDT and this CPU's TSS (selector in smp_ap_args) and IRETQs to smp_ap_main(cpu) at CPL 3.
   Under kvm-pvm everything before the IRETQ is run by the instruction emulator (slow but short). */
#include "arch/x86/long_mode.h"
#include "arch/x86/smp.h"
#include "arch/x86/monitor.h"

#define SEL_CODE32 0x08
#define SEL_DATA0  0x10
#define SEL_DATA3  0x33
#define SEL_CODE3  0x3b
#define TR(x) (SMP_TRAMPOLINE + ((x) - ap_trampoline_start))

    .section .rodata
    .globl ap_trampoline_start, ap_trampoline_end, ap_gdt_ptr
    .align 16
    .code16
ap_trampoline_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds
    lgdtl (ap_gdt_ptr - ap_trampoline_start)
    movl %cr0, %eax
    orl $1, %eax                    /* PE */
    movl %eax, %cr0
    ljmpl $SEL_CODE32, $TR(ap_pm32)

    .code32
ap_pm32:
    movw $SEL_DATA0, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    LONG_MODE_ENTER ap_long_entry   /* as boot.S does (arch/x86/long_mode.h) */

    .align 4
ap_gdt_ptr:                         /* limit and base of boot.S's gdt, patched by smp.c */
    .word 0
    .long 0
ap_trampoline_end:

    .text
    .code64
ap_long_entry:
    movw $SEL_DATA0, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movq smp_ap_args + SMP_ARG_MONITOR_STACK(%rip), %rsp

    CPU_ENABLE_SIMD                 /* SSE and AVX as boot.S does them for the boot CPU */
    lidt idt_ptr(%rip)              /* the one IDT (monitor.S) */
    movq smp_ap_args + SMP_ARG_TSS_SEL(%rip), %rax
    ltr %ax                         /* this CPU's TSS: RSP0 = its monitor stack */
    movq smp_ap_args + SMP_ARG_CPU(%rip), %rdi
    movq smp_ap_args + SMP_ARG_USER_STACK(%rip), %rbx
    movq %rdi, smp_ap_args + SMP_ARG_ALIVE(%rip)  /* last: the boot CPU reuses smp_ap_args after this */

    movw $SEL_DATA3, %ax
    movw %ax, %ds
    movw %ax, %es
    pushq $SEL_DATA3
    pushq %rbx
    pushq $0x202                    /* IF = 1: the wake IPI is the only interrupt an AP gets */
    pushq $SEL_CODE3
    pushq $ap_ring3_start
    iretq

ap_ring3_start:
    xorl %ebp, %ebp
    call smp_ap_main                /* never returns */
    movq $MON_EXIT, %rax
    movl $4, %edi
    .byte 0x0f, 0xb9, 0xc0          /* monitor call (monitor.h MON_CALL_INSN) */

    .section .note.GNU-stack, "", @progbits

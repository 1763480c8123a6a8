/* Multiboot entry and the climb to long mode, CPL 3.
   The loader jumps to _start in 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = Multiboot info
   (Multiboot spec 3.2). We load our GDT, clear .bss, build identity page tables for the low 4 GiB, enter
   long mode, install the monitor (IDT, TSS, PICs, PIT: arch/x86/monitor.S), enable SSE (and AVX when the CPU
   has it), and drop to CPL 3 to run kmain(magic, info) (core/main.c).
   Why CPL 3: on our hosts /dev/kvm is kvm-pvm, which runs only 64-bit user-mode guest code natively and
   emulates everything at CPL 0 (slowly, and without most SSE instructions). */
#include "arch/x86/monitor.h"
#include "arch/x86/smp.h"

#define SEL_CODE32 0x08
#define SEL_DATA0  0x10
#define SEL_CODE64 0x18
#define SEL_DATA3  0x33 /* 0x30 | RPL 3 */
#define SEL_CODE3  0x3b /* 0x38 | RPL 3 */

#define PTE_P   0x001
#define PTE_RW  0x002
#define PTE_US  0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_PS  0x080

#define RING3_STACK_SIZE (512 * 1024)

    .code32
    .section .text.boot, "ax"
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl %eax, %esi                 /* Multiboot magic and info survive in ESI/EDI */
    movl %ebx, %edi
    lgdt gdt_ptr32
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA0, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $monitor_stack_top, %esp

    /* clear .bss (page tables and stacks live there; so does our stack: keep info in EBP, not on it) */
    movl %edi, %ebp
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb
    movl %ebp, %edi
    movzwl 0x40e, %eax              /* SMP: the BIOS data area's EBDA segment (ACPI RSDP search, arch/x86/acpi.c); */
    movl %eax, bda_ebda_seg         /* page 0 is unmapped once paging is on, so read it now */

    /* Page tables: PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages covering 0..4 GiB,
       user-accessible (the kernel runs at CPL 3). The first 2 MiB use 4 KiB pages so that page 0 is absent
       (null dereferences fault). 3.5..4 GiB (MMIO: e1000, IOAPIC, LAPIC) is uncached. */
    movl $pd_all, %ebx
    xorl %ecx, %ecx
2:  movl %ecx, %eax
    shll $21, %eax
    orl $(PTE_P | PTE_RW | PTE_US | PTE_PS), %eax
    cmpl $1792, %ecx                /* 1792 * 2 MiB = 3.5 GiB */
    jb 3f
    orl $(PTE_PCD | PTE_PWT), %eax
3:  movl %eax, (%ebx, %ecx, 8)
    movl $0, 4(%ebx, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 2b
    movl $pt_low, %ebx              /* 4 KiB pages for the first 2 MiB, page 0 absent */
    movl $1, %ecx
4:  movl %ecx, %eax
    shll $12, %eax
    orl $(PTE_P | PTE_RW | PTE_US), %eax
    movl %eax, (%ebx, %ecx, 8)
    incl %ecx
    cmpl $512, %ecx
    jb 4b
    movl $pt_low + (PTE_P | PTE_RW | PTE_US), pd_all
    movl $pd_all + (PTE_P | PTE_RW | PTE_US), pdpt
    movl $pd_all + 0x1000 + (PTE_P | PTE_RW | PTE_US), pdpt + 8
    movl $pd_all + 0x2000 + (PTE_P | PTE_RW | PTE_US), pdpt + 16
    movl $pd_all + 0x3000 + (PTE_P | PTE_RW | PTE_US), pdpt + 24
    movl $pdpt + (PTE_P | PTE_RW | PTE_US), pml4

    /* long mode: CR4.PAE, CR3, EFER.LME, CR0.PG (Intel SDM vol. 3A, 10.8.5) */
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
    ljmp $SEL_CODE64, $long_entry

    .code64
long_entry:
    movw $SEL_DATA0, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movq $monitor_stack_top, %rsp

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
    jne 5f
    movq %cr4, %rax
    orq $(1 << 18), %rax
    movq %rax, %cr4
    xorl %ecx, %ecx
    movl $7, %eax
    xorl %edx, %edx
    xsetbv
5:
    pushq %rsi                      /* monitor_init uses RDI/RSI: keep magic and info */
    pushq %rdi
    call monitor_init               /* IDT, TSS, PICs, PIT (monitor.S) */
    popq %rdi
    popq %rsi

    /* Drop to CPL 3: IRETQ frame SS, RSP, RFLAGS (IF=1, IOPL=0), CS, RIP. RDI/RSI carry kmain's arguments. */
    movw $SEL_DATA3, %ax
    movw %ax, %ds
    movw %ax, %es
    movl %esi, %esi                 /* zero-extend magic and info */
    movl %edi, %edi
    xchgq %rsi, %rdi                /* kmain(magic = RDI, info = RSI) */
    pushq $SEL_DATA3
    pushq $ring3_stack_top
    pushq $0x202
    pushq $SEL_CODE3
    pushq $ring3_start
    iretq

ring3_start:
    xorl %ebp, %ebp
    call kmain
    movq $MON_EXIT, %rax            /* kmain returned: report 0 */
    xorl %edi, %edi
    .byte 0x0f, 0xb9, 0xc0          /* monitor call (monitor.h MON_CALL_INSN) */
6:  jmp 6b

    .section .data                  /* the CPU writes accessed/busy bits into descriptors */
    .align 16
    .globl gdt
gdt:
    .quad 0x0000000000000000        /* null */
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, DPL 0 (only for the climb) */
    .quad 0x00cf92000000ffff        /* 0x10: data, DPL 0 */
    /* from here the order is SYSCALL/SYSRET's (SDM vol. 2B), kept for SMP and future use */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code, DPL 0 (monitor) */
    .quad 0x00cf92000000ffff        /* 0x20: data, DPL 0 (SYSCALL's SS) */
    .quad 0x00cffa000000ffff        /* 0x28: 32-bit code, DPL 3 (unused; SYSRET's 32-bit slot) */
    .quad 0x00cff2000000ffff        /* 0x30: data, DPL 3 */
    .quad 0x00affa000000ffff        /* 0x38: 64-bit code, DPL 3 (kernel C code) */
    .globl gdt_tss
gdt_tss:
    .quad 0, 0                      /* 0x40: 64-bit TSS, filled in by monitor_init */
    /* SMP: one more 16-byte TSS slot per application processor (selector 0x40 + 16 * cpu), filled in by
       arch/x86/smp.c before it starts that CPU; each AP loads its own with LTR (arch/x86/ap_boot.S) */
    .skip 16 * (SMP_MAX_CPUS - 1)
gdt_end:
    .globl gdt_ptr32                /* also loaded by the AP trampoline (arch/x86/ap_boot.S) */
gdt_ptr32:
    .word gdt_end - gdt - 1
    .long gdt
    .globl bda_ebda_seg
    .align 4
bda_ebda_seg: .long 0

    .section .bss
    .align 4096
    .globl pml4                     /* SMP: the APs load the same page tables */
pml4:   .skip 4096
pdpt:   .skip 4096
pd_all: .skip 4 * 4096
pt_low: .skip 4096
    .align 16
    .skip 16384
    .globl monitor_stack_top
monitor_stack_top:
    .skip RING3_STACK_SIZE
    .globl ring3_stack_top
ring3_stack_top:

    .section .note.GNU-stack, "", @progbits

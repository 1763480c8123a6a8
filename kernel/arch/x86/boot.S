/* Multiboot entry and the climb to long mode, CPL 3.
   The loader jumps to _start in 32-bit protected mode, paging off, EAX = 0x2BADB002, EBX = Multiboot info
   (Multiboot spec 3.2). We load our GDT, enter long mode on identity page tables for the low 4 GiB, install the
   monitor (TSS, PICs: arch/x86/monitor.S), enable SSE (and AVX when the CPU has it), and drop to CPL 3, where
   the IDT is filled in, .bss cleared and kmain(magic, info) (core/main.c) called.
   Why CPL 3: on our hosts /dev/kvm is kvm-pvm, which runs only 64-bit user-mode guest code natively and
   emulates everything at CPL 0 (slowly, ~1.4 M instructions/s, and without most SSE instructions). So the CPL-0
   part does no loops: the page tables are built by the assembler (.data), and clearing the 1 MiB of .bss with
   `rep stosb` at CPL 0, which took ~100 ms, happens at CPL 3 in microseconds. */
#include "arch/x86/long_mode.h"
#include "arch/x86/monitor.h"
#include "arch/x86/smp.h"

#define SEL_CODE32 0x08
#define SEL_DATA0  0x10
#define SEL_CODE64 LM_SEL_CODE64 /* 0x18 */
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
    rdtsc                           /* boot timing: the TSC at the loader's hand-off (core/main.c logs it) */
    movl %eax, boot_tsc_entry
    movl %edx, boot_tsc_entry + 4
    lgdt gdt_ptr32
    ljmp $SEL_CODE32, $1f
1:  movw $SEL_DATA0, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $monitor_stack_top, %esp

    movzwl 0x40e, %eax              /* SMP: the BIOS data area's EBDA segment (ACPI RSDP search, arch/x86/acpi.c); */
    movl %eax, bda_ebda_seg         /* page 0 is unmapped once paging is on, so read it now */

    LONG_MODE_ENTER long_entry      /* PAE, CR3, EFER.LME, paging; far jump (arch/x86/long_mode.h) */

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

    CPU_ENABLE_SIMD                 /* SSE, and AVX when the CPU has it (arch/x86/long_mode.h) */
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

/* CPL 3 from here (native speed under kvm-pvm). RDI/RSI hold kmain's arguments: keep them in R12/R13. */
ring3_start:
    movq %rdi, %r12
    movq %rsi, %r13
    call monitor_fill_idt           /* the IDT's 256 gates (monitor.S); nothing may fault before this */
    /* .bss: the loader zero-fills it (ELF p_memsz > p_filesz), but a Multiboot loader need not; clear it here.
       Nothing in it is live yet: the CPL-3 stack is empty and the monitor's stacks are idle. */
    movq $__bss_start, %rdi
    movq $__bss_end, %rcx
    subq %rdi, %rcx
    shrq $3, %rcx                   /* both ends are 16-byte aligned (linker script) */
    xorl %eax, %eax
    rep stosq
    movq %r12, %rdi
    movq %r13, %rsi
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
    .globl boot_tsc_entry
    .align 8
boot_tsc_entry: .quad 0             /* TSC when the loader jumped to _start (core/main.c) */

/* Page tables, laid out by the assembler so that no CPL-0 loop builds them: PML4[0] -> PDPT; PDPT[0..3] -> four
   page directories of 2 MiB pages covering 0..4 GiB, user-accessible (the kernel runs at CPL 3). The first
   2 MiB use 4 KiB pages so that page 0 is absent (null dereferences fault). 3.5..4 GiB (MMIO: e1000, IOAPIC,
   LAPIC) is uncached. */
    .section .data.pagetables, "aw"
    .align 4096
    .globl pml4                     /* SMP: the APs load the same page tables */
pml4:
    .quad pdpt + (PTE_P | PTE_RW | PTE_US)
    .skip 4096 - 8
pdpt:
    .quad pd_all + (PTE_P | PTE_RW | PTE_US)
    .quad pd_all + 0x1000 + (PTE_P | PTE_RW | PTE_US)
    .quad pd_all + 0x2000 + (PTE_P | PTE_RW | PTE_US)
    .quad pd_all + 0x3000 + (PTE_P | PTE_RW | PTE_US)
    .skip 4096 - 32
pd_all:
    .quad pt_low + (PTE_P | PTE_RW | PTE_US)
    .set pde, 1
    .rept 1791                      /* 2 MiB .. 3.5 GiB: RAM and ROM, cached */
    .quad (pde << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS)
    .set pde, pde + 1
    .endr
    .rept 256                       /* 3.5 .. 4 GiB: MMIO, uncached */
    .quad (pde << 21) | (PTE_P | PTE_RW | PTE_US | PTE_PS | PTE_PCD | PTE_PWT)
    .set pde, pde + 1
    .endr
pt_low:
    .quad 0                         /* page 0: absent */
    .set pte, 1
    .rept 511
    .quad (pte << 12) | (PTE_P | PTE_RW | PTE_US)
    .set pte, pte + 1
    .endr

    .section .bss
    .align 16
    .skip 16384
    .globl monitor_stack_top
monitor_stack_top:
    .skip RING3_STACK_SIZE
    .globl ring3_stack_top
ring3_stack_top:

    .section .note.GNU-stack, "", @progbits

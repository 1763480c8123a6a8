/* Multiboot entry point. The loader jumps here in 32-bit protected mode with paging off,
   EAX = 0x2BADB002 and EBX = physical address of the Multiboot info (Multiboot spec 3.2).
   We load our own GDT, clear .bss, enable SSE and paging, and call kmain(magic, info) in core/main.c. */
    .section .text.boot, "ax"
    .globl _start
    .type _start, @function
_start:
    cli
    cld
    movl %eax, %esi             /* keep magic and info across what follows */
    movl %ebx, %edx
    /* Our own flat GDT first: the loader's may live in ROM or be gone (Multiboot spec 3.2).
       arch/x86/gdt.c replaces it with the full one. */
    lgdt boot_gdt_ptr
    ljmp $0x08, $1f
1:  movw $0x10, %cx
    movw %cx, %ds
    movw %cx, %es
    movw %cx, %fs
    movw %cx, %gs
    movw %cx, %ss
    movl $boot_stack_top, %esp
    xorl %ebp, %ebp

    movl $__bss_start, %edi     /* clear .bss */
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* SSE on before any C runs (gcc emits SSE2 for floats and copies): CR0.EM=0, CR0.MP=1,
       CR4.OSFXSR and CR4.OSXMMEXCPT (Intel SDM vol. 3A, 13.1.3). AVX is enabled later by cpu.c by CPUID. */
    movl %cr0, %ecx
    andl $~(1 << 2), %ecx
    orl $(1 << 1), %ecx
    movl %ecx, %cr0
    movl %cr4, %ecx
    orl $((1 << 9) | (1 << 10)), %ecx
    movl %ecx, %cr4
    fninit

    /* Paging on with an identity map of all 4 GiB in 4 MiB pages (CR4.PSE). Without paging, KVM on hosts
       lacking "unrestricted guest" (nested virtualisation, as on our machines) emulates instructions and
       fails on SSE ones. arch/x86/paging.c may refine this map later. */
    movl $boot_pgdir, %edi
    movl $0x83, %eax            /* present | writable | 4 MiB page */
    movl $1024, %ecx
2:  movl %eax, (%edi)
    addl $0x400000, %eax
    addl $4, %edi
    loop 2b
    movl %cr4, %ecx
    orl $(1 << 4), %ecx         /* PSE */
    movl %ecx, %cr4
    movl $boot_pgdir, %ecx
    movl %ecx, %cr3
    movl %cr0, %ecx
    orl $0x80000000, %ecx       /* PG */
    movl %ecx, %cr0

    pushl %edx                  /* multiboot info */
    pushl %esi                  /* magic */
    call kmain
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .align 8
boot_gdt:
    .quad 0x0000000000000000    /* null */
    .quad 0x00cf9a000000ffff    /* 0x08: code, base 0, limit 4 GiB, 32-bit */
    .quad 0x00cf92000000ffff    /* 0x10: data, base 0, limit 4 GiB */
boot_gdt_ptr:
    .word boot_gdt_ptr - boot_gdt - 1
    .long boot_gdt

    .section .bss
    .align 4096
    .globl boot_pgdir
boot_pgdir:
    .skip 4096
    .align 16
boot_stack:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits

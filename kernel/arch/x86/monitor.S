/* The ring-0 monitor: IDT, TSS (with the I/O permission bitmap that lets CPL 3 use port I/O directly), masking
   the 8259 PICs, and the handlers that run at CPL 0.
   - UD1 %eax,%eax from CPL 3 (#UD, vector 6): privileged operations for the CPL-3 kernel (arch/x86/monitor.h).
   - IRQs (vectors 0x20..0x3f, arch/x86/irq.h): set the bit in irq_pending, mask an IOAPIC pin, LAPIC EOI.
   - CPU exceptions from CPL 3: save the registers in fault_frame and resume CPL 3 in arch_fault_entry
     (arch/x86/fault.c), which prints the dump and exits non-zero. Exceptions at CPL 0 (a monitor bug) print a
     fixed message and exit with status 0x7e.
   Everything here is kept short: under kvm-pvm each instruction at CPL 0 is emulated. */
#include "arch/x86/monitor.h"

#define SEL_CODE64 0x18
#define SEL_TSS    0x40
#define MSR_EFER 0xC0000080
#define MSR_STAR 0xC0000081
#define MSR_LSTAR 0xC0000082
#define MSR_FMASK 0xC0000084
#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1
#define COM1 0x3f8

    .code64
    .text

/* ---- setup, called once from boot.S at CPL 0. Under kvm-pvm every instruction here is emulated, so the
   IDT's gates are written later at CPL 3 by monitor_fill_idt (the table is ordinary user-accessible memory). */
    .globl monitor_init
monitor_init:
    lidt idt_ptr(%rip)

    /* TSS: RSP0 = monitor stack, IST1 = double-fault stack; descriptor into the GDT slot */
    leaq monitor_stack_top(%rip), %rax
    movq %rax, tss+4(%rip)
    leaq df_stack_top(%rip), %rax
    movq %rax, tss+36(%rip)
    movw $104, tss+102(%rip)        /* I/O permission bitmap right after the 104-byte TSS (tss_iomap) */
    leaq tss(%rip), %rax
    leaq gdt_tss(%rip), %rdi
    movw $(TSS_IOMAP_LIMIT), (%rdi) /* limit: TSS, bitmap and its terminating byte */
    movw %ax, 2(%rdi)               /* base 15..0 */
    movq %rax, %rdx
    shrq $16, %rdx
    movb %dl, 4(%rdi)               /* base 23..16 */
    movb $0x89, 5(%rdi)             /* present, 64-bit TSS available */
    movb $0, 6(%rdi)
    movb %dh, 7(%rdi)               /* base 31..24 */
    shrq $32, %rax
    movl %eax, 8(%rdi)              /* base 63..32 */
    movl $0, 12(%rdi)
    movw $SEL_TSS, %ax
    ltr %ax

    /* 8259 PICs: ICW1..ICW4, remapped to 0xf0..0xff away from exceptions, all lines masked (8259A datasheet).
       Interrupts come through the APICs (arch/x86/apic.c). */
    movb $0x11, %al
    outb %al, $PIC1_CMD
    outb %al, $PIC2_CMD
    movb $0xf0, %al
    outb %al, $PIC1_DATA
    movb $0xf8, %al
    outb %al, $PIC2_DATA
    movb $0x04, %al
    outb %al, $PIC1_DATA
    movb $0x02, %al
    outb %al, $PIC2_DATA
    movb $0x01, %al
    outb %al, $PIC1_DATA
    outb %al, $PIC2_DATA
    movb $0xff, %al
    outb %al, $PIC1_DATA
    movb $0xff, %al
    outb %al, $PIC2_DATA

    ret

/* IDT: 256 interrupt gates to the stubs below (16 bytes apart from isr_stubs), #DF on IST1. A plain function,
   run at CPL 3 by boot.S before anything can fault (the IDT was loaded empty by monitor_init). */
    .globl monitor_fill_idt
monitor_fill_idt:
    leaq idt(%rip), %rdi
    leaq isr_stubs(%rip), %rax
    xorl %ecx, %ecx
1:  movq %rax, %rdx
    movw %dx, (%rdi)                /* offset 15..0 */
    movw $SEL_CODE64, 2(%rdi)
    movw $0x8e00, 4(%rdi)           /* present, DPL 0, 64-bit interrupt gate */
    cmpl $8, %ecx
    jne 2f
    movb $1, 4(%rdi)                /* #DF on IST1 */
2:  shrq $16, %rdx
    movw %dx, 6(%rdi)               /* offset 31..16 */
    shrq $16, %rdx
    movl %edx, 8(%rdi)              /* offset 63..32 */
    movl $0, 12(%rdi)
    addq $16, %rdi
    addq $16, %rax
    incl %ecx
    cmpl $256, %ecx
    jb 1b
    ret

/* ---- the IDT's 256 entry stubs, 16 bytes each ---- */
/* Vectors where the CPU pushes an error code: 8, 10-14, 17, 21, 29, 30. */
    .align 16
isr_stubs:
    .set vec, 0
    .rept 256
    .align 16
    .if vec == 6
        jmp ud_entry
    .elseif vec == 0xff
        iretq                       /* LAPIC spurious interrupt: no EOI */
    .elseif vec >= 0x20 && vec < 0x40
        pushq $vec
        jmp irq_entry
    .elseif vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
        pushq $vec
        jmp exception_entry
    .else
        pushq $0
        pushq $vec
        jmp exception_entry
    .endif
    .set vec, vec + 1
    .endr

/* ---- #UD: `ud1 %eax, %eax` (0f b9 c0) at CPL 3 is a monitor call; gcc never emits UD1, and the UD2 of
   __builtin_trap() stays an ordinary fault. RAX = op, RDI/RSI/RDX = arguments, RCX/RDX/RSI/RDI may be
   clobbered; each op ends with IRETQ. Any other #UD is an ordinary fault. ---- */
ud_entry:
    testb $3, 8(%rsp)               /* CS.RPL: #UD inside the monitor is a monitor bug */
    jz monitor_fault
    pushq %rcx
    movq 8(%rsp), %rcx              /* RIP */
    cmpw $0xb90f, (%rcx)            /* UD1 ... */
    jne 1f
    cmpb $0xc0, 2(%rcx)             /* ... %eax, %eax: the monitor-call marker */
    jne 1f
    addq $3, 8(%rsp)                /* resume after it */
    cmpq $MON_COUNT, %rax
    jae mon_bad
    leaq mon_table(%rip), %rcx
    movq (%rcx, %rax, 8), %rcx
    xchgq %rcx, (%rsp)              /* restore nothing: RCX is clobbered by contract; leave target on stack */
    ret                             /* jump to the op with the CPU frame on top of the stack */
1:  popq %rcx
    pushq $0
    pushq $6
    jmp exception_entry
mon_bad:
    popq %rcx
mon_bad_op:
    movq $-1, %rax
    iretq
mon_wait_irq:
    xorl %eax, %eax
    cmpq $0, irq_pending(%rip)
    jne 1f
    sti                             /* STI's shadow covers HLT: no wakeup is lost */
    hlt
    cli
1:  iretq
/* SMP (arch/x86/smp.h, llm/workers.c): halt until an interrupt (the wake IPI) unless the quadword at RDI no
   longer equals RSI; checked with interrupts off, and STI's shadow covers HLT, so a wake-up is never lost. */
mon_wait_word:
    xorl %eax, %eax
    cmpq %rsi, (%rdi)
    jne 1f
    sti
    hlt
    cli
1:  iretq
mon_exit:
    movl %edi, %eax
    movl $0xf4, %edx                /* QEMU isa-debug-exit: status (code << 1) | 1 */
    outl %eax, %dx
    movw $0x2000, %ax               /* ACPI power off (QEMU PIIX4 PM at 0x604 on pc/q35 with qboot) */
    movw $0x604, %dx
    outw %ax, %dx
1:  cli
    hlt
    jmp 1b
mon_rdmsr:
    movl %edi, %ecx
    rdmsr
    shlq $32, %rdx
    movl %eax, %eax
    orq %rdx, %rax
    iretq
mon_wrmsr:
    movl %edi, %ecx
    movl %esi, %eax
    movq %rsi, %rdx
    shrq $32, %rdx
    wrmsr
    xorl %eax, %eax
    iretq
mon_serial_write:
    movq %rsi, %rcx
    movq %rdi, %rsi
    movl $COM1, %edx
    rep outsb
    xorl %eax, %eax
    iretq
/* ---- IRQ: the stub pushed the vector (0x20..0x3f). Set the pending bit, mask an IOAPIC pin (its line may
   stay asserted until the driver clears the cause at CPL 3, which then unmasks it), EOI the local APIC. ---- */
irq_entry:
    pushq %rax
    pushq %rcx
    pushq %rdx
    movq 24(%rsp), %rcx
    subq $0x20, %rcx                /* pending bit */
    lock btsq %rcx, irq_pending(%rip)
    leaq irq_count(%rip), %rax
    lock incq (%rax, %rcx, 8)
    cmpq $24, %rcx                  /* IOAPIC pins 0..23 */
    jae 1f
    leaq ioapic_redir_lo(%rip), %rax
    orl $0x10000, (%rax, %rcx, 4)   /* masked */
    movl (%rax, %rcx, 4), %eax
    leal 0x10(, %rcx, 2), %ecx      /* IOREDTBL low dword of pin */
    movl $0xfec00000, %edx          /* IOAPIC (a register: absolute 32-bit addresses sign-extend) */
    movl %ecx, (%rdx)               /* IOREGSEL */
    movl %eax, 0x10(%rdx)           /* IOWIN */
1:  movl $0xfee000b0, %edx
    movl $0, (%rdx)                 /* LAPIC EOI */
    popq %rdx
    popq %rcx
    popq %rax
    addq $8, %rsp
    iretq

/* ---- exceptions: stack holds vector, error code, then the CPU's frame RIP CS RFLAGS RSP SS ---- */
exception_entry:
    testb $3, 24(%rsp)              /* CS.RPL of the interrupted code */
    jz monitor_fault
    pushq %r15
    pushq %r14
    pushq %r13
    pushq %r12
    pushq %r11
    pushq %r10
    pushq %r9
    pushq %r8
    pushq %rbp
    pushq %rdi
    pushq %rsi
    pushq %rdx
    pushq %rcx
    pushq %rbx
    pushq %rax
    /* copy the 22 quadwords (15 registers, vector, error, RIP, CS, RFLAGS, RSP, SS) to fault_frame */
    cld
    movq %rsp, %rsi
    leaq fault_frame(%rip), %rdi
    movl $22, %ecx
    rep movsq
    movq %cr2, %rax
    movq %rax, (%rdi)               /* fault_frame.cr2 follows */
    /* resume CPL 3 in arch_fault_entry(&fault_frame) on its own stack */
    leaq fault_frame(%rip), %rax
    movq %rax, 40(%rsp)             /* saved RDI */
    leaq arch_fault_entry(%rip), %rax
    movq %rax, 136(%rsp)            /* RIP */
    leaq fault_stack_top(%rip), %rax
    subq $8, %rax
    movq %rax, 160(%rsp)            /* RSP */
    popq %rax
    popq %rbx
    popq %rcx
    popq %rdx
    popq %rsi
    popq %rdi
    popq %rbp
    popq %r8
    popq %r9
    popq %r10
    popq %r11
    popq %r12
    popq %r13
    popq %r14
    popq %r15
    addq $16, %rsp
    iretq

monitor_fault:
    leaq monitor_fault_msg(%rip), %rsi
    movl $(monitor_fault_msg_end - monitor_fault_msg), %ecx
    movl $COM1, %edx
    rep outsb
    movl $0x7e, %eax
    movl $0xf4, %edx
    outl %eax, %dx
1:  cli
    hlt
    jmp 1b

    .section .rodata
    .align 8
mon_table:
    .quad mon_bad_op, mon_bad_op, mon_bad_op, mon_bad_op, mon_bad_op, mon_bad_op, mon_wait_irq, mon_wait_word
    .quad mon_bad_op, mon_exit, mon_rdmsr, mon_wrmsr, mon_serial_write
    .globl idt_ptr                  /* SMP: the APs load the same IDT (arch/x86/ap_boot.S) */
idt_ptr:
    .word 256 * 16 - 1
    .quad idt
monitor_fault_msg:
    .ascii "\nPANIC: CPU exception in the ring-0 monitor\n"
monitor_fault_msg_end:

    .section .data
    .align 8
    .globl irq_pending
irq_pending: .quad 0
    .globl irq_count
irq_count: .skip 32 * 8

    .section .data.monitor, "aw"    /* not .bss: set up at CPL 0 before boot.S clears .bss at CPL 3 */
    .align 4096
idt: .skip 256 * 16
tss: .skip 104                      /* 64-bit TSS (SDM vol. 3A, 8.7) */
tss_iomap: .skip TSS_IOMAP_BYTES    /* all zero: every port allowed at CPL 3 (SDM vol. 1, 19.5.2) */
    .byte 0xff                      /* the byte the CPU requires after the bitmap */

    .section .bss
    .align 16
    .globl fault_frame
fault_frame: .skip 23 * 8
    .align 16
    .skip 8192
df_stack_top:
    .skip 65536
fault_stack_top:

    .section .note.GNU-stack, "", @progbits

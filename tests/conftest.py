"""Shared pytest fixtures: repository paths, a click CliRunner with a temporary HOME, tiny GGUF models
(models/make_tiny.py), the damaged-GGUF corpus baseline, and a minimal test kernel (32-bit entry that prints a
marker and leaves through isa-debug-exit) so toolchain tests do not depend on the state of kernel/."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
for p in (ROOT, ROOT / "models", ROOT / "tests" / "bad_gguf"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Invoke `cllm ARGS...` in-process with HOME and the working directory in a temp dir.
    Returns a function(args) -> click.testing.Result."""
    from click.testing import CliRunner
    from cllm_build import tools
    from cllm_build.cli import main

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def invoke(args):
        try:
            return runner.invoke(main, [str(a) for a in args], catch_exceptions=True)
        finally:
            tools.set_verbose(False)
    return invoke


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory):
    """A tiny llama GGUF with real Q4_1 tensors (models/make_tiny.py)."""
    from make_tiny import make_tiny
    return make_tiny(str(tmp_path_factory.mktemp("tiny") / "tiny-q4_1.gguf"), qtype="q4_1")


@pytest.fixture(scope="session")
def corpus_gguf(tmp_path_factory):
    """The undamaged baseline of tests/bad_gguf (F32, n_embd 4: 2 KB)."""
    import make_corpus
    p = tmp_path_factory.mktemp("corpus") / "valid.gguf"
    p.write_bytes(make_corpus.build_valid())
    return str(p)


MINI_BOOT_S = r"""/* minimal test kernel: print MSG and the Multiboot command line on COM1, then exit with
   MINI_EXIT_CODE through isa-debug-exit (or triple-fault with MINI_FAULT, or spin with MINI_HANG) */
#include "cllm_config.h"
    .code32
    .section .text.boot, "ax"
    .globl _start
_start:
    movl %ebx, %edi             /* Multiboot info */
    movl $boot_stack_top, %esp
    movl $msg, %esi
    call puts
    testl $4, (%edi)            /* flags bit 2: cmdline present (Multiboot spec 3.3) */
    jz 2f
    movl $cmdline_tag, %esi
    call puts
    movl 16(%edi), %esi
    call puts
    movl $newline, %esi
    call puts
2:
#if MINI_FAULT
    lidt bad_idt                /* empty IDT: the next exception triple-faults */
    int $3
#endif
#if MINI_HANG
4:  pause
    jmp 4b
#endif
    movl $MINI_EXIT_CODE, %eax
    movw $0xf4, %dx
    outl %eax, %dx
3:  hlt
    jmp 3b

puts:                           /* write the NUL-terminated string at %esi to COM1 */
    movw $0x3f8, %dx
1:  movb (%esi), %al
    testb %al, %al
    jz 1f
    outb %al, %dx
    incl %esi
    jmp 1b
1:  ret

    .section .rodata
bad_idt: .word 0
    .long 0
msg: .ascii "mini: http port "
    .ascii MINI_PORT_STR
    .asciz "\ncllm: ok\n"
cmdline_tag: .asciz "cmdline: ["
newline: .asciz "]\n"
    .section .bss
    .skip 8192
boot_stack_top:
    .section .note.GNU-stack, "", @progbits
"""

MINI64_BOOT_S = r"""/* minimal long-mode test kernel: identity-map 1 GiB with 2 MiB pages, enable PAE + LME + paging, far-jump
   to 64-bit code and call the C entry kmain() (mini_main.c): what `cllm debug` breaks on */
    .code32
    .section .text.boot, "ax"
    .globl _start
_start:
    movl $stack_top, %esp
    movl $pdpt, %eax
    orl $3, %eax
    movl %eax, pml4
    movl $pd, %eax
    orl $3, %eax
    movl %eax, pdpt
    movl $pd, %edi
    movl $0x83, %eax            /* present, writable, 2 MiB page */
    movl $512, %ecx
1:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 1b
    movl $pml4, %eax
    movl %eax, %cr3
    movl %cr4, %eax
    orl $0x620, %eax            /* PAE, OSFXSR, OSXMMEXCPT */
    movl %eax, %cr4
    movl $0xC0000080, %ecx      /* EFER.LME */
    rdmsr
    orl $0x100, %eax
    wrmsr
    movl %cr0, %eax
    andl $~4, %eax              /* EM off: SSE usable */
    orl $0x80000003, %eax       /* PG, MP, PE */
    movl %eax, %cr0
    lgdt gdt_ptr
    ljmp $0x08, $long_entry
    .code64
long_entry:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movq $stack_top, %rsp
    call kmain
2:  hlt
    jmp 2b
    .section .rodata
    .align 8
gdt:
    .quad 0
    .quad 0x00209A0000000000    /* 0x08: 64-bit code */
    .quad 0x0000920000000000    /* 0x10: data */
gdt_ptr:
    .word gdt_ptr - gdt - 1
    .long gdt
    .section .bss
    .align 4096
pml4: .skip 4096
pdpt: .skip 4096
pd:   .skip 4096
    .skip 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
"""

MINI64_MAIN_C = r"""/* C entry of the long-mode test kernel */
#include <stdint.h>
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static void mini_puts(const char *s) { while (*s) outb(0x3f8, (uint8_t)*s++); }
__attribute__((noinline)) int mini_step(int x) { mini_puts("mini64: step\n"); return x + 1; }
void kmain(void)
{
    mini_puts("mini64: kmain\ncllm: ok\n");
    outl(0xf4, (uint32_t)mini_step(6));
}
"""

MINI_C = r"""/* a C file so the C path (flags, -MMD dependencies, the config header) is exercised */
#include "cllm_config.h"
#include "mini.h"
int mini_port(void) { return CLLM_HTTP_PORT + MINI_OFFSET; }
"""


def write_mini_kernel(dest, exit_code=0, fault=False, hang=False, long_mode=False):
    """Write a minimal kernel tree into dest (a directory); return its path. long_mode: a kernel that reaches a
    64-bit C kmain() and exits with code 7 (for gdb tests)."""
    dest = pathlib.Path(dest)
    (dest / "core").mkdir(parents=True, exist_ok=True)
    if long_mode:
        (dest / "boot.S").write_text(MINI64_BOOT_S)
        (dest / "core" / "mini_main.c").write_text(MINI64_MAIN_C)
        return str(dest)
    (dest / "boot.S").write_text(
        f"#define MINI_EXIT_CODE {exit_code}\n#define MINI_FAULT {int(fault)}\n#define MINI_HANG {int(hang)}\n"
        "#define STR2(x) #x\n#define STR(x) STR2(x)\n#define MINI_PORT_STR STR(CLLM_HTTP_PORT)\n" + MINI_BOOT_S)
    (dest / "core" / "mini.c").write_text(MINI_C)
    (dest / "core" / "mini.h").write_text("#define MINI_OFFSET 0\n")
    (dest / "core" / "other.c").write_text("int mini_other(void) { return 1; }\n")
    return str(dest)


@pytest.fixture
def mini_kernel(tmp_path):
    return write_mini_kernel(tmp_path / "kernel")


@pytest.fixture(scope="session")
def mini_build(tmp_path_factory, tiny_gguf):
    """The minimal kernel with the tiny model baked in, built once: BuildResult."""
    from cllm_build.build import build
    from cllm_build.config import load_config
    d = tmp_path_factory.mktemp("mini")
    kdir = write_mini_kernel(d / "kernel")
    return build(tiny_gguf, load_config(None), str(d / "out"), echo=lambda m: None, kernel_dir=kdir)


def build_image(out_dir, model, config=None, debug=False, kernel_dir=None):
    """Build kernel/ (or kernel_dir) with model into out_dir; config: a dict in cllm.json form (validated like
    a file). Returns cllm_build.build.BuildResult (.elf, .elf64, .plan, ...). For boot tests of other areas:
    `with Guest(build_image(...).elf, accel="tcg") as g: g.wait_for_serial(...); requests.get(g.url + "/health")`."""
    import json
    from cllm_build.build import build
    from cllm_build.config import load_config
    cfg_path = None
    if config:
        cfg_path = os.path.join(str(out_dir) + ".cllm.json")
        os.makedirs(os.path.dirname(cfg_path) or ".", exist_ok=True)
        with open(cfg_path, "w") as f:
            json.dump(config, f)
    kw = {"kernel_dir": str(kernel_dir)} if kernel_dir else {}
    return build(str(model), load_config(cfg_path), str(out_dir), debug=debug, echo=lambda m: None, **kw)


@pytest.fixture(scope="session")
def main_build(tmp_path_factory, tiny_gguf):
    """The real kernel (kernel/) with the tiny model baked in, release and debug, built once."""
    from cllm_build.build import build
    from cllm_build.config import load_config
    d = tmp_path_factory.mktemp("main")
    return build(tiny_gguf, load_config(None), str(d / "out"), echo=lambda m: None)


def kvm_usable():
    from cllm_build.qemu import kvm_usable as k
    return k()

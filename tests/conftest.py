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

MINI_C = r"""/* a C file so the C path (flags, -MMD dependencies, the config header) is exercised */
#include "cllm_config.h"
#include "mini.h"
int mini_port(void) { return CLLM_HTTP_PORT + MINI_OFFSET; }
"""


def write_mini_kernel(dest, exit_code=0, fault=False, hang=False):
    """Write a minimal kernel tree into dest (a directory); return its path."""
    dest = pathlib.Path(dest)
    (dest / "core").mkdir(parents=True, exist_ok=True)
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

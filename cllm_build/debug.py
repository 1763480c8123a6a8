"""`cllm debug`: boot a debug image paused with a gdb stub and attach gdb to the 64-bit symbol file
(OUT/cllm64.elf). gdb connects while the CPU is still in 32-bit mode; the architecture is forced to x86-64 and a
hardware breakpoint on the C entry (kmain) stops once the kernel runs in long mode."""
import os
import shlex

from .errors import CllmError
from .qemu import Guest, free_port, sigterm_as_interrupt
from .tools import run_tool


def symbol_file(elf):
    """The 64-bit ELF with symbols built beside an image (cllm.elf -> cllm64.elf)."""
    path = os.path.join(os.path.dirname(os.path.abspath(elf)), "cllm64.elf")
    if not os.path.isfile(path):
        raise CllmError(f"{path}: no symbol file beside {elf} (build with `cllm build --debug`)")
    return path


def gdb_argv(elf64, port, breakpoint="kmain"):
    return ["gdb", "-q", elf64, "-ex", "set architecture i386:x86-64",
            "-ex", f"target remote 127.0.0.1:{port}", "-ex", f"hbreak {breakpoint}", "-ex", "continue"]


def debug(elf, *, accel="tcg", memory=1024, smp=1, no_gdb=False, breakpoint="kmain", echo=print):
    elf64 = symbol_file(elf)
    port = free_port()
    guest = Guest(elf, accel=accel, memory_mb=memory, smp=smp, serial_stdio=True, gdb_port=port, paused=True)
    argv = gdb_argv(elf64, port, breakpoint)
    with sigterm_as_interrupt(), guest:
        echo(f"cllm: {elf} paused under {guest.describe()}, gdb stub on 127.0.0.1:{port}")
        if no_gdb:
            echo(shlex.join(argv))
            try:
                return guest.wait_exit(timeout=None)
            except KeyboardInterrupt:
                return None
        try:
            run_tool(argv, check=False, capture=False)
        except KeyboardInterrupt:
            pass
    return None

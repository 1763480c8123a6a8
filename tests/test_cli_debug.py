"""`cllm debug --no-gdb` prints a gdb command; gdb in batch mode with that command stops at the hardware
breakpoint on the C entry (kmain) once the kernel runs in long mode, and reads a backtrace. Done on a minimal
long-mode kernel (conftest.write_mini_kernel(long_mode=True)) and on the kernel in kernel/."""
import shlex
import subprocess
import sys
import time

from conftest import ROOT, write_mini_kernel


def start_debug(args):
    """Run `cllm debug ... --no-gdb`; return (process, gdb argv) once the command is printed."""
    p = subprocess.Popen([sys.executable, "-m", "cllm_build", "debug", *map(str, args), "--no-gdb"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.time() + 240
    lines = []
    while time.time() < deadline:
        line = p.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("gdb "):
            return p, shlex.split(line)
    p.kill()
    raise AssertionError("no gdb command printed: " + "".join(lines) + p.stderr.read())


def run_gdb(argv, *extra):
    cmd = argv[:1] + ["-batch"] + argv[1:] + [a for e in extra for a in ("-ex", e)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


def finish(p):
    try:
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.terminate()
            p.wait(timeout=10)


def test_debug_mini_kernel_breaks_in_c(tmp_path, corpus_gguf):
    kdir = write_mini_kernel(tmp_path / "kernel", long_mode=True)
    out = tmp_path / "out"
    b = subprocess.run([sys.executable, "-m", "cllm_build", "build", "--debug", "--model", corpus_gguf, "--out", out,
                        "--kernel-dir", kdir], capture_output=True, text=True, cwd=ROOT)
    assert b.returncode == 0, b.stderr
    p, argv = start_debug([out / "cllm.elf"])
    assert argv[:3] == ["gdb", "-q", str(out / "cllm64.elf")] and "hbreak kmain" in argv
    text = run_gdb(argv, "bt", "break mini_step", "continue", "bt")
    finish(p)
    assert "Breakpoint 1, kmain () at" in text, text
    assert "#0  kmain () at" in text and "mini_main.c" in text
    assert "#0  mini_step (x=x@entry=6)" in text or "#0  mini_step (x=6)" in text, text
    assert " in kmain () at" in text
    assert p.returncode == 0


def test_debug_main_kernel_breaks_in_kmain(tmp_path, tiny_gguf):
    """Builds kernel/ with --debug (cllm debug does it) and stops in its kmain."""
    p, argv = start_debug(["--model", tiny_gguf, "--out", tmp_path / "dbg"])
    try:
        text = run_gdb(argv, "bt", "info registers rip")
    finally:
        p.terminate()
        p.wait(timeout=30)
    assert "Breakpoint 1, kmain (" in text, text
    assert "#0  kmain (" in text and "core/main.c" in text
    assert "<kmain" in text   # rip is in kmain

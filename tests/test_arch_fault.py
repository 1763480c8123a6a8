"""CPU exceptions in the kernel (kernel/arch/x86/fault.c, monitor.S): booting with fault=KIND raises that exception
on purpose; the kernel must print the vector, error code, registers and a backtrace, then exit with status 3,
under TCG and under KVM. The backtrace is checked with addr2line (binutils) against the 64-bit symbol file, an
independent reader of the DWARF line tables."""
import re
import subprocess

import pytest

from cllm_build.qemu import Guest
from conftest import kvm_usable

ACCELS = ["tcg"] + (["kvm"] if kvm_usable() else [])
FAULT_EXIT_CODE = 3  # kernel/arch/x86/fault.h

CASES = {
    "pf": (14, "#PF page fault"),
    "ud": (6, "#UD invalid opcode"),
    "de": (0, "#DE divide error"),
    "gp": (13, "#GP general protection"),
}


def function_of(elf64, addr):
    out = subprocess.run(["addr2line", "-f", "-e", str(elf64), hex(addr)], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    return out[0]


@pytest.mark.parametrize("accel", ACCELS)
@pytest.mark.parametrize("kind", sorted(CASES))
def test_fault_prints_dump_and_exits_nonzero(main_build, accel, kind):
    vector, name = CASES[kind]
    with Guest(str(main_build.elf), accel=accel, memory_mb=256, host_port=None, append=f"fault={kind}") as g:
        code = g.wait_exit(timeout=120)
        log = g.serial_text()
    assert code == FAULT_EXIT_CODE, log[-2000:]
    assert f"FAULT: CPU exception {vector} ({name})" in log, log[-2000:]
    for reg in ("RIP", "RSP", "RFLAGS", "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "R8", "R15"):
        assert re.search(rf"\b{reg}\s+0x[0-9a-f]+", log), reg
    # the exception came from CPL 3: CS is the user code selector with RPL 3
    cs = int(re.search(r"CS (0x[0-9a-f]+)", log).group(1), 16)
    assert cs & 3 == 3
    if kind == "pf":
        assert re.search(r"CR2 0x0+10 \(not present, write\)", log)
    frames = [int(a, 16) for a in re.search(r"backtrace: ((?:0x[0-9a-f]+ ?)+)", log).group(1).split()]
    rip = int(re.search(r"RIP (0x[0-9a-f]+)", log).group(1), 16)
    assert frames[0] == rip
    assert function_of(main_build.elf64, frames[0]) == "fault_selftest"
    assert "kmain" in [function_of(main_build.elf64, a - 1) for a in frames[1:]]

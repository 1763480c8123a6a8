"""lib/math.c against the host libm (tests/host/lib/math_check.c): every k_* function over random bit
patterns, inference-relevant ranges and edge cases (0, -0, denormals, inf, nan, huge arguments), within
its ulp bound (floats: 1 ulp, exp/log: 1 ulp, sqrt/floor/fabs exact, pow: see lib/math.c)."""
import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "lib"))
import hostbuild  # noqa: E402


@pytest.mark.parametrize("seed", [1, 2])
def test_math_against_libm(seed):
    exe = hostbuild.build("math_check", ["tests/host/lib/math_check.c", "kernel/lib/math.c"])
    r = subprocess.run([str(exe), str(seed), "300000"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout
    lines = [l for l in r.stdout.splitlines() if not l.startswith(" ")]
    names = {l.split()[0] for l in lines}
    for fn in ("expf", "logf", "sqrtf", "sinf", "cosf", "tanhf", "fabsf", "floorf", "exp", "log", "sqrt"):
        assert fn in names
    assert all("FAIL" not in l for l in lines)


def test_math_kernel_flags_compile(tmp_path):
    """The same file builds with the kernel's freestanding flags and needs nothing from outside."""
    root = hostbuild.ROOT
    obj = tmp_path / "math.o"
    subprocess.run(["gcc", "-m64", "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-pic", "-fno-pie",
                    "-mno-red-zone", "-fno-stack-protector", "-ffp-contract=off", "-O2", "-msse2", "-Wall",
                    "-Wextra", "-Werror", "-I" + str(root / "kernel"), "-I" + str(root / "tests/host/include"),
                    "-c", str(root / "kernel/lib/math.c"), "-o", str(obj)], check=True)
    undefined = subprocess.run(["nm", "-u", str(obj)], capture_output=True, text=True, check=True).stdout
    assert undefined.strip() == ""

"""kernel/lib builds with the kernel's freestanding flags and is self-contained: linked together, fmt.c, parse.c,
math.c and string.c leave no undefined symbol (no libgcc helpers such as __udivti3, no libc, no libm)."""
import subprocess
import sys
import pathlib

sys.path.insert(0, str(pathlib.Path(__file__).parent / "host" / "lib"))
import hostbuild  # noqa: E402

KERNEL_FLAGS = ["-m64", "-ffreestanding", "-fno-builtin", "-nostdlib", "-fno-pic", "-fno-pie", "-mno-red-zone",
                "-fno-stack-protector", "-fno-tree-loop-distribute-patterns", "-ffp-contract=off", "-mcmodel=small",
                "-msse2", "-Wall", "-Wextra", "-Werror"]


def test_lib_links_alone(tmp_path):
    root = hostbuild.ROOT
    objs = []
    for name in ("fmt", "parse", "math", "string"):
        for opt in ("-O2", "-Og"):
            obj = tmp_path / f"{name}{opt}.o"
            subprocess.run(["gcc", *KERNEL_FLAGS, opt, "-I" + str(root / "kernel"),
                            "-I" + str(root / "tests/host/include"), "-c", str(root / f"kernel/lib/{name}.c"),
                            "-o", str(obj)], check=True)
            if opt == "-O2":
                objs.append(str(obj))
    linked = tmp_path / "lib.o"
    subprocess.run(["ld", "-r", "-o", str(linked), *objs], check=True)
    undefined = subprocess.run(["nm", "-u", str(linked)], capture_output=True, text=True, check=True).stdout
    assert undefined.strip() == "", undefined

"""Build the HTTP boot-test image: a copy of kernel/ whose core/main.c is tests/host/http/guest_main.c. QEMU is run
with the network boot tests' helper (tests/host/net/netboot.py: Qemu)."""
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parents[3]
GUEST_MAIN = ROOT / "tests" / "host" / "http" / "guest_main.c"


def build_guest(out_dir, model):
    from cllm_build.build import build
    from cllm_build.config import load_config
    out_dir = pathlib.Path(out_dir)
    kdir = out_dir / "kernel"
    if kdir.exists():
        shutil.rmtree(kdir)
    shutil.copytree(ROOT / "kernel", kdir)
    shutil.copy(GUEST_MAIN, kdir / "core" / "main.c")
    return build(str(model), load_config(None), str(out_dir / "out"), echo=lambda m: None, kernel_dir=str(kdir)).elf

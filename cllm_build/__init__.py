"""cllm host toolchain: GGUF -> bootable Multiboot ELF, plus commands to run, debug and inspect it.

cli.py holds the thin click commands; each verb's work lives in its own module (build.py, qemu.py, debug.py,
inspect.py), over config.py (schema), model.py (GGUF checks, memory plan), render.py, compile.py, elf.py, tools.py.
"""
import os

__version__ = "0.1.0"

# Repository root: templates/ and kernel/ live beside the package (editable install).
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

"""`python -m cllm_build ...` is the `cllm` command (used by the Makefile, which cannot rely on PATH)."""
from .cli import main

main(prog_name="cllm")

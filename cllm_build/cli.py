"""The `cllm` command: thin click shells over build.py, qemu.py, debug.py and inspect.py.
Every CllmError becomes `cllm: error: <one line>` and exit status 1."""
import functools
import os
import sys

import click

from . import __version__
from .errors import CllmError
from .model import MIB, format_plan
from .qemu import SIMD_LEVELS
from .tools import set_verbose


def _errors_to_exit(fn):
    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except CllmError as e:
            click.echo(f"cllm: error: {e}", err=True)
            sys.exit(1)
    return wrapper


def _verbose_option(fn):
    def cb(ctx, param, value):
        if value:
            set_verbose(True)
        return value
    return click.option("-v", "--verbose", is_flag=True, expose_value=False, is_eager=True, callback=cb,
                        help="Log every external command line (paste-able).")(fn)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cllm")
@_verbose_option
def main():
    """cllm: turn a GGUF model into one bootable Multiboot unikernel and run it in QEMU."""


def _config_overrides(memory=None, smp=None, n_ctx=None, http_port=None):
    return {"memory_mb": memory, "smp": smp, "n_ctx": n_ctx, "network.http_port": http_port}


@main.command()
@click.option("--model", "model_path", required=True, type=click.Path(dir_okay=False), help="GGUF model file.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="cllm.json build configuration.")
@click.option("--out", "out_dir", default="build", show_default=True, help="Output directory.")
@click.option("--debug", is_flag=True, help="Debug build (-Og -g) for `cllm debug`.")
@click.option("--memory", type=int, help="Override memory_mb (MiB).")
@click.option("--smp", type=int, help="Override smp (vCPUs).")
@click.option("--n-ctx", type=int, help="Override n_ctx (tokens).")
@click.option("--http-port", type=int, help="Override network.http_port (guest TCP port).")
@click.option("--kernel-dir", hidden=True, help="Kernel source tree (tests use a minimal one).")
@_verbose_option
@_errors_to_exit
def build(model_path, config_path, out_dir, debug, memory, smp, n_ctx, http_port, kernel_dir):
    """Check MODEL, compile the kernel and bake MODEL into OUT/cllm.elf."""
    from .build import build as do_build
    from .config import load_config
    cfg = load_config(config_path, _config_overrides(memory, smp, n_ctx, http_port))
    kw = {"kernel_dir": os.path.abspath(kernel_dir)} if kernel_dir else {}
    r = do_build(model_path, cfg, out_dir, debug=debug, echo=lambda m: click.echo(m, err=True), **kw)
    s, p = r.sizes, r.plan
    click.echo(f"built {r.elf} in {r.seconds:.1f} s ({r.compiled} sources compiled){' [debug]' if debug else ''}")
    click.echo(f"  symbols for gdb: {r.elf64}")
    click.echo(f"  kernel: text {s['text']} B, data {s['data']} B, bss {s['bss']} B")
    click.echo(f"  model: {p['weights']} B ({p['weights'] / MIB:.1f} MiB), sha256 {r.model_sha256}")
    click.echo("  memory plan:")
    click.echo(format_plan(p))


@main.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--all-tensors", is_flag=True, help="List every tensor (default: the first 40).")
@_verbose_option
@_errors_to_exit
def inspect(path, all_tensors):
    """Show what a GGUF file or a built ELF holds."""
    from .inspect import inspect_path
    click.echo(inspect_path(path, max_tensors=None if all_tensors else 40))


def _default_elf(elf):
    from .run import default_elf
    return elf or default_elf()


@main.command()
@click.argument("elf", required=False, type=click.Path(dir_okay=False))
@click.option("--port", default=8080, show_default=True, help="Host port forwarded to the guest's HTTP port.")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True)
@click.option("--smp", type=int, help="vCPUs (default: the image's smp).")
@click.option("--memory", type=int, help="Guest RAM in MiB (default: the image's memory_mb).")
@click.option("--serial-log", type=click.Path(dir_okay=False), help="Write the serial console to FILE.")
@click.option("--prompt", help="Prompt passed to the kernel on its command line (base64).")
@click.option("--n-predict", type=int, help="Tokens to generate for --prompt.")
@click.option("--simd", type=click.Choice(SIMD_LEVELS), default="auto", show_default=True,
              help="Cap the quant kernels (the kernel picks the best the CPU has, up to this).")
@_verbose_option
@_errors_to_exit
def run(elf, port, accel, smp, memory, serial_log, prompt, n_predict, simd):
    """Boot ELF (default: the last build, build/cllm.elf) in QEMU; exit with the kernel's exit code."""
    from .run import run as do_run
    code = do_run(_default_elf(elf), port=port, accel=accel, smp=smp, memory=memory, serial_log=serial_log,
                  prompt=prompt, n_predict=n_predict, simd=simd, echo=lambda m: click.echo(m, err=True))
    if code:
        click.echo(f"cllm: kernel exit code {code}", err=True)
    sys.exit(code or 0)


@main.command()
@click.argument("elf", required=False, type=click.Path(dir_okay=False))
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="Model for the debug build (default: the last build's).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="cllm.json for the debug build.")
@click.option("--out", "out_dir", default="build/debug", show_default=True, help="Output directory of the debug build.")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="tcg", show_default=True)
@click.option("--break", "breakpoint", default="kmain", show_default=True, help="Hardware breakpoint to stop at.")
@click.option("--no-gdb", is_flag=True, help="Print the gdb command instead of running gdb.")
@_verbose_option
@_errors_to_exit
def debug(elf, model_path, config_path, out_dir, accel, breakpoint, no_gdb):
    """Build with debug info (unless ELF is given), boot paused with a gdb stub, attach gdb."""
    from .build import build as do_build, last_build
    from .config import load_config
    from .debug import debug as do_debug
    if elf is None:
        if model_path is None:
            model_path = last_build()["model_path"]
        cfg = load_config(config_path)
        r = do_build(model_path, cfg, out_dir, debug=True, echo=lambda m: click.echo(m, err=True))
        click.echo(f"built {r.elf} [debug]", err=True)
        elf = r.elf
    from .elf import read_baked_config
    cfg = (read_baked_config(elf) or {}).get("config", {})
    do_debug(elf, accel=accel, memory=cfg.get("memory_mb", 1024), smp=cfg.get("smp", 1), no_gdb=no_gdb,
             breakpoint=breakpoint, echo=click.echo)


@main.command()
@click.option("--model", "model_path", type=click.Path(dir_okay=False),
              help="GGUF model (default: SmolLM2-135M-Instruct Q4_1 from ~/.cache/cllm).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="cllm.json build configuration.")
@click.option("--out", "out_dir", default="build/bench", show_default=True, help="Output directory of the build.")
@click.option("--smp", type=int, help="vCPUs (and llama.cpp threads); default: the configuration's smp.")
@click.option("--accel", type=click.Choice(["auto", "kvm", "tcg"]), default="auto", show_default=True)
@click.option("--vs-llama-cpp", is_flag=True, help="Also run llama.cpp (llama-cpp-python) on the host; print ratios.")
@click.option("--reps", type=int, default=2, show_default=True, help="Repetitions (the best is reported).")
@click.option("--n-prompt", type=int, default=512, show_default=True, help="Prompt tokens (ppN).")
@click.option("--n-gen", type=int, default=128, show_default=True, help="Generated tokens (tgN).")
@click.option("--static-ip", is_flag=True, help="network.mode static (no DHCP wait in the boot time).")
@click.option("--simd", type=click.Choice(SIMD_LEVELS), default="auto", show_default=True,
              help="Cap the guest's quant kernels (e.g. sse2 to measure the SSE2 path on an AVX-512 host).")
@_verbose_option
@_errors_to_exit
def bench(model_path, config_path, out_dir, smp, accel, vs_llama_cpp, reps, n_prompt, n_gen, static_ip, simd):
    """Build, boot and measure: boot time, pp512, tg128, peak memory (cllm_build/bench.py)."""
    from .bench import bench as do_bench
    from .config import load_config
    if model_path is None:
        from .bench import default_model
        model_path = default_model()
    cfg = load_config(config_path, {**_config_overrides(smp=smp), "network.mode": "static" if static_ip else None})
    _, _, text = do_bench(model_path, cfg, out_dir, smp=smp, accel=accel, vs_llama_cpp=vs_llama_cpp, reps=reps,
                          n_prompt=n_prompt, n_gen=n_gen, simd=simd, echo=lambda m: click.echo(m, err=True))
    click.echo(text)

"""`cllm run`: boot an image in QEMU with the serial console on the terminal (or a file) until the kernel exits
or the user stops it (Ctrl-C / SIGTERM -> QMP quit). Defaults for memory, vCPUs and the guest port come from the
configuration baked into the image (.cllm_config, see elf.py)."""
import os

from .build import last_build
from .elf import read_baked_config
from .errors import CllmError
from .tools import log
from .qemu import Guest, kernel_cmdline, sigterm_as_interrupt


def default_elf(out_dir="build"):
    return last_build(out_dir)["elf"]


def run_settings(elf, memory=None, smp=None):
    baked = read_baked_config(elf) or {}
    cfg = baked.get("config", {})
    return (memory or cfg.get("memory_mb", 1024), smp or cfg.get("smp", 1),
            cfg.get("network", {}).get("http_port", 8080))


def run(elf, *, port=8080, accel="auto", smp=None, memory=None, serial_log=None, prompt=None, n_predict=None,
        simd=None, echo=print):
    """Boot elf; return the kernel's exit code (None when stopped by the user)."""
    if not os.path.isfile(elf):
        raise CllmError(f"{elf}: no such image (run `cllm build` first)")
    memory, smp, guest_port = run_settings(elf, memory, smp)
    guest = Guest(elf, accel=accel, memory_mb=memory, smp=smp, host_port=port, guest_port=guest_port,
                  serial_log=serial_log, serial_stdio=serial_log is None,
                  append=kernel_cmdline(prompt, n_predict, simd=simd))
    echo(f"cllm: booting {elf} under {guest.describe()}, {memory} MiB, {smp} vCPU(s); "
         f"http://127.0.0.1:{port}/ -> guest port {guest_port}" +
         (f"; serial log {serial_log}" if serial_log else "") + " (Ctrl-C stops)")
    with sigterm_as_interrupt(), guest:
        try:
            log(f"QMP: guest is {guest.status()}")
            return guest.wait_exit(timeout=None)
        except KeyboardInterrupt:
            guest.shutdown()
            echo("cllm: stopped (QMP quit)")
            return None

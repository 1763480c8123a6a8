"""`cllm build`: check the GGUF, plan memory, render templates, compile and link the kernel, bake the model,
verify the image and write OUT/cllm.elf (+ OUT/cllm64.elf for gdb, OUT/build.json). Steps live in model.py,
config.py, render.py, compile.py and elf.py; this module only orders them."""
import datetime
import json
import os
import time
from dataclasses import dataclass

from . import __version__, chat_template
from .compile import KERNEL_DIR, compile_all, link, to_elf32
from .config import config_defines, model_alias
from .elf import verify_image
from .errors import CllmError
from .model import MIB, check_model, plan_memory
from .render import render_all
from .tools import log

KERNEL_ESTIMATE = 8 * MIB  # kernel image size assumed by the early memory check, before anything is compiled


@dataclass
class BuildResult:
    elf: str
    elf64: str
    build_json: str
    model_sha256: str
    sizes: dict
    plan: dict
    compiled: int
    seconds: float


def _checked_model(path, gen_dir):
    """check_model() once per model file: the result is cached in gen/model-check.json keyed on the file's
    path, size and mtime (the reference reader alone takes seconds on a 100 MB model)."""
    st = os.stat(path)
    key = {"path": os.path.abspath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "cllm": __version__}
    cache = os.path.join(gen_dir, "model-check.json")
    try:
        with open(cache, encoding="utf-8") as f:
            c = json.load(f)
        if c["key"] == key:
            return c["sha256"], c["hparams"], c["size"]
    except (OSError, ValueError, KeyError):
        pass
    info = check_model(path)
    os.makedirs(gen_dir, exist_ok=True)
    tmp = cache + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"key": key, "sha256": info.sha256, "hparams": info.hparams, "size": info.file_size}, f)
    os.replace(tmp, cache)
    return info.sha256, info.hparams, info.file_size


def baked_config(cfg, model_path, sha256, hparams, debug):
    """What goes into the .cllm_config section: deterministic (no timestamps), so an unchanged build relinks
    nothing."""
    return {"cllm_version": __version__, "config": cfg, "model": {"file": os.path.basename(model_path),
            "alias": model_alias(cfg, model_path), "sha256": sha256, "hparams": hparams}, "debug": bool(debug)}


def build(model_path, cfg, out_dir="build", debug=False, echo=print, kernel_dir=KERNEL_DIR):
    t0 = time.time()
    if not os.path.isfile(model_path):
        raise CllmError(f"{model_path}: no such model file")
    out_dir = os.path.abspath(out_dir)
    gen_dir = os.path.join(out_dir, "gen")
    os.makedirs(gen_dir, exist_ok=True)

    sha256, hparams, model_size = _checked_model(model_path, gen_dir)
    if cfg["n_ctx"] > hparams["n_ctx_train"]:
        echo(f"warning: n_ctx {cfg['n_ctx']} exceeds the model's training context {hparams['n_ctx_train']}")
    plan = plan_memory(hparams, cfg, model_size, KERNEL_ESTIMATE)
    if not plan["fits"]:
        raise CllmError(_no_fit(plan, cfg))

    chat = chat_template.for_model(model_path)  # stops here when the kernel cannot render the model's template
    echo(f"chat template: {chat.summary}")

    baked = baked_config(cfg, model_path, sha256, hparams, debug)
    defines = config_defines(cfg, model_path, hparams) + chat.defines()
    gen = render_all(gen_dir, defines=defines, model_path=model_path,
                     model_sha256=sha256, config_json=json.dumps(baked, indent=1, sort_keys=True) + "\n")
    objs, compiled = compile_all(out_dir, [gen["multiboot.S"], gen["cllm_config.S"], gen["model.S"]], debug,
                                 kernel_dir=kernel_dir)
    elf64, _ = link(out_dir, objs, gen["linker.ld"])

    final = os.path.join(out_dir, "cllm.elf")
    tmp = final + ".tmp"
    try:
        to_elf32(elf64, tmp)
        info = verify_image(tmp, model_size, sha256, expect_config=baked)
        missing = [s for s in ("__bss_start", "__bss_end", "__kernel_end", "__model_start", "__model_end",
                               "__image_end") if s not in info["symbols"]]
        if missing:
            raise CllmError(f"{tmp}: linker symbols missing: {', '.join(missing)}")
        kernel_bytes = info["symbols"]["__kernel_end"] - _load_base(info)
        plan = plan_memory(hparams, cfg, model_size, kernel_bytes)
        if not plan["fits"]:
            raise CllmError(_no_fit(plan, cfg))
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)

    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    record = {"elf": final, "elf64": elf64, "model_path": os.path.abspath(model_path), "built_at": now,
              "model_built_from_mtime": os.path.getmtime(model_path), "sizes": info["sizes"], "memory_plan": plan,
              **baked}
    bj = os.path.join(out_dir, "build.json")
    with open(bj + ".tmp", "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(bj + ".tmp", bj)
    log(f"wrote {bj}")
    return BuildResult(final, elf64, bj, sha256, info["sizes"], plan, compiled, time.time() - t0)


def _load_base(info):
    return min(seg["vaddr"] for seg in info["segments"])


def _no_fit(plan, cfg):
    return (f"model does not fit in memory_mb {cfg['memory_mb']}: needs {plan['total'] / MIB:.0f} MiB "
            f"(weights {plan['weights'] / MIB:.0f} + KV cache {plan['kv_cache'] / MIB:.0f} + scratch "
            f"{plan['scratch'] / MIB:.0f} + kernel {plan['kernel'] / MIB:.0f}); raise memory_mb or lower n_ctx/n_slots")


def last_build(out_dir="build"):
    """The build.json of the last build in out_dir (for `cllm run`/`cllm debug` without an ELF)."""
    bj = os.path.join(out_dir, "build.json")
    try:
        with open(bj, encoding="utf-8") as f:
            return json.load(f)
    except OSError:
        raise CllmError(f"no build in {out_dir}/ (run `cllm build --model X.gguf` first or name the ELF)") from None
    except ValueError:
        raise CllmError(f"{bj}: not valid JSON") from None

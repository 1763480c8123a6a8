"""Render templates/ (jinja2) into OUT/gen/: linker script, Multiboot header, cllm_config.h, the .model and
.cllm_config sections. A file is rewritten only when its text changes, so incremental builds (compile.py) see
unchanged mtimes for unchanged inputs."""
import hashlib
import os

import jinja2

from . import ROOT

TEMPLATES = os.path.join(ROOT, "templates")
LOAD_ADDR = 0x100000          # 1 MiB: above the BIOS area, the classic Multiboot load address
MODEL_ALIGN = 4096            # page: the weights can be mapped and used in place
MB_MAGIC = 0x1BADB002
MB_FLAGS = 0x00000003         # bit 0 page-align modules, bit 1 memory map


def mb_checksum(magic, flags):
    return (-(magic + flags)) & 0xFFFFFFFF


def _env():
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def write_if_changed(path, text):
    """Write text to path unless it already holds exactly that; return True when written."""
    try:
        with open(path, encoding="utf-8") as f:
            if f.read() == text:
                return False
    except OSError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
    return True


def render_all(gen_dir, *, defines, model_path, model_sha256, config_json):
    """Render every template into gen_dir. Returns {name: path}."""
    os.makedirs(gen_dir, exist_ok=True)
    env = _env()
    json_path = os.path.join(gen_dir, "cllm_config.json")
    write_if_changed(json_path, config_json)
    ctx = {
        "linker.ld": dict(load_addr=LOAD_ADDR, model_align=MODEL_ALIGN),
        "multiboot.S": dict(mb_magic=MB_MAGIC, mb_flags=MB_FLAGS, mb_checksum=mb_checksum(MB_MAGIC, MB_FLAGS)),
        "cllm_config.h": dict(defines=defines),
        "model.S": dict(model_path=os.path.abspath(model_path), model_file=os.path.basename(model_path),
                        model_sha256=model_sha256),
        "cllm_config.S": dict(json_path=os.path.abspath(json_path),
                              json_sha256=hashlib.sha256(config_json.encode("utf-8")).hexdigest()),
    }
    out = {"cllm_config.json": json_path}
    for name, c in ctx.items():
        tname = ("config.h" if name == "cllm_config.h" else name) + ".j2"
        path = os.path.join(gen_dir, name)
        write_if_changed(path, env.get_template(tname).render(**c))
        out[name] = path
    return out

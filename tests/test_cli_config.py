"""Build configuration (cllm_build/config.py): validation messages name the key path, precedence
defaults < file < flags, the generated cllm_config.h (compiled by the host gcc and read back), the README
documents every key."""
import json
import socket
import struct
import subprocess

import pytest

from cllm_build.config import config_defines, defaults, iter_keys, load_config
from cllm_build.errors import CllmError
from conftest import ROOT


def write(tmp_path, obj, name="cllm.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


@pytest.mark.parametrize("cfg, message", [
    ({"network": {"http_port": "x"}}, 'network.http_port: expected integer 1..65535, got "x"'),
    ({"network": {"http_port": 70000}}, "network.http_port: expected integer 1..65535, got 70000"),
    ({"memory_mb": True}, "memory_mb: expected integer"),
    ({"smp": 1.5}, "smp: expected integer"),
    ({"kv_type": "q8"}, 'kv_type: expected one of "f16", "f32", got "q8"'),
    ({"log_level": "loud"}, 'log_level: expected one of "error", "warn", "info", "debug"'),
    ({"network": {"mode": "static", "ip": "10.0.2.300"}}, 'network.ip: expected an IPv4 address'),
    ({"sampling": {"top_p": 1.5}}, "sampling.top_p: expected number 0.0..1.0, got 1.5"),
    ({"sampling": {"temperature": "hot"}}, "sampling.temperature: expected number"),
    ({"limits": {"max_body_bytes": 10}}, "limits.max_body_bytes: expected integer"),
    ({"model_alias": 7}, "model_alias: expected a printable string"),
    ({"netwrok": {}}, "netwrok: unknown key"),
    ({"network": {"port": 1}}, "network.port: unknown key"),
    ({"network": 5}, "network: expected an object"),
    ([1, 2], "config: expected an object"),
])
def test_invalid_config_names_the_key(tmp_path, cfg, message):
    path = write(tmp_path, cfg)
    with pytest.raises(CllmError) as e:
        load_config(path)
    assert str(e.value).startswith(path + ": ")
    assert message in str(e.value)


def test_invalid_json_and_missing_file(tmp_path):
    with pytest.raises(CllmError, match=r"invalid JSON at line 2"):
        load_config(write(tmp_path, '{\n  "smp": ,\n}'))
    with pytest.raises(CllmError, match="cannot read"):
        load_config(str(tmp_path / "nope.json"))


def test_precedence_defaults_file_flags(tmp_path):
    d = defaults()
    assert d["memory_mb"] == 1024 and d["smp"] == 1 and d["n_ctx"] == 2048 and d["network"]["http_port"] == 8080
    path = write(tmp_path, {"memory_mb": 512, "smp": 2, "network": {"http_port": 9000}})
    c = load_config(path)
    assert (c["memory_mb"], c["smp"], c["network"]["http_port"], c["n_ctx"]) == (512, 2, 9000, 2048)
    assert c["network"]["mode"] == "dhcp"          # untouched sibling keeps its default
    c = load_config(path, {"memory_mb": 768, "smp": None, "network.http_port": 9100})
    assert (c["memory_mb"], c["smp"], c["network"]["http_port"]) == (768, 2, 9100)
    with pytest.raises(CllmError, match="memory_mb: expected integer"):
        load_config(path, {"memory_mb": 1})


def test_config_header_compiles_with_the_values(tmp_path):
    """Render config.h.j2, compile a host program that prints the defines, compare with the JSON."""
    from cllm_build.render import render_all
    cfg = load_config(write(tmp_path, {
        "network": {"mode": "static", "ip": "192.168.7.42", "http_port": 8123}, "kv_type": "f32",
        "log_level": "debug", "sampling": {"temperature": 0.25, "seed": 1234}, "model_alias": 'my "model"\\1',
        "limits": {"max_body_bytes": 4096}}))
    gen = tmp_path / "gen"
    hp = {"n_layer": 3, "n_embd": 64}
    render_all(str(gen), defines=config_defines(cfg, "/x/Some-Model.gguf", hp), model_path="/x/m.gguf",
               model_sha256="0" * 64, config_json="{}")
    prog = tmp_path / "p.c"
    prog.write_text('#include <stdio.h>\n#include "cllm_config.h"\nint main(void){'
                    'printf("%u %d %d %d %d %d %.6f %lld %d %s|%s|%d %d\\n", CLLM_NET_IP, CLLM_NET_DHCP, CLLM_HTTP_PORT,'
                    ' CLLM_KV_F16, CLLM_LOG_LEVEL, CLLM_HTTP_MAX_BODY, (double)CLLM_DEFAULT_TEMPERATURE,'
                    ' (long long)CLLM_DEFAULT_SEED, CLLM_MEMORY_MB, CLLM_MODEL_ALIAS, CLLM_MODEL_FILE,'
                    ' CLLM_MODEL_N_LAYER, CLLM_MODEL_N_EMBD); return 0; }\n')
    subprocess.run(["gcc", "-Wall", "-Werror", "-I", str(gen), str(prog), "-o", str(tmp_path / "p")], check=True)
    out = subprocess.run([str(tmp_path / "p")], capture_output=True, text=True, check=True).stdout
    ip_host = struct.unpack("!I", socket.inet_aton("192.168.7.42"))[0]   # independent: libc's parser
    assert out == f'{ip_host} 0 8123 0 3 4096 0.250000 1234 1024 my "model"\\1|Some-Model.gguf|3 64\n'


def test_defaults_header_matches_limits_defaults(tmp_path):
    """CLLM_NET_DHCP and CLLM_KV_F16 reflect the defaults (dhcp, f16)."""
    d = dict((n, v) for n, v, _ in config_defines(defaults(), "m.gguf"))
    assert d["CLLM_NET_DHCP"] == "1" and d["CLLM_KV_F16"] == "1" and d["CLLM_LOG_LEVEL"] == "2"
    assert d["CLLM_MODEL_ALIAS"] == '"m"'


def test_readme_documents_every_key():
    readme = (ROOT / "README.md").read_text()
    missing = [k for k, _, _ in iter_keys() if f"`{k}`" not in readme]
    assert not missing, f"README.md does not document: {missing}"


def test_cli_flags_override_file(cli, tmp_path, corpus_gguf, mini_kernel):
    path = write(tmp_path, {"memory_mb": 512, "smp": 2})
    r = cli(["build", "--model", corpus_gguf, "--config", path, "--memory", 640, "--http-port", 8181,
             "--out", tmp_path / "o", "--kernel-dir", mini_kernel])
    assert r.exit_code == 0, r.output
    baked = json.loads((tmp_path / "o" / "build.json").read_text())
    assert baked["config"]["memory_mb"] == 640 and baked["config"]["smp"] == 2
    assert baked["config"]["network"]["http_port"] == 8181
    assert "640.0 MiB" in r.output   # guest RAM line of the memory plan

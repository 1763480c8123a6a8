"""User mistakes on the command line end in one `cllm: error:` line and exit status 1, never a traceback."""


def one_line_error(r, fragment):
    assert r.exit_code == 1, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cllm: error: ") and fragment in lines[0], r.output


def test_run_without_a_build(cli):
    one_line_error(cli(["run"]), "no build in build/")


def test_run_missing_image(cli, tmp_path):
    one_line_error(cli(["run", tmp_path / "nope.elf", "--accel", "tcg"]), "no such image")


def test_debug_without_a_build(cli):
    one_line_error(cli(["debug", "--no-gdb"]), "no build in build/")


def test_debug_needs_symbol_file(cli, tmp_path, mini_build):
    import shutil
    lone = tmp_path / "lone"
    lone.mkdir()
    shutil.copy(mini_build.elf, lone / "cllm.elf")
    one_line_error(cli(["debug", lone / "cllm.elf", "--no-gdb"]), "no symbol file beside")


def test_inspect_damaged_elf(cli, tmp_path, mini_build):
    data = open(mini_build.elf, "rb").read()
    p = tmp_path / "cut.elf"
    p.write_bytes(data[:2000])
    r = cli(["inspect", p])
    assert r.exit_code == 1 and r.output.startswith("cllm: error: ") and "Traceback" not in r.output, r.output


def test_bad_config_file(cli, tmp_path, corpus_gguf):
    c = tmp_path / "c.json"
    c.write_text('{"network": {"http_port": "x"}}')
    one_line_error(cli(["build", "--model", corpus_gguf, "--config", c]),
                   f'{c}: network.http_port: expected integer 1..65535, got "x"')

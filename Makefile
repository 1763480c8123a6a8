# cllm: everyday entry points. `make run` and `make test` set up a fresh Debian machine first (fast when
# everything is already there). The toolchain itself is the `cllm` command (cllm_build/, see README.md).
PY      ?= python3
OUT     ?= build
PORT    ?= 8080
# make run: one vCPU per host core (at most 16, the kernel's MADT limit)
SMP     ?= $(shell n=$$(nproc 2>/dev/null || echo 1); [ $$n -gt 16 ] && n=16; echo $$n)
CLLM    := $(PY) -m cllm_build
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := qemu-system-x86 gcc-multilib gdb clang

.PHONY: setup run test debug clean

setup:
	@missing=""; \
	command -v qemu-system-x86_64 >/dev/null || missing="$$missing qemu-system-x86"; \
	command -v gdb >/dev/null || missing="$$missing gdb"; \
	command -v gcc >/dev/null || missing="$$missing gcc"; \
	command -v clang >/dev/null || missing="$$missing clang"; \
	command -v ip >/dev/null || missing="$$missing iproute2"; \
	command -v curl >/dev/null || missing="$$missing curl"; \
	dpkg -s gcc-multilib >/dev/null 2>&1 || missing="$$missing gcc-multilib"; \
	$(PY) -m pip --version >/dev/null 2>&1 || missing="$$missing python3-pip"; \
	if [ -n "$$missing" ]; then \
		echo "setup: installing$$missing"; \
		$(SUDO) apt-get update -q && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
	@$(PY) -c 'import cllm_build.cli, elftools, gguf, click, jinja2, qemu.qmp, pytest, numpy, tokenizers, requests, openai, h11, regex, unicodedata2' 2>/dev/null \
		|| $(PY) -m pip install -q -e '.[test]' \
		|| $(PY) -m pip install -q --break-system-packages -e '.[test]'   # Debian's python3 (PEP 668)

run: setup
	@model=$$($(PY) models/fetch.py smollm2) && \
	$(CLLM) build --model "$$model" --out $(OUT) && \
	$(CLLM) run $(OUT)/cllm.elf --port $(PORT) --smp $(SMP)

test: setup
	$(PY) -m pytest -q -rs --durations=15 tests/

debug: setup
	@model=$$($(PY) models/fetch.py smollm2) && \
	$(CLLM) debug --model "$$model" --out $(OUT)/debug

clean:
	rm -rf $(OUT) tests/.build

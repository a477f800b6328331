# One entry for set-up, the quickstart and the tests. Each target creates .venv when it is missing.
#   make quickstart   # venv + install + the whole pipeline on the embedded sample (CPU, minutes)
#   make test         # venv + install with test extras + the full test suite
# GPU users: make quickstart TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
OUT ?= runs/quickstart
PYTEST_ARGS ?=
# llama-cpp-python (dev extra: the GGUF parity test) compiles ggml from source. Its default -march=native build uses
# every instruction the CPU advertises, AMX among them, and on VMs that advertise AMX without letting a thread use it
# the q8_0 matmul dies with SIGILL (`tilezero`); a portable AVX2 build runs everywhere and is fast enough for tests.
ifeq ($(shell uname -m),x86_64)
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
else
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF
endif

.PHONY: install install-dev quickstart test test-fast lint sample sample-tokenizer clean

$(VENV)/.torch:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	@# torch first, so no dependency can pull a multi-GB CUDA build; then pin exactly what is installed.
	$(PIP) install --quiet $(TORCH_SPEC)
	$(PY) -c "import torch; print('torch==' + torch.__version__)" > $(VENV)/constraints.txt
	touch $@

$(VENV)/.base: $(VENV)/.torch pyproject.toml
	$(PIP) install --quiet -c $(VENV)/constraints.txt -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	@# built here, with our flags and not from pip's wheel cache (which may hold a -march=native build)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet --no-cache-dir -c $(VENV)/constraints.txt "llama-cpp-python>=0.3"
	$(PIP) install --quiet -c $(VENV)/constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.base
install-dev: $(VENV)/.dev

quickstart: $(VENV)/.base
	$(VENV)/bin/meditron quickstart --out $(OUT)

test: $(VENV)/.dev
	@bash scripts/ensure_chromium.sh  # headless chromium for the chat-page browser test (no-op unless root + missing)
	@bash tools/slurm/start_single_node.sh --if-possible  # single-node Slurm for tests/corpus/test_slurm.py (root only)
	$(PY) -m pytest -q -n 2 --durations=15 $(PYTEST_ARGS)

test-fast: $(VENV)/.dev
	$(PY) -m pytest -q -n 2 -m "not slow" $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check src tests benchmarks tools

# Rebuild the embedded sample (src/meditron/sample/) from tools/sample_generator/facts/*.yaml; byte-identical unless
# the facts or renderers changed (tests/test_sample.py checks). Retraining the tokenizer changes pinned token ids.
sample: $(VENV)/.base
	$(PY) -m tools.sample_generator

sample-tokenizer: $(VENV)/.base
	$(PY) -m tools.sample_generator.build_tokenizer

clean:
	rm -rf $(VENV) runs build src/*.egg-info

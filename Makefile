# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: a local CPU wheel exists for 2.13.0; a looser request pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(BIN)/preflight demo

lint: $(VENV)/.installed
	$(BIN)/ruff check preflight tests benchmarks
	$(BIN)/ruff format --check preflight tests benchmarks

typecheck: $(VENV)/.installed
	$(BIN)/mypy

test: $(VENV)/.installed lint typecheck
	$(BIN)/python -m pytest -q

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_audit.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

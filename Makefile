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

DEMO := .demo

# Until `preflight demo` lands: a healthy synthetic corpus passes the audit (exit 0), and a copy
# with planted corrupt files fails it (exit 1, checked below).
demo: $(VENV)/.installed
	$(BIN)/preflight synth $(DEMO)/corpus --force
	$(BIN)/preflight audit $(DEMO)/corpus --json $(DEMO)/audit.json
	$(BIN)/preflight synth $(DEMO)/broken --force --defect corrupt_files
	$(BIN)/preflight audit $(DEMO)/broken --json $(DEMO)/broken.json; \
	  code=$$?; echo "audit of the broken copy exited $$code"; test $$code -eq 1

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
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

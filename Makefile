# Two entry points do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# torch first, pinned: a local CPU wheel exists for 2.13.0; a looser request pulls a CUDA build.
TORCH := torch==2.13.0

.PHONY: demo test lint typecheck bench clean ci-reports

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

DEMO := .demo

# The main job on built-in synthetic data: audit (passes), a broken copy (the gate says no),
# a gated training on the CPU (about two minutes), and one HTML report.
demo: $(VENV)/.installed
	$(BIN)/preflight demo $(DEMO)

lint: $(VENV)/.installed
	$(BIN)/ruff check preflight tests benchmarks
	$(BIN)/ruff format --check preflight tests benchmarks

typecheck: $(VENV)/.installed
	$(BIN)/mypy

test: $(VENV)/.installed lint typecheck
	$(BIN)/python -m pytest -q

# Validation reports kept by CI: a healthy synthetic corpus must pass the gate (exit 0) and one
# whose dev split has no seizure must fail it (exit 1). Reports land in reports-out/.
REPORTS := reports-out
ci-reports: $(VENV)/.installed
	rm -rf $(REPORTS) && mkdir -p $(REPORTS)
	$(BIN)/preflight synth $(REPORTS)/healthy-corpus --seed 1 > /dev/null
	$(BIN)/preflight audit $(REPORTS)/healthy-corpus -q --json $(REPORTS)/healthy.json \
	  --junit $(REPORTS)/healthy.xml --markdown $(REPORTS)/healthy.md --html $(REPORTS)/healthy.html
	$(BIN)/preflight synth $(REPORTS)/broken-corpus --seed 1 --defect no_dev_positives > /dev/null
	$(BIN)/preflight audit $(REPORTS)/broken-corpus -q --json $(REPORTS)/broken.json \
	  --junit $(REPORTS)/broken.xml --markdown $(REPORTS)/broken.md --html $(REPORTS)/broken.html; \
	  code=$$?; echo "audit of the broken corpus exited $$code (expected 1)"; test $$code -eq 1
	rm -rf $(REPORTS)/healthy-corpus $(REPORTS)/broken-corpus

$(VENV)/.bench: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@

bench: $(VENV)/.bench
	$(BIN)/python benchmarks/bench_peers.py
	$(BIN)/python benchmarks/bench_audit.py
	$(BIN)/python benchmarks/bench_parquet.py

clean:
	rm -rf $(VENV) $(DEMO) $(REPORTS) .pytest_cache .mypy_cache .ruff_cache build *.egg-info

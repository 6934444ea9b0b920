# Developer entry points. `make test` is the one command that installs everything and runs the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --dist loadgroup

lint: $(BIN)/.installed
	$(BIN)/ruff check archiver tests bench
	$(BIN)/ruff format --check archiver tests bench
	$(BIN)/mypy

bench: $(BIN)/.installed
	$(BIN)/python bench/run_all.py --out BENCHMARKS.md

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache

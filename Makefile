# The two set-up commands: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BIN)/activate

$(VENV)/.test-deps: $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.test-deps

run: $(BIN)/activate
	$(BIN)/python examples/word_count.py

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

test: $(VENV)/.test-deps lint
	$(BIN)/python -m pytest -q

bench: $(BIN)/activate
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

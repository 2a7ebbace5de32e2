# Every target creates and uses .venv on its own; kubectl on PATH is the one precondition.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test bench lint config

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed

up: $(VENV)/.installed
	$(BIN)/python -m edgemc.cmd up $(ARGS)

test: $(VENV)/.installed-test
	@command -v kubectl >/dev/null || { echo "kubectl (v1.32) must be on PATH for the test suite"; exit 1; }
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m bench $(ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

config: $(VENV)/.installed
	$(BIN)/python -m hack.gen_config

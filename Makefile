# Every target creates and uses .venv on its own; kubectl on PATH is the one precondition.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: up test bench lint config image lock

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.installed

# `make up` plays the seed's example scenario; `make up ARGS=--controllers=none` leaves the
# controllers and the scenario to you (see README.md).
up: $(VENV)/.installed
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m edgemc.cmd up $(or $(ARGS),--example)

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

IMAGE ?= ghcr.io/edgemc/edgemc:latest
image:
	@command -v docker >/dev/null || { echo "make image: docker is not installed here; build the Dockerfile where Docker runs"; exit 1; }
	@docker info >/dev/null 2>&1 || { echo "make image: the Docker daemon is not reachable here; build the Dockerfile where Docker runs"; exit 1; }
	docker build -t $(IMAGE) .

# Re-pin the image's runtime dependencies (requirements.lock) from a clean install.
lock: | $(BIN)/python
	rm -rf $(VENV)-lock && $(PY) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet .
	{ echo "# Pinned runtime dependencies of the edgemc image (Dockerfile), from a clean install of"; \
	  echo "# this project on Python 3.11; regenerate with: make lock"; \
	  $(VENV)-lock/bin/pip freeze --exclude edgemc; } > requirements.lock
	rm -rf $(VENV)-lock

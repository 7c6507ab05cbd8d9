# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
# Installed before the package so that no resolver ever picks a multi-GB CUDA build by accident.
# Override for a GPU machine, e.g. make test TORCH_SPEC="torch==2.13.0 --index-url <your CUDA index>".
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.text2sign-installed
DEMO_TEXT ?= hello

.PHONY: demo test test-all bench docs lint install clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install $(TORCH_SPEC)
	$(BIN)/pip install -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	mkdir -p out
	$(BIN)/text2sign generate "$(DEMO_TEXT)" --spoken en --signed ase -o out/hello.pose --gif out/hello.gif --mp4 out/hello.mp4
	$(BIN)/text2sign info out/hello.pose

test: $(STAMP)
	$(BIN)/pytest -q

test-all: $(STAMP)
	$(BIN)/pytest -q -m "slow or not slow"

bench: $(STAMP)
	benchmarks/bench_models.sh
	$(BIN)/python benchmarks/cold_start.py --runs 10
	benchmarks/evaluate_fs_words.sh

# The guides and API reference into site/ (the build reads nothing from the network); --strict: a
# broken link or anchor, or a documented name that no longer exists, fails it.
DOCS_STAMP := $(VENV)/.text2sign-docs-installed
$(DOCS_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/pip install -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

# ruff's checks and its formatting, with the rules and line limit of pyproject.toml; nothing is rewritten.
DEV_STAMP := $(VENV)/.text2sign-dev-installed
$(DEV_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/pip install -e ".[dev]"
	touch $(DEV_STAMP)

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf out build dist src/*.egg-info .pytest_cache

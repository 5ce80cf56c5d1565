# The two commands of the README, and a few more for developers.
# Everything installs into .venv from this project's own files.

VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint bench

run: $(STAMP)  ## Set up the embedded database and show the shipped protocols
	$(BIN)/maillage db upgrade
	$(BIN)/maillage protocols list

test: $(STAMP)  ## Run the whole test suite (SQLite and PostgreSQL)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python bench/transitions.py

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

# The two commands of the README, and a few more for developers.
# Everything installs into .venv from this project's own files.

VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` listens: `make run PORT=5302 HOST=0.0.0.0`.
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed
# The compiled catalogs a checkout runs with (the wheel's build compiles its own: build_steps.py).
CATALOGS := $(patsubst %.po,%.mo,$(wildcard service/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint audit bench messages catalogs

run: $(STAMP) catalogs  ## Start Maillage with the demo network on the embedded SQLite database
	$(BIN)/maillage demo
	$(BIN)/maillage run --host $(HOST) --port $(PORT)

test: $(STAMP) catalogs  ## Run the whole test suite (SQLite and PostgreSQL), with its progress and slowest tests
	$(BIN)/pytest -n 2 --durations=15

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

audit: $(STAMP)  ## Security checks: bandit (high severity fails) and known vulnerabilities in dependencies
	$(BIN)/bandit --quiet --recursive --severity-level high service workflows worker
	$(BIN)/python .ci/audit_dependencies.py

bench: $(STAMP)  ## Measure against baselines taken in the same run (needs PostgreSQL and Redis)
	$(BIN)/python bench/transitions.py
	$(BIN)/python bench/sweep.py
	$(BIN)/python bench/notifications.py
	$(BIN)/python bench/reports.py
	if command -v wrk >/dev/null; then $(BIN)/python bench/api.py; else echo "bench/api.py needs wrk"; fi

$(STAMP): pyproject.toml
	@echo "Installing Maillage and its development tools into $(VENV) (a few minutes the first time)..."
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

catalogs: $(CATALOGS)  ## Compile the translation catalogs (.po into .mo), once they changed

%.mo: %.po $(STAMP)
	$(BIN)/pybabel compile --statistics -i $< -o $@

messages: $(STAMP)  ## Extract the strings to translate and merge them into the French catalog
	$(BIN)/pybabel extract -F babel.cfg -k _l -o service/translations/messages.pot --no-location --sort-output .
	if [ -f service/translations/fr/LC_MESSAGES/messages.po ]; then \
	  $(BIN)/pybabel update -i service/translations/messages.pot -d service/translations -l fr --no-fuzzy-matching --ignore-obsolete; \
	else \
	  $(BIN)/pybabel init -i service/translations/messages.pot -d service/translations -l fr; \
	fi

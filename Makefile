# The two commands of the README, and a few more for developers.
# Everything installs into .venv from this project's own files.

VENV ?= .venv
BIN := $(VENV)/bin
# Where `make run` listens: `make run PORT=5302 HOST=0.0.0.0`.
HOST ?= 127.0.0.1
PORT ?= 5000
STAMP := $(VENV)/.installed
# The locks: what the image installs (runtime and gunicorn), and what CI and developers install.
RUNTIME_LOCK := requirements/maillage.txt
DEV_LOCK := requirements/dev.txt
UV_COMPILE := $(BIN)/uv pip compile pyproject.toml --quiet --universal --python-version 3.11 --generate-hashes
LOCK_FLAGS ?=
# The compiled catalogs a checkout runs with (the wheel's build compiles its own: build_steps.py).
CATALOGS := $(patsubst %.po,%.mo,$(wildcard service/translations/*/LC_MESSAGES/messages.po))

.PHONY: run test lint audit bench messages catalogs lock

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
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/reports.py
	$(BIN)/python bench/pages.py
	$(BIN)/python bench/import.py
	$(BIN)/python bench/footprint.py
	$(BIN)/python bench/password_reset.py
	if command -v wrk >/dev/null; then $(BIN)/python bench/api.py; else echo "bench/api.py needs wrk"; fi

# The exact versions of requirements/dev.txt (hashes checked), then Maillage itself without its
# dependencies: what CI tests is what the lock says. pip check fails when the lock misses one.
$(STAMP): pyproject.toml $(DEV_LOCK)
	@echo "Installing Maillage and its development tools into $(VENV) (a few minutes the first time)..."
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools
	$(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m pip check
	touch $@

# Writes both locks from pyproject.toml: one resolution for every platform and Python from 3.11 on
# (CI's 3.11, the image's 3.12, a developer's Mac). Versions already locked are kept unless
# pyproject.toml excludes them; `make lock LOCK_FLAGS=--upgrade` takes the newest releases.
# Needs only uv (from the old lock): the install itself may fail until the lock is updated.
lock:  ## Update requirements/ (the locked versions CI and the image install) after a change to pyproject.toml
	@test -x $(BIN)/uv || { python3 -m venv $(VENV) && $(BIN)/python -m pip install --quiet --require-hashes -r $(DEV_LOCK); }
	$(UV_COMPILE) $(LOCK_FLAGS) --extra server -o $(RUNTIME_LOCK)
	$(UV_COMPILE) $(LOCK_FLAGS) --all-extras -o $(DEV_LOCK)

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

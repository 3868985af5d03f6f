# Sportello: `make demo` to try it, `make test` to check it. See README.md.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# The first Python that is 3.12 or newer (Django 6 needs it); override with `make PYTHON=...`.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then \
	echo $$p; break; fi; done)
# The suite runs on two processes (pytest-xdist), each with its own test database.
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint types pytest messages lock clean help bench

help:
	@echo "make demo   - install, migrate, load demo data, serve http://127.0.0.1:$${PORT:-8000}/"
	@echo "make test   - the whole suite: ruff, mypy, migrations check, pytest (unit, integration, browser)"
	@echo "make messages - extract and compile translations (needs gettext)"
	@echo "make bench  - benchmarks: the billing run at 10,000 and 100,000 services (SQLite; PostgreSQL too if DATABASE_URL names one), invoice PDFs"
	@echo "make lock   - re-resolve requirements/*.txt from pyproject.toml"

$(VENV)/.python:
	@if [ -z "$(PYTHON)" ]; then \
		echo "make: Python 3.12 or newer is needed, and none of python3.13, python3.12, python3 is." >&2; \
		echo "      Install it (e.g. 'pyenv install 3.13' or your system's python3.13 package)," >&2; \
		echo "      or name one: make PYTHON=/path/to/python3.13 demo" >&2; \
		exit 1; \
	fi
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -c 'import sys; print(sys.version)' > $@

$(VENV)/.base: $(VENV)/.python requirements/base.txt pyproject.toml
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/base.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base requirements/dev.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.txt
	touch $@

demo: $(VENV)/.base
	SPORTELLO_DEMO=true $(BIN)/sportello demo

test: lint types pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check sportello bench
	$(BIN)/ruff format --check sportello bench
	DEBUG=true SPORTELLO_DATA_DIR=$$(mktemp -d) $(BIN)/sportello makemigrations --check --dry-run

types: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev
	$(BIN)/pytest $(PYTEST_ARGS)

# Each benchmark prints one JSON line; they build their own throw-away databases.
BENCH_SERVICES ?= 10000 100000
BENCH_PDF_COUNT ?= 200
bench: $(VENV)/.dev
	@for n in $(BENCH_SERVICES); do \
		env -u DATABASE_URL DEBUG=true $(BIN)/sportello bench billing-run --services $$n --database sqlite || exit 1; \
	done
	@case "$${DATABASE_URL:-}" in postgres*) \
		for n in $(BENCH_SERVICES); do \
			DEBUG=true $(BIN)/sportello bench billing-run --services $$n --database postgresql || exit 1; \
		done;; \
	esac
	@env -u DATABASE_URL DEBUG=true $(BIN)/sportello bench invoice-pdf --count $(BENCH_PDF_COUNT)

messages: $(VENV)/.dev
	cd sportello && DEBUG=true ../$(BIN)/sportello makemessages -l es -l pt_BR -l it --ignore='*/tests/*' --no-obsolete
	cd sportello && DEBUG=true ../$(BIN)/sportello compilemessages

lock: $(VENV)/.dev
	$(BIN)/uv pip compile pyproject.toml --python-version 3.12 --generate-hashes --index-url https://pypi.org/simple \
		--custom-compile-command "make lock" -q -o requirements/base.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.12 --generate-hashes \
		--index-url https://pypi.org/simple --custom-compile-command "make lock" -q -o requirements/dev.txt

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache test-artifacts

# Pitlane: `make run` serves the platform, `make test` runs the whole test suite.
# Both create .venv on first use and reuse it afterwards.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=

.PHONY: run test install install-dev chromium bench lint clean help

help:
	@echo "make run    - install, migrate, start Redis (embedded), a Celery worker and Daphne on :8000"
	@echo "make test   - install the test extras, run the lint/type gate and the whole suite"
	@echo "make lint   - ruff and mypy only"
	@echo "make bench  - run the benchmark scripts in bench/"

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade "pip>=24" "setuptools>=69" wheel

$(VENV)/.installed-worker: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[worker]"
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e ".[dev]"
	@touch $@ $(VENV)/.installed-worker

install: $(VENV)/.installed-worker
install-dev: $(VENV)/.installed-dev

run: install
	$(PY) -m webapp.run_local

# Browser tests drive Debian's chromium; install it when we can (root with apt). Without it they skip
# with a message, except under CI (CI set), where they fail.
chromium:
	@if [ ! -x "$(CHROMIUM)" ] && [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
		echo "Installing Debian's chromium for the browser tests..."; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "Could not install chromium: browser tests will skip (fail under CI)."; \
	fi

# The lint and type gate first: ruff (lint, import order, pyupgrade, bugbear, unused noqa) and mypy.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: install-dev chromium lint
	$(PY) -m webapp.embedded_redis -- $(PY) -m pytest $(PYTEST_ARGS)

bench: install-dev
	$(PY) bench/simulator.py
	$(PY) bench/agent_latency.py
	$(PY) bench/bc_training.py --quick

clean:
	rm -rf $(VENV) var .pytest_cache

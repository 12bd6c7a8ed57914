# The two commands a newcomer needs:  `make serve`  and  `make test`.
SHELL := /bin/bash
VENV  ?= .venv
PY    := $(VENV)/bin/python
# Lambda runs Python 3.13; use it when this machine has it (pyenv or PATH), else python3.
PYTHON ?= $(shell for p in "$$(PYENV_VERSION=3.13.0 pyenv which python 2>/dev/null)" python3.13 python3; do \
	  [ -n "$$p" ] && "$$p" -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: setup serve test lint browser compile check validate build bench demo clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

serve: setup compile    ## start the backend on localhost:3000 (moto, virtual clock)
	$(VENV)/bin/automaps serve $(ARGS)

test: lint browser      ## the whole test suite (lint and types, unit, end to end, lint of template and machines), on every core
	$(PY) -m pytest -n auto $(ARGS)

lint: setup             ## ruff (lint and format) and mypy over the layer, the handlers and the local runtime
	$(VENV)/bin/ruff check
	$(VENV)/bin/ruff format --check
	$(VENV)/bin/mypy

# Debian's Chromium for the console's browser tests (tests/console, Playwright drives /usr/bin/chromium):
# installed with apt-get when missing and apt-get is there (as root, or through sudo); else those tests skip.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@if [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the console's browser tests (apt-get)"; \
	  { $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } \
	    >/dev/null || echo "chromium could not be installed: tests/console's browser tests will skip"; \
	fi

compile: setup          ## maps/*.yaml -> statemachines/*.asl.json
	$(VENV)/bin/automaps compile

check: setup
	$(VENV)/bin/automaps compile --check

bench: setup            ## benchmarks: transitions and invocations per step, journeys/s, cold imports
	$(PY) -m bench

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache

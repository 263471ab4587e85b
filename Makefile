# drdrill: `make demo` and `make test` set up everything they need on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: help install testbed testbed-kwok test-packages demo demo-kind test test-unit test-integration lint bench clean

help:
	@echo "make demo   - build the local test bed if needed and run scenarios/demo.yaml"
	@echo "make demo-kind - the same drill on a real kind cluster (scenarios/demo-kind.yaml; Docker)"
	@echo "make test   - build what is needed and run the whole test suite"
	@echo "make lint   - ruff, mypy --strict, the import-layer contracts, actionlint"
	@echo "make bench  - benchmarks (numbers to bench/results/)"

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "make: needs Python >= 3.11 ($(PYTHON) not found)"; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The kwok test bed (control plane, Flux, Argo CD, S3) and, for the kind tests, the kind one
# (node image, Flux images and manifest, workload images) and Argo CD's images for kind.
testbed: testbed-kwok
	bash testbed/kind/build.sh
	bash testbed/kind/argocd.sh

testbed-kwok:
	bash testbed/build.sh

# The demo drills on kwok: it needs no container engine.
demo: install testbed-kwok
	$(BIN)/python scenarios/demo/run_demo.py --report-dir reports

# The demo on a real kind cluster (Docker, the kind test bed): pods really run.
demo-kind: install testbed
	$(BIN)/python scenarios/demo/run_demo.py --kind --report-dir reports

# pytest exits 5 when it collects nothing: that is a failure of the suite, said plainly.
# Debian packages the tests use: headless Chromium renders the history page, sshd serves a
# repository over ssh.
test-packages:
	bash tools/debian-packages.sh chromium=chromium sshd=openssh-server

test: install testbed test-packages
	$(BIN)/python -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

test-unit: install
	$(BIN)/python -m pytest tests -m "not integration and not kind" $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check drdrill tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports
	PYTHON=$(BIN)/python bash tools/lint-action.sh

bench: install testbed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

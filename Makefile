# hoso: the two commands of a fresh Debian 12 machine (as root) are `make run` and `make test`.
#
#   make run     install system + Python dependencies, serve all three services in one process
#   make test    install what the tests need, start Ceph RGW and PostgreSQL, run the whole suite
#   make venv    (re)install the Python dependencies into .venv when pyproject.toml changed
#   make proto   regenerate the gRPC code in services/<svc>/v1/ from proto/
#   make lint    ruff check + ruff format --check
#   make bench   run every bench/bench_*.py
#   make docs    refresh the options table in README.md
#   make clean   remove caches and build output (make distclean also removes .venv)

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
# Prerequisites run in the order written (apt before venv before servers), even under -j.
.NOTPARALLEL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
HOSO_CEPH_DIR ?= /var/tmp/hoso-ceph
PYTEST_ARGS ?=
export HOSO_CEPH_DIR

VENV_STAMP := $(VENV)/.hoso-installed

.PHONY: help run test venv proto lint bench docs clean distclean apt-run apt-test

help:
	@sed -n 's/^#   //p' $(firstword $(MAKEFILE_LIST))

apt-run:
	bash scripts/apt-install.sh RUN

apt-test:
	bash scripts/apt-install.sh TEST

venv: $(VENV_STAMP)

# Reinstall only when the declared dependencies change.
$(VENV_STAMP): pyproject.toml setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -e '.[dev]'
	touch $@

proto: venv
	$(VENV)/bin/python scripts/gen_proto.py

run: apt-run venv
	$(VENV)/bin/hoso serve all

test: apt-test venv
	bash scripts/ensure-postgres.sh
	bash scripts/ceph-rgw.sh start
	set -a; . $(HOSO_CEPH_DIR)/s3.env; set +a; \
	export PLAYWRIGHT_CHROMIUM_EXECUTABLE=/usr/bin/chromium; \
	$(VENV)/bin/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: venv
	if [ -f $(HOSO_CEPH_DIR)/s3.env ]; then set -a; . $(HOSO_CEPH_DIR)/s3.env; set +a; fi; \
	for bench in bench/bench_*.py; do \
		echo "== $$bench"; \
		PYTHONPATH=. $(VENV)/bin/python "$$bench"; \
	done

docs: venv
	$(VENV)/bin/python scripts/update_readme_options.py

clean:
	rm -rf build dist .pytest_cache .ruff_cache .mypy_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -print0 | xargs -0 rm -rf

distclean: clean
	rm -rf $(VENV)

# pyvz: `make demo` runs the OpenVZ overview's session, `make test` the whole suite.
# Both set everything up first (Debian packages, .venv, the C monitor) and are idempotent.

PYTHON     ?= /usr/bin/python3
VENV       := .venv
VPY        := $(VENV)/bin/python
MONITOR    := pyvz/libexec/pyvz-monitor
PREFIX     ?= /opt/pyvz
BINDIR     ?= /usr/local/sbin
DEMO_ROOT  ?= /var/lib/pyvz-demo
PYTEST_ARGS ?=

.PHONY: all setup deps venv monitor demo test lint typecheck unit install uninstall bench bench-deps bench-quick clean

all: setup

setup: deps venv monitor

deps:
	@sh scripts/setup-deps.sh

$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

venv: $(VENV)/.stamp
	@$(VPY) -m compileall -q pyvz >/dev/null

monitor: $(MONITOR)

$(MONITOR): csrc/pyvz-monitor.c
	@mkdir -p pyvz/libexec
	cc -O2 -Wall -Wextra -Werror -o $@ csrc/pyvz-monitor.c

demo: setup
	@VZ_ROOT=$(DEMO_ROOT) PATH=$(CURDIR)/$(VENV)/bin:$$PATH sh scripts/demo.sh

lint: venv
	$(VENV)/bin/ruff check pyvz tests bench

typecheck: venv
	$(VENV)/bin/mypy

test: setup lint typecheck
	$(VENV)/bin/pytest $(PYTEST_ARGS)

install: setup
	sh scripts/install.sh "$(PREFIX)" "$(BINDIR)" "$(PYTHON)"

uninstall:
	sh scripts/install.sh --uninstall "$(PREFIX)" "$(BINDIR)"

# bench (issue 6): LXC to compare with (lxc-templates: its Debian config), matplotlib for the
# plot (the "bench" extra); then the run itself, see bench/README.md
BENCH_PKGS := lxc lxc-templates

$(VENV)/.bench-stamp: $(VENV)/.stamp pyproject.toml
	$(VPY) -m pip install -q -e '.[test,bench]' --config-settings editable_mode=compat
	touch $@

bench-deps: setup $(VENV)/.bench-stamp
	@sh scripts/setup-deps.sh $(BENCH_PKGS)

bench: bench-deps
	$(VPY) bench/run.py

bench-quick: bench-deps
	$(VPY) bench/run.py --quick

clean:
	rm -rf $(VENV) $(MONITOR) build *.egg-info .mypy_cache .pytest_cache .ruff_cache

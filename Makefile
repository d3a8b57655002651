# The kexue book. Two commands on a fresh machine (Python 3.11 and make):
#   make book   create .venv, install the pinned packages and the library, fetch the web assets, build the site
#   make test   the same venv (created if missing), the linter, then every test: library, chapters (nbval),
#               built site (browser)
# Every target is idempotent: a second run reuses the venv, the assets and the execution cache.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSETS := .web_assets
SITE   := _build/html/index.html
KERNEL := $(VENV)/etc/ipython/ipython_kernel_config.py

.PHONY: book test lint format timings venv assets claims benchmark clean distclean help python-version

help:
	@echo "make book       build the site into _build/html (offline-ready)"
	@echo "make test       run library tests, every chapter notebook and the browser test"
	@echo "make lint       ruff check + ruff format --check (library, tests, benchmarks, notebooks)"
	@echo "make format     ruff format + ruff check --fix"
	@echo "make timings    time every chapter as the build runs it (benchmarks/chapters.py)"
	@echo "make benchmark  time the attention kernels (benchmarks/attention.py)"
	@echo "make clean      remove the built site; make distclean also removes .venv and the assets"

# The pins need Python >= 3.11: say so before pip fails on a wheel.
python-version:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "The kexue book needs Python >= 3.11; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)." >&2; \
	  echo "Run with a newer one, e.g.: make PYTHON=python3.11 test" >&2; exit 1; }

$(STAMP): requirements.txt pyproject.toml | python-version
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

# Kernels started from the venv read this (kexue_lib/_book/ipython_kernel_config.py says why).
$(KERNEL): kexue_lib/_book/ipython_kernel_config.py | $(STAMP)
	install -D -m 644 $< $@

venv: $(STAMP) $(KERNEL)

# MathJax 3 and the widget HTML manager, from the npm registry, pinned and integrity-checked (kexue_lib/_book/assets.py).
$(ASSETS)/VERSIONS.json: kexue_lib/_book/assets.py | $(STAMP)
	$(PY) -m kexue_lib._book assets $(ASSETS)

assets: $(ASSETS)/VERSIONS.json

claims: $(STAMP)
	$(PY) -m kexue_lib._book claims .

book: $(STAMP) $(KERNEL) $(ASSETS)/VERSIONS.json
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Built site: $(abspath $(SITE))"

test: $(STAMP) $(KERNEL) lint
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

timings: $(STAMP) $(KERNEL)
	$(PY) benchmarks/chapters.py

benchmark: $(STAMP)
	$(PY) benchmarks/attention.py

clean:
	rm -rf _build book/claims.md

distclean: clean
	rm -rf $(VENV) $(ASSETS)

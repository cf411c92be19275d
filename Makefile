# One command sets up and runs the seed tutorial, one sets up and runs the tests, one builds the docs site (see README).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP := $(VENV)/.installed

.PHONY: setup tutorial test docs readme bench

setup: $(SETUP)

# torch==2.13.0 first: it is the CPU build on these machines; any other spec pulls a CUDA build of several GB.
$(SETUP): setup.py settings.ini
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

tutorial: $(SETUP)
	cd nbs/tutorials && ../../$(VENV)/bin/jupyter nbconvert --to script --stdout tune_model.ipynb 2>/dev/null | ../../$(PY) -

test: $(SETUP)
	$(PY) -m pytest

# The site without quarto: every notebook executed, nbdev's processing, nbconvert's HTML; also rewrites README.md.
docs: $(SETUP)
	$(PY) tools/docs.py

readme: $(SETUP)
	$(PY) tools/readme.py

# The baseline lives in its own environment: spikeometric 1.0.3 pins numpy<1.24, so it is installed --no-deps.
bench: $(SETUP)
	python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet torch==2.13.0
	.venv-bench/bin/python -m pip install --quiet "torch_geometric>=2.8,<2.9" tqdm numpy
	.venv-bench/bin/python -m pip install --quiet --no-deps spikeometric==1.0.3
	$(PY) -m spikeometric_nb.benchmark seed --baseline-python .venv-bench/bin/python

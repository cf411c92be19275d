# One command sets up and runs the seed tutorial, one sets up and runs the tests, one builds the docs site (see README).
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
SETUP := $(VENV)/.installed

.PHONY: setup tutorial test suite-times docs readme bench bench-envs bench-inference

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

# Two pytest-xdist workers (pytest.ini); each notebook is executed once, and the docs test renders those executions.
test: $(SETUP)
	$(PY) -m pytest

# The same run, timed part by part into nbs/benchmarks/suite_times.json as the run LABEL (the benchmark page's table).
# Measure on a quiet machine: nothing else running.
LABEL ?= after
suite-times: $(SETUP)
	SPIKEOMETRIC_NB_SUITE_TIMES=nbs/benchmarks/suite_times.json SPIKEOMETRIC_NB_SUITE_LABEL="$(LABEL)" $(PY) -m pytest

# The site without quarto: every notebook executed (here nothing has been executed yet), nbdev's processing, nbconvert's
# HTML; also rewrites README.md. (The docs test builds it from the notebooks the test run executed: --from-executed.)
docs: $(SETUP)
	$(PY) tools/docs.py

readme: $(SETUP)
	$(PY) tools/readme.py

# The baseline and the reference simulators live in their own environments, so that none constrains ours:
# spikeometric 1.0.3 pins numpy<1.24, so it is installed --no-deps; brian2 needs numpy<2.4; NEST is its own wheel;
# nemos 0.2.8 (the inference benchmark's GLM, run by tools/nemos_fit.py) brings its own jax.
BENCH_ENV := .venv-bench/.installed

$(BENCH_ENV):
	python3 -m venv .venv-bench
	.venv-bench/bin/python -m pip install --quiet --upgrade pip
	.venv-bench/bin/python -m pip install --quiet torch==2.13.0
	.venv-bench/bin/python -m pip install --quiet "torch_geometric>=2.8,<2.9" tqdm numpy
	.venv-bench/bin/python -m pip install --quiet --no-deps spikeometric==1.0.3
	touch $@

bench-envs: $(SETUP) $(BENCH_ENV)
	tools/make_reference_envs.sh brian2 nest nemos

# Every section (about 25 minutes on a quiet 2-core CPU, most of it 1.0.3's seed tutorial), into nbs/benchmarks/results.json, which nbs/benchmarks.ipynb shows.
bench: bench-envs
	$(PY) -m spikeometric_nb.benchmark all --baseline-python .venv-bench/bin/python \
		--brian2-python .venv-brian2/bin/python --nest-python .venv-nest/bin/python --nemos-python .venv-nemos/bin/python \
		--out nbs/benchmarks/results.json

# The inference sections alone (nemos' environment only): (i) our GLM fit against nemos' PopulationGLM on 100 neurons
# (about 2 minutes), then the 1,000-neuron, 10^6-step fit, ours alone (12 minutes under load).
bench-inference: $(SETUP)
	tools/make_reference_envs.sh nemos
	$(PY) -m spikeometric_nb.benchmark inference --nemos-python .venv-nemos/bin/python --out nbs/benchmarks/results.json
	$(PY) -m spikeometric_nb.benchmark inference_large --out nbs/benchmarks/results.json

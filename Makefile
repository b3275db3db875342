# `make train` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-realdata bench bench-target sweep reproduce report tensorboard lint clean

install: $(STAMP)

# torch and torchvision first, pinned together: a lone torchvision would pull another torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev,sweep,slurm,hpo]'
	touch $(STAMP)

train: install
	$(BIN)/python -m seqnets.train $(ARGS)

# The suite without the real-data runs; CI runs both. One pytest worker per core, up to 4
# (most tests start a Python of their own and wait on its imports), each with one torch
# thread so the workers do not fight over the cores (2 workers took 4.9 minutes here, one
# alone 8.3).
test: install
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -n auto --maxprocesses 4 -m "not realdata" $(ARGS)

# Full data sets: the shipped MNIST and Debian's Fashion-MNIST (skipped where it is missing).
test-realdata: install
	$(BIN)/python -m pytest -m realdata $(ARGS)

# Seconds per epoch against a bare loop and the usual DataLoader loop, side by side in one run;
# writes benchmarks/RESULTS.md. Needs Debian's dataset-fashion-mnist. Not part of make test.
bench: install
	$(BIN)/python benchmarks/bench.py $(ARGS)

# Training seconds to each drawn task's target: the plain command against the preset it
# replaced, side by side; writes benchmarks/TIME_TO_TARGET.md. Not part of make test.
bench-target: install
	$(BIN)/python benchmarks/time_to_target.py $(ARGS)

sweep: install
	$(BIN)/python -m seqnets.train -m experiment=compare_cells $(ARGS)

# The assignment's experiments at its own settings and ours beside them, then one report of
# all: outputs/reproduce/report/report.md. A failed job is listed in the report, not fatal.
REPRODUCE := outputs/reproduce
reproduce: install
	-$(BIN)/python -m seqnets.train experiment=reference_mnist hydra.sweep.dir=$(REPRODUCE)/reference_mnist
	-$(BIN)/python -m seqnets.train -m task=mnist model=rnn,lstm,gru,birnn,bilstm hydra.sweep.dir=$(REPRODUCE)/mnist
	-$(BIN)/python -m seqnets.train -m experiment=compare_cells hydra.sweep.dir=$(REPRODUCE)/compare_cells
	-$(BIN)/python -m seqnets.train experiment=recall_hidden hydra.sweep.dir=$(REPRODUCE)/recall_hidden
	-$(BIN)/python -m seqnets.train experiment=adder_loss hydra.sweep.dir=$(REPRODUCE)/adder_loss
	$(BIN)/python -m seqnets.report $(REPRODUCE)

# A report of any runs: make report RUNS="outputs/multirun/<date>/<time>"
report: install
	$(BIN)/python -m seqnets.report $(RUNS)

tensorboard: install
	$(BIN)/tensorboard --logdir outputs

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf outputs/runs outputs/multirun outputs/reproduce lightning_logs .pytest_cache .ruff_cache

# `make train` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install train test test-fast sweep tensorboard lint clean

install: $(STAMP)

# torch and torchvision first, pinned together: a lone torchvision would pull another torch.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

train: install
	$(BIN)/python -m seqnets.train $(ARGS)

test: install
	$(BIN)/python -m pytest $(ARGS)

test-fast: install
	$(BIN)/python -m pytest -m "not realdata" $(ARGS)

sweep: install
	$(BIN)/python -m seqnets.train -m experiment=compare_cells $(ARGS)

tensorboard: install
	$(BIN)/tensorboard --logdir outputs

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf outputs/runs outputs/multirun lightning_logs .pytest_cache .ruff_cache

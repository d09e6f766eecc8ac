# Two commands on a fresh machine: `make run` (score the bundled synthetic city under
# the baseline scheme, then run the default batch of scenario notebooks) and `make test`. Both create or reuse
# the virtualenv in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.perfsim-installed

.PHONY: run test bench clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/perfsim score params/baseline.yaml --out outputs/baseline_scores.csv
	$(BIN)/perfsim batch --out outputs --name default

test: $(STAMP)
	$(BIN)/python -m pytest -q tests --nbval-lax notebooks

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_uncertainty.py
	$(BIN)/python benchmarks/bench_batch.py

clean-venv:
	rm -rf $(VENV)

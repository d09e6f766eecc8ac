# Two commands on a fresh machine: `make run` (score the bundled synthetic city under
# the baseline scheme, build a reference table of 2,000 synthetic worlds and the verdicts
# over the worlds the city's data allow, then run the default batch of scenario notebooks)
# and `make test`. Both create or reuse
# the virtualenv in .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.perfsim-installed

.PHONY: run test test-slow docs bench screenshots mutation clean-venv

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/perfsim score params/baseline.yaml --out outputs/baseline_scores.csv
	$(BIN)/perfsim reference --worlds 2000 --out outputs/reference
	$(BIN)/perfsim calibrate --data data/synthetic --reference outputs/reference --out outputs/verdicts
	$(BIN)/perfsim batch --out outputs --name default

# the suite without the tests marked slow (about 10 minutes on 2 cores); test-slow runs those (about 7)
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" tests --nbval-lax notebooks

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow tests

# the documentation site (MkDocs Material, strict) into site/; open site/index.html from disk
docs: $(STAMP)
	$(BIN)/python tools/build_docs.py --out site

# PNG renderings of outputs/default (after `make run`) for review; needs Debian's chromium and
# fonts-noto-cjk (apt-get install chromium fonts-noto-cjk)
screenshots: $(STAMP)
	$(BIN)/python tools/screenshots.py outputs/default --out outputs/screenshots

# mutation testing (see [tool.mutmut] in pyproject.toml and README "Testing"): every mutant
# of the mutated modules takes hours on 2 cores; MUTANTS picks some by name, e.g.
#   make mutation MUTANTS='perfsim.core.files.* perfsim.analyses.efficiency.*'
# prints the survivors; `mutmut show NAME` shows one, tools/mutation_score.py the score per module
MUTANTS ?=
mutation: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[mutation]"
	$(BIN)/mutmut run --max-children 2 $(MUTANTS) || true
	$(BIN)/mutmut results
	$(BIN)/python tools/mutation_score.py

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python benchmarks/bench_workbook.py
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_uncertainty.py
	$(BIN)/python benchmarks/bench_ensemble.py
	$(BIN)/python benchmarks/bench_batch.py

clean-venv:
	rm -rf $(VENV)

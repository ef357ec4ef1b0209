# audiokit: `make run` trains the flagship recipe end to end, `make test` runs the default tests.
# Both create the virtual environment (.venv) first if it is missing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint env clean

env: $(STAMP)

$(STAMP): setup.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

# The flagship recipe: offline compressor pairs -> micro-TCN -> test ESR vs identity -> demo.
run: $(STAMP)
	cd egs/fx/compressor && PATH="$(BIN):$$PATH" ./run.sh

test: $(STAMP)
	$(BIN)/pytest -q

test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check audiokit tests benchmarks

clean:
	rm -rf egs/*/*/exp egs/*/*/data egs/*/*/corpus

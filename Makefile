# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: setup run test lint unit bench reliability soak clean-data

$(STAMP): pyproject.toml setup.py src/tradestack/_native/_speedups.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

# The main job: paper trading against the built-in simulated exchange, on the embedded defaults.
run: setup
	$(BIN)/tradestack paper $(ARGS)

# The whole suite: tools the tests need, static checks, then every test.
test: setup
	bash scripts/test-deps.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest

unit: setup
	$(BIN)/pytest tests/unit

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy && $(BIN)/lint-imports

# Figures, not pass/fail: writes benchmarks/results/*.json that the README quotes.
bench: setup
	$(BIN)/python -m pip install --quiet -e ".[dev,bench]"
	$(BIN)/python -m benchmarks.run_all

# The reliability battery at full counts (the short cut runs in `make test`): reports/reliability.json
reliability: setup
	$(BIN)/python scripts/reliability.py $(ARGS)
	$(BIN)/python scripts/ambiguity_storm.py
	$(BIN)/python scripts/crash_battery.py
	$(BIN)/python scripts/kill_switch_latency.py
	$(BIN)/python scripts/fuzz_decoders.py

# The soak (issue 4, item 7): paper trading under toxics and kill -9s for DURATION seconds: reports/soak.json
DURATION ?= 1200
soak: setup
	$(BIN)/python scripts/soak.py --duration $(DURATION) $(ARGS)

clean-data:
	rm -rf tradestack-data

# The two commands a newcomer runs: `make run` and `make test`. Both set everything up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY := true
# Pytest workers: two on the 2-core CI machine. Screen tests all go to one worker (they share fixed
# snapshot homes), every other module stays whole on one worker; see tests/conftest.py.
TEST_WORKERS ?= 2

.PHONY: run test lint bench clean system-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Reinstall whenever pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

# Programs the tests run for real: Prometheus (Debian package) and rsvg for snapshot reviews.
system-deps:
	@if ! command -v prometheus >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing prometheus (apt-get)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
		else echo "prometheus not found: install it (sudo apt-get install prometheus) for the metrics tests"; fi; \
	fi

## run: set up and start the console on its embedded defaults
run: $(VENV)/.installed-run
	$(BIN)/mlconsole

## test: set up, lint, and run the whole suite
test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

lint: $(VENV)/.installed-test
	$(BIN)/python -m ruff check .

# Every benchmark in turn; bench/RESULTS.md gets one table of their figures and ratios.
bench: $(VENV)/.installed-test
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) .pytest_cache

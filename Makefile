PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

# A CPython 3.13+ for the subinterpreter tests: python3.13 on PATH, or the
# newest pyenv install; empty when the machine has none (the tests then skip).
PY313 ?= $(shell sh tools/find-python313)
VENV313 := .venv313

.PHONY: venv lint test test-ray test-interpreters demo bench format clean

venv: $(VENV)/.stamp

# Rebuilt whenever pyproject.toml changes.
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: venv lint
	$(BIN)/python -m pytest -q --ignore=tests/ray
	$(MAKE) --no-print-directory test-ray
	$(MAKE) --no-print-directory test-interpreters

# Ray phones home by default: its tests run in a loopback-only network
# namespace when the machine allows one (root), on top of the environment
# fence in tests/ray/conftest.py.
test-ray: venv
	@if unshare -n true 2>/dev/null; then \
		unshare -n sh -c 'ip link set lo up && exec $(BIN)/python -m pytest -q tests/ray'; \
	else \
		echo "note: no unshare -n here; tests/ray run with the environment fence only"; \
		$(BIN)/python -m pytest -q tests/ray; \
	fi

# The subinterpreter executors need CPython 3.13+: run their tests in a second
# virtualenv when such a Python exists, and say so plainly when it does not.
test-interpreters:
	@if [ -z "$(PY313)" ]; then \
		echo "SKIPPED tests/interpreters: no CPython 3.13+ found (python3.13 not on PATH, none under ~/.pyenv/versions)"; \
	else \
		$(MAKE) --no-print-directory $(VENV313)/.stamp PY313="$(PY313)" && \
		$(VENV313)/bin/python -m pytest -q tests/interpreters; \
	fi

$(VENV313)/.stamp: pyproject.toml
	$(PY313) -m venv $(VENV313)
	$(VENV313)/bin/python -m pip install --quiet --upgrade pip
	$(VENV313)/bin/python -m pip install --quiet -e . pytest pytest-timeout hypothesis
	touch $@

demo: venv
	$(BIN)/minigun demo

bench: venv
	$(BIN)/python -m benchmarks

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(VENV313) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

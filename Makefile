PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: venv lint test demo bench format clean

venv: $(VENV)/.stamp

# Rebuilt whenever pyproject.toml changes.
$(VENV)/.stamp: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: venv lint
	$(BIN)/python -m pytest -q

demo: venv
	$(BIN)/python examples/quickstart.py

bench: venv
	$(BIN)/python -m benchmarks

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

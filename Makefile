# The two commands: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
ADDR ?= 127.0.0.1:8000
# The suite runs on this many xdist workers, each with its own test database (0: all in this process).
TEST_WORKERS ?= 2

.PHONY: run test install install-dev lint format migrate worker bench screenshots clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip

# torch first and pinned: the local CPU wheel, never the multi-gigabyte CUDA default.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install torch==2.13.0
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py bootstrap_demo
	$(BIN)/python manage.py serve $(ADDR)

test: install-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

worker: install
	$(BIN)/python manage.py rundramatiq --processes 1 --threads 2

# The browser test, refreshing the README's screenshots (docs/screenshots/); `make test` never writes there.
screenshots: install-dev
	ATELIER_REFRESH_SCREENSHOTS=1 $(BIN)/python -m pytest tests/browser $(PYTEST_ARGS)

bench: install-dev
	$(BIN)/python bench/import_bench.py
	$(BIN)/python bench/training_bench.py
	$(BIN)/python bench/generation_bench.py $(if $(MODEL_DIR),--model-dir $(MODEL_DIR),)

clean:
	rm -rf $(VENV) var

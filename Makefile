PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,loadtest]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/flagstream serve --dev

# What the linters read: the server packages, the clients, the load generator, tests, benchmarks.
LINTED := sse_service flags observability rollout loadtest clients/python tests benchmarks deploy

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)
	$(BIN)/mypy -p sse_service -p flags -p observability -p rollout

test: lint
	$(BIN)/pytest -q $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache

# Two commands do everything on a fresh machine: `make run` (a monitoring pass) and `make test`.
# Both create .venv and install presswatch into it first when needed.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/presswatch run

lint: $(STAMP)
	$(BIN)/ruff check --output-format concise .
	$(BIN)/ruff format --check --quiet .
	$(BIN)/mypy presswatch extractors fetcher storage flows migrations

test: $(STAMP) lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) data

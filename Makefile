# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test install install-test lint typecheck translations clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

run: install
	$(BIN)/casebook init
	$(BIN)/casebook demo
	PORT=$(PORT) $(BIN)/casebook serve --port $(PORT)

test: install-test
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check casebook crypto tests bench migrations wsgi.py
	$(BIN)/mypy

translations: install-test
	$(BIN)/pybabel extract -F babel.cfg -k _l -o casebook/translations/messages.pot .
	$(BIN)/pybabel update -i casebook/translations/messages.pot -d casebook/translations --no-fuzzy-matching
	$(BIN)/pybabel compile -d casebook/translations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

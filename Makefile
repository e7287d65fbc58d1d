# The two commands of the README: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test install install-test lint typecheck translations clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Dependencies come from the hashed lock files (every version pinned, every download checked);
# casebook itself is then installed on top without resolving anything again.
$(VENV)/.installed: $(BIN)/python pyproject.toml requirements.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed requirements-test.lock
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements-test.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e '.[test]'
	$(BIN)/pip check
	touch $@

# After changing a dependency range in pyproject.toml: `make lock`, then commit both files.
# The runtime lock is constrained by the test lock, so the two agree on every shared version.
lock: $(BIN)/python
	$(BIN)/pip install --quiet 'uv>=0.5,<1'
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 \
		--python-platform x86_64-unknown-linux-gnu --no-header --quiet -o requirements-test.lock
	$(BIN)/uv pip compile pyproject.toml build-requirements.in --generate-hashes \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu --no-header --quiet \
		-c requirements-test.lock -o requirements.lock

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

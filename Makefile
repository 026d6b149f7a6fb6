# Every target sets up .venv on first use, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: demo run test lint bench clean

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(RUNTIME)  ## rehearse a patient's follow-up against the sandbox Telegram
	$(BIN)/aftercare demo

run: $(RUNTIME)  ## migrate the database, then run the real bot (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/aftercare db upgrade
	$(BIN)/aftercare run

test: $(DEV)  ## lint, types, architecture contracts, then the test suite
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(DEV)  ## every benchmark once (SQLite; PG=postgresql://... adds PostgreSQL runs)
	$(BIN)/python -m bench.triage_eval
	$(BIN)/python -m bench.dispatch
	$(BIN)/python -m bench.replies
	$(BIN)/python -m bench.timeliness
	$(BIN)/python -m bench.scale
	if [ -n "$(PG)" ]; then $(BIN)/python -m bench.scale --database $(PG); fi
	$(BIN)/python -m bench.negation_compare

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache

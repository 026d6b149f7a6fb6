# Every target sets up .venv on first use, so a fresh machine needs only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-installed
DEV := $(VENV)/.dev-installed

.PHONY: demo run test test-hours lint bench clean

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

demo: $(RUNTIME)  ## rehearse a follow-up against the sandbox Telegram, then its console for a minute
	$(BIN)/aftercare demo --console-for 60

run: $(RUNTIME)  ## migrate the database, then run the real bot (needs TELEGRAM_BOT_TOKEN)
	$(BIN)/aftercare db upgrade
	$(BIN)/aftercare run

test: $(DEV)  ## lint, types, architecture contracts, then the test suite
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/pytest -q
	$(MAKE) --no-print-directory test-hours

# The tests that run real processes read a shifted clock (tests/procs.py); run them again at
# a clinic's night, its morning summary and its evening, whatever the machine's hour.
CLOCK_HOURS := 2026-11-03T03:00:00+01:00 2026-11-04T09:05:00+01:00 2026-11-07T20:30:00+01:00

test-hours: $(DEV)  ## the clock-sensitive tests at three fixed hours
	for at in $(CLOCK_HOURS); do TEST_CLOCK_AT=$$at $(BIN)/pytest -q -m clock || exit 1; done

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

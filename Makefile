# Two commands: `make serve` runs paperfeed on the bundled demo corpus; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install serve test test-all lint typecheck format bench fuzz clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-*
	@touch $@

install: $(STAMP)  ## create .venv and install paperfeed with its pinned dependencies

# The browser tests drive Debian's Chromium, never a browser Playwright downloads. Installed once,
# as root (CI); elsewhere say how, and the browser tests skip.
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" -eq 0 ]; then \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	else \
	  echo "$(CHROMIUM) is missing and installing it needs root: the browser tests will skip."; \
	  echo "  sudo apt-get install chromium fonts-dejavu-core"; \
	fi

serve: install  ## initialise ./data, import the demo corpus if empty, serve on http://127.0.0.1:8000
	$(BIN)/paperfeed serve

# The suites run a second time on PostgreSQL (`--backend postgres`: the fixtures' workspaces
# in one PostgreSQL with pgvector, search inside it): web, mail, the live-source runner and
# ingest, crash tests included. The rest of PostgreSQL's coverage runs in the first pass
# (tests that start their own server: search and bulk ingest on both backends, two nodes,
# migrations).
PG_SUITES = tests/web tests/mail tests/live/test_live_runner.py tests/test_ingest.py \
	tests/test_ingest_crash.py tests/test_ingest_hf_details.py tests/sources/test_hostile_records.py

# pytest exits 5 when it collects nothing; that is not a failure of the code under test.
test: install $(CHROMIUM)  ## lint and type-check, then every test except those marked slow
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow and not reference" -q; rc=$$?; [ $$rc -eq 5 ] && rc=0; exit $$rc
	$(BIN)/pytest --backend postgres -m "not slow and not reference" -q $(PG_SUITES)

test-all: install $(CHROMIUM)  ## every test, slow ones included
	$(BIN)/pytest -m "not reference" -q

lint: install
	$(BIN)/ruff check .

typecheck: install  ## mypy, strict, on paperfeed/ (settings in pyproject.toml)
	$(BIN)/mypy

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install  ## the benchmarks in bench/ (see docs/performance.md)
	$(BIN)/python bench/bench_search.py
	$(BIN)/python bench/bench_filters.py
	$(BIN)/python bench/bench_ingest.py
	$(BIN)/python bench/bench_embed.py
	$(BIN)/python bench/bench_web.py
	$(BIN)/python bench/eval_recommend.py
	$(BIN)/python bench/eval_similar.py

# Not part of `make test`: a bounded fuzz run (FUZZ_SECONDS per target) of every parser and the
# query parser; prints examples, time and failures per target (docs/reliability.md).
FUZZ_SECONDS ?= 30
fuzz: install  ## fuzz each input parser and the query parser for FUZZ_SECONDS each
	$(BIN)/python tools/fuzz.py --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .mypy_cache

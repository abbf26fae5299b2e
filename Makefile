# The only scripts a user needs. `make demo` and `make test` do all the set-up on a fresh machine.
VENV   := .venv
BIN    := $(VENV)/bin
# Pinned: `pip install torch==2.13.0` takes the local CPU wheel; an unpinned torch pulls CUDA.
TORCH  := torch==2.13.0
STAMP  := $(VENV)/.installed
# the tests, benchmarks and lint add pytest, ruff, selenium and Ray (Ray alone ~300 MB): the demo needs none
DEV    := $(VENV)/.installed-dev

.PHONY: setup dev-setup demo test test-all bench lint browser-deps clean

setup: $(STAMP)

dev-setup: $(DEV)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q $(TORCH) -e .
	touch $(STAMP)

$(DEV): $(STAMP)
	$(BIN)/pip install -q $(TORCH) -e ".[dev,ray]"
	touch $(DEV)

# Debian's Chromium for the browser tests; they skip (and say so) where it cannot be installed.
browser-deps:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) || \
	    echo "chromium not installed: browser tests will be skipped" )

demo: setup
	$(BIN)/verticals support demo
	$(BIN)/verticals finance demo
	$(BIN)/verticals recommend demo
	@echo "the suite: http://127.0.0.1:8501 (Ctrl-C stops it and the finance demo's poller; the models stay)"
	@# subtle: the poller runs in the background for the finance page; Ctrl-C left it polling
	trap '$(BIN)/verticals finance demo --stop >/dev/null 2>&1' INT TERM EXIT; \
	  $(BIN)/streamlit run apps/home.py --server.headless true --server.address 127.0.0.1 \
	  --browser.gatherUsageStats false --client.toolbarMode minimal

test: dev-setup browser-deps
	$(BIN)/pytest -q

test-all: dev-setup browser-deps
	$(BIN)/pytest -q --runslow

bench: dev-setup
	$(BIN)/python benchmarks/classify.py
	$(BIN)/python benchmarks/support.py
	$(BIN)/python benchmarks/finance.py
	$(BIN)/python benchmarks/recommender.py

lint: dev-setup
	$(BIN)/ruff check shared apps tests benchmarks

# Stops the finance demo's background poller first: it would hold its port and write into
# the deleted home (the pid file names it; a pid now used by another program, or by another
# home's poller, is left alone). `verticals finance demo --stop` does it; the shell lines are
# the same check for a checkout without its venv.
clean:
	@if [ -x $(BIN)/verticals ]; then VERTICALS_HOME=var $(BIN)/verticals finance demo --stop; \
	else pid=$$(cat var/finance/demo.pid 2>/dev/null); \
	if [ -n "$$pid" ] && ps -p "$$pid" -o args= 2>/dev/null | \
	  grep -q -- "--demo-feeds.*--config $(CURDIR)/var/finance/sources.toml$$"; then \
	  kill "$$pid" && echo "stopped the finance demo poller (pid $$pid)"; \
	  for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$$pid" 2>/dev/null && sleep 1; done; \
	fi; fi; true
	rm -rf var .pytest_cache

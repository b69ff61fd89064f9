# The two set-up commands: `make run` and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test lint bench clean

$(BIN)/activate: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(BIN)/activate

$(VENV)/.test-deps: $(BIN)/activate
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(VENV)/.test-deps

# The web UI tests drive Debian's Chromium with Playwright (its own browser download does
# not work here). Installed once, as root or through sudo.
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium

# The high-availability tests run a real ZooKeeper (Debian's package, with java); they start
# it on a free loopback port and fail, instead of skipping, when it is missing.
ZOOKEEPER_JAR ?= /usr/share/java/zookeeper.jar
ZOOKEEPER_ENV := STROM_REQUIRE_ZOOKEEPER=1 STROM_ZOOKEEPER_JAR=$(ZOOKEEPER_JAR)
$(ZOOKEEPER_JAR):
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q zookeeper

# PyFlink's own example programs, run by tests/acceptance with only their imports renamed.
# Only the wheel's examples are unpacked; PyFlink itself is never installed or imported.
PYFLINK_VERSION := 2.3.0
PYFLINK_DIR     := $(VENV)/pyflink-$(PYFLINK_VERSION)
$(PYFLINK_DIR)/.done: $(BIN)/activate
	rm -rf $(PYFLINK_DIR) && mkdir -p $(PYFLINK_DIR)
	$(BIN)/pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
		--platform manylinux2014_x86_64 \
		-d $(PYFLINK_DIR) apache-flink==$(PYFLINK_VERSION)
	$(BIN)/python -m zipfile -e $(PYFLINK_DIR)/apache_flink-*.whl $(PYFLINK_DIR)/wheel
	touch $@

run: $(BIN)/activate
	$(BIN)/python examples/word_count.py

lint: $(VENV)/.test-deps
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy

# The suite runs with every RPC encoded and decoded by the TCP codec (STROM_RPC=codec), as
# Flink's CI forces RPC serialization: what cannot cross a process boundary fails here.
# The dataflow tests then run again with every channel between two TaskManagers over
# loopback TCP (STROM_NETWORK=tcp: p=2 jobs on two TaskExecutors); the ZooKeeper tests of
# tests/integration/ha have no data channels and run once.
test: $(VENV)/.test-deps $(PYFLINK_DIR)/.done $(CHROMIUM) $(ZOOKEEPER_JAR) lint
	STROM_RPC=codec STROM_PYFLINK_EXAMPLES=$(PYFLINK_DIR)/wheel/pyflink/examples \
		STROM_CHROMIUM=$(CHROMIUM) $(ZOOKEEPER_ENV) $(BIN)/python -m pytest -q
	STROM_RPC=codec STROM_NETWORK=tcp $(ZOOKEEPER_ENV) $(BIN)/python -m pytest -q tests/integration \
		--ignore=tests/integration/ha

bench: $(BIN)/activate
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

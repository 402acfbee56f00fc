# make run   - set up .venv and run a full graded test on the simulated rig
# make test  - set up .venv and run the whole test suite
# make hil PORT=/dev/ttyACM0 RIG=pico-ina226 LABEL=unit.label.toml [CHANNEL=k] [EXPECT=CONSISTENT]
#            - the end-to-end tests (tests/hil) against a real board; without PORT, skipped in one line
# make bench - speed, memory and accuracy figures against their goals: bench/results/latest.json,
#              bench/RESULTS.md (make bench-quick: the same on small workloads, under a minute)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.bench-installed
PICOWATT := picowatt==0.1.2  # the peer decoder; --no-deps: its GUI (PySide6) is not needed, cobs and numpy are ours
PBGRADE_DATA ?= $(CURDIR)/pbgrade-data
RIG ?= sim  # make run RIG=sim-ina228: the same test with another sensor
export PBGRADE_DATA

.PHONY: run test setup clean bench bench-quick system-packages hil hil-run translations

setup: $(STAMP) system-packages

# Debian packages the reports and tests need: chromium (prints reports to PDF; the report tests render in it),
# fonts-noto-cjk (the reports' Chinese), sigrok-cli (reads back the sigrok sessions pbgrade exports), postgresql
# (the tests start a real server of their own for the central store: initdb and pg_ctl in a temporary folder),
# chromium-driver (the browser panel's tests drive chromium through it, Selenium's WebDriver)
SYSTEM_PACKAGES := chromium fonts-noto-cjk sigrok-cli postgresql chromium-driver
system-packages:
	@missing=; for p in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; done; \
	[ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null || \
	  { echo "make: missing$$missing: install them (Debian: sudo apt-get install$$missing) for reports, PDFs and make test" >&2; exit 1; }; \
	  export DEBIAN_FRONTEND=noninteractive; apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; }

# pyproject.toml states the ranges pbgrade works with; constraints.txt the exact versions installed here and in CI
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/pbgrade run --rig $(RIG) --sim-dut honest-10000 --label rigs/sim/duts/honest-10000.label.toml

test: $(STAMP) system-packages
	$(BIN)/python -m pytest -q -n 2

hil:
	@if [ -z "$(strip $(PORT))" ]; then echo "make hil: skipped, no board: give PORT=... RIG=... LABEL=... (docs/build/)"; \
	else $(MAKE) --no-print-directory hil-run; fi

hil-run: $(STAMP)
	@[ "$(origin RIG)" != file ] || { echo "make hil: give RIG=..., the rig file deployed to the board on $(PORT)" >&2; exit 2; }
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/hil --port '$(strip $(PORT))' --rig '$(strip $(RIG))' \
	  --channel '$(or $(strip $(CHANNEL)),1)' --label '$(strip $(LABEL))' $(if $(strip $(EXPECT)),--expect '$(strip $(EXPECT))')

# the Chinese catalogue in step with the source: new marked strings added (empty, for a translator), gone ones
# kept as obsolete; tests/test_i18n.py fails while any is untranslated
translations: $(STAMP)
	$(BIN)/pybabel -q extract -F tools/babel.cfg --no-wrap --sort-by-file -o $(VENV)/pbgrade.pot .
	$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-pot-creation-date --no-wrap -i $(VENV)/pbgrade.pot -d host/pbgrade/locale -D pbgrade -l zh_CN

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,bench]'
	$(BIN)/python -m pip install --quiet --no-deps $(PICOWATT)
	touch $@

bench: $(BENCH_STAMP)
	$(BIN)/python -m bench

bench-quick: $(BENCH_STAMP)
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) pbgrade-data

include tools/check_firmware.mk

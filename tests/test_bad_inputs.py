"""Every value a test takes, from a flag or a file, range-checked before any current flows (issue 21):
each bad one is exit 2 and one line saying what is wrong, no traceback, no hang, and no step started (the
load is switched on only at a step's START, after its journal file is opened: none is)."""
import math
import os
import subprocess
import sys

import pytest

from pbgrade.rig import IDENTITY_LIMITS
from conftest import ROOT
from test_e2e import SIM_RIG, pbgrade, write_curve

TIMEOUT_S = 120


def rig_with(tmp_path, old, new):
    path = tmp_path / "rig.toml"
    assert old in SIM_RIG
    path.write_text(SIM_RIG.replace(old, new))
    return ["--rig", path]


def curve(tmp_path, points):
    return ["--sim-dut", write_curve(tmp_path / "unit.csv", points), "--label",
            "rigs/sim/duts/honest-10000.label.toml"]


BAD = {  # name -> (the run's arguments, given tmp_path; a word the one line must say)
    **{f"--rate {r}": (lambda tmp, r=r: ["--rate", r], "--rate") for r in ("0", "-10", "nan", "1e-9", "inf")},
    **{f"--end-voltage {v}": (lambda tmp, v=v: ["--end-voltage", v], "--end-voltage") for v in ("-1", "1000", "nan")},
    **{f"--speed {s}": (lambda tmp, s=s: ["--speed", s], "--speed") for s in ("nan", "inf", "-1")},
    "--port bogus://x": (lambda tmp: ["--port", "bogus://x"], "bogus://x"),
    "--json into a missing folder": (lambda tmp: ["--json", tmp / "no-such-folder" / "r.json"], "no-such-folder"),
    "a limit of nan": (lambda tmp: rig_with(tmp, "max_current_a = 3.5", "max_current_a = nan"),
                       "max_current_a"),
    "a limit of inf": (lambda tmp: rig_with(tmp, "max_voltage_v = 24.0", "max_voltage_v = inf"), "max_voltage_v"),
    "max_voltage_v 1e9": (lambda tmp: rig_with(tmp, "max_voltage_v = 24.0", "max_voltage_v = 1e9"),
                          "max_voltage_v"),
    "nan in a curve": (lambda tmp: curve(tmp, [(0, 5.1), ("nan", 5.0), (3000, 4.0)]), "nan"),
    "inf in a curve": (lambda tmp: curve(tmp, [(0, 5.1), (1000, 5.0), ("inf", 4.0)]), "inf"),
    "a curve of 1e300 mAh": (lambda tmp: curve(tmp, [(0, 5.1), (1e300, 4.0)]), "1e+300"),
}


@pytest.mark.parametrize("name", BAD)
def test_a_bad_input_is_one_line_before_any_current_flows(tmp_path, name):
    args, says = BAD[name]
    try:
        proc = pbgrade(tmp_path, "run", *(["--rig", "sim"] if "--rig" not in args(tmp_path) else []),
                       *args(tmp_path), timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}: no answer in {TIMEOUT_S} s")
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("pbgrade: "), proc.stderr
    assert says in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    runs = tmp_path / "data" / "runs"
    assert not (runs.is_dir() and list(runs.glob("*/rx-1-*.bin"))), "a step started"


def test_the_identity_limits_come_from_the_protocol_table():
    assert IDENTITY_LIMITS == {"max_voltage_v": 65.535, "max_current_a": 65.535}
    assert not any(math.isinf(v) for v in IDENTITY_LIMITS.values())


# the host on a disk that is full: every fsync fails as a full disk's does
FULL_DISK = """
import errno, os, sys
from pbgrade.cli import main

def full(fd):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

os.fsync = full
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_data_folder_is_one_line_and_leaves_no_stray_file(tmp_path):
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-c", FULL_DISK, "run", "--rig", "sim"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=TIMEOUT_S)
    lines = [line for line in proc.stderr.splitlines() if " graded by " not in line]  # but the test's own title
    assert proc.returncode == 2 and len(lines) == 1 and "No space left on device" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and not list((tmp_path / "data").rglob("*.tmp"))
    assert not list((tmp_path / "data").rglob("rx-*.bin")), "a step started"

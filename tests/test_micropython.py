"""Every tests/mp/test_*.py script runs under the real micropython interpreter,
and each of its test_* functions is a pytest item of its own.

The cases are found by reading the scripts (so collection is the same on every
xdist worker); a script runs once per worker, on its first case, and reports
each case on a `CASE {json}` line (tests/mp/mpcases.py). A case that failed
shows its MicroPython traceback; a case the script never reported (it crashed
before, or does not end with run(globals())) fails with the script's output."""
import ast
import functools
import json

import pytest

from conftest import MP_TESTS, run_micropython
from mpcases import PREFIX

SCRIPTS = sorted(MP_TESTS.glob("test_*.py"))
# The station's script keeps every frame the station sent (its host's end, stationhost.Capture) in the same heap
# as the firmware: more room than an RP2040's for the test's own objects. Whether the firmware fits an RP2040 is
# test_channels_mp's, in 192 KB.
HEAPS = {"test_station_mp.py": "256k"}


def case_names(script):
    """The script's top-level test_* functions, in source order."""
    tree = ast.parse(script.read_text(), str(script))
    return [node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")]


CASES = [(script, name) for script in SCRIPTS for name in case_names(script)]


@functools.cache
def script_run(script):
    """The script's run under micropython and its reported cases, by name."""
    proc = run_micropython(script, heap=HEAPS.get(script.name, "192k"))
    reports = [json.loads(line[len(PREFIX):]) for line in proc.stdout.splitlines() if line.startswith(PREFIX)]
    return proc, {report["name"]: report for report in reports}


@pytest.mark.parametrize("script, case", CASES, ids=[f"{script.stem}::{case}" for script, case in CASES])
def test_under_micropython(script, case):
    proc, reports = script_run(script)
    if case not in reports:
        output = "".join(line for line in proc.stdout.splitlines(keepends=True) if not line.startswith(PREFIX))
        pytest.fail(f"{script.name} exited {proc.returncode} without reporting {case}:\n{output}{proc.stderr}",
                    pytrace=False)
    if not reports[case]["ok"]:
        pytest.fail(reports[case]["message"], pytrace=False)


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.stem for script in SCRIPTS])
def test_every_case_is_collected(script):
    """A case the collector cannot see (not a top-level def) would fail unseen."""
    collected = case_names(script)
    assert collected, f"{script.name} defines no top-level test_* function"
    _, reports = script_run(script)
    assert set(reports) <= set(collected), f"{script.name} ran cases pytest does not know"

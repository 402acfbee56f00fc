"""Every tests/mp/test_*.py script runs under the real micropython interpreter.

A script passes by exiting 0 and printing a last line 'OK'; an uncaught
exception (assert) fails it and its traceback is shown."""
import pytest

from conftest import MP_TESTS, run_micropython

SCRIPTS = sorted(MP_TESTS.glob("test_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_under_micropython(script):
    proc = run_micropython(script)
    out = proc.stdout.strip().splitlines()
    assert proc.returncode == 0 and out and out[-1] == "OK", proc.stdout + proc.stderr

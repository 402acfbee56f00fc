"""A run's lock: one host drives a run; a dead host's lock is taken over on its machine, another machine's
is refused."""
import json
import os
import socket
import subprocess
import sys

import pytest

from pbgrade import runlock
from pbgrade.runlock import LOCK, RunLocked


def lock_file(run_dir, pid, host=None):
    (run_dir / LOCK).write_text(json.dumps({"pid": pid, "host": host or socket.gethostname(),
                                            "started_at": "2026-12-04T09:00:00+00:00"}))


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid  # reaped: no process has it (until the system reuses it)


def test_the_lock_names_its_host_and_is_released_however_the_block_ends(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with runlock.held(tmp_path):
            lock = json.loads((tmp_path / LOCK).read_text())
            assert lock["pid"] == os.getpid() and lock["host"] == socket.gethostname() and lock["started_at"]
            1 / 0
    assert not (tmp_path / LOCK).exists()


def test_a_live_host_holding_the_run_is_refused_by_pid(tmp_path):
    with runlock.held(tmp_path):
        with pytest.raises(RunLocked, match=f"driven by pid {os.getpid()} on this host .*wait for it to end"):
            with runlock.held(tmp_path):
                pass
        assert (tmp_path / LOCK).exists()  # the refused one took nothing from the holder


def test_a_dead_hosts_lock_on_this_machine_is_taken_over_and_said(tmp_path):
    pid = dead_pid()
    lock_file(tmp_path, pid)
    said = []
    with runlock.held(tmp_path, said.append):
        assert json.loads((tmp_path / LOCK).read_text())["pid"] == os.getpid()
    assert said == [f"run {tmp_path.name}: taking over the lock of pid {pid}, which is gone (it stopped without "
                    f"releasing it)"]
    assert list(tmp_path.iterdir()) == []  # the stale lock set aside is gone too


def test_another_machines_lock_is_refused_naming_it(tmp_path):
    lock_file(tmp_path, dead_pid(), host="bench-2")
    with pytest.raises(RunLocked, match="driven by host bench-2 .*if that host is down for good, delete"):
        with runlock.held(tmp_path):
            pass


def test_a_damaged_lock_is_refused_with_what_to_do(tmp_path):
    (tmp_path / LOCK).write_bytes(b"\xff{")
    with pytest.raises(RunLocked, match="lock is damaged .*delete the file and try again"):
        with runlock.held(tmp_path):
            pass

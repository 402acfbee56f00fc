"""A host killed mid-test (SIGKILL: no clean-up at all) and started again
resumes the same run, and its result is the one an unbroken run gives."""
import json
import os
import signal
import subprocess


from conftest import ROOT, wait_for
from test_e2e import PBGRADE, pbgrade, run_record

LABEL = ROOT / "rigs/sim/duts/honest-10000.label.toml"
UNIT = ["--sim-dut", "honest-10000", "--method", "discharge"]  # 3 hours of discharge, seconds of wall time


def test_a_killed_host_resumes_the_run_and_loses_nothing(tmp_path):
    clean, _ = run_record(tmp_path / "clean", *UNIT)
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    sim = subprocess.Popen([*PBGRADE, "sim", "--sim-dut", "honest-10000"], stdout=subprocess.PIPE, text=True,
                           env=env, cwd=ROOT)
    try:
        port = sim.stdout.readline().strip()
        host = subprocess.Popen([*PBGRADE, "run", "--port", port, "--label", LABEL, "--method", "discharge"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        runs = tmp_path / "data" / "runs"
        journal = lambda: next(runs.glob("*/rx-1-discharge.bin"), None)  # noqa: E731
        wait_for(lambda: journal() is not None and journal().stat().st_size > 100_000)
        host.send_signal(signal.SIGKILL)  # mid-discharge: no STOP, no record, maybe half a frame journaled
        host.wait()
        run_id = journal().parent.name
        assert not (runs / run_id / "record.json").exists()

        proc = pbgrade(tmp_path, "resume", run_id, "--json", tmp_path / "resumed.json")
        assert proc.returncode == 0, proc.stderr
        took_over = f"pbgrade: run {run_id}: taking over the lock of pid {host.pid}, which is gone"
        announced = f"pbgrade: run {run_id} resumed on {port} (resume with `pbgrade resume {run_id}`)"
        assert proc.stderr.startswith(took_over) and proc.stderr.splitlines()[1] == announced
        resumed = json.loads((tmp_path / "resumed.json").read_text())
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    assert resumed["run_id"] == run_id and resumed["status"] == "complete"
    assert resumed["samples_lost"] == 0 and resumed["integrity"]["gap_count"] == 0
    assert resumed["energy_wh"] == clean["energy_wh"] and resumed["capacity_mah"] == clean["capacity_mah"]
    assert resumed["cutoff_reason"] == clean["cutoff_reason"] == "end_voltage"
    # and the journal alone rebuilds the same result
    again = pbgrade(tmp_path, "regrade", run_id, "--json", tmp_path / "regraded.json")
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "regraded.json").read_text())["energy_wh"] == resumed["energy_wh"]


def test_a_finished_run_is_not_resumed(tmp_path):
    record, _ = run_record(tmp_path, "--sim-dut", "fake-tiny", "--method", "discharge")
    proc = pbgrade(tmp_path, "resume", record["run_id"])
    assert proc.returncode == 2 and "already ended" in proc.stderr and proc.stderr.count("\n") == 1

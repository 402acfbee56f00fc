"""The device keeps the rig safe on its own: a limit crossed switches the load
off within a sample and the rig refuses to start again until the operator
clears it; a host that vanishes mid-test leaves a device that ends the
discharge by itself, load off."""
import json
import os
import signal
import subprocess
import time

import serial

from conftest import ROOT
from test_e2e import PBGRADE, SIM_RIG, pbgrade
from pbgrade import wire

LABEL = ROOT / "rigs/sim/duts/honest-10000.label.toml"


def start_sim(tmp_path, rig_text, dut):
    rig = tmp_path / "rig.toml"
    rig.write_text(rig_text)
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    sim = subprocess.Popen([*PBGRADE, "sim", "--rig", rig, "--sim-dut", dut], stdout=subprocess.PIPE, text=True,
                           env=env, cwd=ROOT)
    return sim, sim.stdout.readline().strip()  # tmp_path / "rig.toml" is the rig it runs (a run names it: --rig)


def status(port):
    """The device's state and load setpoint, asked by a plain serial client."""
    with serial.Serial(port, timeout=0.2) as s:
        s.write(wire.build("STATUS_REQ", 1))
        deframer = wire.Deframer()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for frame in deframer.feed(s.read(256)):
                try:
                    msg = wire.parse(wire.decode_frame(frame))
                except wire.FrameError:
                    continue
                if msg.type == "STATUS":
                    return wire.STATES[msg.body.state], msg.body.load_ma
    raise AssertionError("no STATUS")


def test_a_hot_unit_trips_the_rig_which_then_waits_to_be_cleared(tmp_path):
    # honest-10000 warms 12 C per watt lost; the rig allows the unit 27 C
    sim, port = start_sim(tmp_path, SIM_RIG.replace("max_current_a = 3.5", "max_current_a = 3.5\nmax_dut_temp_c = 27"),
                          "honest-10000")
    try:
        out = tmp_path / "tripped.json"
        first = pbgrade(tmp_path, "run", "--port", port, "--rig", tmp_path / "rig.toml", "--label", LABEL,
                        "--method", "discharge", "--json", out)
        record = json.loads(out.read_text())
        assert first.returncode == 1 and record["cutoff_reason"] == "limit_temperature"
        assert 0 < record["duration_s"] < 3 * 3600  # stopped early, the load off: the unit failed its test
        assert status(port) == ("fault", 0)

        refused = pbgrade(tmp_path, "run", "--port", port, "--rig", tmp_path / "rig.toml", "--label", LABEL,
                          "--method", "discharge")
        assert refused.returncode == 2 and "`pbgrade clear`" in refused.stderr
        assert "temperature over the rig's limit" in refused.stderr and refused.stderr.count("\n") <= 2

        cleared = pbgrade(tmp_path, "clear", "--port", port)
        assert cleared.returncode == 0 and "temperature over the rig's limit" in cleared.stdout
        assert status(port) == ("idle", 0)
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def test_a_limit_in_a_middle_step_ends_the_test_there_saved_and_never_passed(tmp_path):
    # 12 W at most: load regulation draws 10.5 W, the over-current ramp (to 3.33 A) over 15 W
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM_RIG.replace("max_current_a = 3.5", "max_current_a = 3.5\nmax_power_w = 12"))
    out = tmp_path / "stopped.json"
    proc = pbgrade(tmp_path, "run", "--rig", rig, "--method", "eol", "--json", out)
    record = json.loads(out.read_text())
    assert proc.returncode == 1, proc.stderr
    assert record["status"] == "stopped by the rig" and record["grade"] == "ABORTED" and not record["passed"]
    assert [s["type"] for s in record["steps"]] == ["no_load", "load_regulation", "over_current"]  # no discharge
    assert record["verdict"]["reasons"][0].startswith(
        "the rig switched the load off in step 3 of 4 (over_current): the load's power went over the rig's limit")
    assert "`pbgrade clear`" in record["verdict"]["reasons"][0]
    regraded = pbgrade(tmp_path, "regrade", record["run_id"])  # the journal says so too
    assert regraded.returncode == 1 and "the rig switched the load off in step 3 of 4" in regraded.stdout


def test_a_vanished_host_leaves_the_device_to_end_the_discharge_safely(tmp_path):
    sim, port = start_sim(tmp_path, SIM_RIG, "honest-10000")  # 3 hours of discharge: seconds of wall time
    try:
        env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
        host = subprocess.Popen([*PBGRADE, "run", "--port", port, "--label", LABEL, "--method", "discharge"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
        runs = tmp_path / "data" / "runs"
        deadline = time.monotonic() + 60
        while sum(p.stat().st_size for p in runs.glob("*/rx-1-discharge.bin")) < 5000:  # samples are coming
            assert time.monotonic() < deadline
            time.sleep(0.02)
        host.send_signal(signal.SIGKILL)  # gone mid-discharge: no STOP will ever come
        host.wait()
        seen = [status(port)]
        deadline = time.monotonic() + 120
        while seen[-1][0] == "running":
            assert time.monotonic() < deadline
            time.sleep(0.5)
            seen.append(status(port))
        assert seen[0][0] == "running" and seen[-1] == ("ended", 0)  # ended on its own end condition, load off
    finally:
        sim.terminate()
        sim.wait(timeout=10)

"""The device knows its rig (issue 15): IDENTITY names the rig and hashes the rig.json it booted with, so
`pbgrade run --port P` tests with the device's rig and refuses a --rig that disagrees before any current
flows; `pbgrade ports` shows what is on each port; LEAVE takes a station back to its REPL, load off."""
import json
import os
import subprocess
import time
from contextlib import ExitStack, contextmanager

import pytest
import serial

from conftest import ROOT
from test_e2e import PBGRADE, pbgrade
from pbgrade import wire
from pbgrade.evaluate import Evaluation
from pbgrade.link import IDLE_CONFIG, Link, command, identify, leave_station, open_rig
from pbgrade.rig import load_rig, settings_hash, settings_json

LABEL = ROOT / "rigs/sim/duts/honest-10000.label.toml"


@contextmanager
def simulated(tmp_path, rig):
    """`pbgrade sim --rig RIG` running: its ports."""
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    sim = subprocess.Popen([*PBGRADE, "sim", "--rig", rig], stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        yield [sim.stdout.readline().strip() for _ in load_rig(rig).get("channels") or [None]]
    finally:
        sim.terminate()
        sim.wait(timeout=10)


def device_status(port):
    """The device's identify-step evaluation (IDENTITY, STATUS) on port."""
    with open_rig(port) as (_, device):
        return device


@pytest.mark.parametrize("rig, channel", [("sim-ina219", 1), ("sim-3ch", 2)])
def test_run_by_port_without_rig_tests_with_the_device_rig_and_history_lists_it(tmp_path, rig, channel):
    with simulated(tmp_path, rig) as ports:
        out = tmp_path / "r.json"
        proc = pbgrade(tmp_path, "run", "--port", ports[channel - 1], "--method", "quick", "--label", LABEL,
                       "--json", out)
        assert proc.returncode == 0, proc.stderr
    record = json.loads(out.read_text())
    assert record["rig"]["rig"]["name"] == record["device"]["rig"] == rig
    assert record["rig"]["rig"].get("channel", 1) == channel
    assert record["device"]["settings_hash"] == settings_hash(settings_json(load_rig(rig)))
    history = pbgrade(tmp_path, "history", "--station", "*")
    assert record["run_id"] in history.stdout and f"/{rig}" in history.stdout


def test_a_rig_the_device_does_not_run_is_refused_before_any_current_flows(tmp_path):
    other = tmp_path / "ina219-edited.toml"  # the device's rig by name, with other settings
    other.write_text((ROOT / "rigs/sim-ina219.toml").read_text().replace("max_current_a = 3.0", "max_current_a = 2.9"))
    with simulated(tmp_path, "sim-ina219") as (port,):
        for rig, named in (("sim", "sim-ina226"), (other, settings_hash(settings_json(load_rig(other))))):
            proc = pbgrade(tmp_path, "run", "--port", port, "--rig", rig, "--label", LABEL)
            assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            assert "sim-ina219" in proc.stderr and named in proc.stderr and "deploy" in proc.stderr
        device = device_status(port)
        assert device.status.state == wire.State.IDLE and device.status.index == 0  # never started
    assert pbgrade(tmp_path, "history").stdout.count("\n") <= 1  # nothing recorded


def test_ports_shows_each_simulated_port_and_its_rig_and_a_held_port_as_busy(tmp_path):
    with simulated(tmp_path, "sim-3ch") as ports:
        proc = pbgrade(tmp_path, "ports", timeout=60)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        for k, port in enumerate(ports, 1):
            shown = lines[lines.index(next(line for line in lines if line.startswith(port))) + 1]
            assert "rig sim-3ch" in shown and f"channel {k}" in shown and "INA226" in shown, proc.stdout
            assert shown.split()[:2] == ["sim", "sim:sim-3ch"], shown  # the board, its serial: one for all channels
        with serial.Serial(ports[0], exclusive=True):
            proc = pbgrade(tmp_path, "ports", timeout=60)
        shown = proc.stdout.splitlines()
        assert shown[shown.index(next(line for line in shown if line.startswith(ports[0]))) + 1].strip() == "busy"
    proc = pbgrade(tmp_path, "ports", "--port", "/dev/null", timeout=60)
    assert "sim-3ch" not in proc.stdout  # the stopped simulator's note is gone
    assert not list((tmp_path / "data" / "sim-ports").glob("*.json"))


def test_leave_switches_the_load_off_acknowledges_and_the_station_stops_answering(tmp_path, monkeypatch):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    from pbgrade.testsetup import start_sim
    with ExitStack() as stack:
        sim = start_sim(stack, load_rig("sim"), "honest-10000", speed=1)
        link = Link(sim.port, lambda chunk: None)
        running = Evaluation(IDLE_CONFIG)
        identify(link, running)
        config = {"period_us": 100_000, "load_ma": 1000, "end_mv": 0, "collapse_ma": 0, "hold_ms": 1000,
                  "flush_ms": 200}
        command(link, running, "CONFIG", **config)
        command(link, running, "START")
        link.close()
        assert device_status(sim.port).status.load_ma == 1000  # drawing 1 A
        device = leave_station(sim.port)  # raises unless the device acknowledged LEAVE
        assert [e["name"] for e in device.events] == ["stopped"]
        assert device.status.load_ma == 0 and device.status.state == wire.State.ENDED
        deadline = time.monotonic() + 10
        while sim.station_running() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not sim.station_running() and sim.alive()  # out of its station, at its REPL
        with serial.Serial(sim.port, timeout=1.5) as s:
            s.write(wire.build("HELLO", 1))
            answer = s.read(200)
        assert not [frame for frame in wire.Deframer().feed(answer) if is_identity(frame)]  # not a station now


def is_identity(frame):
    try:
        return wire.parse(wire.decode_frame(frame)).type == "IDENTITY"
    except wire.FrameError:
        return False

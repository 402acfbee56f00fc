"""End to end against the board on --port: it says what it is, a short
method on a known unit runs and measures that unit, the firmware refuses
what is over the rig's limits, and a lossy link loses no sample.

Each test is safe on any unit: the only currents drawn are the quick
method's (the label's rated current, and 130 % of it for at most a few
seconds, within the rig's limits), and the limit test draws nothing."""
import json
import os
import subprocess
import sys
import tomllib

import pytest

from pbgrade import wire
from pbgrade.evaluate import Evaluation
from pbgrade.link import IDLE_CONFIG, RigError, command, open_rig

QUICK_VERDICTS = ("CONSISTENT", "NOT CONSISTENT", "NEEDS A FULL TEST")
LINK_FAULTS = "drop=5e-4&corrupt=5e-4&seed=1"  # ~1 byte in 1000 lost or flipped: a few dozen frames resent
LINK_RATE_HZ = 20  # every shipped rig's sensor reads faster than this; more bytes, more faults to recover


def pbgrade(tmp_path, *args):
    """The pbgrade command as a user runs it; its record."""
    out = tmp_path / "record.json"
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-m", "pbgrade.cli", *map(str, args), "--json", out],
                          capture_output=True, text=True, env=env, timeout=1800)
    assert proc.returncode in (0, 1), proc.stderr  # 0 pass, 1 the unit failed; 2 a problem with the rig
    return json.loads(out.read_text())


def quick(tmp_path, port, rig_name, channel, label, *extra):
    return pbgrade(tmp_path, "run", "--port", port, "--rig", rig_name, "--channel", channel["rig"].get("channel", 1),
                   "--method", "quick", "--label", label, *extra)


def test_the_board_says_it_is_the_rig(port, channel):
    with open_rig(port) as (_, device):
        got = device.identity
    board = channel["rig"]["board"]
    if "channel" in channel["rig"]:
        board += f"/ch{channel['rig']['channel']}"
    sensor = channel["sensor"]
    assert got.board == board
    assert (wire.SENSORS[got.sensor], got.address) == (sensor["chip"], sensor["address"])
    assert got.shunt_uohm == round(sensor["shunt_ohms"] * 1e6)
    assert (got.max_mv, got.max_ma) == (round(channel["limits"]["max_voltage_v"] * 1000),
                                        round(channel["limits"]["max_current_a"] * 1000))
    assert got.proto == wire.PROTO_VERSION


def test_a_current_or_voltage_over_the_rig_limits_is_refused_and_nothing_starts(port, channel):
    limits = channel["limits"]
    over = {"load_ma": round(limits["max_current_a"] * 1000) + 1,
            "end_mv": round(limits["max_voltage_v"] * 1000) + 1}
    with open_rig(port) as (link, device):
        before = device.status.state
        assert before != wire.State.RUNNING
        for field, value in over.items():
            config = {**IDLE_CONFIG, "load_ma": 0, "hold_ms": 1000, "flush_ms": 1000, field: value}
            with pytest.raises(RigError, match="over a rig limit"):
                command(link, Evaluation(config), "CONFIG", **config)
    with open_rig(port) as (_, device):
        assert device.status.state == before


def test_the_quick_method_measures_the_known_unit(tmp_path, port, rig_name, channel, label, pytestconfig):
    record = quick(tmp_path, port, rig_name, channel, label)
    rated = tomllib.loads(open(label).read())["label"]
    assert record["status"] == "complete" and record["samples_lost"] == 0
    assert record["grade"] in QUICK_VERDICTS
    expect = pytestconfig.getoption("expect")
    assert expect is None or record["grade"] == expect, record["verdict"]["reasons"]
    # the load held the rated current through the 2-minute discharge: energy / (time x mean voltage)
    discharge = next(s for s in record["steps"] if s["type"] == "discharge")
    m = discharge["measurements"]
    amps = m["short_energy_wh"] * 3600 / (discharge["settings"]["seconds"] * m["mean_voltage_v"])
    assert amps == pytest.approx(rated["rated_output_a"], rel=0.02)


def test_a_lossy_link_recovers_every_frame(tmp_path, port, rig_name, channel, label):
    record = quick(tmp_path, f"fault://{port}?{LINK_FAULTS}", rig_name, channel, label, "--rate", LINK_RATE_HZ)
    decoder = record["integrity"]["decoder"]
    print("link:", decoder)
    assert record["status"] == "complete"
    assert decoder["frames_corrupt"] > 0  # the link did lose bytes ...
    assert record["samples_lost"] == 0 and decoder["samples_lost"] == 0  # ... and every sample came again

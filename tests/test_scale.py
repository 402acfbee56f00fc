"""The rig's scale end to end on the simulated rig (sim-scale: an HX711 under the bay, rigs/sim/hx711_sim.py):
tare, calibration with a known weight, weighing, and the quick check weighing the unit itself; every way it
cannot be used is one line that says what to do."""
import contextlib
import json

import pytest

from pbgrade import scale
from pbgrade.cli import main
from pbgrade.replay import regrade


def pbgrade(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def set_up(data, capsys):
    """A scale tared empty and calibrated with the 500 g weight, as an inspector sets it up."""
    code, out, err = pbgrade(capsys, "scale", "tare")
    assert code == 0 and out.startswith("tared sim-scale's scale: zero at "), err
    code, out, err = pbgrade(capsys, "scale", "calibrate", "--known-g", 500)
    assert code == 0 and "counts per gram" in out, err
    return data


@pytest.mark.parametrize("unit, grams", [("honest-10000", 222), ("fake-20000", 128)])
def test_a_set_up_scale_weighs_a_unit_to_a_fraction_of_a_gram(set_up, capsys, unit, grams):
    code, out, err = pbgrade(capsys, "scale", "weigh", "--sim-dut", unit)
    assert code == 0, err
    assert abs(float(out.split()[0]) - grams) < 0.5, out


def test_the_quick_check_weighs_a_fake_and_finds_its_label_impossible(set_up, tmp_path, capsys):
    out = tmp_path / "record.json"
    code, _, err = pbgrade(capsys, "run", "--rig", "sim-scale", "--sim-dut", "fake-20000", "--method", "quick",
                           "--json", out)
    record = json.loads(out.read_text())
    assert code == 1 and record["grade"] == "NOT CONSISTENT", err
    assert record["verdict"]["decided_by"] == ["mass_against_energy"]
    assert record["verdict"]["reasons"][0].startswith("this unit weighs 128 g (578 Wh/kg of the label's cell "
                                                      "energy); NEEDS A FULL TEST allows at most 300 Wh/kg: 74 Wh of "
                                                      "cells weighs at least 247 g")
    mass_step = record["steps"][-1]
    assert mass_step["behaviours"][0].startswith("weighed on the rig's scale: 128.0 g (scale calibrated with a "
                                                 "500 g weight on ")
    (set_up / "rigs" / "sim-scale" / "scale.json").unlink()  # the run keeps its scale's set-up: a re-grade
    again = regrade(set_up / "runs" / record["run_id"])  # weighs the same without the station's file
    assert again["verdict"] == record["verdict"]


def test_an_honest_unit_weighed_stays_consistent(set_up, capsys):
    code, out, err = pbgrade(capsys, "run", "--rig", "sim-scale", "--method", "quick")
    assert code == 0 and "verdict: CONSISTENT" in out, err
    assert "weighed on the rig's scale: 222.0 g" in out


@pytest.mark.parametrize("args, says", [
    (["run", "--rig", "sim-scale", "--method", "quick"], "scale is not set up on this station: tare it empty"),
    (["scale", "calibrate", "--known-g", 500], "never tared here"),
    (["scale", "weigh"], "never tared here"),
    (["scale", "tare", "--rig", "sim"], "rig sim-ina226 has no scale: add its [scale] table"),
])
def test_a_scale_that_cannot_be_used_is_one_line(data, capsys, args, says):
    code, out, err = pbgrade(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and says in err, err


def test_a_calibration_without_the_weight_on_is_refused(data, capsys):
    assert pbgrade(capsys, "scale", "tare")[0] == 0
    code, _, err = pbgrade(capsys, "scale", "calibrate", "--known-g", 500, "--sim-dut", "")
    assert code == 2 and err.count("\n") == 1 and "put it on the platform (and nothing else)" in err, err


def test_a_typed_mass_needs_no_scale(data, capsys):
    """--mass-g wins over the scale: an inspector whose scale is not set up can still weigh by hand."""
    code, out, err = pbgrade(capsys, "run", "--rig", "sim-scale", "--sim-dut", "fake-20000", "--method", "quick",
                             "--mass-g", 128)
    assert code == 1 and "its mass, 128 g, was typed by the inspector" in out, err


def test_a_reading_lost_on_the_way_is_one_line(monkeypatch):
    """The WEIGH acknowledged, its WEIGHT frame lost for good (declared GONE): no traceback, a line to weigh again."""
    monkeypatch.setattr(scale, "open_rig", lambda port: contextlib.nullcontext((None, None)))
    monkeypatch.setattr(scale, "command", lambda link, evaluation, msg_type, **body: None)
    with pytest.raises(scale.ScaleError, match="did not arrive: check the cable, then weigh again"):
        scale.read_counts("/dev/ttyACM0")

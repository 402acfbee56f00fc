"""Rig files and simulated-unit files: good ones load, bad ones are refused in
one line that names the place and the fix."""
import pytest

from conftest import ROOT
from pbgrade.rig import RigFileError, load_rig
from pbgrade.simdut import DutError, load_dut

SIM = (ROOT / "rigs" / "sim.toml").read_text()


@pytest.mark.parametrize("name", ["sim", "pico-ina226"])
def test_shipped_rigs_load(name):
    rig = load_rig(name)
    assert rig["sensor"]["chip"] == "INA226" and rig["limits"]["max_current_a"] > 0


@pytest.mark.parametrize("edit, words", [
    (("shunt_ohms = 0.01", "shunt_ohm = 0.01"), ["[sensor]", "shunt_ohm", "not a known field"]),
    (("address = 0x40", 'address = "0x40"'), ["address", "whole number"]),
    (("address = 0x40", "address = 0x60"), ["address", "0x60", "0x40-0x4F"]),
    (("max_current_a = 3.5", "max_current_a = 5.0"), ["[limits]", "exceeds"]),
    (("[load]", "[lode]"), ["lode", "not a known field"]),
    (("max_voltage_v = 24.0", "max_voltage_v = -1"), ["max_voltage_v", "negative"]),
    (("board = \"sim\"", "board = \"sim\"\n[rig2]"), ["rig2"]),
])
def test_bad_rig_is_refused_in_one_line(tmp_path, edit, words):
    rig = tmp_path / "rig.toml"
    rig.write_text(SIM.replace(*edit, 1))
    with pytest.raises(RigFileError) as e:
        load_rig(rig)
    message = str(e.value)
    assert "\n" not in message and str(rig) in message
    for w in words:
        assert w in message


def test_unknown_rig_lists_the_known_ones():
    with pytest.raises(RigFileError, match="sim"):
        load_rig("no-such-rig")


@pytest.mark.parametrize("csv, words", [
    ("delivered,volts\n0,5\n", [":1:", "header"]),
    ("delivered_mah,voltage_v\n0,5\n10,abc\n", [":3:", "two numbers"]),
    ("delivered_mah,voltage_v\n0,5\n10,5\n5,5\n", [":4:", "does not ascend"]),
    ("delivered_mah,voltage_v\n100,5\n200,5\n", [":2:", "first row"]),
    ("delivered_mah,voltage_v\n0,5\n10,99\n", [":3:", "0-60 V"]),
    ("delivered_mah,voltage_v\n0,5\n", ["at least two rows"]),
])
def test_bad_curve_is_refused_naming_the_line(tmp_path, csv, words):
    path = tmp_path / "curve.csv"
    path.write_text(csv)
    with pytest.raises(DutError) as e:
        load_dut(path)
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_curve_loads_as_points(tmp_path):
    path = tmp_path / "curve.csv"
    path.write_text("delivered_mah,voltage_v\n0,5.1\n1000,5.0\n")
    assert load_dut(path)["points"] == [[0.0, 5.1], [1000.0, 5.0]]


@pytest.mark.parametrize("edit, words", [
    (("cutoff_v = 3.0", "cutoff_v = 1.0"), ["[cell]", "cutoff_v", "outside"]),
    (("droop_ohm = 0.04", "drop_ohm = 0.04"), ["[output]", "drop_ohm", "not a known field"]),
    (("level_v = 5.10", ""), ["level_v", "missing"]),
    (('kind = "model"', 'kind = "params"'), ["kind", "model"]),
    (("[[0.25, 0.55], [1.0, 0.80]", "[[1.0, 0.55], [0.25, 0.80]"), ["efficiency", "ascending"]),
    (("[[0.25, 0.55], [1.0, 0.80]", "[[0.25, 1.55], [1.0, 0.80]"), ["efficiency", "outside"]),
    (("[thermal]", "[termal]"), ["termal", "not a known field"]),
    (("cutoff_v = 3.0 ", "cutoff_v = 3.0\nfoldback_v = 2.9 "), ["foldback_v must be above cutoff_v"]),
    (("level_v = 5.10 ", "level_v = 7.0 "), ["level_v = 7.0 is not one of its levels", "5.1 V, 9 V, 12 V"]),
])
def test_bad_model_unit_is_refused_in_one_line(tmp_path, edit, words):
    path = tmp_path / "unit.toml"
    text = (ROOT / "rigs/sim/duts/honest-10000.toml").read_text()
    assert edit[0] in text
    path.write_text(text.replace(*edit))
    with pytest.raises(DutError) as e:
        load_dut(path)
    assert "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_every_catalogue_unit_loads():
    for path in (ROOT / "rigs/sim/duts").glob("*"):
        if not path.name.endswith(".label.toml"):
            assert load_dut(path)["kind"] in ("curve", "model")

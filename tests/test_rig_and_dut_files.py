"""Rig files and simulated-unit files: good ones load, bad ones are refused in
one line that names the place and the fix; every shipped rig file is one the
firmware can run, and every simulated one starts and answers."""
import importlib
import tomllib

import pytest

from clock import VirtualClock
from conftest import ROOT
from i2cbus import SimI2C
from inafakes import Fixed, settle
import sensors
from pbgrade import wire
from pbgrade.evaluate import Evaluation
from pbgrade.rig import RigFileError, channels, load_rig
from pbgrade.link import IDLE_CONFIG, Link, identify
from pbgrade.simdut import DutError, load_dut
from pbgrade.simrig import SimRig

SIM = (ROOT / "rigs" / "sim.toml").read_text()
RIG_FILES = sorted((ROOT / "rigs").glob("*.toml"))
SIM_RIG_FILES = [p for p in RIG_FILES if tomllib.loads(p.read_text()).get("rig", {}).get("board") == "sim"]
# "sim" runs rigs/sim/simboard.py; the others are the MicroPython ports firmware/board_machine.py drives
FIRMWARE_BOARDS = ("sim", "rp2", "esp32")


@pytest.mark.parametrize("path", RIG_FILES, ids=[p.stem for p in RIG_FILES])
def test_shipped_rig_is_one_the_firmware_can_run(path):
    rig = load_rig(path.stem)
    chans = channels(rig)
    assert 1 <= len(chans) == len(rig.get("channels", [rig]))
    for k, channel in enumerate(chans, 1):
        assert channel["rig"]["board"] in FIRMWARE_BOARDS
        assert channel["load"]["kind"] != "dac" or channel["rig"]["board"] == "esp32"  # rp2 has no DAC
        if len(chans) > 1:
            assert (channel["rig"]["channel"], channel["rig"]["channels"]) == (k, len(chans))
        limits, sensor = channel["limits"], channel["sensor"]
        assert all(value > 0 for value in limits.values()), limits
        assert limits["max_current_a"] <= sensor["max_current_a"]  # the sensor sees the limit crossed
        assert limits["max_current_a"] <= channel["load"]["max_current_a"]  # a step may ask for the limit
        # the firmware's driver takes the [sensor] table as it is, and reads a simulated chip of its kind
        clock = VirtualClock()
        bus = SimI2C(clock)
        chip = importlib.import_module(sensors.CHIPS[sensor["chip"]] + "_sim")
        extra = {"channel": sensor["channel"]} if "channel" in sensor else {}
        bus.attach(getattr(chip, "Sim" + sensor["chip"])(clock, Fixed(5.0, 1.0), address=sensor["address"],
                                                          shunt_ohms=sensor["shunt_ohms"], seed=1, **extra))
        ina = sensors.make(bus, sensor)
        settle(clock, ina)
        assert ina.voltage() == pytest.approx(5.0, abs=0.06) and ina.current() == pytest.approx(1.0, abs=0.01)


@pytest.mark.parametrize("path", SIM_RIG_FILES, ids=[p.stem for p in SIM_RIG_FILES])
def test_simulated_rig_starts_and_each_channel_answers_hello(tmp_path, path):
    rig = load_rig(path.stem)
    with SimRig(rig, None, tmp_path / "sim", tmp_path / "flash") as sim:
        assert len(sim.ports) == len(channels(rig))
        for k, (port, channel) in enumerate(zip(sim.ports, channels(rig)), 1):
            link = Link(port, on_bytes=lambda chunk: None)
            evaluation = Evaluation(IDLE_CONFIG)
            try:
                identify(link, evaluation)
            finally:
                link.close()
            got = evaluation.identity
            assert got.board == ("sim" if len(sim.ports) == 1 else f"sim/ch{k}")
            assert (wire.SENSORS[got.sensor], got.address) == (channel["sensor"]["chip"], channel["sensor"]["address"])
            assert got.shunt_uohm == round(channel["sensor"]["shunt_ohms"] * 1e6)
            assert (got.max_mv, got.max_ma) == (round(channel["limits"]["max_voltage_v"] * 1000),
                                                round(channel["limits"]["max_current_a"] * 1000))


def test_a_rig_with_channels_gives_each_the_rig_with_its_own_fields_over_it():
    rig = load_rig("pico-3ch")
    chans = channels(rig)
    assert [c["rig"]["channel"] for c in chans] == [1, 2, 3] and all(c["rig"]["channels"] == 3 for c in chans)
    assert [c["sensor"]["address"] for c in chans] == [0x40, 0x41, 0x44]
    assert [c["pins"]["load_pwm"] for c in chans] == [15, 13, 11] and [c["load"]["short_pin"] for c in chans] == [14, 12, 10]
    assert all(c["pins"]["sda"] == 4 and c["sensor"]["shunt_ohms"] == 0.01 for c in chans)  # the rig's own
    assert "channels" not in chans[0] and channels(load_rig("sim")) == [load_rig("sim")]


PICO_3CH = (ROOT / "rigs" / "pico-3ch.toml").read_text()


@pytest.mark.parametrize("edit, words", [
    (("sensor = { address = 0x41 }", "sensor = { address = 0x40 }"),
     ["[[channel]] 1 and 2", "sensor address 0x40", "its own"]),
    (("pins = { load_pwm = 13 }", "pins = { load_pwm = 15 }"), ["[[channel]] 1 and 2", "pin 15"]),
    (("load = { short_pin = 10 }", "load = { short_pin = 13 }"), ["[[channel]] 2 and 3", "pin 13"]),
    (("pins = { load_pwm = 11 }", "pins = { load_pwm = 11, sda = 6 }"), ["[[channel]] 3", "sda", "share"]),
    (("sensor = { address = 0x44 }", "sensor = { adress = 0x44 }"), ["[[channel]] 3", "adress", "not a known"]),
    (("sensor = { address = 0x44 }", "sensor = { address = 0x44, max_current_a = 3.0 }"),
     ["[[channel]] 3", "[limits] max_current_a exceeds"]),
    (("pins = { load_pwm = 11 }", "rig = { board = \"esp32\" }"), ["[[channel]] 3", "rig", "not a known"]),
    (("pins = { load_pwm = 15 }\nload = { short_pin = 14 }",  # a relay bank: a list of pins, one of them
      'pins = { load_relays = [16, 13] }\nload = { short_pin = 14, kind = "relays", resistors_ohm = [10.0, 4.7] }'),
     ["[[channel]] 1 and 2", "pin 13"]),  # channel 2's PWM
])
def test_bad_channel_is_refused_in_one_line_naming_it(tmp_path, edit, words):
    message = refusal(tmp_path, PICO_3CH, edit)
    for w in words:
        assert w in message, message


INA3221_3CH = (ROOT / "rigs" / "sim-ina3221-3ch.toml").read_text()


def test_channels_may_share_an_ina3221_each_on_its_own_channel_of_it(tmp_path):
    sensors = [c["sensor"] for c in channels(load_rig("sim-ina3221-3ch"))]
    assert [s["channel"] for s in sensors] == [1, 2, 3] and all(s["chip_channels"] == [1, 2, 3] for s in sensors)
    assert "same averages" in refusal(tmp_path, INA3221_3CH, ("{ channel = 3 }", "{ channel = 3, averages = 16 }"))
    assert "both use sensor address 0x40 channel 2" in refusal(tmp_path, INA3221_3CH,
                                                               ("{ channel = 3 }", "{ channel = 2 }"))
    mixed = ("sensor = { address = 0x41 }", 'sensor = { chip = "INA3221", channel = 1 }')  # at 0x40 with an INA226
    assert "only an INA3221's channels can share one" in refusal(tmp_path, PICO_3CH, mixed)


@pytest.mark.parametrize("edit, words", [
    (("shunt_ohms = 0.01", "shunt_ohm = 0.01"), ["[sensor]", "shunt_ohm", "not a known field"]),
    (("address = 0x40", 'address = "0x40"'), ["address", "whole number"]),
    (("address = 0x40", "address = 0x60"), ["address", "0x60", "0x40-0x4F"]),
    (("max_current_a = 3.5", "max_current_a = 5.0"), ["[limits]", "exceeds"]),
    (("[load]", "[lode]"), ["lode", "not a known field"]),
    (("max_voltage_v = 24.0", "max_voltage_v = -1"), ["max_voltage_v", "negative"]),
    (("board = \"sim\"", "board = \"sim\"\n[rig2]"), ["rig2"]),
    (("[limits]", "[scale]\nsck_pin = 22\ndout_pin = 17\n[limits]"),
     ["[sensor] alert_pin and [scale] sck_pin are both GPIO 22", "its own pin"]),
    (("[limits]", "[scale]\nsck_pin = 16\n[limits]"), ["[scale]", "dout_pin", "missing"]),
])
def test_bad_rig_is_refused_in_one_line(tmp_path, edit, words):
    message = refusal(tmp_path, SIM, edit)
    for w in words:
        assert w in message


def refusal(tmp_path, text, edit):
    """The one line load_rig refuses the rig file text with edit made in it with."""
    rig = tmp_path / "rig.toml"
    rig.write_text(text.replace(*edit, 1))
    with pytest.raises(RigFileError) as e:
        load_rig(rig)
    message = str(e.value)
    assert "\n" not in message and str(rig) in message
    return message


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


UNIT_FILES = sorted(p for p in (ROOT / "rigs/sim/duts").glob("*") if not p.name.endswith(".label.toml"))


@pytest.mark.parametrize("path", UNIT_FILES, ids=[p.name for p in UNIT_FILES])
def test_every_catalogue_unit_loads_as_its_file_says(path):
    unit = load_dut(path)
    assert unit["source"] == str(path)
    if path.suffix == ".csv":
        rows = [line.split(",") for line in path.read_text().splitlines()[1:]]
        assert unit["kind"] == "curve" and unit["points"] == [[float(q), float(v)] for q, v in rows]
    elif unit["kind"] == "weight":  # a calibration weight for the simulated scale
        assert tomllib.loads(path.read_text()) == {"dut": {"kind": "weight"}, "body": {"mass_g": unit["mass_g"]}}
    else:
        tables = tomllib.loads(path.read_text())
        assert tables.pop("dut") == {"kind": "model"} and unit["kind"] == "model" and unit["model"] == tables


@pytest.mark.parametrize("text, words", [
    ('[dut]\nkind = "weight"\n', ["[body]", "mass_g", "missing"]),
    ('[dut]\nkind = "weight"\n[body]\nmass_g = 0.5\n', ["mass_g", "outside"]),
    ('[dut]\nkind = "weight"\n[body]\nmass_g = 500\n[cell]\ncapacity_mah = 100\n', ["cell", "not a known field"]),
])
def test_bad_calibration_weight_is_refused_in_one_line(tmp_path, text, words):
    path = tmp_path / "weight.toml"
    path.write_text(text)
    with pytest.raises(DutError) as e:
        load_dut(path)
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words), str(e.value)

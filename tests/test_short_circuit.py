"""The short-circuit step end to end: the device closes the rig's switch on
its own schedule, a protected unit cuts its output and comes back, one that
is not protected is seen feeding the short, and a rig without the switch
records the step as not tested."""
import numpy as np
import pytest

from pbgrade import wire
from pbgrade.evaluate import UNCALIBRATED, Evaluation
from pbgrade.method import load_method
from pbgrade.steps import short_circuit
from test_e2e import run_record, write_curve, write_label
from test_edge_samples import IDENTITY
from test_live import LABEL
from test_profile import MINIMAL

METHOD = """
[method]
name = "short-only"
title = "short circuit, then 5 s at 1.0 I"
verdict = "grade"
profile = "mini"
provenance = "test"

[[step]]
type = "short_circuit"
short_ms = 300
observe_s = 3

[[step]]
type = "discharge"
seconds = 5
"""

PROFILE = MINIMAL.replace('quantity = "capacity_ratio"\nmin = 1.0', 'quantity = "short_protected"\nmin = 1')


@pytest.fixture
def method(tmp_path):
    (tmp_path / "short.toml").write_text(PROFILE)  # passes if the unit cut the short
    path = tmp_path / "short-only.toml"
    path.write_text(METHOD)
    return [str(path), "--profile", str(tmp_path / "short.toml")]


def short_step(record):
    return next(s for s in record["steps"] if s["type"] == "short_circuit")


def test_protected_unit_cuts_the_short_and_comes_back(tmp_path, method):
    record, _ = run_record(tmp_path, "--sim-dut", "honest-10000", "--method", *method)
    step = short_step(record)
    m = step["measurements"]
    assert (m["short_protected"], m["short_recovered"]) == (1, 1)
    # 5.10 V into 0.04 + 0.01 + 0.05 ohm is 51 A until the cut: read between samples (EVENT trip_peak), over the
    # INA226's 6.55 A register end; the samples, 100 ms apart, see only the current after the cut
    assert m["short_peak_clipped"] == 1 and m["short_peak_a"] == pytest.approx(6.5534)
    assert step["behaviours"][1] == "peak >= 6.55 A: clipped at the sensor's range"
    # the unit's protection acts 0.5 ms into the short (short_delay_s): the sensor's ALERT pin times it to a
    # conversion (0.664 ms, reported as 42 x 16 us), not to a sample (100 ms)
    assert 0.5 <= m["short_trip_time_ms"] <= 0.5 + m["short_trip_resolution_ms"] and m["short_trip_resolution_ms"] == 0.672
    on, off = (e for e in step["events"] if e["name"] in ("short_on", "short_off"))
    assert (on["name"], off["name"]) == ("short_on", "short_off") and off["t_s"] - on["t_s"] == pytest.approx(0.3)
    assert "the unit cut its output" in step["behaviours"][0] and record["passed"]


def test_unprotected_unit_is_seen_feeding_the_short(tmp_path, method):
    curve, label = tmp_path / "curve.csv", tmp_path / "label.toml"
    write_curve(curve, [(0, 5.05), (3000, 5.0), (3000.5, 4.0)])  # a curve knows no protection
    write_label(label, 3000)
    record, _ = run_record(tmp_path, "--sim-dut", str(curve), "--label", str(label), "--method", *method)
    step = short_step(record)
    m = step["measurements"]
    assert m["short_protected"] == 0 and m["short_trip_time_ms"] is None
    # 5.05 V into 0.05 + 0.1 ohm is 33.7 A: the INA226's current register ends at 32767 x 0.2 mA
    assert m["short_peak_clipped"] == 1 and m["short_peak_a"] == pytest.approx(6.5534)
    assert "kept feeding the short until the rig opened it" in step["behaviours"][0]
    assert step["behaviours"][1] == "peak >= 6.55 A: clipped at the sensor's range"
    assert record["grade"] == "FAIL"
    assert record["status"] == "complete"  # the device's current limit was suspended for the short only


def test_a_wide_range_rig_reads_the_short_circuit_current_unclipped(tmp_path, method):
    curve, label = tmp_path / "curve.csv", tmp_path / "label.toml"
    write_curve(curve, [(0, 5.05), (3000, 5.0), (3000.5, 4.0)])
    write_label(label, 3000)
    record, _ = run_record(tmp_path, "--rig", "sim-wide", "--sim-dut", str(curve), "--label", str(label),
                           "--method", *method)
    m = short_step(record)["measurements"]
    assert m["short_peak_clipped"] == 0 and m["short_peak_a"] == pytest.approx(5.05 / 0.15, rel=0.005)


def test_a_wide_range_rig_reads_a_protected_units_short_before_its_cut(tmp_path, method):
    record, _ = run_record(tmp_path, "--rig", "sim-wide", "--sim-dut", "honest-10000", "--method", *method)
    step = short_step(record)
    m = step["measurements"]
    assert m["short_protected"] == 1 and m["short_trip_time_ms"] < 2  # cut 0.5 ms into the short
    assert m["short_peak_clipped"] == 0 and m["short_peak_a"] == pytest.approx(5.10 / 0.10, rel=0.01)
    assert step["behaviours"][1] == "51.0 A read at most (each reading a 280 us average: a shorter spike reads lower)"


def test_rig_without_a_switch_records_the_step_as_not_tested(tmp_path, method):
    record, _ = run_record(tmp_path, "--rig", "sim-ina219", "--sim-dut", "honest-10000", "--method", *method)
    step = short_step(record)
    assert set(step["measurements"].values()) == {None} and step["events"] == []
    assert "no short-circuit switch" in step["behaviours"][0]
    assert "was not measured" in record["verdict"]["reasons"][0]  # never a pass by default


def test_the_peak_is_the_trip_windows_reading_scaled_as_a_sample():
    # 10/s at 5 V and 0.3 A; the short from slot 20 to 23, every sample in it reads the output cut (0 A); the
    # device's EVENT trip_peak read 25000 codes in between: 2.5 A, scaled by the calibration as a sample is
    calibration = dict(v_gain=1.0, v_offset_v=0.0, i_gain=1.01, i_offset_a=0.02, date=0)
    current = np.full(30, 3000)
    current[20:23] = 0
    data = np.empty(30, wire.SAMPLE_DTYPE)
    data["bus"], data["current"] = 4000, current
    frames = [("IDENTITY", dict(IDENTITY, proto=4)), ("CALIBRATION", calibration),
              ("SAMPLES", dict(index=0, count=30, data=data.tobytes())),
              ("EVENT", dict(code=wire.Event.SHORT_ON, index=20, value=0)),
              ("EVENT", dict(code=wire.Event.TRIP_PEAK, index=23, value=25000)),
              ("EVENT", dict(code=wire.Event.SHORT_OFF, index=23, value=0)),
              ("EVENT", dict(code=wire.Event.DURATION, index=30, value=0))]
    evaluation = Evaluation(dict(period_us=100_000, load_ma=300, end_mv=0, collapse_ma=0, hold_ms=0, flush_ms=1000),
                            keep_trace=True)
    for seq, (kind, body) in enumerate(frames):
        evaluation.feed(wire.build(kind, seq, **body)[:-1])
    step = next(s for s in load_method("full").steps if s.type == "short_circuit")
    outcome = short_circuit.measure(step, evaluation, None, LABEL)
    m = outcome.measurements
    assert m["short_protected"] == 1 and m["short_peak_a"] == pytest.approx(25000 * 0.0001 * 1.01 + 0.02)
    assert m["short_peak_clipped"] == 0  # under the current code's end, 3.28 A
    assert outcome.behaviours[1] == "2.5 A read at most (each reading a 332 us average: a shorter spike reads lower)"


def test_the_sensor_range_is_the_devices_own_from_protocol_5():
    """A protocol 5 device says where its current code ends (an INA219 at PGA /4 on 0.1 ohm: 16000 codes of
    100 uA, 1.6 A), where an older device's journal is reckoned from the chip's widest range (3.2 A)."""
    ina219 = dict(IDENTITY, sensor=2, shunt_uohm=100_000, cal=4096)
    for proto, code_max, amps in ((5, 16000, 1.5999), (4, None, 3.1999)):
        body = dict(ina219, proto=proto, current_code_max=code_max, board_id=code_max and "e66141040337")
        identity = wire.parse(wire.decode_frame(wire.build("IDENTITY", 0, **body)[:-1])).body
        assert (identity.current_code_max, identity.board_id) == (code_max, code_max and "e66141040337")
        assert short_circuit.sensor_range_a(identity, UNCALIBRATED) == pytest.approx(amps)

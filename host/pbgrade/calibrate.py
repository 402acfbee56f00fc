"""Two-point calibration of a rig against a reference meter.

The rig draws two currents from a source (a power bank, or better a bench
supply); at each the operator types what the reference meter reads. Gain and
offset follow for current and for voltage (gain only when the two points sit
at nearly the same voltage: an offset from them would be noise). The device
keeps the result in its flash and answers every HELLO with it, so each
result record carries the calibration it was measured with; the rig's
history of calibrations is kept in the data folder, each with the reference
instrument it was made against and when that instrument's own calibration
falls due, which a run's record then names (matched by the calibration's date).
"""
import json
import time
from datetime import datetime, timezone

from . import paths
from .evaluate import UNCALIBRATED, Evaluation
from .link import IDLE_CONFIG, RigError, collect, command, open_rig
from .tomlcheck import read_json

MIN_VOLTAGE_SPAN_V = 0.5  # closer than this, a voltage offset is not determined


class CalibrationError(ValueError):
    pass


def measure_point(link, device, load_a, seconds):
    """Mean uncalibrated volts and amps while the load draws load_a for `seconds`; device: the
    identify step's evaluation (open_rig)."""
    config = {"period_us": 100_000, "load_ma": round(load_a * 1000), "end_mv": 0, "collapse_ma": 0,
              "hold_ms": 1000, "flush_ms": 1000}
    evaluation = Evaluation(config, apply_calibration=False, device=(device.identity, UNCALIBRATED))
    command(link, evaluation, "CONFIG", **config)
    command(link, evaluation, "START")
    collect(link, evaluation, lambda: evaluation.integrator.duration_s >= seconds)
    command(link, evaluation, "STOP")
    if evaluation.integrator.duration_s < seconds or evaluation.voltage.mean_v is None:
        raise RigError(f"the output did not hold at {load_a:g} A for {seconds:g} s: "
                       f"use a source that can deliver it")
    return evaluation.voltage.mean_v, evaluation.integrator.charge_mah * 3.6 / evaluation.integrator.duration_s


def fit(measured, reference, what, allow_offset):
    """Gain and offset mapping two measured values onto the reference values."""
    (m1, m2), (r1, r2) = measured, reference
    if allow_offset:
        gain = (r2 - r1) / (m2 - m1)
        offset = r1 - gain * m1
    else:
        gain, offset = (r1 + r2) / (m1 + m2), 0.0
    if not 0.8 < gain < 1.25:
        raise CalibrationError(f"the reference {what} differs from the rig's by {abs(gain - 1):.0%}: "
                               f"check the reference meter's range and wiring, then calibrate again")
    return gain, offset


def _history(path):
    """The rig's calibrations so far, oldest first."""
    if not path.exists():
        return []
    todo = "move it aside: the next calibration then starts a new history"
    history = read_json(path, CalibrationError, todo)
    if not isinstance(history, list):
        raise CalibrationError(f"{path}: is damaged (not a list of calibrations): {todo}")
    return history


def history_path(rig_file, channel):
    """The station's history of a rig channel's calibrations (rig_file: the whole rig file's table)."""
    suffix = f"-ch{channel}" if "channels" in rig_file else ""
    return paths.data_dir() / "rigs" / rig_file["rig"]["name"] / f"calibrations{suffix}.json"


def latest_reference(path):
    """{"date", "reference_instrument", "due"} of the latest calibration in a history, None without one:
    what a run keeps, for its record to name the reference if the device holds that calibration."""
    history = _history(path)
    if not history:
        return None
    last = history[-1]
    return {"date": last["date"], "reference_instrument": last.get("reference_instrument"), "due": last.get("due")}


def calibrate(port, points_a, seconds, ask, history_file, reference_instrument=None, due=None):
    """Run the procedure; returns the calibration the device now holds. reference_instrument: the meter's
    make, model and serial; due: its own calibration's due date (ISO)."""
    history = _history(history_file)  # first: a damaged history is refused before any current flows
    with open_rig(port) as (link, device):
        measured, reference = [], []
        for k, amps in enumerate(points_a, start=1):
            v, i = measure_point(link, device, amps, seconds)
            measured.append((v, i))
            reference.append((ask(f"point {k} of {len(points_a)}, load {amps:g} A: the reference meter's voltage (V)? "),
                              ask(f"point {k} of {len(points_a)}, load {amps:g} A: the reference meter's current (A)? ")))
        (v1, i1), (v2, i2) = measured
        (rv1, ri1), (rv2, ri2) = reference
        two_point_v = abs(v2 - v1) >= MIN_VOLTAGE_SPAN_V
        v_gain, v_offset = fit((v1, v2), (rv1, rv2), "voltage", two_point_v)
        i_gain, i_offset = fit((i1, i2), (ri1, ri2), "current", True)
        date = int(time.time())
        evaluation = Evaluation(IDLE_CONFIG)
        command(link, evaluation, "CAL_SET", v_gain=v_gain, v_offset_v=v_offset, i_gain=i_gain,
                i_offset_a=i_offset, date=date)
    result = {"date": datetime.fromtimestamp(date, timezone.utc).isoformat(), "v_gain": v_gain,
              "v_offset_v": v_offset, "i_gain": i_gain, "i_offset_a": i_offset,
              "voltage_method": "two-point" if two_point_v else "gain only (the points were at one voltage)",
              "points": [{"load_a": a, "measured_v": m[0], "measured_a": m[1], "reference_v": r[0],
                          "reference_a": r[1]} for a, m, r in zip(points_a, measured, reference)],
              "reference_instrument": reference_instrument, "due": due}
    history_file.parent.mkdir(parents=True, exist_ok=True)
    history_file.write_text(json.dumps(history + [result], indent=1))
    return result

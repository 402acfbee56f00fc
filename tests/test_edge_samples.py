"""The load's edges (protocol 4's EDGE): the host integrates the whole time the load was on, from the frames
(a protocol 3 stream as before), and on the simulated rig against the simulator's exact truth."""
import tempfile

import pytest

from pbgrade import wire
from pbgrade.evaluate import Evaluation
from pbgrade.link import collect, command, open_rig
from pbgrade.rig import load_rig
from pbgrade.simrig import SimRig

PERIOD_US = 1_000_000
CONFIG = {"period_us": PERIOD_US, "load_ma": 2000, "end_mv": 0, "collapse_ma": 0, "hold_ms": 0, "flush_ms": 1000}
IDENTITY = dict(fw_major=0, fw_minor=5, fw_patch=0, sensor=1, address=64, sample_format=1, shunt_uohm=10000,
                bus_lsb_v=0.00125, current_lsb_a=0.0001, cal=5120, sensor_period_us=35200, max_mv=24000, max_ma=3500,
                settings_hash=bytes(8), load_centi_c=-32768, dut_centi_c=-32768, board="sim", rig="sim")
CALIBRATION = dict(v_gain=1.0, v_offset_v=0.0, i_gain=1.0, i_offset_a=0.0, date=0)
FIVE_VOLTS_TWO_AMPS = (4000, 20000)  # codes


def evaluate(proto, with_edges, slots=10, off_offset_us=-600_000):
    """A run of `slots` samples of 5 V x 2 A at 1/s as a device of protocol `proto` sends it: its
    Evaluation. The switch-off comes 0.4 s after the last slot."""
    frames = [("IDENTITY", dict(IDENTITY, proto=proto)), ("CALIBRATION", CALIBRATION)]
    if with_edges:
        frames.append(("EDGE", dict(edge="load_on", index=0, offset_us=-PERIOD_US, bus=4080, current=0)))
    data = bytes.fromhex("a00f204e") * slots  # bus 4000, current 20000
    frames.append(("SAMPLES", dict(index=0, count=slots, data=data)))
    if with_edges:
        frames.append(("EDGE", dict(edge="load_off", index=slots, offset_us=off_offset_us, bus=4000, current=20000)))
    frames += [("EVENT", dict(code=3, index=slots, value=0)),
               ("STATUS", dict(state=2, index=slots, skipped=0, rx_errors=0, load_ma=0))]
    evaluation = Evaluation(CONFIG)
    for seq, (kind, body) in enumerate(frames):
        assert evaluation.feed(wire.build(kind, seq, **body)[:-1]) is not None, kind
    evaluation.close()
    return evaluation


def test_edges_integrate_the_whole_time_the_load_was_on():
    # on at -1 s, samples at 0 .. 9 s, off at 9.4 s: 10.4 s of 10 W and 2 A, the switch-on's 0 A not counted
    integ = evaluate(4, with_edges=True).integrator
    assert integ.energy_wh == pytest.approx(10 * 10.4 / 3600, rel=1e-6)
    assert integ.charge_mah == pytest.approx(2 * 10.4 / 3.6, rel=1e-6)
    assert integ.samples == 10 and integ.samples_lost == 0


def test_a_protocol_3_stream_integrates_first_to_last_sample_as_before():
    integ = evaluate(3, with_edges=False).integrator
    assert integ.energy_wh == pytest.approx(10 * 9 / 3600, rel=1e-6) and integ.span_s == 9.0


def test_edges_are_not_samples():
    """Their readings are integrated only: not samples, not in the voltage statistics or the live view."""
    evaluation = evaluate(4, with_edges=True)
    assert evaluation.samples_received == 10 and evaluation.samples_lost == 0
    assert evaluation.voltage.loaded_samples == 10 and evaluation.last[0] == 9.0


def simulated_run(rate_hz, slots, stop_after_s=None):
    """The simulated rig (firmware under micropython, pty, host) draws 2.1 A from a flat 5.05 V unit for
    `slots` slots at rate_hz, or until a STOP sent after stop_after_s of the device's time: the host's
    integral and the simulator's exact truth."""
    rig = load_rig("sim")
    cfg = dict(CONFIG, period_us=1_000_000 // rate_hz, load_ma=2100)
    unit = {"kind": "curve", "points": [[0, 5.05], [5000, 5.05], [5000.5, 4.0]]}
    with tempfile.TemporaryDirectory(prefix="pbgrade-edges-") as work:
        with SimRig(rig, unit, work, work) as sim:
            with open_rig(sim.port) as (link, device):
                evaluation = Evaluation(cfg, device=(device.identity, device.calibration))
                command(link, evaluation, "CONFIG", **cfg)
                command(link, evaluation, "RUN_FOR", slots=slots)
                command(link, evaluation, "START")
                if stop_after_s is not None:
                    collect(link, evaluation, lambda: evaluation.integrator.span_s >= stop_after_s)
                    command(link, evaluation, "STOP")
                collect(link, evaluation, lambda: evaluation.finished)
                evaluation.close()
    return evaluation, sim.truth


@pytest.mark.parametrize("rate_hz", [1, 10])
def test_a_timed_run_on_the_simulated_rig_matches_the_truth(rate_hz):
    # 30 s at 2.1 A: the slots alone would miss one period, 3.3 % at 1/s; the sensor's own error is ~0.03 %
    evaluation, truth = simulated_run(rate_hz, slots=30 * rate_hz)
    integ = evaluation.integrator
    assert truth["charge_mah"] == pytest.approx(2.1 * 30 / 3.6, rel=0.01)
    assert integ.charge_mah == pytest.approx(truth["charge_mah"], rel=5e-4)
    assert integ.energy_wh == pytest.approx(truth["energy_wh"], rel=5e-4)
    assert evaluation.samples_lost == 0 and evaluation.end_event["name"] == "duration"


def test_a_stopped_run_on_the_simulated_rig_matches_the_truth():
    # STOP comes between two slots whenever the host sends it: the switch-off's reading closes the integral.
    # Left here: the load's settling after the switch-on (its feed-forward current, ~1 % off, corrected after
    # each reading: a step the trapezoid takes for a slope, half a period x the correction, ~0.04 % of 25 s)
    evaluation, truth = simulated_run(1, slots=0, stop_after_s=25)
    integ = evaluation.integrator
    assert evaluation.end_event["name"] == "stopped"
    assert integ.charge_mah == pytest.approx(truth["charge_mah"], rel=1e-3)
    assert integ.energy_wh == pytest.approx(truth["energy_wh"], rel=1e-3)

"""Protection trip times to the millisecond, end to end on the simulated rig: two units that differ only
in how long their protections wait (1 ms or 20 ms) are told apart, each within 2 ms of the truth, by the
sensor's ALERT pin (INA226, INA260, INA228) or, without one (INA219), by reading the current at the
chip's fastest rate between samples. A profile grades the trip times."""
import pytest

from test_e2e import run_record
from test_profile import MINIMAL
from test_short_circuit import METHOD as SHORT_ONLY

from conftest import ROOT

OVER_CURRENT = """[[step]]
type = "over_current"
max_fraction = 1.7
step_fraction = 0.05
step_s = 1.0
observe_s = 2

"""
METHOD = SHORT_ONLY.replace("[[step]]", OVER_CURRENT + "[[step]]", 1)  # the ramp, then the short circuit

# acts within 5 ms, or fails
PROFILE = MINIMAL.replace('quantity = "capacity_ratio"\nmin = 1.0', 'quantity = "short_trip_time_ms"\nmax = 5')

HONEST = (ROOT / "rigs" / "sim" / "duts" / "honest-10000.toml").read_text()


def unit(tmp_path, delay_s):
    """The honest unit, both protections acting delay_s after the current passes their threshold; its
    over-current one at 2.47 A (between the ramp's steps of 2.415 and 2.52 A, so the current passes it when
    a step raises it, and within the INA219 rig's 3 A)."""
    path = tmp_path / f"delay-{delay_s}.toml"
    protection = "ocp_a = 3.3\nocp_delay_s = 0.02\n"
    assert protection in HONEST
    path.write_text(HONEST.replace(protection, f"ocp_a = 2.47\nocp_delay_s = {delay_s}\nshort_delay_s = {delay_s}\n"))
    return str(path)


def trip_times(tmp_path, rig, delay_s):
    (tmp_path / "trip.toml").write_text(PROFILE)
    (tmp_path / "protections.toml").write_text(METHOD)
    record, _ = run_record(tmp_path, "--rig", rig, "--sim-dut", unit(tmp_path, delay_s),
                           "--label", str(ROOT / "rigs" / "sim" / "duts" / "honest-10000.label.toml"),
                           "--method", str(tmp_path / "protections.toml"), "--profile", str(tmp_path / "trip.toml"))
    steps = {s["type"]: s["measurements"] for s in record["steps"]}
    return steps["over_current"], steps["short_circuit"], record


@pytest.mark.parametrize("rig, alert", [("sim", True), ("sim-ina260", True), ("sim-wide", True),
                                        ("sim-ina219", False)])
def test_a_1_ms_protection_is_told_from_a_20_ms_one(tmp_path, rig, alert):
    fast_ocp, fast_short, fast = trip_times(tmp_path, rig, 0.001)
    slow_ocp, slow_short, slow = trip_times(tmp_path, rig, 0.020)
    for ocp, truth_ms in ((fast_ocp, 1.0), (slow_ocp, 20.0)):
        # the trip is timed from the ramp step that raised the current over the unit's 2.47 A to the first
        # result that read the output cut: never before the truth, at most one result after it
        assert truth_ms <= ocp["ocp_trip_time_ms"] <= truth_ms + ocp["ocp_trip_resolution_ms"] <= truth_ms + 2
    assert (fast_ocp["ocp_trip_resolution_ms"] < 1) == alert  # a conversion (alert), or a poll and its read
    if rig in ("sim", "sim-wide"):  # the rigs with a short-circuit switch
        for short, truth_ms in ((fast_short, 1.0), (slow_short, 20.0)):
            assert truth_ms <= short["short_trip_time_ms"] <= truth_ms + short["short_trip_resolution_ms"]
        assert fast["grade"] == "PASS" and slow["grade"] == "FAIL"  # the profile: within 5 ms

"""Issue 18, capacity from full: the full method's no-load, regulation and protection steps draw from the unit
before its discharge, and the standards measure capacity from full, so the capacity and energy that grade a
unit count from the start of the test, each step's part shown in the record."""
import csv

import pytest

from conftest import ROOT
from test_e2e import exact, pbgrade, run_record

DUTS = ROOT / "rigs" / "sim" / "duts"
CURVE_UNITS = sorted(path.stem for path in DUTS.glob("*.csv"))


def curve_points(unit):
    with open(DUTS / f"{unit}.csv", newline="") as f:
        return [(float(q), float(v)) for q, v in list(csv.reader(f))[1:]]


@pytest.mark.parametrize("unit", CURVE_UNITS)
def test_full_method_grades_the_exact_total_of_a_curve_unit(tmp_path, unit):
    """Without the credit the graded capacity came out 0.46-0.75 % low: the steps before the discharge drew
    ~26 mAh of the curve (issue 18)."""
    mah, wh = exact(curve_points(unit))
    record, _ = run_record(tmp_path, "--sim-dut", unit, "--method", "full")
    assert record["capacity_mah"] == pytest.approx(mah, rel=0.003)
    assert record["energy_wh"] == pytest.approx(wh, rel=0.003)
    assert record["capacity_ratio"] == pytest.approx(mah / record["label"]["rated_capacity_mah"], rel=0.003)


def test_the_part_the_steps_before_the_discharge_delivered_is_in_the_record(tmp_path):
    record, _ = run_record(tmp_path, "--sim-dut", CURVE_UNITS[0], "--method", "full")
    parts = record["delivered_by_step"]
    assert [(part["step"], part["type"]) for part in parts] == [
        (number, step["type"]) for number, step in enumerate(record["steps"], 1)]
    *before, discharge = parts
    drawing = {part["type"]: part["charge_mah"] for part in before if part["charge_mah"] > 1}
    assert set(drawing) == {"load_regulation", "over_current", "short_circuit"}
    assert record["charge_before_discharge_mah"] == pytest.approx(sum(part["charge_mah"] for part in before))
    assert record["energy_before_discharge_wh"] == pytest.approx(sum(part["energy_wh"] for part in before))
    # the discharge's own figures stay in its step; the graded ones are the sum of the parts
    assert record["steps"][-1]["measurements"]["capacity_mah"] == discharge["charge_mah"]
    assert record["capacity_mah"] == pytest.approx(discharge["charge_mah"] + record["charge_before_discharge_mah"])
    assert record["energy_wh"] == pytest.approx(discharge["energy_wh"] + record["energy_before_discharge_wh"])
    page = tmp_path / "report.html"
    assert pbgrade(tmp_path, "report", record["run_id"], "--out", page).returncode == 0
    assert (f"Counted from the start of the test: {record['charge_before_discharge_mah']:,.1f} mAh"
            in page.read_text())

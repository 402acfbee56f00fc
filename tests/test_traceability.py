"""A record names who tested which unit, when in the station's own time, in what room, against which
reference instrument; the run id shows as the run starts; a re-grade years later, elsewhere, says the same."""
import json
import os
import sqlite3
import subprocess
from datetime import datetime
from types import SimpleNamespace

import pytest

from conftest import ROOT
from test_e2e import PBGRADE
from pbgrade import traceability, wire
from pbgrade.calibrate import latest_reference

DUTS = ROOT / "rigs" / "sim" / "duts"
LABEL = DUTS / "honest-10000.label.toml"


def pbgrade_in(tmp_path, *args, tz="UTC", input=None):
    """pbgrade with this test's data folder, in time zone tz."""
    env = dict(os.environ, PBGRADE_DATA=str(tmp_path / "data"), TZ=tz)
    return subprocess.run([*PBGRADE, *map(str, args)], capture_output=True, text=True, timeout=300, env=env,
                          cwd=ROOT, input=input)


def cold_unit(tmp_path, ambient_c):
    """honest-10000 in a room at ambient_c (its model's [thermal] ambient_c)."""
    unit = tmp_path / "cold.toml"
    unit.write_text((DUTS / "honest-10000.toml").read_text().replace("ambient_c = 23", f"ambient_c = {ambient_c}"))
    return unit


def test_a_run_records_serial_operator_note_local_time_and_the_rigs_ambient_and_a_regrade_keeps_them(tmp_path):
    out = tmp_path / "run.json"
    proc = pbgrade_in(tmp_path, "run", "--method", "quick", "--sim-dut", cold_unit(tmp_path, 18.5), "--label", LABEL,
                      "--serial", "SN-0042", "--operator", "Li Wei", "--note", "batch 7", "--json", out,
                      tz="Asia/Shanghai")
    assert proc.returncode in (0, 1), proc.stderr
    record = json.loads(out.read_text())
    run_id = record["run_id"]
    assert record["label"]["serial"] == "SN-0042"  # not the label file's SIM-H10-0001
    assert (record["operator"], record["note"]) == ("Li Wei", "batch 7")
    local = datetime.fromisoformat(record["started_local"])
    assert record["started_local"].endswith("+08:00")
    assert local == datetime.fromisoformat(record["started_at"].replace("Z", "+00:00"))  # the same instant
    assert record["ambient"]["temperature_c"] == 18.5 and record["ambient"]["source"] == "rig"
    assert "ntc_dut" in record["ambient"]["sensor"]
    lines = proc.stderr.splitlines()
    announced = f"pbgrade: run {run_id} started (resume with `pbgrade resume {run_id}`)"
    assert announced in lines and lines.index(announced) < min(k for k, l in enumerate(lines) if "step 1/" in l)
    with sqlite3.connect(tmp_path / "data" / "runs.sqlite") as db:  # kept for history's filters and columns
        assert db.execute("SELECT serial, operator FROM runs").fetchall() == [("SN-0042", "Li Wei")]

    again = tmp_path / "regraded.json"
    regraded = pbgrade_in(tmp_path, "regrade", run_id, "--json", again, tz="America/New_York")
    assert regraded.returncode in (0, 1), regraded.stderr
    later = json.loads(again.read_text())
    for key in ("started_local", "operator", "note", "ambient", "calibration"):
        assert later[key] == record[key], key
    assert later["label"]["serial"] == "SN-0042"


def test_a_typed_ambient_is_recorded_as_typed_and_the_label_serial_stays_without_serial(tmp_path):
    out = tmp_path / "run.json"
    proc = pbgrade_in(tmp_path, "run", "--method", "quick", "--ambient-c", "21.5", "--json", out)
    assert proc.returncode in (0, 1), proc.stderr
    record = json.loads(out.read_text())
    assert record["ambient"] == {"temperature_c": 21.5, "source": "typed", "sensor": None}
    assert record["label"]["serial"] == "SIM-H10-0001" and record["operator"] is None and record["note"] is None


@pytest.mark.parametrize("value, says", [("75", "not °F"), ("warm", "is not a number")])
def test_an_implausible_ambient_is_refused_in_one_line_before_the_test(tmp_path, value, says):
    proc = pbgrade_in(tmp_path, "run", "--method", "quick", "--ambient-c", value)
    assert proc.returncode == 2 and says in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "data" / "runs").exists()


def test_calibration_reference_and_due_date_reach_the_record_and_an_overdue_one_is_said(tmp_path):
    readings = "4.802\n0.495\n4.010\n2.475\n"  # the reference meter at 0.5 A and 2.5 A
    bad = pbgrade_in(tmp_path, "calibrate", "--seconds", "1", "--due", "next june", input=readings)
    assert bad.returncode == 2 and "YYYY-MM-DD" in bad.stderr and bad.stderr.count("\n") == 1
    cal = pbgrade_in(tmp_path, "calibrate", "--seconds", "1", "--reference", "Fluke 87V s/n 1234",
                     "--due", "2020-01-31", input=readings)
    assert cal.returncode == 0, cal.stderr
    assert "against Fluke 87V s/n 1234, due 2020-01-31" in cal.stdout
    (history,) = (tmp_path / "data" / "rigs").glob("*/calibrations.json")
    latest = json.loads(history.read_text())[-1]
    assert (latest["reference_instrument"], latest["due"]) == ("Fluke 87V s/n 1234", "2020-01-31")

    out = tmp_path / "run.json"
    proc = pbgrade_in(tmp_path, "run", "--method", "quick", "--json", out)
    assert proc.returncode in (0, 1), proc.stderr
    record = json.loads(out.read_text())
    assert record["calibration"]["calibrated"] and record["calibration"]["date"] == latest["date"]
    assert record["calibration"]["reference_instrument"] == "Fluke 87V s/n 1234"
    assert record["calibration"]["due"] == "2020-01-31" and record["calibration"]["overdue"] is True
    assert len(record["notes"]) == 1 and "due on 2020-01-31" in record["notes"][0]
    assert record["grade"] in ("CONSISTENT", "NOT CONSISTENT", "NEEDS A FULL TEST")  # a note, not a verdict


def device(load_centi_c=wire.NO_TEMPERATURE, dut_centi_c=wire.NO_TEMPERATURE, calibrated_on=None, proto=3):
    """An identify step's evaluation, as far as traceability reads one: its IDENTITY's NTC readings."""
    record = ({"calibrated": True, "date": calibrated_on} if calibrated_on
              else {"calibrated": False, "note": "never calibrated: datasheet scaling only"})
    identity = {"proto": proto, **({"load_centi_c": load_centi_c, "dut_centi_c": dut_centi_c} if proto >= 3 else
                                   {"load_centi_c": None, "dut_centi_c": None})}
    return SimpleNamespace(identity=identity, calibration_record=lambda: record)


def test_ambient_from_the_unit_case_ntc_only_else_none():
    assert traceability.ambient({}, device(dut_centi_c=2275))["temperature_c"] == 22.75
    assert traceability.ambient({}, device(load_centi_c=3100)) is None  # a heatsink may be warm from the last unit
    assert traceability.ambient({}, device()) is None  # no NTC, none typed: the report shows "—"
    assert traceability.ambient({}, device(proto=2)) is None  # a journal of a device before protocol 3
    assert traceability.ambient({}, SimpleNamespace(identity=None)) is None  # the device never answered
    assert traceability.ambient({"ambient_c": 20.0}, device(dut_centi_c=2275))["source"] == "typed"


def test_the_reference_belongs_to_the_calibration_the_device_holds():
    when = "2026-03-01T08:00:00+00:00"
    trace = {"calibration_reference": {"date": when, "reference_instrument": "Fluke 87V s/n 1234",
                                       "due": "2027-06-01"}}
    held = traceability.calibration(device(calibrated_on=when), trace, "2026-12-04")
    assert (held["reference_instrument"], held["due"], held["overdue"]) == ("Fluke 87V s/n 1234", "2027-06-01", False)
    assert traceability.notes(held) == []
    assert traceability.calibration(device(calibrated_on=when), trace, "2027-06-02")["overdue"] is True
    other = traceability.calibration(device(calibrated_on="2025-01-01T00:00:00+00:00"), trace, "2026-12-04")
    assert (other["reference_instrument"], other["due"], other["overdue"]) == (None, None, None)  # not its history's
    never = traceability.calibration(device(), trace, "2026-12-04")
    assert never["reference_instrument"] is None and never["calibrated"] is False


def test_a_damaged_calibration_history_is_one_line(tmp_path):
    history = tmp_path / "calibrations.json"
    assert latest_reference(history) is None
    history.write_text("[{")
    with pytest.raises(ValueError, match="move it aside: the next calibration then starts a new history"):
        latest_reference(history)


def test_the_serial_given_replaces_the_labels_and_none_given_says_none():
    from pbgrade.label import Label

    unlabelled = Label(10000, 3.7, 6000, 5.0, 2.1)
    assert traceability.label(unlabelled, {"serial": None})["serial"] is None  # neither: the record says so
    assert traceability.label(unlabelled, {"serial": "SN-1"})["serial"] == "SN-1"
    assert traceability.label(Label(10000, 3.7, 6000, 5.0, 2.1, serial="L-7"), {})["serial"] == "L-7"  # an old run

"""Verdict kinds kept apart, and every graded quantity judged (issue 17): history, the summary CSV, stats,
their filters and the station's tally show a pass/fail grade, a tier grade and a screen's finding each as
what it is; stats and the summary cover what the eol profile grades (load regulation, loaded voltage, the
over-current trip), with Cpk against its limits; --json gives one document that parses.

The runs are copies of two real records (an eol run on channel 2 of the simulated three-channel rig, and
a quick run), made once for the module, with their verdicts and graded values set by hand.
"""
import copy
import csv
import json
import re

import pytest

from pbgrade import cli, history, production_line, shift, wording
from pbgrade.record import verdict_kind
from pbgrade.store import Store
from test_e2e import run_record

# run, method, profile, kind, grade, passed, load regulation, loaded voltage ratio, over-current trip ratio
BATCH = [
    ("e1", "eol", "eol", "pass-fail", "PASS", True, 0.010, 0.995, 1.50),
    ("e2", "eol", "eol", "pass-fail", "PASS", True, 0.020, 0.985, 1.40),
    ("e3", "eol", "eol", "pass-fail", "FAIL", False, 0.040, 0.960, 1.60),
    ("e4", "eol", "eol", "pass-fail", "PASS", True, 0.015, 0.980, 1.30),
    ("t1", "full", "tiers", "tiers", "B", True, None, None, None),
    ("t2", "full", "tiers", "tiers", "D", False, None, None, None),
    ("q1", "quick", "quick", "screen", "CONSISTENT", True, None, None, None),
    ("q2", "quick", "quick", "screen", "NOT CONSISTENT", False, None, None, None),
    ("q3", "quick", "quick", "screen", "NEEDS A FULL TEST", False, None, None, None),
]
EOL_GRADES = ["no_load_voltage_ratio", "load_regulation", "loaded_voltage_ratio", "ocp_trip_ratio", "interruptions",
              "collapsed"]  # what profile eol grades, in the order its limits name them


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """{method: a real record}: eol on channel 2 of sim-3ch, and quick."""
    tmp = tmp_path_factory.mktemp("real")
    return {"eol": run_record(tmp, "--rig", "sim-3ch", "--channel", "2", "--method", "eol")[0],
            "quick": run_record(tmp, "--method", "quick")[0]}


def batch(real):
    for n, (run_id, method, profile, kind, grade, passed, regulation, loaded, trip) in enumerate(BATCH):
        record = copy.deepcopy(real["quick" if method == "quick" else "eol"])
        record.update(run_id=run_id, started_at=f"2026-03-02T08:{n:02d}:00Z", method=method, profile=profile,
                      grade=grade, passed=passed, method_verdict="screen" if kind == "screen" else "grade")
        record["verdict"]["kind"] = kind
        record["label"]["serial"] = f"SN-{run_id}"
        if method == "eol":
            record.update(load_regulation=regulation, loaded_voltage_ratio=loaded, ocp_trip_ratio=trip)
        yield record


@pytest.fixture(scope="module")
def data(real, tmp_path_factory):
    """A data directory whose run database holds the batch."""
    folder = tmp_path_factory.mktemp("data")
    store = Store(folder / "runs.sqlite")
    for record in batch(real):
        store.add(record)
    return folder


def pbgrade(capsys, monkeypatch, data, *args):
    """The real command line, in this process: exit code, stdout, stderr."""
    monkeypatch.setenv("PBGRADE_DATA", str(data))
    code = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def columns(line):
    return re.split(r"\s{2,}", line.strip())


# -- history -------------------------------------------------------------------------------------------

def test_history_shows_each_kind_of_verdict_as_it_is(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "history")
    header, *rows = out.splitlines()
    verdict = columns(header).index("verdict")
    assert {columns(row)[1]: columns(row)[verdict] for row in rows} == {
        "e1": "PASS", "e2": "PASS", "e3": "FAIL", "e4": "PASS", "t1": "B (PASS)", "t2": "D (FAIL)",
        "q1": "CONSISTENT", "q2": "NOT CONSISTENT", "q3": "NEEDS A FULL TEST"}  # never a screen's PASS or FAIL


@pytest.mark.parametrize("args, expected", [
    (["--grade", "needs a full test"], ["q3"]),
    (["--kind", "screen"], ["q1", "q2", "q3"]),
    (["--kind", "tiers"], ["t1", "t2"]),
    (["--passed"], ["e1", "e2", "e4", "t1"]),  # a screen's CONSISTENT is not a pass ...
    (["--failed"], ["e3", "t2"]),  # ... nor its NEEDS A FULL TEST a fail
    (["--kind", "pass-fail", "--failed"], ["e3"]),
])
def test_filters_keep_the_kinds_apart(data, capsys, monkeypatch, args, expected):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "history", "--json", *args)
    assert code == 0
    assert [run["run_id"] for run in json.loads(out)["runs"]] == expected


def test_history_json_is_one_document_with_kinds_and_graded_quantities(data, real, capsys, monkeypatch):
    code, out, err = pbgrade(capsys, monkeypatch, data, "history", "--json")
    assert code == 0 and err == ""
    runs = {run["run_id"]: run for run in json.loads(out)["runs"]}
    assert [runs[r]["kind"] for r in ("e1", "t1", "q1")] == ["pass-fail", "tiers", "screen"]
    assert [runs[r]["passed"] for r in ("e3", "t1", "q1", "q3")] == [False, True, None, None]
    assert runs["q3"]["grade"] == "NEEDS A FULL TEST"
    assert (runs["e1"]["channel"], runs["q1"]["channel"]) == (2, 1)  # the rig's channel the unit was on
    assert runs["e1"]["station"] == real["eol"]["station"]
    assert {name: runs["e3"]["quantities"][name] for name in ("load_regulation", "loaded_voltage_ratio",
                                                              "ocp_trip_ratio")} == \
        {"load_regulation": 0.040, "loaded_voltage_ratio": 0.960, "ocp_trip_ratio": 1.60}
    assert runs["q1"]["quantities"]["voltage_ratio_min"] == real["quick"]["voltage_ratio_min"]


def test_history_json_with_no_match_is_still_a_document(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "history", "--json", "--grade", "Z")
    assert code == 0 and json.loads(out) == {"runs": []}


def keys(document, data_keyed=("grades", "quantities")):
    """Every key of a JSON document but those naming data (a grade's count, a quantity's value)."""
    if isinstance(document, list):
        return set().union(*map(keys, document))
    if not isinstance(document, dict):
        return set()
    return set(document).union(*(keys(value) for key, value in document.items()
                                  if not (key in data_keyed and isinstance(value, dict))))


@pytest.mark.parametrize("command, args, shape", [("history", (), history.HISTORY_JSON),
                                                  ("stats", ("--method", "eol"), history.STATS_JSON)])
def test_help_documents_every_key_of_the_json(data, capsys, monkeypatch, command, args, shape):
    code, out, _ = pbgrade(capsys, monkeypatch, data, command, "--json", *args)
    found = keys(json.loads(out))
    assert {"run_id", "kind"} <= found or {"verdicts", "cpk", "histogram"} <= found
    assert [key for key in sorted(found) if f'"{key}"' not in shape] == []


# -- stats ---------------------------------------------------------------------------------------------

def stats_table(out):
    """{quantity: [n, mean, s, min, max, limit, Cpk]} from `pbgrade stats`."""
    lines = out.splitlines()
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["n", "mean"])
    end = next(k for k, line in enumerate(lines) if k > start and (not line.strip() or line.startswith("  ")))
    return {row[0]: row[1:] for row in map(columns, lines[start + 1:end])}


def test_stats_of_eol_runs_judge_what_the_eol_profile_grades(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--method", "eol")
    assert code == 0
    assert "yield    3 of 4 passed: 75.0 %" in out and "(pass-fail: PASS 3, FAIL 1)" in out
    table = stats_table(out)
    assert list(table) == EOL_GRADES
    # 0.010 0.020 0.040 0.015: mean 0.02125; squares of the deviations 0.0001265625 + 0.0000015625 +
    # 0.0003515625 + 0.0000390625 = 0.00051875; s = sqrt(0.00051875 / 3) = 0.0131498;
    # (0.03 - 0.02125) / (3 x 0.0131498) = 0.2218
    assert table["load_regulation"] == ["4", "2.1 %", "1.31 %", "1.0 %", "4.0 %", "≤ 3.0 %", "0.22"]
    # 0.995 0.985 0.960 0.980: mean 0.98; squares 0.000225 + 0.000025 + 0.0004 + 0 = 0.00065;
    # s = sqrt(0.00065 / 3) = 0.0147196; (0.98 - 0.97) / 0.0441588 = 0.2265
    assert table["loaded_voltage_ratio"] == ["4", "98.0 %", "1.47 %", "96.0 %", "99.5 %", "≥ 97.0 %", "0.23"]
    # 1.5 1.4 1.6 1.3: mean 1.45; squares 0.0025 + 0.0025 + 0.0225 + 0.0225 = 0.05; s = 0.1290994;
    # lower (1.45 - 1.05) / 0.3872983 = 1.033, upper (1.65 - 1.45) / 0.3872983 = 0.516: the nearer
    assert table["ocp_trip_ratio"][-2:] == ["105.0 % to 165.0 %", "0.52"]
    assert table["interruptions"][-2:] == ["≤ 0", "no spread"]  # the real run's 0, four times
    assert "not measured" not in out and "capacity_" not in out  # eol measures no capacity, and grades none
    for name in ("load_regulation", "loaded_voltage_ratio", "ocp_trip_ratio"):
        assert re.search(rf"^{name}: .* \(n 4\)$", out, re.M)  # its histogram


def test_stats_json_of_eol_runs(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--method", "eol", "--json")
    assert code == 0
    stats = json.loads(out)
    assert (stats["runs"], stats["profile"], stats["graded_with"]) == (4, "eol", ["eol"])
    [verdicts] = stats["verdicts"]
    assert verdicts["kind"] == "pass-fail" and (verdicts["passed"], verdicts["runs"]) == (3, 4)
    assert verdicts["grades"] == {"PASS": 3, "FAIL": 1} and verdicts["yield"] == 0.75
    quantities = {q["quantity"]: q for q in stats["quantities"]}
    assert list(quantities) == EOL_GRADES and all(q["graded"] for q in quantities.values())
    regulation = quantities["load_regulation"]
    assert (regulation["upper"], regulation["lower"], regulation["unit"]) == (0.03, None, "%")
    assert regulation["cpk"] == pytest.approx(0.2218, abs=1e-4) and regulation["cpk_note"] is None
    assert quantities["ocp_trip_ratio"]["cpk"] == pytest.approx(0.5164, abs=1e-4)
    assert sum(b["count"] for b in regulation["histogram"]) == 4
    assert quantities["interruptions"]["cpk"] is None and quantities["interruptions"]["cpk_note"] == "no spread"


def test_stats_on_request_judge_every_measured_quantity(data, real, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--method", "eol", "--all-quantities")
    assert code == 0
    table = stats_table(out)
    assert list(table)[:len(EOL_GRADES)] == EOL_GRADES
    trip = real["eol"]["ocp_trip_a"]
    assert table["ocp_trip_a"] == ["4", f"{trip:.2f} A", "0.000 A", f"{trip:.2f} A", f"{trip:.2f} A", "no limit",
                                   "no limit"]
    assert "capacity_mah" not in table  # eol measured none
    assert "ocp_trip_a" not in stats_table(pbgrade(capsys, monkeypatch, data, "stats", "--method", "eol")[1])


def test_stats_of_a_screen_count_its_findings_not_a_pass_rate(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--method", "quick")
    assert code == 0
    # in the profile's order: NEEDS A FULL TEST is a grade of quick's, between CONSISTENT and its fallback
    assert "screen   3 screened: CONSISTENT 1, NEEDS A FULL TEST 1, NOT CONSISTENT 1; a screen's findings, " \
           "not a pass rate" in out.splitlines()
    assert "yield" not in out and "passed" not in out
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--method", "quick", "--json")
    [screen] = json.loads(out)["verdicts"]
    assert screen == {"kind": "screen", "runs": 3, "passed": None, "yield": None, "wilson_95": None,
                      "grades": {"CONSISTENT": 1, "NOT CONSISTENT": 1, "NEEDS A FULL TEST": 1}}


def test_stats_of_every_kind_give_a_yield_per_graded_kind_and_the_screens_apart(data, capsys, monkeypatch):
    code, out, _ = pbgrade(capsys, monkeypatch, data, "stats", "--profile", "eol")
    assert code == 0
    lines = out.splitlines()
    assert lines[2].startswith("yield    3 of 4 passed: 75.0 %") and lines[2].endswith("(pass-fail: PASS 3, FAIL 1)")
    assert lines[3].startswith("yield    1 of 2 passed: 50.0 %") and lines[3].endswith("(tiers: B 1, D 1)")
    assert lines[4].startswith("screen   3 screened: ")


# -- the summary CSV -------------------------------------------------------------------------------------

def summary(capsys, monkeypatch, data, *args):
    out = data / "summary.csv"
    assert pbgrade(capsys, monkeypatch, data, "export", "--summary", out, *args)[0] == 0
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_summary_csv_has_station_channel_kind_verdict_and_what_eol_grades(data, real, capsys, monkeypatch):
    rows = {row["run_id"]: row for row in summary(capsys, monkeypatch, data)}
    assert set(EOL_GRADES) <= set(rows["e1"])
    assert (rows["e1"]["station"], rows["e1"]["channel"], rows["q1"]["channel"]) == (real["eol"]["station"], "2", "1")
    assert [(rows[r]["kind"], rows[r]["verdict"], rows[r]["passed"]) for r in ("e3", "t1", "q1", "q3")] == [
        ("pass-fail", "FAIL", "0"), ("tiers", "B", "1"), ("screen", "CONSISTENT", ""),
        ("screen", "NEEDS A FULL TEST", "")]
    assert [float(rows["e3"][q]) for q in ("load_regulation", "loaded_voltage_ratio", "ocp_trip_ratio")] == \
        [0.040, 0.960, 1.60]
    assert rows["q1"]["load_regulation"] != "" and rows["q1"]["ocp_trip_ratio"] == ""  # quick: no trip ratio
    assert "ocp_trip_a" not in rows["e1"]  # graded by no profile: only on request
    assert float(summary(capsys, monkeypatch, data, "--all-quantities")[0]["ocp_trip_a"]) == real["eol"]["ocp_trip_a"]


# -- the station's tally and the kind of older records ---------------------------------------------------

def test_the_stations_tally_counts_a_screen_by_its_findings(real):
    records = {record["run_id"]: record for record in batch(real)}
    assert shift.tally([records[r] for r in ("e1", "e3", "t1", "q1", "q3")]) == \
        "5 units tested, 2 passed, 1 failed, grades B 1, CONSISTENT 1, NEEDS A FULL TEST 1"
    assert shift.tally([records["e1"], records["e2"]]) == "2 units tested, 2 passed, 0 failed"


def test_the_station_shows_a_screen_finding_big():
    from rich.console import Console

    console = Console(width=80, record=True, color_system=None)
    channel = production_line.Channel(1, "p1", {}, "s/ch1", state="remove", serial="SN-1",
                                      verdict="NEEDS A FULL TEST", detail="capacity was not measured")
    console.print(production_line.TerminalView(console).render([channel]))
    assert "│       NEEDS A FULL TEST        │" in console.export_text()  # on one line: too long to space out


def test_a_record_made_before_kinds_were_recorded_tells_its_kind(real):
    records = {record["run_id"]: record for record in batch(real)}
    older = copy.deepcopy(records["q1"]), copy.deepcopy(records["e1"])
    for record in older:
        del record["verdict"]["kind"]
    assert [verdict_kind(record) for record in older] == ["screen", "pass-fail"]
    older[1]["verdict"]["checks"][0]["grade"] = "A"  # checks naming two grades: a tiers profile's
    assert verdict_kind(older[1]) == "tiers"


def check(reason, bound, threshold, value):
    return {"reason": reason, "bound": bound, "threshold": threshold, "value": value, "ok": value is not None and (
        value >= threshold if bound == "min" else value <= threshold)}


def test_a_passing_band_shows_the_limit_the_unit_came_closest_to_failing():
    """The station's band (terminal and browser) shows one reason: for a fail the first, which decided it;
    for a pass, not the profile's first limit but the nearest miss (issue 19's panel)."""
    checks = [check("no load 5.10 V", "min", 4.90, 5.10),  # 4.1 % above its minimum
              check("regulation 2.9 %", "max", 0.03, 0.029),  # 3.3 % below its maximum: the nearest
              check("no interruption", "max", 0, 0)]  # a zero limit has no relative margin
    passed = {"reasons": [c["reason"] for c in checks], "checks": checks}
    assert wording.headline(passed) == 1
    failed = {"reasons": ["regulation 9.7 %", "no load 5.10 V"],
              "checks": [check("regulation 9.7 %", "max", 0.03, 0.097), checks[0]]}
    assert wording.headline(failed) == 0
    lower_grade = {"reasons": ["capacity 88 %"], "checks": [check("capacity 88 %", "min", 0.9, 0.88)]}
    assert wording.headline(lower_grade) == 0  # a B: the A limit it missed, not a margin

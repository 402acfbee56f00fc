"""The agreement study (pbgrade agreement): Wilson intervals, the confusion matrix and the goals from known
pairs, pairs read back from a run database, the population's spreads, and a dozen simulated units end to end."""
import json

import pytest

from pbgrade.agreement import QUICK_LIMIT_S, analyse, draw_population, markdown, pairs_from_db, wilson
from pbgrade.cli import main
from pbgrade.store import Store
from test_e2e import pbgrade


def test_wilson_matches_the_published_intervals():
    # Newcombe (1998), table I: 0/10 -> 0 to 0.2775; 5/10 -> 0.2366 to 0.7634; 81/263 -> 0.2553 to 0.3662
    assert wilson(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson(81, 263) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    assert wilson(0, 0) == (None, None)


def pair(serial, kind, quick, full, share=1.0, ballast=False, seconds=170):
    return {"serial": serial, "kind": kind, "quick": quick, "full": full, "quick_test_s": seconds,
            "truth": {"capacity_share": share, "ballast": ballast}}


def test_matrix_sensitivity_specificity_and_goals():
    pairs = [pair("a", "honest", "CONSISTENT", "PASS"), pair("b", "honest", "NEEDS A FULL TEST", "PASS"),
             pair("c", "under-capacity", "NOT CONSISTENT", "FAIL", 0.25),
             pair("d", "under-capacity", "CONSISTENT", "FAIL", 0.75),
             pair("e", "under-capacity, ballast", "CONSISTENT", "FAIL", 0.25, True, seconds=200)]
    result = analyse(pairs)
    assert result["matrix"] == {"PASS": {"CONSISTENT": 1, "NEEDS A FULL TEST": 1, "NOT CONSISTENT": 0},
                                "FAIL": {"CONSISTENT": 2, "NEEDS A FULL TEST": 0, "NOT CONSISTENT": 1}}
    assert (result["sensitivity"]["k"], result["sensitivity"]["n"]) == (1, 3)
    assert (result["specificity"]["k"], result["specificity"]["n"]) == (1, 2)
    goals = result["goals"]
    assert goals["short_over_20_percent_flagged"] == {"units": 2, "missed": ["d"], "met": False}  # e: ballast
    assert not goals["honest_flagged"]["met"] and not goals["quick_test_s_max"]["met"]
    assert "NOT met" in markdown(result, "test") and "1/3" in markdown(result, "test")


def test_the_population_is_drawn_with_its_spreads_and_reproduced_by_its_seed():
    units = draw_population(300, 20)
    assert units == draw_population(300, 20) and units != draw_population(300, 21)
    kinds = {u["kind"] for u in units}
    assert kinds == {"honest", "low efficiency", "under-capacity", "under-capacity, ballast", "sagging output",
                     "weak protection", "intermittent contact"}
    honest = [u for u in units if u["kind"] == "honest"]
    # honest: the label's cell energy over the unit's mass, 200-265 Wh/kg cells at 65-80 % of the mass
    densities = [u["label"]["cell_capacity_mah"] * 3.7 / u["mass_g"] for u in honest]
    assert 125 <= min(densities) and max(densities) <= 215
    assert len({u["model"]["converter"]["efficiency"][3][1] for u in honest}) == 3  # several efficiencies
    # each rated for its own converter, with the margin honest makers leave: 0.9 x peak x cell energy at 5 V
    assert all(u["label"]["rated_capacity_mah"] <= u["label"]["cell_capacity_mah"] * 3.7 * u["truth"]["peak_efficiency"]
               * 0.9 / 5 for u in honest)


def record(serial, method, grade, started):
    return {"run_id": f"{serial}-{method}-{started}", "started_at": f"2026-12-0{started}T10:00:00Z", "grade": grade,
            "passed": grade in ("PASS", "CONSISTENT"), "profile": method, "method": method,
            "method_verdict": "screen" if method == "quick" else "pass-fail",
            "verdict": {"kind": "screen" if method == "quick" else "pass-fail", "checks": []},
            "label": {"serial": serial, "model": "X"}, "rig": {"rig": {"name": "sim-ina226"}}}


def test_pairs_from_a_database_take_the_latest_of_each_method(tmp_path):
    store = Store(tmp_path / "runs.sqlite")
    for r in (record("A", "quick", "CONSISTENT", 1), record("A", "full", "PASS", 2),
              record("A", "quick", "NOT CONSISTENT", 3),  # tested again: the latest counts
              record("B", "quick", "CONSISTENT", 1),  # no full run: no pair
              record("C", "full", "FAIL", 1), record("C", "quick", "NEEDS A FULL TEST", 2)):
        store.add(r)
    assert [(p["serial"], p["quick"], p["full"]) for p in pairs_from_db(store)] == [
        ("A", "NOT CONSISTENT", "PASS"), ("C", "NEEDS A FULL TEST", "FAIL")]


def test_from_db_without_pairs_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    assert main(["agreement", "--from-db"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_from_db_reports_the_stored_pairs(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    store = Store(tmp_path / "runs.sqlite")
    for r in (record("A", "quick", "CONSISTENT", 1), record("A", "full", "PASS", 2)):
        store.add(r)
    assert main(["agreement", "--from-db", "--out", str(tmp_path / "db")]) == 0
    assert json.loads((tmp_path / "db.json").read_text())["matrix"]["PASS"]["CONSISTENT"] == 1


def test_a_dozen_simulated_units_end_to_end(tmp_path):
    proc = pbgrade(tmp_path, "agreement", "--units", 12, "--seed", 20, "--jobs", 2, "--out", tmp_path / "study",
                   timeout=1800)
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "study.json").read_text())
    assert result["units"] == 12 and sum(sum(row.values()) for row in result["matrix"].values()) == 12
    assert result["goals"]["quick_test_s_max"]["seconds"] <= QUICK_LIMIT_S
    # short by more than a quarter, with the mass of their real cells: the full method fails them, the quick flags them
    fakes = [p for p in result["pairs"] if p["truth"]["capacity_share"] < 0.75 and not p["truth"]["ballast"]]
    assert fakes and all(p["quick"] != "CONSISTENT" and p["full"] == "FAIL" for p in fakes)

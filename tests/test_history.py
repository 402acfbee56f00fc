"""`pbgrade history` and `pbgrade stats` over a run database: every filter, alone and together, the
migration of a database made by an older pbgrade, and what the commands print and exit with.

The runs are copies of one real record (a quick run on the simulated rig, made once for the module)
with the fields the filters and statistics look at set by hand.
"""
import contextlib
import copy
import json
import multiprocessing
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from conftest import ROOT
from pbgrade import cli
from pbgrade.store import RunFilter, Store, is_database_url

# run, started at (UTC), model, serial, station, method, profile, grade, passed, capacity, efficiency, voltage
BATCH = [
    ("r1", "2025-02-28T23:30:00Z", "PB-10", "A001", "hall/sim/channel 1", "full", "gbt35590", "PASS", True, 1.01, 0.90, 0.99),
    ("r2", "2025-03-01T08:00:00Z", "PB-10", "A002", "hall/sim/channel 2", "full", "gbt35590", "FAIL", False, 0.88, 0.85, 0.98),
    ("r3", "2025-03-01T16:30:00Z", "PB-10 Pro", "B001", "hall/sim/channel 1", "full", "gbt35590", "FAIL", False, 0.97, 0.88, 0.97),
    ("r4", "2025-03-02T09:00:00Z", "pb_20", "C001", "lab/sim", "full", "gbt35590", "FAIL", False, 0.95, 0.87, 0.96),
    ("r5", "2025-03-03T10:00:00Z", "PB-10", "A001", "lab/sim", "quick", "quick", "CONSISTENT", True, None, None, 0.99),
    ("r6", "2025-03-03T11:00:00Z", "PB%10", "D001", "lab/sim", "quick", "quick", "NOT CONSISTENT", False, None, None, 0.90),
]

# the table as pbgrade 0.1 made it, before station, method, status, capacity_ratio and voltage_ratio_min
OLD_SCHEMA = """CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, started_at TEXT NOT NULL, model TEXT, serial TEXT,
    grade TEXT NOT NULL, passed INTEGER NOT NULL, capacity_mah REAL, energy_wh REAL,
    efficiency REAL, profile TEXT NOT NULL, record_json TEXT NOT NULL)"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory):
    """One quick test on the simulated rig, through the real command: its data directory and record."""
    data = tmp_path_factory.mktemp("real")
    out = data / "record.json"
    proc = subprocess.run([sys.executable, "-m", "pbgrade.cli", "run", "--method", "quick", "--json", out],
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=dict(os.environ, PBGRADE_DATA=str(data)))
    assert proc.returncode == 0, proc.stderr
    return data, json.loads(out.read_text())


KINDS = {"gbt35590": "pass-fail", "quick": "screen"}  # of the profiles' verdicts


def records(real_record):
    for run_id, started, model, serial, station, method, profile, grade, passed, capacity, efficiency, voltage in BATCH:
        record = copy.deepcopy(real_record)
        record.update(run_id=run_id, started_at=started, station=station, method=method, profile=profile,
                      grade=grade, passed=passed, capacity_ratio=capacity, efficiency=efficiency,
                      voltage_ratio_min=voltage, method_verdict="screen" if method == "quick" else "grade")
        record["verdict"]["kind"] = KINDS[profile]
        record["label"].update(model=model, serial=serial)
        yield record


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(real_run, tmp_path_factory, request):
    """The batch in a station's own file, and in a central PostgreSQL database: the same answers from both."""
    if request.param == "sqlite":
        store = Store(tmp_path_factory.mktemp("batch") / "runs.sqlite")
    else:
        store = Store(request.getfixturevalue("postgresql_server").new_database())
    for record in records(real_run[1]):
        store.add(record)
    return store


def data_of(store, monkeypatch):
    """The data folder the command line reads `store` from: its file's, or (a central database, which
    history and stats read when one is set) an empty one with $PBGRADE_DB naming the database."""
    if is_database_url(store.where):
        monkeypatch.setenv("PBGRADE_DB", store.where)
        return Path(tempfile.mkdtemp(prefix="pbgrade-no-local-runs-"))
    return Path(store.where).parent


@pytest.fixture
def utc(monkeypatch):
    """The station's clock in UTC, or (call it) in another POSIX zone, restored afterwards."""
    def zone(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    zone("UTC0")
    yield zone
    monkeypatch.undo()
    time.tzset()


def pbgrade(capsys, monkeypatch, data, *args):
    """The real command line, in this process: exit code, stdout lines, stderr."""
    monkeypatch.setenv("PBGRADE_DATA", str(data))
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def ids(store, **criteria):
    return [row["run_id"] for row in store.runs(RunFilter(**criteria))]


# -- filters, in SQL ----------------------------------------------------------------------------------

@pytest.mark.parametrize("criteria, expected", [
    ({}, ["r1", "r2", "r3", "r4", "r5", "r6"]),
    ({"model": "pb-10"}, ["r1", "r2", "r5"]),  # any case, whole name: not "PB-10 Pro"
    ({"model": "PB-10*"}, ["r1", "r2", "r3", "r5"]),
    ({"model": "PB_10"}, []),  # _ and % are themselves, not LIKE's wildcards
    ({"model": "PB%10"}, ["r6"]),
    ({"model": "*10*"}, ["r1", "r2", "r3", "r5", "r6"]),
    ({"serial": "a00*"}, ["r1", "r2", "r5"]),
    ({"serial": "A001"}, ["r1", "r5"]),  # the same unit, tested twice
    ({"station": "*channel 1"}, ["r1", "r3"]),
    ({"station": "HALL*"}, ["r1", "r2", "r3"]),
    ({"method": "QUICK"}, ["r5", "r6"]),
    ({"grade": "pass"}, ["r1"]),
    ({"grade": "not consistent"}, ["r6"]),
    ({"passed": True}, ["r1"]),  # a screen's finding (r5 CONSISTENT, r6 NOT CONSISTENT) neither passes nor fails
    ({"passed": False}, ["r2", "r3", "r4"]),
    ({"kind": "screen"}, ["r5", "r6"]),
    ({"kind": "pass-fail", "passed": False}, ["r2", "r3", "r4"]),
    ({"since": "2025-03-01T08:00:00Z"}, ["r2", "r3", "r4", "r5", "r6"]),  # included
    ({"before": "2025-03-01T08:00:00Z"}, ["r1"]),  # excluded
    ({"limit": 2}, ["r5", "r6"]),  # the latest two, still oldest first
    ({"model": "PB-10*", "passed": False, "station": "hall*"}, ["r2", "r3"]),
    ({"method": "full", "limit": 2}, ["r3", "r4"]),
    ({"serial": "A001", "method": "full"}, ["r1"]),
    ({"latest_per_unit": True}, ["r2", "r3", "r4", "r5", "r6"]),  # A001 retested: r5 only
    ({"latest_per_unit": True, "method": "full"}, ["r1", "r2", "r3", "r4"]),  # its latest full run
    ({"latest_per_unit": True, "limit": 2}, ["r5", "r6"]),
])
def test_each_filter_and_combinations(store, criteria, expected):
    assert ids(store, **criteria) == expected


def test_a_summary_row_carries_the_new_columns_and_the_label(store):
    [row] = store.runs(RunFilter(serial="B001"))
    assert (row["station"], row["method"], row["status"], row["capacity_ratio"], row["voltage_ratio_min"]) == \
        ("hall/sim/channel 1", "full", "complete", 0.97, 0.97)
    assert row["label"]["model"] == "PB-10 Pro" and row["label"]["rated_output_v"] == 5.0


@pytest.mark.parametrize("since, until, expected", [
    ("2025-03-01", None, ["r2", "r3", "r4", "r5", "r6"]),
    (None, "2025-03-01", ["r1", "r2", "r3"]),  # all of the day
    ("2025-03-01T08:00", "2025-03-02T09:00", ["r2", "r3", "r4"]),  # both ends included
    ("2025-03-01T09:00+08:00", None, ["r2", "r3", "r4", "r5", "r6"]),  # a zone given is kept: 01:00 UTC
])
def test_dates_on_the_command_line(store, capsys, monkeypatch, utc, since, until, expected):
    args = [*(["--since", since] if since else []), *(["--until", until] if until else [])]
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "history", *args)
    assert code == 0
    assert [line.split()[2] for line in lines[1:]] == expected


def test_a_day_is_the_stations_local_day(store, capsys, monkeypatch, utc):
    utc("CST-8")  # UTC+8: 1 March local is 28 Feb 16:00 to 1 March 16:00 UTC
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "history", "--since", "2025-03-01",
                             "--until", "2025-03-01")
    assert code == 0
    assert [line.split()[2] for line in lines[1:]] == ["r1", "r2"]
    assert lines[1].startswith("2025-03-01 07:30  r1")  # shown in local time too


# -- migration ------------------------------------------------------------------------------------------

def old_records(real_record):
    """The batch as records made before station, method, status and the verdict's kind were recorded."""
    for record in records(real_record):
        for added_later in ("station", "method", "status"):
            record.pop(added_later)
        record["verdict"].pop("kind")
        if record["method_verdict"] != "screen":  # a pass-fail profile's checks name its one grade (the quick
            first = record["verdict"]["checks"][0]["grade"]  # check's record they are made from names two)
            record["verdict"]["checks"] = [c for c in record["verdict"]["checks"] if c["grade"] == first]
        yield record


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request, real_run, tmp_path):
    """The batch in a table as pbgrade 0.1 made it, in a station's file or in a central database: (path or
    URL, the records)."""
    old = list(old_records(real_run[1]))
    rows = [(r["run_id"], r["started_at"], r["label"]["model"], r["label"]["serial"], r["grade"], int(r["passed"]),
             r["capacity_mah"], r["energy_wh"], r["efficiency"], r["profile"], json.dumps(r)) for r in old]
    if request.param == "sqlite":
        target = tmp_path / "runs.sqlite"
        with contextlib.closing(sqlite3.connect(target)) as db, db:
            db.execute(OLD_SCHEMA)
            db.executemany(f"INSERT INTO runs VALUES ({', '.join('?' * 11)})", rows)
    else:
        target = request.getfixturevalue("postgresql_database")
        with psycopg.connect(target) as db:
            db.execute(OLD_SCHEMA)
            db.cursor().executemany(f"INSERT INTO runs VALUES ({', '.join(['%s'] * 11)})", rows)
    return target, old


def test_an_old_database_gains_the_new_columns_filled_from_its_records(old_database):
    target, old = old_database
    store = Store(target)
    rows = store.runs()
    assert [row["station"] for row in rows] == ["sim-ina226"] * 6  # no station recorded: the rig's name
    assert [row["method"] for row in rows] == [None] * 6
    assert [row["capacity_ratio"] for row in rows] == [1.01, 0.88, 0.97, 0.95, None, None]
    assert [row["voltage_ratio_min"] for row in rows] == [0.99, 0.98, 0.97, 0.96, 0.99, 0.90]
    assert [row["kind"] for row in rows] == ["pass-fail"] * 4 + ["screen"] * 2  # told by their methods
    assert [row["channel"] for row in rows] == [1] * 6
    assert ids(store, model="pb-10*", passed=False) == ["r2", "r3"]
    assert Store(target).runs() == rows  # opening it again changes nothing
    store.add({**old[0], "run_id": "r7", "station": "line2/sim"})
    assert ids(store, station="line2*") == ["r7"]
    assert store.get("r1") == old[0]


def test_processes_opening_an_old_database_together_migrate_it_once(old_database):
    target, _ = old_database
    openers = [multiprocessing.Process(target=Store, args=(target,)) for _ in range(4)]
    for opener in openers:
        opener.start()
    for opener in openers:
        opener.join(timeout=60)
    assert [opener.exitcode for opener in openers] == [0] * 4
    assert [row["station"] for row in Store(target).runs()] == ["sim-ina226"] * 6


# -- the commands -----------------------------------------------------------------------------------------

def test_history_prints_one_plain_line_per_run(store, capsys, monkeypatch, utc):
    code, lines, err = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "history", "--model", "pb-10")
    assert code == 0 and err == ""
    assert [re.split(r"\s{2,}", line) for line in lines] == [
        ["date", "run", "station", "model", "serial", "method", "verdict", "capacity", "efficiency"],
        ["2025-02-28 23:30", "r1", "hall/sim/channel 1", "PB-10", "A001", "full", "PASS", "101.0 %", "90.0 %"],
        ["2025-03-01 08:00", "r2", "hall/sim/channel 2", "PB-10", "A002", "full", "FAIL", "88.0 %", "85.0 %"],
        ["2025-03-03 10:00", "r5", "lab/sim", "PB-10", "A001", "quick", "CONSISTENT", "-", "-"]]
    assert "\033" not in "".join(lines)  # no colours: not a terminal
    assert lines[0].index("station") == lines[1].index("hall/") == lines[3].index("lab/")  # columns line up


def test_the_real_run_is_listed_with_this_hosts_station(real_run, capsys, monkeypatch):
    data, record = real_run
    code, lines, _ = pbgrade(capsys, monkeypatch, data, "history")
    assert code == 0 and len(lines) == 2
    assert f"{socket.gethostname()}/sim-ina226" in lines[1] and record["run_id"] in lines[1]


@pytest.mark.parametrize("args, message", [
    (["history", "--since", "yesterday"], "--since yesterday: not an ISO day or time"),
    (["history", "--until", "2025-02-30"], "--until 2025-02-30: not an ISO day or time"),
    (["history", "--limit", "0"], "--limit 0: give a number of runs"),
    (["stats"], "graded with different profiles (gbt35590, quick)"),
    (["stats", "--model", "nothing-like-it"], "no run matches"),
    (["stats", "--method", "full", "--profile", "no-such-profile"], "no-such-profile: no such profile"),
])
def test_what_the_operator_can_fix_is_one_line_and_exit_2(store, capsys, monkeypatch, args, message):
    code, lines, err = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), *args)
    assert code == 2 and lines == []
    assert err.count("\n") == 1 and message in err


def test_no_database_yet_is_exit_2(tmp_path, capsys, monkeypatch):
    code, _, err = pbgrade(capsys, monkeypatch, tmp_path, "history")
    assert code == 2 and "no run database" in err
    assert not (tmp_path / "runs.sqlite").exists()


def test_history_with_no_match_says_so_and_succeeds(store, capsys, monkeypatch):
    code, lines, err = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "history", "--grade", "Z")
    assert (code, lines, err) == (0, [], "pbgrade: no run matches\n")


def stats_table(lines):
    """The per-quantity table of `pbgrade stats`: {quantity: [n, mean, s, min, max, limit, Cpk]}."""
    start = next(k for k, line in enumerate(lines) if line.split()[:2] == ["n", "mean"])
    end = next(k for k, line in enumerate(lines) if k > start and (not line.strip() or line.startswith("  ")))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start + 1:end]]
    return {row[0]: row[1:] for row in rows}


def test_stats_of_the_full_runs(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--method", "full")
    assert code == 0
    assert lines[1] == "limits   profile gbt35590"
    # 1 of 4: p 0.25, z^2/n = 3.8415/4 = 0.96037; centre (0.25 + 0.48018) / 1.96037 = 0.37248;
    # half 1.95996 / 1.96037 x sqrt(0.1875 / 4 + 3.8415 / 64) = 0.32689: 4.6 % to 69.9 %
    assert lines[2] == ("yield    1 of 4 passed: 25.0 % (95 % Wilson interval 4.6 % to 69.9 %), as graded when tested "
                        "(pass-fail: PASS 1, FAIL 3)")
    table = stats_table(lines)
    # capacity 1.01 0.88 0.97 0.95: mean 0.9525, s 0.0543906; (0.9525 - 1.00) / 0.1631718 = -0.291
    assert table["capacity_ratio"] == ["4", "95.2 %", "5.44 %", "88.0 %", "101.0 %", "≥ 100.0 %", "-0.29"]
    # efficiency 0.90 0.85 0.88 0.87: mean 0.875, squares 0.000625 + 0.000625 + 0.000025 + 0.000025 = 0.0013,
    # s = sqrt(0.0013 / 3) = 0.0208167; (0.875 - 0.80) / 0.0624500 = 1.201
    assert table["efficiency"] == ["4", "87.5 %", "2.08 %", "85.0 %", "90.0 %", "≥ 80.0 %", "1.20"]
    # voltage 0.99 0.98 0.97 0.96: mean 0.975, squares sum 0.0005, s = sqrt(0.0005 / 3) = 0.0129099;
    # (0.975 - 0.95) / 0.0387298 = 0.645
    assert table["voltage_ratio_min"] == ["4", "97.5 %", "1.29 %", "96.0 %", "99.0 %", "≥ 95.0 %", "0.65"]


def test_stats_histogram_marks_the_limit_between_its_bins(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--method", "full")
    assert code == 0
    start = lines.index("capacity_ratio: output capacity against rated capacity (n 4)")
    histogram = lines[start + 1:start + 9]
    assert [line.split()[:3] for line in histogram if "limit" not in line] == [
        ["88", "–", "90"], ["90", "–", "92"], ["92", "–", "94"], ["94", "–", "96"], ["96", "–", "98"],
        ["98", "–", "100"], ["100", "–", "102"]]
    assert histogram[6].strip().startswith("─") and histogram[6].endswith("limit 100.0 %")
    counts = [line.count("█") and int(line.split()[-1]) for line in histogram if "limit" not in line]
    assert counts == [1, 0, 0, 1, 1, 0, 1]


def test_stats_with_another_profile_takes_its_lowest_passing_grade(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--method", "full",
                             "--profile", "tiers")
    assert code == 0
    assert lines[1] == "limits   profile tiers (the runs were graded with gbt35590)"
    table = stats_table(lines)
    # tiers' C: capacity 0.75, efficiency 0.75, voltage 0.95
    assert table["capacity_ratio"][-2:] == ["≥ 75.0 %", "1.24"]  # (0.9525 - 0.75) / 0.1631718 = 1.241
    assert table["efficiency"][-2:] == ["≥ 75.0 %", "2.00"]  # (0.875 - 0.75) / 0.0624500 = 2.002


def test_stats_of_a_screen_counts_its_findings_and_judges_what_it_grades(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--method", "quick")
    assert code == 0
    assert lines[2] == "screen   2 screened: CONSISTENT 1, NOT CONSISTENT 1; a screen's findings, not a pass rate"
    assert not any(line.startswith("yield") for line in lines)
    table = stats_table(lines)
    assert "capacity_ratio" not in table  # the quick profile does not grade it
    # 0.99, 0.90: mean 0.945, s = sqrt(2 x 0.045^2 / 1) = 0.0636396; (0.945 - 0.95) / 0.1909188 = -0.026
    assert table["voltage_ratio_min"][-2:] == ["≥ 95.0 %", "-0.03"]


def test_stats_against_a_profile_grading_what_the_runs_did_not_measure_says_so(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--method", "quick",
                             "--profile", "gbt35590")
    assert code == 0
    assert stats_table(lines)["capacity_ratio"] == ["0", "-", "-", "-", "-", "≥ 100.0 %", "not measured"]
    assert "capacity_ratio: capacity at the output (n" not in "\n".join(lines)  # no histogram of nothing


def test_stats_of_one_run_has_no_cpk(store, capsys, monkeypatch):
    code, lines, _ = pbgrade(capsys, monkeypatch, data_of(store, monkeypatch), "stats", "--serial", "B001")
    assert code == 0
    assert stats_table(lines)["capacity_ratio"][-1] == "needs 2 runs"

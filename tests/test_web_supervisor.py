"""The supervisor's page in headless Chromium over a store of known runs, SQLite and PostgreSQL: the yield
per station and method, the Cpk of a graded quantity and the failure reasons per day, each number checked
against the runs as they were made."""
import copy
import json
import os
import statistics
import subprocess
import sys

import pytest

from conftest import ROOT
from web_browser import browser  # noqa: F401 (a fixture)
from pbgrade import cli, i18n
from pbgrade.stats import wilson_interval
from pbgrade.steps import QUANTITIES
from pbgrade.store import Store
from pbgrade.web.server import Server, address, listening_socket
from pbgrade.web import supervisor
from pbgrade.web.supervisor import supervisor_app

# station, started (UTC), the real run copied (its verdict), no-load voltage ratio
RUNS = [
    ("line1/sim/ch1", "2026-03-02T09:00:00Z", "honest-10000", 1.010),
    ("line1/sim/ch1", "2026-03-02T10:00:00Z", "honest-10000", 1.020),
    ("line1/sim/ch1", "2026-03-02T11:00:00Z", "sagging-output", 1.000),
    ("line1/sim/ch2", "2026-03-03T09:00:00Z", "honest-10000", 1.015),
    ("line1/sim/ch2", "2026-03-03T12:00:00Z", "sagging-output", 0.990),
]
NO_LOAD_LIMITS = (0.98, 1.04)  # profiles/eol.toml: no_load_voltage_low, no_load_voltage_high


@pytest.fixture(scope="module")
def eol_records(tmp_path_factory):
    """A real eol run of each unit, through the real command."""
    records = {}
    for unit in ("honest-10000", "sagging-output"):
        data = tmp_path_factory.mktemp(unit)
        proc = subprocess.run([sys.executable, "-m", "pbgrade.cli", "run", "--method", "eol", "--sim-dut", unit,
                               "--json", data / "record.json"], capture_output=True, text=True, timeout=300,
                              cwd=ROOT, env=dict(os.environ, PBGRADE_DATA=str(data)))
        assert proc.returncode in (0, 1), proc.stderr
        records[unit] = json.loads((data / "record.json").read_text())
    assert (records["honest-10000"]["grade"], records["sagging-output"]["grade"]) == ("PASS", "FAIL")
    return records


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, eol_records):
    store = Store(tmp_path / "runs.sqlite" if request.param == "sqlite"
                  else request.getfixturevalue("postgresql_server").new_database())
    for k, (station, started, unit, no_load) in enumerate(RUNS):
        record = copy.deepcopy(eol_records[unit])
        record.update(run_id=f"known-{k}", station=station, started_at=started, no_load_voltage_ratio=no_load)
        store.add(record)
    return store


def cells(browser, table_id):
    rows = browser.find_elements("css selector", f"#{table_id} tbody tr")
    return [[cell.text for cell in row.find_elements("css selector", "td")] for row in rows]


def test_the_page_shows_yield_cpk_and_failure_reasons_of_the_known_runs(browser, store, eol_records, tmp_path):
    sock = listening_socket("127.0.0.1:0", None)
    with Server(supervisor_app(store), sock):
        browser.get(address(sock, None))
        browser.save_screenshot(str(tmp_path / "supervisor.png"))
        yields = cells(browser, "yield")
        cpk_rows = {row[0]: row for row in cells(browser, "cpk-eol")}
        reasons_header = [th.text for th in browser.find_elements("css selector", "#reasons thead th")]
        reasons = cells(browser, "reasons")

    def interval(passed, runs):
        low, high = wilson_interval(passed, runs)
        return f"{low * 100:.1f} % to {high * 100:.1f} %"
    assert yields == [["line1/sim/ch1", "eol", "3", "2", "66.7 %", interval(2, 3), "0"],
                      ["line1/sim/ch2", "eol", "2", "1", "50.0 %", interval(1, 2), "0"]]

    values = [no_load for *_, no_load in RUNS]
    mean, s = statistics.fmean(values), statistics.stdev(values)
    expected_cpk = min(mean - NO_LOAD_LIMITS[0], NO_LOAD_LIMITS[1] - mean) / (3 * s)
    row = cpk_rows[QUANTITIES["no_load_voltage_ratio"].name]
    assert row[1] == "5" and row[2] == f"{mean * 100:.1f} %" and row[-1] == f"{expected_cpk:.2f}"
    assert row[-2] == "98.0 % to 104.0 %"

    failed = eol_records["sagging-output"]["verdict"]
    quantity_of = {c["reason"]: c["quantity"] for c in failed["checks"]}
    said = sorted(QUANTITIES[quantity_of[r]].name for r in failed["reasons"])
    assert sorted(reasons_header[1:-1]) == sorted(set(said)) and reasons_header[-1] == "failed"
    assert [r[0] for r in reasons] == ["2026-03-02", "2026-03-03"]  # one failed run each day
    for row in reasons:
        counts = dict(zip(reasons_header[1:-1], map(int, row[1:-1])))
        assert counts == {name: said.count(name) for name in set(said)} and row[-1] == "1"


def test_the_supervisor_command_refuses_the_network_without_a_token(tmp_path, monkeypatch, capsys, eol_records):
    monkeypatch.setenv("PBGRADE_DATA", str(tmp_path))
    Store(tmp_path / "runs.sqlite").add(eol_records["honest-10000"])
    assert cli.main(["supervisor", "--local", "--bind", "0.0.0.0:0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("pbgrade: --bind 0.0.0.0:0: that is reachable from the network") and err.count("\n") == 1


def test_the_page_speaks_the_station_language(tmp_path, eol_records):
    """Inspectors' offices work in Chinese: with --lang zh-CN every heading, column and quantity is
    translated, and nothing of the English page is left."""
    store = Store(tmp_path / "runs.sqlite")
    for k, (station, started, unit, no_load) in enumerate(RUNS):
        store.add({**copy.deepcopy(eol_records[unit]), "run_id": f"known-{k}", "station": station,
                   "started_at": started})
    before = i18n.language()
    i18n.use("zh-CN")
    try:
        text = supervisor.page(store)
        no_load = i18n._(QUANTITIES["no_load_voltage_ratio"].name)
    finally:
        i18n.use(before)
    assert '<html lang="zh-CN">' in text and "<h1>pbgrade 质量主管页</h1>" in text
    assert "<h2>各工位、各测试方法的合格率</h2>" in text and "<th>合格率</th>" in text
    assert f"<td>{no_load}</td>" in text and "空载" in no_load
    for english in ("Yield per station", "Capability of", "Failure reasons", "runs in", "limits of profile",
                    "reloads every", "95 % interval", "<th>failed</th>"):
        assert english not in text, english

"""CSV exports against the record they copy: every sample, the same energy,
one summary row per run."""
import csv

import numpy as np
import pytest

from pbgrade.cli import main
from test_e2e import pbgrade, run_record

# then the quantities every summary has and those the quick profile grades, in the steps' order
SUMMARY_HEADER = ["run_id", "started_at", "station", "channel", "model", "serial", "method", "profile", "kind",
                  "verdict", "passed", "status", "no_load_voltage_ratio", "loaded_voltage_ratio", "ocp_below_rated",
                  "capacity_mah", "energy_wh", "efficiency", "capacity_ratio", "min_voltage_v", "voltage_ratio_min",
                  "collapsed"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two quick runs in one data directory: (tmp dir, their records)."""
    tmp = tmp_path_factory.mktemp("export")
    return tmp, [run_record(tmp, "--method", "quick", "--sim-dut", dut)[0] for dut in ("honest-10000", "fake-tiny")]


def pbgrade_here(monkeypatch, capsys, tmp, *args):
    """pbgrade in this process, on the data directory test_e2e.pbgrade gives it, without an interpreter's
    start-up: (exit code, stdout, stderr). For the quick one-line answers."""
    monkeypatch.setenv("PBGRADE_DATA", str(tmp / "data"))
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def test_samples_csv_holds_every_sample_and_the_discharge_energy(runs):
    tmp, (record, _) = runs
    out = tmp / "samples.csv"
    proc = pbgrade(tmp, "export", record["run_id"], "--samples", out)
    assert proc.returncode == 0, proc.stderr
    header, *rows = read_csv(out)
    assert header == ["step", "t_s", "v", "i", "p"]
    assert len(rows) == sum(step["integrity"]["samples_received"] for step in record["steps"])
    number = next(n for n, step in enumerate(record["steps"], start=1) if step["type"] == "discharge")
    t, v, i, p = np.array([row[1:] for row in rows if row[0] == f"{number}-discharge"], dtype=float).T
    assert np.allclose(p, v * i, atol=2e-6)
    energy_wh = np.trapezoid(p, t) / 3600
    assert energy_wh == pytest.approx(record["steps"][number - 1]["measurements"]["short_energy_wh"], rel=1e-3)


def test_summary_has_one_row_per_run(runs, monkeypatch, capsys):
    tmp, records = runs
    out = tmp / "summary.csv"
    assert pbgrade_here(monkeypatch, capsys, tmp, "export", "--summary", out)[0] == 0
    header, *rows = read_csv(out)
    assert header == SUMMARY_HEADER
    assert sorted(row[0] for row in rows) == sorted(r["run_id"] for r in records)  # in one second: ordered by id
    by_column = dict(zip(header, next(row for row in rows if row[0] == records[1]["run_id"])))
    assert (by_column["kind"], by_column["verdict"]) == ("screen", "NOT CONSISTENT")
    assert by_column["passed"] == ""  # a screen's finding neither passes nor fails
    assert by_column["method"] == "quick" and by_column["status"] == "complete"
    assert by_column["capacity_mah"] == ""  # a quick check measures no capacity
    assert float(by_column["min_voltage_v"]) == pytest.approx(records[1]["min_voltage_v"])


def test_summary_since_a_date(runs, monkeypatch, capsys):
    tmp, records = runs
    out = tmp / "since.csv"
    for since, rows in ((records[0]["started_at"][:10], len(records)), ("2999-01-01T00:00+01:00", 0)):
        assert pbgrade_here(monkeypatch, capsys, tmp, "export", "--summary", out, "--since", since)[0] == 0
        assert len(read_csv(out)) == 1 + rows


@pytest.mark.parametrize("args, says", [
    (("--samples", "x.csv"), "pbgrade export RUN --samples"),
    (("some-run", "--summary", "x.csv"), "--summary exports every run"),
    (("--summary", "x.csv", "--since", "last week"), "ISO 8601"),
    (("some-run", "--samples", "x.csv", "--all-quantities"), "--all-quantities picks the columns of --summary"),
    (("no-such-run", "--samples", "x.csv"), "no journal for run 'no-such-run'"),
])
def test_what_cannot_be_exported_is_one_line(runs, monkeypatch, capsys, args, says):
    tmp, _ = runs
    code, _, err = pbgrade_here(monkeypatch, capsys, tmp, "export", *(tmp / a if a == "x.csv" else a for a in args))
    assert code == 2 and err.count("\n") == 1 and says in err


def test_help_says_the_journal_is_the_source_of_truth(capsys):
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "source of truth" in " ".join(capsys.readouterr().out.split())

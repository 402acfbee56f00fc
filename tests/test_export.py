"""Exports against the record they copy: every sample, the same energy, its
time in UTC, one summary row per run; a sigrok session that sigrok-cli reads
back as the journal's samples."""
import csv
import subprocess
import zipfile
from datetime import datetime, timedelta

import numpy as np
import pytest

from pbgrade.cli import main
from pbgrade.journal import read_meta
from pbgrade.replay import replay
from pbgrade.sigrok import SigrokError, session_period_us
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
    note, header, *rows = read_csv(out)
    assert note[0].startswith("# utc: the run's start")
    assert header == ["step", "t_s", "utc", "v", "i", "p"]
    assert len(rows) == sum(step["integrity"]["samples_received"] for step in record["steps"])
    number = next(n for n, step in enumerate(record["steps"], start=1) if step["type"] == "discharge")
    t, v, i, p = np.array([row[1:2] + row[3:] for row in rows if row[0] == f"{number}-discharge"], dtype=float).T
    assert np.allclose(p, v * i, atol=2e-6)
    energy_wh = np.trapezoid(p, t) / 3600
    assert energy_wh == pytest.approx(record["steps"][number - 1]["measurements"]["short_energy_wh"], rel=1e-3)


def test_samples_csv_times_each_sample_in_utc_from_the_run_start_and_the_slots(runs):
    """As its first line says: the run's start (the journal's, to the microsecond), then each step where the
    one before ended on the device's clock (its last slot + 1 period), plus the sample's own time in its step."""
    tmp, (record, _) = runs
    out = tmp / "utc.csv"
    assert pbgrade(tmp, "export", record["run_id"], "--samples", out).returncode == 0
    _, _, *rows = read_csv(out)
    step_start = datetime.fromisoformat(read_meta(tmp / "data" / "runs" / record["run_id"])["started_at"])
    for step in dict.fromkeys(row[0] for row in rows):
        times = [(float(t), datetime.fromisoformat(utc)) for label, t, utc, *_ in rows if label == step]
        assert all(utc.utcoffset() == timedelta(0) for _, utc in times)
        assert [utc - step_start for _, utc in times] == [timedelta(seconds=round(t, 6)) for t, _ in times], step
        step_start += timedelta(seconds=round(times[-1][0] + 0.1, 6))  # the run's steps sample at 10 Hz


@pytest.fixture(scope="module")
def mixed_rate_run(tmp_path_factory):
    """A quick run at 20 samples/s, in a data directory of its own: (tmp dir, its record). Its discharge
    samples at that rate, its other steps at 10 (steps.OBSERVE)."""
    tmp = tmp_path_factory.mktemp("sigrok")
    return tmp, run_record(tmp, "--method", "quick", "--sim-dut", "honest-10000", "--rate", "20")[0]


def test_sigrok_cli_reads_the_session_back_as_the_journal_samples(mixed_rate_run):
    """The file holds every sample as a 32-bit float, a 10 Hz step's held over two 20 Hz slots; Debian's
    sigrok-cli converts it back to the same values, to the 6 digits its CSV prints."""
    tmp, record = mixed_rate_run
    run_id = record["run_id"]
    out = tmp / "run.sr"
    proc = pbgrade(tmp, "export", run_id, "--sigrok", out)
    assert proc.returncode == 0, proc.stderr
    journal = {"V": [], "I": []}

    def held_at_20_hz(step, t, v, i):
        hold = round(step.period_s / 0.05)
        journal["V"].append(np.repeat(v, hold))
        journal["I"].append(np.repeat(i, hold))

    replay(tmp / "data" / "runs" / run_id, held_at_20_hz)
    expected = {name: np.concatenate(parts).astype(np.float32) for name, parts in journal.items()}
    assert record["config"]["period_us"] == 50_000  # its discharge; its other steps at 100 000
    with zipfile.ZipFile(out) as session:
        assert session.read("version") == b"2"
        assert "samplerate=20 Hz" in session.read("metadata").decode()
        for number, name in enumerate(("V", "I"), start=1):
            assert np.array_equal(np.frombuffer(session.read(f"analog-1-{number}-1"), "<f4"), expected[name])
    converted = subprocess.run(["sigrok-cli", "-i", out, "-O", "csv"], capture_output=True, text=True, timeout=60)
    assert converted.returncode == 0, converted.stderr
    lines = converted.stdout.splitlines()
    header = next(n for n, line in enumerate(lines) if line == "V DC,V DC")  # sigrok's unit for every channel
    v, i = np.array([line.split(",") for line in lines[header + 1:]], dtype=float).T
    assert v.size == expected["V"].size
    assert np.allclose(v, expected["V"], rtol=5e-6, atol=0) and np.allclose(i, expected["I"], rtol=5e-6, atol=0)


@pytest.mark.parametrize("periods_us, session_us", [([100_000], 100_000), ([50_000, 100_000], 50_000),
                                                     ([100_000, 150_000], None), ([300_000], None)])
def test_a_sigrok_session_has_one_whole_rate_in_hertz(periods_us, session_us):
    if session_us is None:
        with pytest.raises(SigrokError, match="--samples FILE.csv"):
            session_period_us(periods_us)
    else:
        assert session_period_us(periods_us) == session_us


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
    (("--sigrok", "x.sr"), "pbgrade export RUN --sigrok"),
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
